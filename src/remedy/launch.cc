// Rendering the control file, environment and templated arguments of an attempt (launch.h).
#include "remedy/launch.h"

#include <sys/stat.h>

#include <fstream>
#include <map>

#include <fmt/format.h>

#include "common/json_writer.h"

namespace inloop::remedy {
namespace {

std::string Render(const std::string& tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find('{', pos);
    size_t close = open == std::string::npos ? std::string::npos : tmpl.find('}', open);
    if (close == std::string::npos) {
      out.append(tmpl, pos);
      break;
    }
    out.append(tmpl, pos, open - pos);
    auto it = values.find(tmpl.substr(open + 1, close - open - 1));
    out += it != values.end() ? it->second : tmpl.substr(open, close - open + 1);
    pos = close + 1;
  }
  return out;
}

}  // namespace

std::string SkipText(const std::vector<SkipWindow>& windows) {
  std::string s;
  for (auto& [from, to] : windows) s += fmt::format("{}{}:{}", s.empty() ? "" : ",", from, to);
  return s;
}

Launch BuildLaunch(const std::vector<std::string>& command, const RemedyConfig& config,
                   const RemedyState& state, int attempt, std::string_view action,
                   const std::string& control_path) {
  Launch l;
  l.argv = command;
  std::map<std::string, std::string> values;
  if (state.checkpoint) {
    values["checkpoint"] = state.checkpoint->path;
    values["resume_step"] = fmt::format("{}", state.resume_step);
  }
  if (!state.skip_windows.empty()) {
    values["skip_from"] = fmt::format("{}", state.skip_windows.back().first);
    values["skip_to"] = fmt::format("{}", state.skip_windows.back().second);
  }
  if (state.lr_scale) values["lr_scale"] = fmt::format("{:g}", *state.lr_scale);
  if (state.micro_batch) values["micro_batch"] = fmt::format("{}", *state.micro_batch);

  auto group = [&](const std::vector<std::string>& args, const char* key) {
    if (!values.count(key)) return;
    for (const std::string& a : args) l.argv.push_back(Render(a, values));
  };
  if (attempt > 1) {
    group(config.checkpoint_args, "checkpoint");
    group(config.skip_args, "skip_from");
    group(config.lr_scale_args, "lr_scale");
    group(config.micro_batch_args, "micro_batch");
  }

  l.env.emplace_back("INLOOP_CONTROL", control_path);
  if (state.checkpoint) l.env.emplace_back("INLOOP_RESUME_FROM", state.checkpoint->path);
  if (!state.skip_windows.empty()) l.env.emplace_back("INLOOP_SKIP", SkipText(state.skip_windows));
  if (state.lr_scale) l.env.emplace_back("INLOOP_LR_SCALE", values["lr_scale"]);
  if (state.micro_batch) l.env.emplace_back("INLOOP_MICRO_BATCH", values["micro_batch"]);

  l.control.attempt = attempt;
  l.control.action = std::string(action);
  l.control.state = state;
  return l;
}

std::string ControlJson(const ControlFile& c) {
  const RemedyState& state = c.state;
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(c.attempt).Key("action").String(c.action);
  w.Key("resume_from");
  state.checkpoint ? w.String(state.checkpoint->path) : w.Null();
  w.Key("resume_step");
  state.checkpoint ? w.Int(state.resume_step) : w.Null();
  w.Key("skip_windows").BeginArray();
  for (auto& [from, to] : state.skip_windows) w.BeginArray().Int(from).Int(to).EndArray();
  w.EndArray().Key("skip");
  if (state.skip_windows.empty()) {
    w.Null();
  } else {
    w.BeginArray().Int(state.skip_windows.back().first).Int(state.skip_windows.back().second);
    w.EndArray();
  }
  w.Key("lr_scale");
  state.lr_scale ? w.Number(*state.lr_scale) : w.Null();
  w.Key("micro_batch");
  state.micro_batch ? w.Int(*state.micro_batch) : w.Null();
  if (c.live) {
    const Plan& plan = c.live->plan;
    w.Key("live").BeginObject().Key("seq").Int(c.live->seq);
    w.Key("action").String(ActionName(plan.action));
    w.Key("resume_from");
    plan.checkpoint ? w.String(plan.checkpoint->path) : w.Null();
    w.Key("resume_step").Int(plan.resume_step);
    w.Key("skip_windows").BeginArray();
    for (auto& [from, to] : c.live->skip_windows) w.BeginArray().Int(from).Int(to).EndArray();
    w.EndArray().Key("lr_scale");
    plan.lr_scale != 1 ? w.Number(plan.lr_scale) : w.Null();
    w.Key("micro_batch");
    plan.micro_batch ? w.Int(*plan.micro_batch) : w.Null();
    w.EndObject();
  }
  w.EndObject();
  return w.Take() + "\n";
}

ControlFile WithLiveRequest(ControlFile control, const Plan& plan, const RemedyState& before,
                            int64_t seq) {
  ControlFile::Live live;
  live.seq = seq;
  live.plan = plan;
  live.skip_windows = before.skip_windows;
  if (plan.new_skip) live.skip_windows.push_back(*plan.new_skip);
  control.live = std::move(live);
  return control;
}

bool ScriptReadsRemedies(const std::vector<std::string>& command, const std::string& cwd) {
  for (const std::string& arg : command) {
    if (arg.empty() || arg[0] == '-') continue;
    std::string path = arg[0] == '/' || cwd.empty() ? arg : cwd + "/" + arg;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20)) {
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find('\0') != std::string::npos) continue;  // a binary (the interpreter)
    if (text.find("INLOOP_SKIP") != std::string::npos ||
        text.find("INLOOP_CONTROL") != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace inloop::remedy
