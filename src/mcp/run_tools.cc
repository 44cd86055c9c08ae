// start_run, run_status, wait_run, stop_run and propose_action for `inloop mcp`.
#include "mcp/run_tools.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "common/subprocess.h"
#include "mcp/run_limits.h"
#include "report/run_report.h"
#include "store/store.h"

namespace inloop::mcp {
namespace {

using assist::ArrayArg;
using assist::IntegerArg;
using assist::ObjectArg;
using assist::SchemaProperty;
using assist::StringArg;
using assist::Tool;
using assist::ToolArgs;
using assist::ToolContext;

constexpr double kFindRunTimeout = 30;  // seconds for a started supervisor to record its run
constexpr int64_t kMaxWait = 600;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void SleepSeconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// The last line of what the supervisor wrote to stderr before it gave up.
std::string LastLine(int fd) {
  std::string text;
  char buf[4096];
  if (::lseek(fd, 0, SEEK_SET) < 0) return "";
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0 && text.size() < (1 << 20);) {
    text.append(buf, static_cast<size_t>(n));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t nl = text.rfind('\n');
  std::string line = nl == std::string::npos ? text : text.substr(nl + 1);
  return line.size() > 500 ? line.substr(line.size() - 500) : line;
}

// Whether `pid` blocks or catches SIGTERM yet (/proc/PID/status). The supervisor records its run
// a moment before it takes SIGTERM on its signalfd; a SIGTERM in between would end it with the
// run left `running`, so a stop waits for this.
bool TakesSigterm(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  uint64_t mask = 0;
  while (std::getline(f, line)) {
    if (line.rfind("SigBlk:", 0) == 0 || line.rfind("SigCgt:", 0) == 0) {
      mask |= std::strtoull(line.c_str() + 7, nullptr, 16);
    }
  }
  return (mask >> (SIGTERM - 1)) & 1;
}

// SIGTERM to a supervisor once it takes it (waiting up to `wait_s`).
void Terminate(pid_t pid, double wait_s) {
  for (double until = Now() + wait_s; !TakesSigterm(pid) && Now() < until;) SleepSeconds(0.05);
  ::kill(pid, SIGTERM);
}

std::vector<std::string> Strings(const ToolArgs& args, std::string_view name) {
  std::vector<std::string> out;
  auto e = args.Get(name);
  simdjson::dom::array arr;
  if (!e || e->get_array().get(arr) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element it : arr) {
    std::string_view s;
    if (it.get_string().get(s) == simdjson::SUCCESS) out.emplace_back(s);
  }
  return out;
}

// assist's propose_action with `plan` optional (absent or null reads as {}): the same record, the
// same checks, the same pending state.
Tool ProposeActionTool(const Tool& base) {
  Tool t = base;
  for (auto& p : t.parameters.properties) {
    if (p.name == "plan") p.required = false;
  }
  t.description += " Over MCP the action is only ever proposed: a person decides.";
  assist::ToolHandler inner = base.handler;
  t.handler = [inner](ToolContext& ctx, const ToolArgs& args, std::string* out) -> Status {
    if (args.Get("plan")) return inner(ctx, args, out);
    simdjson::dom::parser parser;
    simdjson::dom::element orig;
    if (parser.parse(args.Json()).get(orig)) return Status::Invalid("arguments: not an object");
    JsonWriter w;
    w.BeginObject();
    simdjson::dom::object o;
    if (orig.get_object().get(o) == simdjson::SUCCESS) {
      for (auto field : o) {
        if (field.key == "plan") continue;
        w.Key(std::string(field.key)).Raw(simdjson::minify(field.value));
      }
    }
    w.Key("plan").Raw("{}").EndObject();
    simdjson::dom::parser parser2;
    simdjson::dom::element filled;
    simdjson::dom::object fo;
    std::string text = w.Take();
    if (parser2.parse(text).get(filled) || filled.get_object().get(fo)) {
      return Status::Invalid("arguments: not an object");
    }
    return inner(ctx, ToolArgs(fo), out);
  };
  return t;
}

}  // namespace

RunLauncher::RunLauncher(LauncherOptions o) : o_(std::move(o)) {
  if (o_.self_exe.empty()) o_.self_exe = "/proc/self/exe";
}

RunLauncher::~RunLauncher() {
  Tick();
  for (auto& s : started_) {
    if (!s.exited) Terminate(s.pid, 5);  // the supervisor records the run as stopped
  }
  // Reap whatever is already gone; the rest are reparented and finish on their own.
  for (auto& s : started_) {
    int st;
    if (!s.exited && ::waitpid(s.pid, &st, WNOHANG) == s.pid) s.exited = true;
    if (s.err_fd >= 0) ::close(s.err_fd);
  }
}

void RunLauncher::Tick() {
  double now = Now();
  for (auto& s : started_) {
    if (s.exited) continue;
    int st;
    pid_t r = ::waitpid(s.pid, &st, WNOHANG);
    if (r == s.pid || (r < 0 && errno == ECHILD)) {
      s.exited = true;
      if (s.err_fd >= 0) ::close(s.err_fd);
      s.err_fd = -1;
      continue;
    }
    if (s.err_fd >= 0 && ::ftruncate(s.err_fd, 0) != 0) {
      ::close(s.err_fd);  // cannot keep it small: let it go (the supervisor writes on)
      s.err_fd = -1;
    }
    if (!s.budget_stopped && now >= s.deadline && TakesSigterm(s.pid)) {  // else next tick
      ::kill(s.pid, SIGTERM);
      s.budget_stopped = true;
    }
  }
}

int RunLauncher::Running() const {
  int n = 0;
  for (auto& s : started_) n += s.exited ? 0 : 1;
  return n;
}

RunLauncher::Started* RunLauncher::Find(const std::string& run_id) {
  for (auto& s : started_) {
    if (s.run_id == run_id) return &s;
  }
  return nullptr;
}

Status RunLauncher::Start(const ToolArgs& args, std::string* out) {
  Tick();
  std::vector<std::string> command = Strings(args, "command");
  INLOOP_RETURN_IF_ERROR(CheckCommand(o_.limits.allowed_commands, command));
  int64_t budget = 0;
  INLOOP_RETURN_IF_ERROR(CheckBudget(o_.limits.max_budget_s, args.Int("budget_s"), &budget));
  INLOOP_RETURN_IF_ERROR(CheckConcurrency(Running(), o_.limits.max_concurrent_runs));
  std::string cwd;
  INLOOP_RETURN_IF_ERROR(ConfineDir(o_.root, args.Str("cwd").value_or("."), &cwd));

  SubprocessSpec spec;
  spec.argv = {o_.self_exe, "run", "--store", o_.store_dir};
  if (!o_.config_path.empty()) spec.argv.insert(spec.argv.end(), {"--config", o_.config_path});
  if (auto name = args.Str("name")) spec.argv.insert(spec.argv.end(), {"--name", *name});
  if (auto policy = args.Str("policy")) spec.argv.insert(spec.argv.end(), {"--policy", *policy});
  spec.argv.push_back("--");
  spec.argv.insert(spec.argv.end(), command.begin(), command.end());
  spec.cwd = cwd;
  spec.new_process_group = true;  // the client's terminal signals are not the run's
  spec.stdin_plan = StdioPlan::DevNull();
  spec.stdout_plan = StdioPlan::DevNull();  // our stdout is the protocol; the store keeps output
  char tmpl[] = "/tmp/inloop-mcp-XXXXXX";
  // O_APPEND (shared with the child): once the run is found, Tick truncates the file and the
  // supervisor's later writes start again at 0, so a chatty stderr never fills /tmp.
  int err_fd = ::mkostemp(tmpl, O_APPEND | O_CLOEXEC);
  if (err_fd < 0) return Status::Io("cannot create a temporary file for the supervisor's stderr");
  ::unlink(tmpl);
  spec.stderr_plan = StdioPlan::Fd(err_fd);
  pid_t pid = 0;
  Status s = StartSubprocess(spec, &pid);
  if (!s.ok()) {
    ::close(err_fd);
    return s;
  }
  Started run;
  run.pid = pid;
  run.budget_s = budget;
  run.deadline = Now() + static_cast<double>(budget);

  // The supervisor records its pid with the run: poll the store for it (bounded).
  double give_up = Now() + kFindRunTimeout;
  while (run.run_id.empty()) {
    int st;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      std::string why = LastLine(err_fd);
      ::close(err_fd);
      return Status::Invalid(fmt::format("the supervisor exited (code {}) before recording a run{}{}",
                                         DecodeWaitStatus(st), why.empty() ? "" : ": ", why));
    }
    std::unique_ptr<store::Store> store;
    std::vector<store::RunRecord> runs;
    if (store::Store::Open(o_.store_dir, false, &store).ok() && store->ListRuns(&runs).ok()) {
      for (auto& r : runs) {
        if (r.supervisor_pid == pid) {
          run.run_id = r.id;
          break;
        }
      }
    }
    if (!run.run_id.empty()) break;
    if (Now() > give_up) {
      run.err_fd = err_fd;
      Terminate(pid, 0);
      run.budget_stopped = true;
      started_.push_back(run);  // reaped by Tick
      return Status::Io(fmt::format("the supervisor (pid {}) recorded no run within {:.0f} s; it "
                                    "was stopped", pid, kFindRunTimeout));
    }
    SleepSeconds(0.05);
  }
  run.err_fd = err_fd;  // kept small by Tick, closed when the supervisor exits
  started_.push_back(run);
  JsonWriter w;
  w.BeginObject().Key("run_id").String(run.run_id).Key("budget_s").Int(budget);
  w.Key("cwd").String(cwd).EndObject();
  *out = w.Take();
  return Status::OK();
}

