// Hashing and checking the declared evaluation; reading the metric from the evaluation command.
#include "loop/tamper.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "common/secrets.h"
#include "common/subprocess.h"
#include "loop/git_repo.h"
#include "loop/round_steps.h"  // ReplaceAll
#include "query/series_query.h"
#include "store/store.h"

namespace inloop::loop {
namespace fs = std::filesystem;
namespace {

Status HashFile(const std::string& path, std::string* hex) {
  std::string data;
  INLOOP_RETURN_IF_ERROR(ReadFile(path, &data));
  *hex = Sha256Hex(data);
  return Status::OK();
}

// Regular files under top (relative paths) matching the globs; .git and skip_dir not walked.
std::vector<std::string> MatchingFiles(const std::string& top, const std::vector<std::string>& globs,
                                       const std::string& skip_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::path root(top);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    std::error_code e2;
    if (it->is_directory(e2)) {
      // Python's byte-code caches come and go with every import: never part of the evaluation.
      if (name == ".git" || name == "__pycache__" ||
          (!skip_dir.empty() && fs::equivalent(p, skip_dir, e2))) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!it->is_regular_file(e2)) continue;
    std::string rel = p.lexically_relative(root).string();
    if (MatchesProtected(rel, globs, nullptr)) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The fingerprinted settings, one "name=value" line each, as the evidence compares them.
std::vector<std::pair<std::string, std::string>> Settings(const LoopConfig& c) {
  auto list = [](const std::vector<std::string>& v) {
    JsonWriter w;
    w.BeginArray();
    for (auto& x : v) w.String(x);
    w.EndArray();
    return w.Take();
  };
  return {{"metric", c.metric},
          {"goal", c.minimize ? "min" : "max"},
          {"budget_s", fmt::format("{:.17g}", c.budget_s)},
          {"grace_s", fmt::format("{:.17g}", c.grace_s)},
          {"command", list(c.command)},
          {"eval_command", list(c.eval_command)},
          {"eval_globs", list(c.eval_globs)},
          {"protected", list(c.protected_globs)},
          {"max_diff_lines", std::to_string(c.max_diff_lines)},
          {"noise_seeds", std::to_string(c.noise_seeds)},
          {"max_seeds", std::to_string(c.max_seeds)},
          {"alpha", fmt::format("{:.17g}", c.alpha)},
          {"min_gain", fmt::format("{:.17g}", c.min_gain)},
          {"seed_base", std::to_string(c.seed_base)},
          {"recheck_every", std::to_string(c.recheck_every)}};
}

bool NumberAt(const std::string& line, size_t at, double* v) {
  while (at < line.size() && (line[at] == ' ' || line[at] == '\t' || line[at] == '"')) ++at;
  if (at >= line.size()) return false;
  const char* begin = line.c_str() + at;
  char* end = nullptr;
  double d = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(d)) return false;
  *v = d;
  return true;
}

}  // namespace

Status HashEvalFiles(const std::string& top, const std::vector<std::string>& globs,
                     const std::string& skip_dir, std::vector<EvalFile>* out) {
  out->clear();
  std::set<std::string> seen;
  for (const auto& g : globs) {
    std::vector<std::string> files = MatchingFiles(top, {g}, skip_dir);
    if (files.empty()) {
      return Status::Invalid(fmt::format(
          "--eval-file {}: no file in {} matches it (give the evaluation's files, e.g. "
          "--eval-file evaluate.py --eval-file 'data/*')", g, top));
    }
    for (auto& f : files) {
      if (!seen.insert(f).second) continue;
      EvalFile e{f, ""};
      INLOOP_RETURN_IF_ERROR(HashFile(top + "/" + f, &e.sha256));
      out->push_back(std::move(e));
    }
  }
  std::sort(out->begin(), out->end(), [](auto& a, auto& b) { return a.path < b.path; });
  return Status::OK();
}

std::vector<std::string> EvalCommandFiles(const std::string& top, const std::string& workdir,
                                          const std::vector<std::string>& eval_command) {
  std::vector<std::string> out;
  fs::path root = fs::path(top).lexically_normal();
  for (size_t i = 0; i < eval_command.size(); ++i) {
    const std::string& a = eval_command[i];
    if (a.empty() || a[0] == '-' || a.find('{') != std::string::npos) continue;
    std::error_code ec;
    fs::path p = fs::path(a).is_absolute() ? fs::path(a) : fs::path(workdir) / a;
    p = p.lexically_normal();
    if (!fs::is_regular_file(p, ec)) continue;
    std::string rel = p.lexically_relative(root).string();
    if (rel.empty() || rel.rfind("..", 0) == 0) continue;  // the interpreter, outside the tree
    out.push_back(rel);
  }
  return out;
}

std::string EvalFingerprint(const LoopConfig& c) {
  std::string text;
  for (auto& [k, v] : Settings(c)) text += k + "=" + v + "\n";
  for (auto& f : c.eval_files) text += "file " + f.path + " " + f.sha256 + "\n";
  return Sha256Hex(text);
}

std::vector<std::string> VerifyEvaluation(const LoopConfig& c, const std::string& top,
                                          const LoopConfig& on_disk) {
  std::vector<std::string> out;
  std::set<std::string> known;
  for (const EvalFile& f : c.eval_files) {
    known.insert(f.path);
    std::string now;
    std::error_code ec;
    if (!fs::exists(top + "/" + f.path, ec)) {
      out.push_back(fmt::format("evaluation file {} is gone", f.path));
    } else if (!HashFile(top + "/" + f.path, &now).ok()) {
      out.push_back(fmt::format("evaluation file {} can no longer be read", f.path));
    } else if (now != f.sha256) {
      out.push_back(fmt::format("evaluation file {} changed (sha256 {} at init, now {})", f.path,
                                f.sha256.substr(0, 12), now.substr(0, 12)));
    }
  }
  if (!c.eval_globs.empty()) {
    for (const std::string& f : MatchingFiles(top, c.eval_globs, c.store_dir)) {
      if (!known.count(f)) out.push_back(fmt::format("new file {} under the evaluation's globs", f));
    }
  }
  auto mine = Settings(c), theirs = Settings(on_disk);
  for (size_t i = 0; i < mine.size() && i < theirs.size(); ++i) {
    if (mine[i].second != theirs[i].second) {
      out.push_back(fmt::format("the loop's config changed {}: {} at init, now {}", mine[i].first,
                                mine[i].second, theirs[i].second));
    }
  }
  bool same_files = on_disk.eval_files.size() == c.eval_files.size();
  for (size_t i = 0; same_files && i < c.eval_files.size(); ++i) {
    same_files = on_disk.eval_files[i].path == c.eval_files[i].path &&
                 on_disk.eval_files[i].sha256 == c.eval_files[i].sha256;
  }
  if (!same_files) out.push_back("the loop's config changed the evaluation's recorded hashes");
  if (on_disk.eval_fingerprint != c.eval_fingerprint) {
    out.push_back("the loop's config changed its evaluation fingerprint");
  }
  return out;
}

std::vector<std::string> TamperedPaths(const std::vector<std::string>& changed, const LoopConfig& c) {
  std::vector<std::string> out;
  for (const std::string& f : changed) {
    bool listed = std::any_of(c.eval_files.begin(), c.eval_files.end(),
                              [&](const EvalFile& e) { return e.path == f; });
    std::string glob;
    if (listed || MatchesProtected(f, c.eval_globs, &glob)) {
      out.push_back(fmt::format("the change touches the evaluation's {} ({})", f,
                                listed ? "hashed at init" : "matches '" + glob + "'"));
    }
  }
  return out;
}

std::string PaintVerdict(const std::string& verdict, bool color, int width) {
  std::string text = verdict;
  if (static_cast<int>(text.size()) < width) text.append(width - text.size(), ' ');
  if (!color) return text;
  if (verdict == kTampered) return "\033[1;31m" + text + "\033[0m";
  if (verdict == kDemoted) return "\033[33m" + text + "\033[0m";
  return text;
}

bool HasEvaluation(const LoopConfig& c) {
  return !c.eval_files.empty() || !c.eval_command.empty() || !c.eval_globs.empty();
}

bool IsTamperRule(const std::string& rule, const LoopConfig& c) {
  if (!HasEvaluation(c)) return false;
  if (rule == "loop.budget_edit" || rule == "loop.log_write") return true;
  return rule == "loop.metric_print" && !c.eval_command.empty();
}

Status ParseEvalOutput(const std::string& text, const std::string& key, double* value) {
  bool found = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() + 1 : nl + 1;
    for (size_t at = line.find(key); at != std::string::npos; at = line.find(key, at + 1)) {
      bool word_before = at > 0 && (std::isalnum(static_cast<unsigned char>(line[at - 1])) ||
                                    line[at - 1] == '_' || line[at - 1] == '/');
      size_t after = at + key.size();
      if (word_before) continue;
      if (after < line.size() && line[after] == '"') ++after;
      while (after < line.size() && (line[after] == ' ' || line[after] == '\t')) ++after;
      if (after < line.size() && (line[after] == '=' || line[after] == ':')) {
        ++after;
      } else if (after == at + key.size() || after >= line.size()) {
        continue;  // "val_loss_x", or the key at the end of the line
      }
      double v;
      if (NumberAt(line, after, &v)) {
        *value = v;
        found = true;
      }
    }
  }
  if (!found) {
    return Status::NotFound(fmt::format("the evaluation printed no {} (print `{}=VALUE` on stdout)",
                                        key, key));
  }
  return Status::OK();
}

