// A slot's files (JSON in and out) and the slot process's task (parallel_slot.h).
#include "loop/parallel_slot.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "loop/git_repo.h"
#include "loop/program.h"
#include "loop/round_steps.h"

namespace inloop::loop {
namespace {

using simdjson::dom::element;

std::string Str(element e, const char* key) {
  std::string_view v;
  return e[key].get(v) ? std::string() : std::string(v);
}
int64_t Int(element e, const char* key) {
  int64_t v = 0;
  if (!e[key].get(v)) return v;
  double d = 0;
  return e[key].get(d) ? 0 : static_cast<int64_t>(d);
}
double Num(element e, const char* key) {
  double d = 0;
  if (!e[key].get(d)) return d;
  int64_t i = 0;
  return e[key].get(i) ? 0 : static_cast<double>(i);
}
bool Bool(element e, const char* key) {
  bool b = false;
  return e[key].get(b) ? false : b;
}
std::string Raw(element e, const char* key) {
  element x;
  if (e[key].get(x)) return "";
  return simdjson::minify(x);
}

Status Parse(const std::string& text, simdjson::dom::parser& p, element* e, const char* what) {
  if (p.parse(text).get(*e) || !e->is_object()) {
    return Status::Corrupt(fmt::format("the loop's {} is not a JSON object", what));
  }
  return Status::OK();
}

sigset_t StopSignals() {
  sigset_t m;
  sigemptyset(&m);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&m, s);
  return m;
}

}  // namespace

std::string SlotRequestJson(const SlotRequest& r) {
  JsonWriter w;
  w.BeginObject().Key("loop_dir").String(r.loop_dir).Key("slot").Int(r.slot);
  w.Key("round").Int(r.round).Key("task").String(r.task).Key("tree").String(r.tree);
  w.Key("workdir").String(r.workdir).Key("base").String(r.base).Key("agent").String(r.agent);
  w.Key("proposer").String(r.proposer).Key("patch").String(r.patch);
  w.Key("history").String(r.history);
  w.Key("agent_timeout_s").Number(r.agent_timeout_s).Key("params").BeginObject();
  for (auto& [k, v] : r.params) w.Key(k).String(v);
  w.EndObject().Key("champion").BeginArray();
  for (double v : r.champion) w.Number(v);
  w.EndArray().Key("seed").Int(r.seed).Key("device").String(r.device);
  w.Key("result").String(r.result).EndObject();
  return w.Take() + "\n";
}

Status ParseSlotRequest(const std::string& text, SlotRequest* r) {
  simdjson::dom::parser p;
  element e;
  INLOOP_RETURN_IF_ERROR(Parse(text, p, &e, "slot request"));
  r->loop_dir = Str(e, "loop_dir");
  r->slot = static_cast<int>(Int(e, "slot"));
  r->round = Int(e, "round");
  r->task = Str(e, "task");
  r->tree = Str(e, "tree");
  r->workdir = Str(e, "workdir");
  r->base = Str(e, "base");
  r->agent = Str(e, "agent");
  r->proposer = Str(e, "proposer");
  r->patch = Str(e, "patch");
  r->history = Str(e, "history");
  r->agent_timeout_s = Num(e, "agent_timeout_s");
  simdjson::dom::object params;
  if (!e["params"].get(params)) {
    for (auto [k, v] : params) {
      std::string_view s;
      if (!v.get(s)) r->params.emplace_back(std::string(k), std::string(s));
    }
  }
  simdjson::dom::array champ;
  if (!e["champion"].get(champ)) {
    for (element v : champ) {
      double d;
      if (!v.get(d)) r->champion.push_back(d);
    }
  }
  r->seed = Int(e, "seed");
  r->device = Str(e, "device");
  r->result = Str(e, "result");
  if (r->loop_dir.empty() || r->tree.empty() || r->result.empty()) {
    return Status::Invalid("the slot request lacks loop_dir, tree or result");
  }
  return Status::OK();
}

