// CLI verbs: run, runs, show, metrics, events, pending, approve, deny, demo here; import,
// compare, evaldiff, report, insights and ask in files of their own (verbs.h). Text for people
// (one screen, colours only on a TTY and never with NO_COLOR), --json for machines. Errors: one
// line on stderr naming what failed and what to do, and a distinct exit code (exit_codes.h).
#include "source_paths.h"
#include "cli/cli.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/color.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/ranks_view.h"
#include "cli/run_cmd.h"
#include "cli/loop_slot_cmd.h"
#include "cli/slurm_verbs.h"
#include "cli/verb_table.h"
#include "cli/sync_cmd.h"
#include "cli/verbs.h"
#include "cli/data_cmd.h"
#include "cli/events_cmd.h"
#include "cli/model_cmd.h"
#include "common/display_text.h"
#include "common/duration_text.h"
#include "common/json_writer.h"
#include "config/config.h"
#include "query/series_query.h"
#include "remedy/timeline.h"
#include "report/run_report.h"
#include "store/catalog_json.h"
#include "store/store.h"
#include "supervise/run_context.h"
#include "supervise/group_guard.h"
#include "supervise/supervisor.h"

namespace inloop::cli {
namespace {

namespace fs = std::filesystem;

void RunJson(JsonWriter& w, const store::RunRecord& r) {
  w.Key("id").String(r.id).Key("name").String(r.name).Key("status").String(r.status);
  w.Key("attempts").Int(r.attempts);
  w.Key("command").BeginArray();
  for (auto& a : r.command) w.String(a);
  w.EndArray();
  w.Key("started_at").Number(r.started_at);
  if (r.ended_at > 0) w.Key("ended_at").Number(r.ended_at); else w.Key("ended_at").Null();
}

// ---- runs ----
int CmdRuns(const std::string& store_dir, bool json) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  std::vector<store::RunRecord> runs;
  if (s.ok()) s = st->ListRuns(&runs);
  if (!s.ok()) return Fail(s);
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (auto& r : runs) {
      w.BeginObject();
      RunJson(w, r);
      w.Key("exit_code");
      if (r.exit_code) w.Int(*r.exit_code); else w.Null();
      w.EndObject();
    }
    w.EndArray();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  if (runs.empty()) {
    fmt::print("no runs yet in {} (start one with `inloop run -- CMD`)\n", st->location());
    return kExitOk;
  }
  bool color = UseColor(1);
  fmt::print("{:<20} {:<16} {:<12} {:>3} {:<19} {:>8}  {}\n", "ID", "NAME", "STATUS", "ATT",
             "STARTED", "DURATION", "COMMAND");
  for (auto& r : runs) {
    std::string status = r.status;
    std::string padded = fmt::format("{:<12}", status);
    if (color) {
      auto c = status == store::kFinished ? fmt::color::green
               : status == store::kRunning ? fmt::color::cyan
                                           : fmt::color::red;
      padded = fmt::format(fg(c), "{}", padded);
    }
    double end = r.ended_at > 0 ? r.ended_at : static_cast<double>(time(nullptr));
    std::string cmd = JoinCommand(r.command);
    if (cmd.size() > 60) cmd = cmd.substr(0, 57) + "...";
    fmt::print("{:<20} {:<16} {} {:>3} {:<19} {:>8}  {}\n", r.id, r.name.substr(0, 16), padded,
               r.attempts, LocalTimeText(r.started_at), DurationText(end - r.started_at), cmd);
  }
  return kExitOk;
}

// ---- show ----
int CmdShow(const std::string& store_dir, const std::string& run_ref, bool json) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  store::RunRecord r;
  std::vector<store::AttemptRecord> attempts;
  std::vector<store::Param> params;
  std::vector<store::SeriesStats> series;
  if (s.ok()) s = st->FindRun(run_ref, &r);
  if (s.ok()) s = st->ListAttempts(r.id, &attempts);
  if (s.ok()) s = st->GetParams(r.id, &params);
  std::vector<std::string> tags;
  if (s.ok()) s = st->GetTags(r.id, &tags);
  if (s.ok()) s = st->SeriesStatsFor(r.id, &series);
  if (!s.ok()) return Fail(s);
  if (json) {
    JsonWriter w;
    w.BeginObject();
    RunJson(w, r);
    w.Key("exit_code");
    if (r.exit_code) w.Int(*r.exit_code); else w.Null();
    w.Key("signal").Int(r.signal).Key("cwd").String(r.cwd).Key("host").String(r.host);
    w.Key("git_commit");
    if (r.git_commit.empty()) w.Null(); else w.String(r.git_commit);
    w.Key("git_dirty");
    if (r.git_dirty < 0) w.Null(); else w.Bool(r.git_dirty == 1);
    w.Key("attempts").BeginArray();
    for (auto& a : attempts) {
      w.BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
      w.Key("started_at").Number(a.started_at);
      if (a.ended_at > 0) w.Key("ended_at").Number(a.ended_at); else w.Key("ended_at").Null();
      w.Key("pid").Int(a.pid).Key("exit_code");
      if (a.exit_code) w.Int(*a.exit_code); else w.Null();
      w.Key("signal").Int(a.signal).Key("crash_class").String(a.crash_class);
      w.Key("stdout_log").String(a.stdout_path.empty() ? "" : st->PathOf(a.stdout_path));
      w.Key("stderr_log").String(a.stderr_path.empty() ? "" : st->PathOf(a.stderr_path));
      w.Key("lines").Int(a.lines).Key("truncated_lines").Int(a.truncated_lines);
      w.Key("stderr_tail").String(a.stderr_tail);
      w.EndObject();
    }
    w.EndArray();
    w.Key("params").BeginObject();
    for (auto& p : params) w.Key(p.key).String(p.value);
    w.EndObject();
    w.Key("tags").BeginArray();
    for (auto& t : tags) w.String(t);
    w.EndArray();
    w.Key("series").BeginArray();
    for (auto& se : series) store::WriteSeriesStatsJson(se, &w);
    w.EndArray();
    w.Key("goodput");
    if (auto g = report::RunGoodput(st.get(), r.id)) {
      report::WriteGoodputJson(*g, &w);
    } else {
      w.Null();
    }
    w.EndObject();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  double end = r.ended_at > 0 ? r.ended_at : static_cast<double>(time(nullptr));
  fmt::print("run      {} ({})\n", r.name, r.id);
  fmt::print("status   {}{}   duration {}   attempts {}\n", r.status,
             r.exit_code ? fmt::format(" (exit {})", *r.exit_code) : "",
             DurationText(end - r.started_at), r.attempts);
  fmt::print("started  {}   host {}\n", LocalTimeText(r.started_at), r.host);
  fmt::print("command  {}\n", JoinCommand(r.command));
  fmt::print("cwd      {}\n", r.cwd);
  if (!r.git_commit.empty()) {
    fmt::print("git      {}{}\n", r.git_commit.substr(0, 12), r.git_dirty == 1 ? " (dirty)" : "");
  }
  if (!tags.empty()) fmt::print("tags     {}\n", fmt::join(tags, ", "));
  if (!params.empty()) {
    fmt::print("params  ");
    for (auto& p : params) fmt::print(" {}={}", p.key, p.value);
    fmt::print("\n");
  }
  for (auto& a : attempts) {
    fmt::print("attempt {} ({}) pid {} {}{}  logs {}\n", a.number, a.reason, a.pid,
               a.exit_code ? fmt::format("exit {}", *a.exit_code) : "running",
               a.crash_class.empty() ? "" : " [" + a.crash_class + "]",
               a.stdout_path.empty() ? "-" : st->PathOf(a.stdout_path));
  }
  PrintStragglers(st.get(), r.id);
  if (series.empty()) {
    fmt::print("no metrics recorded\n");
    return kExitOk;
  }
  if (auto g = report::RunGoodput(st.get(), r.id)) fmt::print("goodput  {}\n", report::GoodputText(*g));
  fmt::print("\n{:<32} {:>9} {:>10} {:>12} {:>12} {:>12}\n", "SERIES", "POINTS", "LAST STEP",
             "LAST", "MIN", "MAX");
  for (auto& se : series) {
    fmt::print("{:<32} {:>9} {:>10} {:>12} {:>12} {:>12}{}\n", se.key, se.points, se.last_step,
               NumberText(se.last.value), se.has_finite ? NumberText(se.min) : "-",
               se.has_finite ? NumberText(se.max) : "-",
               se.nonfinite ? fmt::format("  ({} non-finite)", se.nonfinite) : "");
  }
  return kExitOk;
}

// ---- metrics ----
int CmdMetrics(const std::string& store_dir, const std::string& run_ref, const std::string& key,
               int max_points, const std::string& format, const std::optional<int64_t>& from,
               const std::optional<int64_t>& to, int segment) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  store::RunRecord r;
  if (s.ok()) s = st->FindRun(run_ref, &r);
  query::SeriesQuery q;
  q.max_points = max_points;
  q.segment = segment;
  if (from) q.lo = *from;
  if (to) q.hi = *to;
  query::SeriesResult res;
  if (s.ok()) s = query::QuerySeries(st.get(), r.id, key, q, &res);
  if (!s.ok()) return Fail(s);
  std::string out;
  if (format == "csv") {
    out = "step,wall_time,value\n";
    for (auto& p : res.points) {
      out += fmt::format("{},{:.3f},{}\n", p.step, p.wall_time, NumberText(p.value));
    }
  } else {
    JsonWriter w;
    w.BeginObject().Key("key").String(key).Key("run").String(r.id);
    w.Key("total_points").Int(res.total_points).Key("downsampled").Bool(res.downsampled);
    w.Key("points").BeginArray();
    for (auto& p : res.points) {
      w.BeginArray().Int(p.step).Number(p.wall_time).Number(p.value).EndArray();
    }
    w.EndArray();
    w.Key("segments").BeginArray();
    for (auto& g : res.segments) {
      w.BeginObject().Key("segment").Int(g.segment).Key("points").Int(g.points);
      w.Key("first_step").Int(g.first_step).Key("last_step").Int(g.last_step).EndObject();
    }
    w.EndArray().EndObject();
    out = w.Take();
    out += '\n';
  }
  fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

// ---- pending, approve, deny ----
// "name (id)" of an action's run, looked up once per run; the bare id when the run is gone.
class RunNames {
 public:
  explicit RunNames(store::Store* st) : st_(st) {}
  const std::string& NameOf(const std::string& run_id) {
    auto it = names_.find(run_id);
    if (it != names_.end()) return it->second;
    store::RunRecord r;
    std::string name = st_->FindRun(run_id, &r).ok() && r.id == run_id ? r.name : "";
    return names_.emplace(run_id, name).first->second;
  }
  std::string Label(const std::string& run_id) {
    const std::string& name = NameOf(run_id);
    return name.empty() ? run_id : fmt::format("{} ({})", name, run_id);
  }