Status RunEvaluation(const LoopConfig& c, int64_t round, int64_t seed, const std::string& run_id,
                     double* value, std::string* output_tail) {
  SubprocessSpec spec;
  for (auto a : c.eval_command) {
    a = ReplaceAll(a, "{seed}", std::to_string(seed));
    a = ReplaceAll(a, "{round}", std::to_string(round));
    a = ReplaceAll(a, "{run_id}", run_id);
    spec.argv.push_back(a);
  }
  spec.cwd = c.workdir;
  spec.env = {{"INLOOP_SEED", std::to_string(seed)},
              {"INLOOP_RUN_ID", run_id},
              {"INLOOP_LOOP_ROUND", std::to_string(round)}};
  spec.die_with_parent = true;
  CapturedOutput out;
  // The evaluation gets the training run's budget: a hung evaluation must not hold the loop.
  Status s = RunCaptured(spec, &out, c.budget_s);
  if (!s.ok()) return Status::Invalid("the evaluation command: " + s.message());
  *output_tail = out.out.size() > 2000 ? out.out.substr(out.out.size() - 2000) : out.out;
  if (out.timed_out) {
    return Status::Invalid(fmt::format("the evaluation command ran past the round's budget of "
                                       "{:g} s and was stopped (loop init --budget sets it)",
                                       c.budget_s));
  }
  if (out.exit_code != 0) {
    return Status::Invalid(fmt::format("the evaluation command exited with code {}", out.exit_code));
  }
  return ParseEvalOutput(out.out, c.metric, value);
}