std::string SlotResultJson(const SlotResult& r) {
  JsonWriter w;
  w.BeginObject().Key("candidate").String(r.candidate).Key("interrupted").Bool(r.interrupted);
  w.Key("record");
  WriteRoundJson(r.record, &w);
  w.EndObject();
  return w.Take() + "\n";
}

Status ParseSlotResult(const std::string& text, SlotResult* r) {
  simdjson::dom::parser p;
  element e;
  INLOOP_RETURN_IF_ERROR(Parse(text, p, &e, "slot result"));
  r->candidate = Str(e, "candidate");
  r->interrupted = Bool(e, "interrupted");
  return ParseRoundJson(Raw(e, "record"), &r->record);
}

std::string SlotJournalJson(const SlotJournal& j) {
  JsonWriter w;
  w.BeginObject().Key("slot").Int(j.slot).Key("round").Int(j.round).Key("task").String(j.task);
  w.Key("phase").String(j.phase).Key("base").String(j.base).Key("tree").String(j.tree);
  w.Key("candidate").String(j.candidate).Key("rebases").Int(j.rebases).Key("record");
  WriteRoundJson(j.record, &w);
  w.EndObject();
  return w.Take() + "\n";
}

Status ParseSlotJournal(const std::string& text, SlotJournal* j) {
  simdjson::dom::parser p;
  element e;
  INLOOP_RETURN_IF_ERROR(Parse(text, p, &e, "slot journal"));
  j->slot = static_cast<int>(Int(e, "slot"));
  j->round = Int(e, "round");
  j->task = Str(e, "task");
  j->phase = Str(e, "phase");
  j->base = Str(e, "base");
  j->tree = Str(e, "tree");
  j->candidate = Str(e, "candidate");
  j->rebases = static_cast<int>(Int(e, "rebases"));
  return ParseRoundJson(Raw(e, "record"), &j->record);
}