 private:
  store::Store* st_;
  std::map<std::string, std::string> names_;
};

void ActionJson(JsonWriter& w, const store::ActionRecord& a, const std::string& run_name) {
  w.BeginObject().Key("id").Int(a.id).Key("run_id").String(a.run_id);
  w.Key("run_name").String(run_name).Key("created_at").Number(a.created_at);
  w.Key("action").String(a.action).Key("trigger").String(a.trigger).Key("step");
  if (a.step) w.Int(*a.step); else w.Null();
  w.Key("reason").String(a.reason).Key("state").String(a.state);
  w.Key("decided_by").String(a.decided_by).Key("decided_at");
  if (a.decided_at > 0) w.Number(a.decided_at); else w.Null();
  w.Key("note").String(a.note).Key("data");
  // The plan is stored as JSON text; anything that does not parse is passed on as a string so
  // the output stays valid JSON.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!a.data_json.empty() && !parser.parse(a.data_json).get(doc)) {
    w.Raw(a.data_json);
  } else {
    w.String(a.data_json);
  }
  w.EndObject();
}

int CmdPending(const std::string& store_dir, const std::string& run_ref, bool all, bool json) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  store::RunRecord r;
  if (s.ok() && !run_ref.empty()) s = st->FindRun(run_ref, &r);
  std::vector<store::ActionRecord> actions;
  if (s.ok()) s = st->ListActions(r.id, all ? "" : store::kActionPending, &actions);
  if (!s.ok()) return Fail(s);
  RunNames names(st.get());
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (auto& a : actions) ActionJson(w, a, names.NameOf(a.run_id));
    w.EndArray();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  if (actions.empty()) {
    std::string what = all ? "no actions" : "no pending actions";
    if (run_ref.empty()) {
      fmt::print("{}\n", what);
    } else {
      fmt::print("{} for run {}\n", what, names.Label(r.id));
    }
    return kExitOk;
  }
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<std::string> labels;
  size_t run_w = 3;
  for (auto& a : actions) {
    labels.push_back(names.Label(a.run_id));
    run_w = std::max(run_w, labels.back().size());
  }
  std::string state_head = all ? fmt::format(" {:<9}", "STATE") : "";
  fmt::print("{:>4}  {:<{}}  {:<13}{} {:<16} {:>8} {:>7}  {}\n", "ID", "RUN", run_w, "ACTION",
             state_head, "TRIGGER", "STEP", "AGE", "REASON");
  for (size_t i = 0; i < actions.size(); ++i) {
    const auto& a = actions[i];
    std::string state = all ? fmt::format(" {:<9}", a.state) : "";
    fmt::print("{:>4}  {:<{}}  {:<13}{} {:<16} {:>8} {:>7}  {}\n", a.id, labels[i], run_w,
               a.action, state, a.trigger, a.step ? std::to_string(*a.step) : "-",
               DurationText(now - a.created_at), a.reason);
  }
  if (!all) {
    fmt::print("\napprove: inloop approve ID [--reason TEXT]   "
               "deny: inloop deny ID [--reason TEXT]\n");
  }
  return kExitOk;
}