Status RunLauncher::Status_(ToolContext& ctx, const std::string& ref, std::string* out) {
  Tick();
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(ctx.store->FindRun(ref, &r));
  report::ReportOptions opts;
  opts.run = r.id;
  opts.auto_baseline = false;
  opts.chart_columns = 4;
  report::RunReport rep;
  INLOOP_RETURN_IF_ERROR(report::BuildRunReport(ctx.store, opts, &rep));
  std::vector<store::SeriesStats> series;
  INLOOP_RETURN_IF_ERROR(ctx.store->SeriesStatsFor(r.id, &series));
  JsonWriter w;
  w.BeginObject().Key("run_id").String(r.id).Key("name").String(rep.run.name);
  w.Key("status").String(rep.run.status).Key("exit_code");
  rep.run.exit_code ? w.Int(*rep.run.exit_code) : w.Null();
  w.Key("attempts").Int(rep.run.attempts).Key("duration_s").Number(rep.duration);
  w.Key("last").BeginObject();
  for (auto& s : series) {
    w.Key(s.key).BeginObject().Key("step").Int(s.last.step).Key("value").Number(s.last.value);
    w.EndObject();
  }
  w.EndObject();
  w.Key("findings").BeginObject();
  for (auto& g : rep.finding_groups) w.Key(g.kind).Int(g.count);
  w.EndObject();
  w.Key("ettr");
  rep.goodput ? w.Number(rep.goodput->ettr) : w.Null();
  w.Key("headline").String(rep.headline);
  const Started* mine = Find(r.id);
  w.Key("started_here").Bool(mine != nullptr);
  if (mine) w.Key("budget_s").Int(mine->budget_s).Key("stopped_by_budget").Bool(mine->budget_stopped);
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

Status RunLauncher::Wait(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  std::string ref = *args.Str("run");
  double timeout = static_cast<double>(std::min(args.Int("timeout_s").value_or(60), kMaxWait));
  double until = Now() + timeout;
  store::RunRecord r;
  for (;;) {
    Tick();
    INLOOP_RETURN_IF_ERROR(ctx.store->FindRun(ref, &r));
    if (r.status != store::kRunning || Now() >= until) break;
    SleepSeconds(0.2);
  }
  // A run of ours that ended: its supervisor is writing its last records and exiting. Wait (at
  // most 30 s) until it is reaped, so that it no longer counts against max_concurrent_runs when
  // the agent starts the next run right after.
  if (Started* mine = Find(r.id); mine && r.status != store::kRunning) {
    for (double grace = Now() + 30; !mine->exited && Now() < grace;) {
      SleepSeconds(0.05);
      Tick();
    }
  }
  return Status_(ctx, r.id, out);
}

Status RunLauncher::Stop(ToolContext& ctx, const std::string& ref, std::string* out) {
  Tick();
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(ctx.store->FindRun(ref, &r));
  Started* mine = Find(r.id);
  if (!mine) {
    return Status::Invalid(fmt::format("run {} was not started by this server: stop_run stops only "
                                       "runs it started (propose_action stop asks a person)", r.id));
  }
  JsonWriter w;
  w.BeginObject().Key("run_id").String(r.id);
  if (mine->exited || r.status != store::kRunning) {
    w.Key("stopping").Bool(false).Key("status").String(r.status).EndObject();
  } else {
    Terminate(mine->pid, 10);  // forwarded to the training process and recorded
    w.Key("stopping").Bool(true).Key("signal").String("SIGTERM").EndObject();
  }
  *out = w.Take();
  return Status::OK();
}

void RunLauncher::Register(assist::ToolRegistry* r) {
  auto run_arg = SchemaProperty{"run", true, StringArg("run id, id prefix or name")};
  assist::Schema arg = StringArg("one argument");
  arg.max_length = 4096;
  r->Register(Tool{
      "start_run",
      "Start a supervised training run in the background (inloop run: metrics recorded, the doctor "
      "detecting NaNs, spikes and hangs and rolling back to checkpoints). Only commands the human "
      "allowed in inloop.toml ([mcp] allowed_commands, argv prefixes) start, at most "
      "max_concurrent_runs at once, each stopped after budget_s (at most max_budget_s); runs still "
      "going when this server ends are stopped. Returns {run_id}; follow it with run_status or "
      "wait_run.",
      ObjectArg("", {{"command", true, ArrayArg("the program and its arguments, one element each "
                                                "(no shell)", arg, 256)},
                     {"name", false, StringArg("run name (default: the script's name)")},
                     {"budget_s", false, IntegerArg("seconds before the run is stopped (default: "
                                                    "[mcp] max_budget_s)", 1)},
                     {"policy", false, StringArg("what the doctor does about failures: auto "
                                                 "(act), ask (wait for a person), observe "
                                                 "(record only)", {"auto", "ask", "observe"})},
                     {"cwd", false, StringArg("working directory inside the project (default: "
                                              "the project directory)")}}),
      [this](ToolContext&, const ToolArgs& a, std::string* out) { return Start(a, out); }});
  r->Register(Tool{
      "run_status",
      "A run's state now: status, exit code, attempts, the last value of each series, findings "
      "counted by kind, ETTR (the share of wall time that went into steps that survived) and "
      "whether this server started it (with its budget).",
      ObjectArg("", {run_arg}),
      [this](ToolContext& ctx, const ToolArgs& a, std::string* out) {
        return Status_(ctx, *a.Str("run"), out);
      }});
  r->Register(Tool{
      "wait_run",
      "Wait until a run is no longer running, or timeout_s passes, then return its run_status. "
      "Set your client's request timeout above timeout_s.",
      ObjectArg("", {run_arg,
                     {"timeout_s", true, IntegerArg("the most seconds to wait", 1,
                                                    static_cast<double>(kMaxWait))}}),
      [this](ToolContext& ctx, const ToolArgs& a, std::string* out) { return Wait(ctx, a, out); }});
  r->Register(Tool{
      "stop_run",
      "Stop a run this server started: SIGTERM to its supervisor, which forwards it to the "
      "training process and records the run as stopped. Runs started elsewhere are refused.",
      ObjectArg("", {run_arg}),
      [this](ToolContext& ctx, const ToolArgs& a, std::string* out) {
        return Stop(ctx, *a.Str("run"), out);
      }});
  assist::ToolRegistry all;
  assist::RegisterInloopTools(&all);
  if (const Tool* p = all.Find("propose_action")) r->Register(ProposeActionTool(*p));
}

}  // namespace inloop::mcp