namespace {

// The candidate's proposal in the worktree: the agent edits it (the search's parameters file
// was written by the driver already).
void Propose(const SlotRequest& req, const LoopConfig& cfg, const SayFn& say,
             const std::function<bool()>& stop, SlotResult* res) {
  RoundRecord& rec = res->record;
  std::vector<std::string> argv0, argv;
  Status s = SplitCommandLine(req.agent, &argv0);
  if (!s.ok()) {
    rec.verdict = kFailed;
    rec.reason = s.message();
    return;
  }
  LoopPaths paths{req.loop_dir};
  std::string history = req.history.empty() ? paths.history() : req.history;
  for (auto a : argv0) {
    a = ReplaceAll(a, "{program}", cfg.program);
    a = ReplaceAll(a, "{history}", history);
    a = ReplaceAll(a, "{round}", std::to_string(req.round));
    argv.push_back(a);
  }
  EnvPairs env = {{"INLOOP_LOOP_PROGRAM", cfg.program},
                  {"INLOOP_LOOP_HISTORY", history},
                  {"INLOOP_LOOP_ROUND", std::to_string(req.round)},
                  {"INLOOP_LOOP_METRIC", cfg.metric},
                  {"INLOOP_LOOP_GOAL", cfg.minimize ? "min" : "max"},
                  {"INLOOP_LOOP_BRANCH", cfg.branch},
                  {"INLOOP_LOOP_SLOT", std::to_string(req.slot)}};
  say(fmt::format("round {} (slot {}): agent {}", req.round, req.slot, argv.front()));
  AgentEnd end = AgentEnd::kExited;
  int code = -1;
  s = RunInteractive(argv, req.workdir, env, req.agent_timeout_s, stop, &end, &code);
  if (end == AgentEnd::kStopped) {
    res->interrupted = true;
    return;
  }
  if (!s.ok() || end == AgentEnd::kTimedOut || code != 0) {
    rec.verdict = kFailed;
    rec.reason = !s.ok() ? s.message()
                 : end == AgentEnd::kTimedOut
                     ? fmt::format("the agent ran past its timeout of {:g}s", req.agent_timeout_s)
                     : fmt::format("the agent exited with code {}", code);
  }
}

void DoTask(const SlotRequest& req, const SayFn& say, SlotResult* res) {
  RoundRecord& rec = res->record;
  LoopConfig cfg;
  Status s = LoadConfig(LoopPaths{req.loop_dir}, &cfg);
  GitRepo repo;
  if (s.ok()) s = GitRepo::Open(req.tree, &repo);
  if (s.ok() && ::chdir(req.workdir.c_str()) != 0) {
    s = Status::NotFound(fmt::format("{}: the slot's work dir is missing", req.workdir));
  }
  if (!s.ok()) {
    rec.verdict = kFailed;
    rec.reason = s.message();
    return;
  }
  pthread_t self = pthread_self();
  bool stopped = false;
  auto stop = [&stopped] {
    sigset_t m = StopSignals();
    timespec zero{0, 0};
    if (sigtimedwait(&m, nullptr, &zero) > 0) stopped = true;
    return stopped;
  };
  std::vector<std::pair<std::string, std::string>> env;
  if (!req.device.empty()) env.emplace_back("CUDA_VISIBLE_DEVICES", req.device);
  if (req.task == kSlotChampion) {
    RunResult r = RunOnce(cfg, req.round, req.seed, req.params, "champion", self, env);
    if (!r.run_id.empty()) rec.run_ids.push_back(r.run_id);
    res->interrupted = r.interrupted;
    if (r.ok) {
      rec.samples.push_back({req.seed, r.value, r.run_id});
    } else {
      rec.verdict = kFailed;
      rec.reason = r.reason;
    }
    return;
  }
  if (req.task == kSlotCandidate) {
    if (req.proposer == "agent") Propose(req, cfg, say, stop, res);
    if (req.proposer == "submitted") {
      // The submitted change, applied to the champion's tree; one that does not apply is
      // rejected before anything runs.
      Status as = repo.Git({"apply", "--whitespace=nowarn", req.patch});
      if (!as.ok()) {
        rec.verdict = kRejected;
        std::string why = as.message();
        if (auto nl = why.find('\n'); nl != std::string::npos) why = why.substr(0, nl);
        rec.reason = "the submitted change does not apply to the champion: " + why;
      }
    }
    if (res->interrupted || stop()) {
      res->interrupted = true;
      return;
    }
    if (rec.verdict.empty()) {
      s = CheckChange(repo, LoopPaths{req.loop_dir}, cfg, req.base, req.proposer == "search", say,
                      &rec);
      if (s.ok() && rec.verdict.empty()) {
        s = repo.Commit(fmt::format("inloop candidate: loop {} round {}", cfg.name, req.round),
                        &res->candidate);
      }
      if (!s.ok()) {
        rec.verdict = kFailed;
        rec.reason = s.message();
      }
    }
  } else {
    s = repo.Head(&res->candidate);
    if (!s.ok()) {
      rec.verdict = kFailed;
      rec.reason = s.message();
    }
  }
  if (!rec.verdict.empty()) return;
  MeasureOptions mo;
  mo.cfg = &cfg;
  mo.gate = GateOf(cfg);
  mo.champion = req.champion;
  mo.round = req.round;
  mo.params = req.params;
  mo.label = fmt::format("r{}", req.round);
  mo.signal_thread = self;
  mo.extra_env = env;
  mo.say = say;
  mo.evaluation_changed = [&](RoundRecord* r) {
    return CheckEvaluation(LoopPaths{req.loop_dir}, cfg, repo.top(), r);
  };
  MeasureCandidate(mo, &rec, &res->interrupted);
}

}  // namespace

Status RunSlotTask(const std::string& request_path, const SayFn& say) {
  std::string text;
  INLOOP_RETURN_IF_ERROR(ReadFile(request_path, &text));
  SlotRequest req;
  INLOOP_RETURN_IF_ERROR(ParseSlotRequest(text, &req));
  // Stop signals are read between steps (and by the supervisor during a run), as in the
  // sequential loop: a Ctrl-C ends the slot's round as interrupted, with a result.
  sigset_t stop = StopSignals();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  SlotResult res;
  res.record.round = req.round;
  DoTask(req, say ? say : SayFn([](const std::string&) {}), &res);
  return WriteFileAtomically(req.result, SlotResultJson(res));
}

}  // namespace inloop::loop