int CmdDecide(const std::string& store_dir, int64_t id, bool approve, const std::string& note,
              bool json) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  std::string user = CliUser();
  const char* state = approve ? store::kActionApproved : store::kActionDenied;
  store::ActionRecord a;
  if (s.ok()) s = st->DecideAction(id, state, "cli:" + user, note, &a);
  if (!s.ok()) return Fail(s);
  RunNames names(st.get());
  const std::string& run_name = names.NameOf(a.run_id);
  // The decision is committed; its event on the run's timeline is a record of it, so failing to
  // add the event is a warning, not a failed decision.
  store::EventRecord e;
  e.run_id = a.run_id;
  e.kind = approve ? remedy::event_kind::kActionApproved : remedy::event_kind::kActionDenied;
  e.severity = approve ? "info" : "warning";
  e.step_lo = a.step;
  e.message = fmt::format("{} (action {}) {} by {}{}", a.action, a.id, state, user,
                          note.empty() ? "" : ": " + note);
  e.data_json = remedy::ToJson(remedy::DecisionData{a.id, a.action, a.decided_by, note});
  Status es = st->AddEvent(&e);
  if (!es.ok()) {
    fmt::print(stderr, "inloop: warning: action {} is {}, but its event was not recorded: {}\n",
               a.id, state, es.message());
  }
  if (json) {
    JsonWriter w;
    ActionJson(w, a, run_name);
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  fmt::print("{} action {} ({} for run {}): {}\n", state, a.id, a.action,
             run_name.empty() ? a.run_id : run_name,
             !approve ? "the supervisor will not apply it"
             : a.trigger == "assistant"
                 ? "the assistant's proposals are decisions on record, not applied by the "
                   "supervisor: carry it out yourself (e.g. in the next run's config)"
                 : "the supervisor applies it within a second");
  return kExitOk;
}

// ---- demo ----
std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return fs::path(buf).parent_path().string();
}