Status DeclareEvaluation(const std::string& top, LoopConfig* c) {
  for (const std::string& f : EvalCommandFiles(top, c->workdir, c->eval_command)) {
    if (std::find(c->eval_globs.begin(), c->eval_globs.end(), f) == c->eval_globs.end()) {
      c->eval_globs.push_back(f);
    }
  }
  return HashEvalFiles(top, c->eval_globs, c->store_dir, &c->eval_files);
}

bool MetricFromEvaluation(const LoopConfig& c, int64_t round, int64_t seed,
                          const std::string& run_id, double* value, bool* tampered,
                          std::string* reason) {
  *tampered = false;
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(c.store_dir, false, &st);
  if (!s.ok()) {
    *reason = s.message();
    return false;
  }
  query::SeriesResult res;
  if (query::QuerySeries(st.get(), run_id, c.metric, {}, &res).ok() && !res.points.empty()) {
    *tampered = true;
    *reason = fmt::format("the training run logged {} itself ({} point(s), last {:.6g}); with an "
                          "evaluation command only the evaluation's output gives the metric",
                          c.metric, res.points.size(), res.points.back().value);
    return false;
  }
  std::string tail;
  s = RunEvaluation(c, round, seed, run_id, value, &tail);
  store::EventRecord e;
  e.run_id = run_id;
  e.time = static_cast<double>(std::time(nullptr));
  e.kind = "loop_eval";
  e.severity = s.ok() ? "info" : "warning";
  e.message = s.ok() ? fmt::format("loop {} evaluation: {} = {:.6g}", c.name, c.metric, *value)
                     : fmt::format("loop {} evaluation failed: {}", c.name, s.message());
  JsonWriter w;
  w.BeginObject().Key("loop").String(c.name).Key("round").Int(round).Key("seed").Int(seed);
  w.Key("metric_key").String(c.metric).Key("value");
  if (s.ok()) w.Number(*value); else w.Null();
  w.Key("output_tail").String(tail).EndObject();
  e.data_json = w.Take();
  (void)st->AddEvent(&e);
  if (!s.ok()) {
    *reason = s.message();
    return false;
  }
  return true;
}

}  // namespace inloop::loop