std::string FindExample() {
  std::vector<fs::path> candidates;
  if (const char* e = getenv("INLOOP_EXAMPLES"); e && *e) candidates.emplace_back(e);
  candidates.push_back(fs::path(ExeDir()) / ".." / "examples");
  candidates.push_back(fs::path(ExeDir()) / ".." / "share" / "inloop" / "examples");
  candidates.push_back(fs::path(INLOOP_SOURCE_DIR) / "examples");
  for (auto& c : candidates) {
    fs::path p = c / "charlm" / "train.py";
    std::error_code ec;
    if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  return {};
}

std::string Sparkline(const std::vector<Point>& pts, int width) {
  static const char* kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::vector<double> v;
  for (auto& p : pts) if (std::isfinite(p.value)) v.push_back(p.value);
  if (v.empty()) return {};
  std::vector<double> cols(static_cast<size_t>(std::min<int>(width, static_cast<int>(v.size()))));
  for (size_t c = 0; c < cols.size(); ++c) {
    size_t a = c * v.size() / cols.size(), b = std::max(a + 1, (c + 1) * v.size() / cols.size());
    double sum = 0;
    for (size_t i = a; i < b; ++i) sum += v[i];
    cols[c] = sum / static_cast<double>(b - a);
  }
  auto [mn, mx] = std::minmax_element(cols.begin(), cols.end());
  std::string out;
  for (double c : cols) {
    int k = *mx > *mn ? static_cast<int>((c - *mn) / (*mx - *mn) * 7.999) : 0;
    out += kBars[std::clamp(k, 0, 7)];
  }
  return out;
}

// The step the demo's NaN is injected at: a little past the middle of the run, so the doctor
// has a checkpoint to roll back to. `cmd` may set --steps (read as the run's params are);
// 1500 is train.py's default.
int64_t DemoFaultStep(const std::vector<std::string>& cmd) {
  int64_t steps = 1500;
  for (const store::Param& p : supervise::ParamsFromArgv(cmd)) {
    if (p.key == "steps") steps = std::atoll(p.value.c_str());
  }
  return std::max<int64_t>(2, steps * 11 / 20);
}

int CmdDemo(const std::string& store_flag, const std::vector<std::string>& extra, bool clean) {
  std::string script = FindExample();
  if (script.empty()) {
    return Fail(Status::NotFound(
        "examples/charlm/train.py not found beside the binary or in the source tree (set "
        "INLOOP_EXAMPLES to the examples folder)"));
  }
  const char* py = getenv("INLOOP_PYTHON");
  std::string python = py && *py ? py : "/usr/bin/python3";
  std::string store_dir = ResolveStore(store_flag);
  std::error_code ec;
  fs::create_directories(store_dir, ec);
  std::string ckpt = (fs::path(store_dir) / "demo-checkpoints").string();
  std::vector<std::string> cmd = {python, script, "--out", ckpt};
  cmd.insert(cmd.end(), extra.begin(), extra.end());
  bool user_faults = std::any_of(extra.begin(), extra.end(), [](const std::string& a) {
    return a == "--inject" || a.rfind("--inject=", 0) == 0;
  });
  std::string fault_note;
  if (!clean && !user_faults) {
    int64_t at = DemoFaultStep(cmd);
    cmd.push_back("--inject");
    cmd.push_back(fmt::format("nan@{}", at));
    fault_note = fmt::format(
        "  a bad batch turns the loss NaN at step {}: watch inloop roll back to the last good "
        "checkpoint and skip it (--clean trains without it)\n",
        at);
  }
  fmt::print(stderr, "inloop demo: training a small character language model on CPU under "
                     "supervision\n  {}\n{}\n", JoinCommand(cmd), fault_note);
  supervise::SupervisorOptions opts;
  opts.command = cmd;
  opts.name = "demo";
  opts.store_dir = store_dir;
  opts.color = UseColor(2);
  supervise::RunOutcome out;
  Status s = supervise::Supervise(opts, &out);
  if (!s.ok()) return Fail(s);
  if (out.store_failed) return out.exit_code ? out.exit_code : kExitStoreFailed;
  std::unique_ptr<store::Store> st;
  if (OpenStore(store_dir, &st).ok()) {
    for (const char* key : {"train/loss", "val/loss"}) {
      query::SeriesQuery q;
      query::SeriesResult res;
      if (query::QuerySeries(st.get(), out.run_id, key, q, &res).ok() && !res.points.empty()) {
        fmt::print(stderr, "  {:<11} {}  {:.4g} -> {:.4g}\n", key, Sparkline(res.points, 48),
                   res.points.front().value, res.points.back().value);
      }
    }
  }
  std::string flag = store_flag.empty() && !getenv("INLOOP_STORE") ? "" : " --store " + store_dir;
  fmt::print(stderr,
             "\nwhere to look next:\n"
             "  inloop runs{0}                                   all runs in the store\n"
             "  inloop show demo{0}                              params, attempts, series\n"
             "  inloop metrics demo train/loss --max-points 200{0} --format csv\n"
             "  inloop events demo{0}                            the run's timeline\n"
             "  inloop run --name mine -- {1} {2} --lr 1e-3      your own variant\n",
             flag, python, script);
  return out.exit_code;
}

}  // namespace

int Main(int argc, char** argv) {
  // Internal: the guard process `inloop run` starts for each attempt (supervise/group_guard.h).
  if (argc >= 2 && std::string_view(argv[1]) == "__group-guard") {
    return supervise::GroupGuardMain(argc, argv);
  }
  CLI::App app{"inloop: supervise training runs, record every metric, fix what goes wrong"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("inloop ") + INLOOP_VERSION);
  std::string store_dir;
  bool json = false;

  RunArgs run_args;
  auto* run = AddRunCommand(app, &run_args);
  VerbTable verbs;
  AddSyncVerb(app, &verbs);
  AddSubmitVerb(app, &verbs);
  AddNodesVerb(app, &verbs);
  AddDataVerbs(app, &verbs);
  AddLoopSlotVerb(app, &verbs);
  AddModelVerbs(app, &verbs);

  auto* runs = app.add_subcommand("runs", "list runs, newest first");
  runs->add_option("--store", store_dir, "store directory");
  runs->add_flag("--json", json, "JSON output");

  std::string run_ref, key, format = "csv";
  int max_points = 0;
  std::optional<int64_t> from, to;
  auto* show = app.add_subcommand("show", "one run: status, params, attempts, series");
  show->add_option("--store", store_dir, "store directory");
  show->add_flag("--json", json, "JSON output");
  show->add_option("run", run_ref, "run id, id prefix or name (newest wins)")->required();

  auto* metrics = app.add_subcommand("metrics", "points of one series");
  metrics->add_option("--store", store_dir, "store directory");
  metrics->add_option("run", run_ref, "run id or name")->required();
  metrics->add_option("key", key, "series key, e.g. train/loss")->required();
  metrics->add_option("--max-points", max_points, "M4-downsample to at most N points (0: all)")
      ->check(CLI::Range(0, 1 << 30));
  metrics->add_option("--format", format, "csv or json")->check(CLI::IsMember({"csv", "json"}));
  metrics->add_option("--from", from, "first step");
  metrics->add_option("--to", to, "last step");
  int segment = -1;
  metrics->add_option("--segment", segment,
                      "only this segment, whole (a rewound attempt starts a new one)");
  bool metrics_json = false;
  metrics->add_flag("--json", metrics_json, "same as --format json");

  AddEventsVerbs(app, &verbs);

  LogsArgs logs_args;
  auto* logs = app.add_subcommand("logs", "an attempt's stdout or stderr, as the store kept it");
  logs->add_option("--store", store_dir, "store directory");
  logs->add_option("run", logs_args.run_ref, "run id or name")->required();
  logs->add_option("--attempt", logs_args.attempt, "attempt number (default: the last)")
      ->check(CLI::Range(1, 1 << 30));
  logs->add_flag("--stderr", logs_args.stderr_stream, "the stderr log (default: stdout)");
  logs->add_option("--tail", logs_args.tail, "only the last N lines")->check(CLI::Range(0, 1 << 30));
  logs->add_option("--from", logs_args.from, "first line, 1-based");
  logs->add_option("--count", logs_args.count, "at most N lines")->check(CLI::NonNegativeNumber);
  logs->add_flag("--json", logs_args.json, "JSON output: the lines with their position");

  auto* pending = app.add_subcommand(
      "pending", "remedies waiting for inloop approve/deny (runs under --policy ask)");
  pending->add_option("--store", store_dir, "store directory");
  pending->add_flag("--json", json, "JSON output");
  pending->add_option("--run", run_ref, "only this run (id, id prefix or name)");
  bool all_actions = false;
  pending->add_flag("--all", all_actions, "every action in any state, newest last");

  int64_t action_id = 0;
  std::string decision_note;
  auto* approve = app.add_subcommand("approve", "let the supervisor apply a proposed remedy");
  auto* deny = app.add_subcommand("deny", "refuse a proposed remedy");
  for (auto* cmd : {approve, deny}) {
    cmd->add_option("--store", store_dir, "store directory");
    cmd->add_flag("--json", json, "JSON output: the action after the decision");
    cmd->add_option("id", action_id, "action id (inloop pending lists them)")->required();
    cmd->add_option("--reason", decision_note, "why, kept with the decision and on the timeline");
  }

  auto* demo = app.add_subcommand("demo", "train the bundled example under supervision");
  demo->add_option("--store", store_dir, "store directory");
  std::vector<std::string> demo_args;
  demo->add_option("args", demo_args, "extra arguments for examples/charlm/train.py, after --");
  bool demo_clean = false;
  demo->add_flag("--clean", demo_clean, "no injected fault (by default a NaN shows the remedy)");

  ImportArgs import_args;
  auto* import = app.add_subcommand(
      "import", "bring in runs other tools wrote: TensorBoard event files, trainer_state.json, "
      "Lightning metrics.csv, CSV, JSONL, MLflow run directories, training logs");
  import->add_option("--store", store_dir, "store directory");
  import->add_option("--name", import_args.name,
                     "run name (several runs: NAME/<their own name>); default from the files");
  import->add_option("--tag", import_args.tags, "tag every imported run (repeatable)")
      ->allow_extra_args(false);
  import->add_flag("--json", json, "JSON output");
  import->add_flag("--strict", import_args.strict,
                   "exit 5 when any record could not be read (the rest is imported anyway)");
  import->add_option("paths", import_args.paths, "files and directories (walked recursively)")
      ->required();

  CompareArgs cmp;
  auto* compare = app.add_subcommand(
      "compare", "one metric of two runs (or two groups of seeds): difference, crossing, area, "
      "final values with a test");
  compare->add_option("--store", store_dir, "store directory");
  std::vector<std::string> cmp_runs;
  compare->add_option("runs", cmp_runs, "RUN_A RUN_B (ids, id prefixes or names)")->expected(0, 2);
  compare->add_option("--a", cmp.a, "group A: run refs or name patterns like 'seed-*' (repeatable)");
  compare->add_option("--b", cmp.b, "group B, as --a");
  compare->add_option("--key", cmp.key, "series to compare (default: a loss both runs log)");
  compare->add_option("--align", cmp.align, "x axis: step, tokens or time (elapsed seconds)")
      ->check(CLI::IsMember({"step", "tokens", "time"}));
  compare->add_option("--goal", cmp.goal, "min or max (default from the key: loss -> min)")
      ->check(CLI::IsMember({"min", "max"}));
  compare->add_option("--tokens-per-step", cmp.tokens_per_step,
                      "with --align tokens, when runs log no token counter");
  compare->add_option("--html", cmp.html, "also write a standalone HTML page to this file");
  compare->add_flag("--json", json, "JSON output");
  auto* evaldiff = app.add_subcommand(
      "evaldiff", "compare two model versions' per-example eval results (JSONL, matched by id)");
  std::string eval_old, eval_new;
  compare::EvalDiffOptions eval_opts;
  int eval_top = 10;
  evaldiff->add_option("old", eval_old, "OLD.jsonl: the baseline's records")->required();
  evaldiff->add_option("new", eval_new, "NEW.jsonl: the candidate's records")->required();
  evaldiff->add_flag("--json", json, "JSON output");
  evaldiff->add_option("--seed", eval_opts.seed,
                       "seed of the bootstrap and permutations (default 1)");
  evaldiff->add_option("--bootstrap", eval_opts.bootstrap, "bootstrap resamples (default 10000)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  evaldiff->add_option("--slice-key", eval_opts.slice_keys,
                       "a top-level field that is also a slice dimension (repeatable)")
      ->allow_extra_args(false);
  std::string eval_html;
  evaldiff->add_option("--html", eval_html, "also write a standalone HTML page to this file");
  evaldiff->add_option("--top", eval_top, "regressions/improvements shown in text (default 10)")
      ->check(CLI::Range(0, 1 << 30));
  InsightsArgs ins;
  auto* insights = app.add_subcommand(
      "insights", "patterns across runs: param importance, final values of running runs "
      "extrapolated from their curves, a power-law fit of loss against compute");
  insights->add_option("--store", store_dir, "store directory");
  insights->add_option("--runs", ins.runs, "which runs: a name pattern ('lr-*'), tag:T or status:S");
  insights->add_option("--key", ins.key, "target metric (default: the loss key most runs log)");
  insights->add_option("--goal", ins.goal, "min or max (default from the key: loss -> min)")
      ->check(CLI::IsMember({"min", "max"}));
  insights->add_option("--x", ins.x_key, "scaling axis: a param or series (default: compute, "
                       "flops, tokens, ...)");
  insights->add_option("--at", ins.at, "scaling: predict the loss at this C (default 10x the largest)");
  insights->add_option("--horizon", ins.horizon,
                       "extrapolate to this step when a run has no max_steps-like param");
  insights->add_flag("--json", json, "JSON output");

  AskArgs ask_args;
  auto* ask = app.add_subcommand(
      "ask", "ask a model about your runs: it reads them through inloop's own views and may "
      "propose an action for you to approve (INLOOP_LLM_URL, INLOOP_LLM_MODEL, INLOOP_LLM_KEY)");
  ask->add_option("--store", store_dir, "store directory");
  ask->add_option("question", ask_args.question, "the question, quoted")->required();
  ask->add_option("--run", ask_args.run, "the run the question is about (id, id prefix or name)");
  ask->add_flag("--json", json, "JSON output at the end instead of streamed text");
  ask->add_option("--max-tool-calls", ask_args.max_tool_calls,
                  "tool calls allowed per question (default 8)")->check(CLI::Range(0, 100));
  ask->add_option("--max-tokens", ask_args.max_tokens,
                  "completion tokens per model turn (default 1024)")->check(CLI::Range(16, 1 << 20));
  ask->add_option("--token-budget", ask_args.token_budget,
                  "tokens per question, when the endpoint reports usage (default 60000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  ask->add_option("--timeout", ask_args.timeout_s,
                  "seconds without a byte from the endpoint before giving up (default 120)")
      ->check(CLI::Range(1.0, 86400.0));

  ReportArgs rep;
  auto* report = app.add_subcommand(
      "report", "a run's report: what happened, what was done and what it achieved, against a "
      "baseline, with recommendations (Markdown, HTML or JSON)");
  report->add_option("--store", store_dir, "store directory");
  report->add_option("run", rep.run, "run id, id prefix or name (newest wins)")->required();
  report->add_option("--baseline", rep.baseline,
                     "run to compare with (default: the best earlier finished run of the same "
                     "command)");
  report->add_flag("--no-baseline", rep.no_baseline, "no comparison");
  report->add_option("--key", rep.key, "primary metric (default: the training loss)");
  report->add_option("--format", rep.format, "md or html")->check(CLI::IsMember({"md", "html"}));
  report->add_option("-o,--output", rep.out, "write to this file instead of stdout");
  report->add_flag("--json", json, "the report's facts as JSON");

  ServeArgs serve_args;
  auto* serve = app.add_subcommand(
      "serve", "REST API, live stream, ingest and the dashboard over the store "
      "(docs/http_api.md)");
  serve->add_option("--store", store_dir, "store directory (made when missing)");
  serve->add_option("--bind", serve_args.bind, "address to listen on (default 127.0.0.1; any "
                    "other needs a token)");
  serve->add_option("--port", serve_args.port, "port (default 8642; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--token", serve_args.token,
                    "the server's token, required of every request (else INLOOP_TOKEN, else a "
                    "random one printed in the URL)");
  serve->add_flag("--no-token", serve_args.no_token,
                  "loopback only: no token (any local program may read and approve)");
  serve->add_option("--allow-host", serve_args.allow_hosts,
                    "also accept this Host name (NAME or NAME:PORT; repeatable), e.g. behind a "
                    "reverse proxy")
      ->allow_extra_args(false);
  serve->add_option("--threads", serve_args.threads, "I/O threads (default 4)")
      ->check(CLI::Range(1, 64));
  serve->add_option("--handlers", serve_args.handlers,
                    "requests answered at once, each on a thread of its own (default 16)")
      ->check(CLI::Range(1, 256));
  serve->add_option("--max-body-mb", serve_args.max_body_mb,
                    "largest request body in MiB (default 32; larger: 413)")
      ->check(CLI::Range(1, 4096));
  serve->add_option("--poll-ms", serve_args.poll_ms, "live runs' poll interval (default 200)")
      ->check(CLI::Range(10, 10000));
  TokenArgs token_args;
  auto* token_cmd = app.add_subcommand(
      "token", "named API tokens of inloop serve: create NAME --scope read|ingest|approve, list, "
      "revoke NAME (docs/security.md)");
  token_cmd->require_subcommand(1);
  auto* token_create = token_cmd->add_subcommand("create", "make a token; prints it once");
  token_create->add_option("name", token_args.name, "the name the audit trail shows")->required();
  token_create->add_option("--scope", token_args.scope,
                           "read (GET only), ingest (read + runs and points), approve (read + "
                           "approve/deny)")
      ->required();
  auto* token_list = token_cmd->add_subcommand("list", "named tokens (never their secrets)");
  auto* token_revoke = token_cmd->add_subcommand("revoke", "delete a token; servers refuse it");
  token_revoke->add_option("name", token_args.name, "token name")->required();
  for (auto* sub : {token_create, token_list, token_revoke}) {
    sub->add_option("--store", store_dir, "store directory");
    sub->add_flag("--json", json, "JSON output");
  }
  AuditArgs audit_args;
  auto* audit_cmd = app.add_subcommand(
      "audit", "scan checkpoints and model files for code that runs when they load (pickle "
      "opcodes read without unpickling, allowlist first; torch zip/legacy, numpy, safetensors)");
  audit_cmd->add_option("paths", audit_args.paths, "files or directories")->required();
  audit_cmd->add_option("--allow", audit_args.allow,
                        "a global you trust: MODULE.NAME or MODULE.* (repeatable)");
  audit_cmd->add_option("--fail-on", audit_args.fail_on,
                        "exit 60 when a finding is at least this severe (default high)");
  audit_cmd->add_option("--sarif", audit_args.sarif, "also write SARIF 2.1.0 here (- for stdout)");
  audit_cmd->add_flag("--json", json, "JSON output");
  audit_cmd->add_flag("--quiet", audit_args.quiet, "list only files with findings");
  audit_cmd->add_flag("--surface", audit_args.surface,
                      "also list what each Python file depends on and exposes: third-party "
                      "imports, HTTP endpoints, binds beyond loopback");
  auto* sdk_cmd = app.add_subcommand(
      "sdk", "the Python SDK built into this binary: `inloop sdk path` prints a directory for "
      "PYTHONPATH (under `inloop run` it is already first on the child's PYTHONPATH)");
  sdk_cmd->require_subcommand(1);
  auto* sdk_path = sdk_cmd->add_subcommand("path", "write the SDK out and print its directory");
  sdk_path->add_option("--store", store_dir, "store directory (used when no cache dir is set)");
  sdk_path->add_flag("--json", json, "JSON output");
  LoopArgs loop_args;
  auto* loop_cmd = app.add_subcommand(
      "loop", "the research loop: an agent or the built-in search proposes, inloop runs and "
      "judges against seed noise, git remembers (init, run, status, log, show, best)");
  loop_cmd->require_subcommand(1);
  auto* loop_init = loop_cmd->add_subcommand("init", "start a loop on its own branch: -- CMD ...");
  loop_init->add_option("--metric", loop_args.metric, "series key and goal, e.g. val_loss:min")
      ->required();
  loop_init->add_option("--budget", loop_args.budget, "wall time per run: 300, 90s, 5m, 1h (default 5m)");
  loop_init->add_option("--program", loop_args.program, "the agent's instructions (program.md)");
  loop_init->add_option("--name", loop_args.name, "loop name; branch inloop/loop-NAME");
  loop_init->add_option("--protect", loop_args.protect,
                        "glob of paths the proposer may not change (repeatable)")
      ->allow_extra_args(false);
  loop_init->add_option("--max-diff-lines", loop_args.max_diff_lines,
                        "reject a round changing more lines (0: no limit)")->check(CLI::NonNegativeNumber);
  loop_init->add_option("--seeds", loop_args.seeds, "champion runs measuring seed noise (default 3)")
      ->check(CLI::Range(1, 100));
  loop_init->add_option("--max-seeds", loop_args.max_seeds,
                        "candidate runs at most, when within the noise (default 3)")->check(CLI::Range(1, 100));
  loop_init->add_option("--alpha", loop_args.alpha, "false-keep rate of the gate (default 0.05)");
  loop_init->add_option("--min-gain", loop_args.min_gain, "margin a gain must add to the noise band");
  loop_init->add_option("--seed-base", loop_args.seed_base, "first seed ({seed}, INLOOP_SEED)");
  loop_init->add_option("--max-rounds", loop_args.max_rounds, "rounds over the loop's life (0: no limit)");
  loop_init->add_option("--grace", loop_args.grace, "seconds after the budget before SIGKILL (default 10)");
  loop_init->add_flag("--replace", loop_args.replace, "start over: forget the existing loop's rounds");
  loop_init->add_option("--eval-file", loop_args.eval_files, "glob of the evaluation's files (metric "
                        "script, eval data, timers), hashed: a round changing them is tampered (repeatable)")
      ->allow_extra_args(false);
  loop_init->add_option("--eval-command", loop_args.eval_command, "evaluation run after each "
                        "training run; the metric is read from its stdout only (split, no shell)");
  loop_init->add_option("--recheck-every", loop_args.recheck_every, "re-check an unverified champion "
                        "on fresh seeds after K rounds (default 5, 0: off)")->check(CLI::NonNegativeNumber);
  loop_init->add_option("--register-as", loop_args.register_as, "register every kept round's run "
                        "as a candidate version of this model (inloop model; promotion stays gated)");
  loop_init->add_option("command", loop_args.command, "the training command, after --")->expected(-1);
  auto* loop_run = loop_cmd->add_subcommand("run", "run rounds until --rounds/--until/Ctrl-C");
  loop_run->add_option("--agent", loop_args.agent, "proposer: a command line (split, no shell)");
  loop_run->add_option("--search", loop_args.search, "proposer: the built-in TPE over space.toml");
  loop_run->add_option("--rounds", loop_args.rounds, "rounds to run now (0: until another limit)");
  loop_run->add_option("--until", loop_args.until, "stop starting rounds at HH:MM or after 30m");
  loop_run->add_option("--agent-timeout", loop_args.agent_timeout, "per agent call (default 1h)");
  loop_run->add_flag("--approve", loop_args.approve, "ask on the terminal before each commit");
  loop_run->add_flag("--yes", loop_args.yes, "with --approve: keep without asking");
  loop_run->add_option("--parallel", loop_args.parallel, "candidate rounds at once, each in its own worktree (default 1)")->check(CLI::Range(1, 64));
  auto* loop_status = loop_cmd->add_subcommand("status", "champion, counts, the round in flight");
  auto* loop_log = loop_cmd->add_subcommand("log", "every round: verdict, metric, gain, commit");
  auto* loop_show = loop_cmd->add_subcommand("show", "one round with its numbers and diff");
  loop_show->add_option("round", loop_args.round, "round number")->required();
  auto* loop_best = loop_cmd->add_subcommand("best", "the champion: commit, metric, params");
  for (auto* sub : {loop_init, loop_run, loop_status, loop_log, loop_show, loop_best}) {
    sub->add_option("--store", store_dir, "store directory");
    sub->add_flag("--json", json, "JSON output");
  }

  AddLoopSubmitVerb(app, &verbs);  // `loop submit` (loop_slot_cmd.cc)

  auto* mcp = app.add_subcommand(
      "mcp", "an MCP server on stdin/stdout (JSON-RPC 2.0) with inloop's read verbs, compare, "
      "evaldiff, report and loop status as tools, and start_run/run_status/wait_run/stop_run/"
      "propose_action within inloop.toml's [mcp] limits (docs/mcp.md)");
  mcp->add_option("--store", store_dir, "store directory");
  // deploy parses its own flags and sub-verbs (deploy_cmd.cc); listed here for --help.
  app.add_subcommand("deploy", "serve a model-server command: replicas, proxy, autoscaling, "
                     "cache, shadow/canary (inloop deploy --help)")->allow_extras();
  if (argc > 1 && std::string_view(argv[1]) == "deploy") return CmdDeploy(argc - 1, argv + 1);

  // Everything after the first "--" of `run` or `demo` is the user's command, verbatim: CLI11
  // would otherwise keep the separator or read the command's own flags as ours.
  int parsed_argc = argc;
  std::vector<std::string> after_separator;
  bool has_separator = false;
  if (argc > 1 && (std::string_view(argv[1]) == "run" || std::string_view(argv[1]) == "demo" ||
                   std::string_view(argv[1]) == "loop")) {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        parsed_argc = i;
        has_separator = true;
        after_separator.assign(argv + i + 1, argv + argc);
        break;
      }
    }
  }
  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (*run) {
    std::vector<std::string> cmd = run_args.command;
    for (auto& r : run->remaining()) cmd.push_back(r);
    if (has_separator) {
      if (!cmd.empty()) {
        fmt::print(stderr, "inloop: error: `{}` before -- is not an inloop run option: put the "
                   "whole command after --\n", cmd.front());
        return kExitUsage;
      }
      cmd = after_separator;
    }
    run_args.command = std::move(cmd);
    return CmdRun(run_args);
  }
  if (std::optional<int> rc = verbs.Run()) return *rc;
  if (*import) {
    import_args.store_dir = store_dir;
    import_args.json = json;
    return CmdImport(import_args);
  }
  if (*compare) {
    cmp.store_dir = store_dir;
    cmp.json = json;
    if (!cmp_runs.empty()) {
      if (cmp_runs.size() != 2 || !cmp.a.empty() || !cmp.b.empty()) {
        fmt::print(stderr, "inloop: error: give two runs (RUN_A RUN_B) or two groups (--a, --b)\n");
        return kExitUsage;
      }
      cmp.a = {cmp_runs[0]};
      cmp.b = {cmp_runs[1]};
    }
    if (cmp.a.empty() || cmp.b.empty()) {
      fmt::print(stderr, "inloop: error: give two runs (RUN_A RUN_B) or two groups (--a, --b)\n");
      return kExitUsage;
    }
    return CmdCompare(cmp);
  }
  if (*report) {
    rep.store_dir = store_dir;
    rep.json = json;
    return CmdReport(rep);
  }
  if (*serve) {
    serve_args.store_dir = store_dir;
    return CmdServe(serve_args);
  }
  if (*token_cmd) {
    for (auto* sub : token_cmd->get_subcommands()) token_args.verb = sub->get_name();
    token_args.store_dir = store_dir;
    token_args.json = json;
    return CmdToken(token_args);
  }
  if (*sdk_cmd) return CmdSdkPath(store_dir, json);
  if (*audit_cmd) {
    audit_args.json = json;
    return CmdAudit(audit_args);
  }
  if (*loop_cmd) {
    for (auto* sub : loop_cmd->get_subcommands()) loop_args.verb = sub->get_name();
    loop_args.store_dir = store_dir;
    loop_args.json = json;
    if (has_separator) loop_args.command = after_separator;
    return CmdLoop(loop_args);
  }
  if (*mcp) return CmdMcp(ResolveStore(store_dir));
  if (*runs) return CmdRuns(ResolveStore(store_dir), json);
  if (*show) return CmdShow(ResolveStore(store_dir), run_ref, json);
  if (*metrics) {
    if (metrics_json) format = "json";
    return CmdMetrics(ResolveStore(store_dir), run_ref, key, max_points, format, from, to,
                      segment);
  }
  if (*logs) {
    logs_args.store_dir = ResolveStore(store_dir);
    return CmdLogs(logs_args);
  }
  if (*pending) return CmdPending(ResolveStore(store_dir), run_ref, all_actions, json);
  if (*approve) return CmdDecide(ResolveStore(store_dir), action_id, true, decision_note, json);
  if (*deny) return CmdDecide(ResolveStore(store_dir), action_id, false, decision_note, json);
  if (*evaldiff) return CmdEvalDiff(eval_old, eval_new, eval_opts, json, eval_top, eval_html);
  if (*insights) {
    ins.store_dir = store_dir;
    ins.json = json;
    return CmdInsights(ins);
  }
  if (*ask) {
    ask_args.store_dir = store_dir;
    ask_args.json = json;
    return CmdAsk(ask_args);
  }
  if (*demo) {
    if (has_separator) demo_args.insert(demo_args.end(), after_separator.begin(),
                                        after_separator.end());
    return CmdDemo(store_dir, demo_args, demo_clean);
  }
  return kExitUsage;
}

}  // namespace inloop::cli
