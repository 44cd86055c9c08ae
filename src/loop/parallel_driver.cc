// The parallel rounds' driver (parallel_driver.h): worktrees, slot processes, journals.
#include "loop/parallel_driver.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/subprocess.h"
#include "loop/gate.h"
#include "loop/parallel_rounds.h"
#include "loop/parallel_slot.h"
#include "loop/round_steps.h"

namespace inloop::loop {
namespace fs = std::filesystem;
namespace {

std::string SlotsDir(const LoopPaths& p) { return p.dir + "/slots"; }
std::string SlotFile(const LoopPaths& p, int k, const char* suffix) {
  return fmt::format("{}/slot-{}{}", SlotsDir(p), k, suffix);
}
std::string TreePath(const LoopPaths& p, int k) { return SlotFile(p, k, ""); }

Status SaveSlotJournal(const LoopPaths& p, const SlotJournal& j) {
  return WriteFileAtomically(SlotFile(p, j.slot, ".json"), SlotJournalJson(j));
}

void RemoveWorktree(const GitRepo& repo, const std::string& tree) {
  std::error_code ec;
  if (fs::exists(tree, ec)) (void)repo.Git({"worktree", "remove", "--force", tree});
  fs::remove_all(tree, ec);
  (void)repo.Git({"worktree", "prune"});
}

// The slot's files go, the journal last: until then the next run would clean up again.
void ForgetSlot(const ParallelContext& ctx, int k, const std::string& tree) {
  RemoveWorktree(*ctx.repo, tree);
  std::error_code ec;
  fs::remove(SlotFile(*ctx.paths, k, ".request.json"), ec);
  fs::remove(SlotFile(*ctx.paths, k, ".result.json"), ec);
  fs::remove(SlotFile(*ctx.paths, k, ".history.json"), ec);
  fs::remove(SlotFile(*ctx.paths, k, ".json"), ec);
}

void Say(const ParallelContext& ctx, const std::string& s) {
  if (ctx.options->say) ctx.options->say(s);
}

ParamValues FullParams(const ParallelContext& ctx, const ParamValues& v) {
  if (!ctx.space) return v;
  ParamValues out = DefaultValues(*ctx.space);
  for (auto& [k, x] : out) {
    for (auto& [k2, x2] : v) {
      if (k2 == k) x = x2;
    }
  }
  return out;
}

std::vector<double> Values(const std::vector<Sample>& v) {
  std::vector<double> out;
  for (auto& s : v) out.push_back(s.value);
  return out;
}

// The round is on record: the champion moves when kept, then the round's line, its store
// event and the state.
Status CloseRecord(const ParallelContext& ctx, const RoundRecord& rec) {
  LoopState& st = *ctx.state;
  if (rec.verdict == kKept) {
    st.champion_commit = rec.commit;
    st.champion_round = rec.round;
    st.champion_samples = rec.samples;
    st.champion_params = rec.params;
  }
  INLOOP_RETURN_IF_ERROR(AppendRound(*ctx.paths, rec));
  RecordRoundInStore(*ctx.cfg, rec);
  st.next_round = std::max(st.next_round, rec.round + 1);
  INLOOP_RETURN_IF_ERROR(SaveState(*ctx.paths, st));
  ctx.out->rounds.push_back(rec);
  return Status::OK();
}

// Puts the kept candidate on the loop's branch in the main tree: the tree back at the champion
// it was measured against, the candidate's change applied, one commit with the round's
// trailers. Redone from the start by recovery when a crash came in between.
Status CommitKeep(const ParallelContext& ctx, const SlotJournal& j, RoundRecord* rec) {
  const GitRepo& repo = *ctx.repo;
  INLOOP_RETURN_IF_ERROR(repo.ResetTo(ctx.cfg->branch, j.base));
  Status s = repo.Git({"cherry-pick", "--no-commit", j.candidate});
  if (!s.ok()) {
    (void)repo.ResetTo(ctx.cfg->branch, j.base);
    return s;
  }
  std::vector<std::string> files;
  int64_t lines = 0;
  INLOOP_RETURN_IF_ERROR(repo.StageAgainst(j.base, &files, &lines));
  return repo.Commit(KeptCommitMessage(*ctx.cfg, *rec), &rec->commit);
}

bool HeadIsRound(const GitRepo& repo, const std::string& base, int64_t round, std::string* head) {
  std::string msg;
  return repo.Head(head).ok() && *head != base &&
         repo.Git({"log", "-1", "--format=%B"}, &msg).ok() &&
         msg.find(fmt::format("inloop-round: {}\n", round)) != std::string::npos;
}

class Driver {
 public:
  Driver(const ParallelContext& ctx, int parallel)
      : ctx_(ctx), sched_(SchedConfig(ctx, parallel),
                          static_cast<int>(ctx.state->champion_samples.size())),
        slots_(static_cast<size_t>(parallel)) {
    devices_ = VisibleDevices(getenv("CUDA_VISIBLE_DEVICES"));
  }
  Status Run(bool* interrupted);

 private:
  struct Slot {
    pid_t pid = -1;
    SlotJournal j;
    double cpu_s = 0;
    Sample sample;  // champion task: what it measured
    SlotRequest remeasure;  // after a clean rebase
  };
  static SchedulerConfig SchedConfig(const ParallelContext& ctx, int parallel) {
    SchedulerConfig c;
    c.slots = parallel;
    c.noise_seeds = ctx.cfg->noise_seeds;
    c.rounds = ctx.options->rounds > 0 ? ctx.options->rounds : -1;
    return c;
  }
  std::string Device(int k) const {
    return devices_.empty() ? "" : devices_[static_cast<size_t>(k) % devices_.size()];
  }
  bool MayStart();
  Status Apply(const std::vector<SchedulerAction>& actions);
  Status ApplyOne(const SchedulerAction& a);
  Status Prepare(int k, SlotJournal* j, const std::string& commit);
  Status StartCandidate(int k);
  Status StartChampionNoise(int k);
  Status Spawn(int k, SlotRequest req);
  Status Reap(int k, int wait_status, const rusage& ru);
  Status StartFailed(int k, const Status& started);
  Status Rebase(int k, bool* ok);
  Status Close(int k, bool keep);
  void WaitABit();

  const ParallelContext& ctx_;
  ParallelScheduler sched_;
  std::vector<Slot> slots_;
  std::vector<std::string> devices_;
  std::string exe_;
  int64_t next_noise_seed_ = 0;
  bool signalled_ = false;
};

bool Driver::MayStart() {
  const RunOptions& o = *ctx_.options;
  if (o.until > 0 && NowSeconds() >= o.until) {
    if (ctx_.out->stop_reason.empty()) ctx_.out->stop_reason = "the --until time has passed";
    return false;
  }
  if (ctx_.cfg->max_rounds > 0 && ctx_.state->next_round > ctx_.cfg->max_rounds) {
    if (ctx_.out->stop_reason.empty()) {
      ctx_.out->stop_reason =
          fmt::format("the loop's budget of {} rounds is spent", ctx_.cfg->max_rounds);
    }
    return false;
  }
  return true;
}

// A fresh worktree for slot k at `commit`, its journal written first.
Status Driver::Prepare(int k, SlotJournal* j, const std::string& commit) {
  j->slot = k;
  j->phase = "open";
  j->base = commit;
  j->tree = TreePath(*ctx_.paths, k);
  INLOOP_RETURN_IF_ERROR(SaveSlotJournal(*ctx_.paths, *j));
  RemoveWorktree(*ctx_.repo, j->tree);
  return ctx_.repo->Git({"worktree", "add", "-q", "--detach", "-f", j->tree, commit});
}

Status Driver::Spawn(int k, SlotRequest req) {
  const LoopPaths& p = *ctx_.paths;
  req.loop_dir = p.dir;
  req.slot = k;
  req.tree = slots_[static_cast<size_t>(k)].j.tree;
  std::error_code ec;
  auto rel = fs::path(ctx_.cfg->workdir).lexically_relative(ctx_.repo->top());
  req.workdir = (fs::path(req.tree) / rel).lexically_normal().string();
  while (req.workdir.size() > 1 && req.workdir.back() == '/') req.workdir.pop_back();
  req.agent = ctx_.options->agent;
  req.agent_timeout_s = ctx_.options->agent_timeout_s;
  req.device = Device(k);
  req.result = SlotFile(p, k, ".result.json");
  fs::remove(req.result, ec);
  std::string request = SlotFile(p, k, ".request.json");
  INLOOP_RETURN_IF_ERROR(WriteFileAtomically(request, SlotRequestJson(req)));
  SubprocessSpec spec;
  spec.argv = {exe_, "loop-slot", request};
  spec.stdin_plan = StdioPlan::DevNull();
  spec.stdout_plan = StdioPlan::Fd(2);  // the runs' output with the progress: stdout is --json's
  spec.die_with_parent = true;
  Slot& s = slots_[static_cast<size_t>(k)];
  return StartSubprocess(spec, &s.pid);
}

Status Driver::StartCandidate(int k) {
  LoopState& st = *ctx_.state;
  Slot& s = slots_[static_cast<size_t>(k)];
  s = Slot{};
  SlotJournal& j = s.j;
  int64_t n = st.next_round;
  j.round = n;
  j.task = kSlotCandidate;
  RoundRecord& rec = j.record;
  rec.round = n;
  rec.parent = st.champion_commit;
  rec.started_at = NowSeconds();
  std::string proposer = !ctx_.options->submit_patch.empty() ? "submitted"
                         : ctx_.space                           ? "search"
                                                                : "agent";
  rec.proposer = proposer;
  rec.champion_metric = MeanOf(st.champion_samples);
  rec.noise_sd = SdOf(st.champion_samples);
  rec.device = Device(k);
  INLOOP_RETURN_IF_ERROR(Prepare(k, &j, st.champion_commit));
  st.next_round = n + 1;
  INLOOP_RETURN_IF_ERROR(SaveState(*ctx_.paths, st));
  SlotRequest req;
  req.round = n;
  req.task = kSlotCandidate;
  req.base = st.champion_commit;
  req.champion = Values(st.champion_samples);
  req.proposer = proposer;
  req.patch = ctx_.options->submit_patch;
  if (ctx_.space) {
    std::vector<RoundRecord> rounds;
    INLOOP_RETURN_IF_ERROR(LoadRounds(*ctx_.paths, &rounds));
    std::vector<Observation> history;
    for (auto& r : rounds) {
      if (r.metric && !r.params.empty()) history.push_back({r.params, *r.metric});
    }
    rec.params = ProposeValues(*ctx_.space, history, ctx_.cfg->minimize, static_cast<uint64_t>(n));
    if (!ctx_.space->params_file.empty()) {
      auto rel = fs::path(ctx_.cfg->workdir).lexically_relative(ctx_.repo->top());
      INLOOP_RETURN_IF_ERROR(WriteFileAtomically(
          (fs::path(j.tree) / rel / ctx_.space->params_file).string(),
          ParamsFileText(*ctx_.space, rec.params, ctx_.space->params_file)));
    }
    req.params = FullParams(ctx_, rec.params);
  } else {
    req.history = SlotFile(*ctx_.paths, k, ".history.json");
    INLOOP_RETURN_IF_ERROR(WriteLoopHistory(*ctx_.paths, *ctx_.cfg, st, n, req.history));
    req.params = FullParams(ctx_, st.champion_params);
  }
  INLOOP_RETURN_IF_ERROR(SaveSlotJournal(*ctx_.paths, j));
  Say(ctx_, fmt::format("round {} (slot {}{}): started from the champion (round {})", n, k,
                        rec.device.empty() ? "" : ", device " + rec.device, st.champion_round));
  return Spawn(k, req);
}

Status Driver::StartChampionNoise(int k) {
  LoopState& st = *ctx_.state;
  Slot& s = slots_[static_cast<size_t>(k)];
  s = Slot{};
  s.j.round = st.champion_round;
  s.j.task = kSlotChampion;
  INLOOP_RETURN_IF_ERROR(Prepare(k, &s.j, st.champion_commit));
  int64_t seed = ctx_.cfg->seed_base;
  for (auto& x : st.champion_samples) seed = std::max(seed, x.seed + 1);
  seed = std::max(seed, next_noise_seed_);
  next_noise_seed_ = seed + 1;
  SlotRequest req;
  req.round = st.champion_round;
  req.task = kSlotChampion;
  req.base = st.champion_commit;
  req.seed = seed;
  req.params = FullParams(ctx_, st.champion_params);
  if (ctx_.space && !ctx_.space->params_file.empty()) {
    auto rel = fs::path(ctx_.cfg->workdir).lexically_relative(ctx_.repo->top());
    INLOOP_RETURN_IF_ERROR(WriteFileAtomically(
        (fs::path(s.j.tree) / rel / ctx_.space->params_file).string(),
        ParamsFileText(*ctx_.space, req.params, ctx_.space->params_file)));
  }
  Say(ctx_, fmt::format("champion (round {}, slot {}): seed {} for the noise estimate",
                        st.champion_round, k, seed));
  return Spawn(k, req);
}

Status Driver::Rebase(int k, bool* ok) {
  *ok = false;
  LoopState& st = *ctx_.state;
  SlotJournal& j = slots_[static_cast<size_t>(k)].j;
  RoundRecord& rec = j.record;
  GitRepo wt;
  INLOOP_RETURN_IF_ERROR(GitRepo::Open(j.tree, &wt));
  std::string old_base = j.base;
  INLOOP_RETURN_IF_ERROR(wt.Git({"checkout", "-q", "-f", "--detach", st.champion_commit}));
  INLOOP_RETURN_IF_ERROR(wt.Git({"clean", "-fdq"}));
  bool empty = wt.Git({"diff", "--quiet", old_base, j.candidate}).ok();
  if (!empty) {
    Status s = wt.Git({"cherry-pick", "--no-commit", j.candidate});
    if (!s.ok()) {
      (void)wt.Git({"cherry-pick", "--abort"});
      (void)wt.Git({"reset", "-q", "--hard"});
      rec.verdict = kConflict;
      rec.reason = fmt::format("passed its gate, but its change conflicts with the new champion "
                               "(round {}) it was rebased onto: discarded", st.champion_round);
      return Status::OK();
    }
  }
  std::vector<std::string> files;
  int64_t lines = 0;
  INLOOP_RETURN_IF_ERROR(wt.StageAgainst(st.champion_commit, &files, &lines));
  INLOOP_RETURN_IF_ERROR(wt.Commit(
      fmt::format("inloop candidate: loop {} round {} (rebased)", ctx_.cfg->name, j.round),
      &j.candidate));
  j.base = st.champion_commit;
  j.task = kSlotRemeasure;
  ++j.rebases;
  rec.parent = st.champion_commit;
  rec.champion_metric = MeanOf(st.champion_samples);
  rec.noise_sd = SdOf(st.champion_samples);
  rec.samples.clear();
  rec.metric.reset();
  rec.gain.reset();
  rec.threshold.reset();
  rec.p_value.reset();
  rec.verdict.clear();
  INLOOP_RETURN_IF_ERROR(SaveSlotJournal(*ctx_.paths, j));
  Say(ctx_, fmt::format("round {} (slot {}): passed, but the champion moved (now round {}): "
                        "rebased onto it, measuring again", j.round, k, st.champion_round));
  *ok = true;
  SlotRequest req;
  req.round = j.round;
  req.task = kSlotRemeasure;
  req.base = j.base;
  req.champion = Values(st.champion_samples);
  req.params = FullParams(ctx_, ctx_.space ? rec.params : st.champion_params);
  slots_[static_cast<size_t>(k)].remeasure = req;
  return Status::OK();
}

Status Driver::Close(int k, bool keep) {
  Slot& s = slots_[static_cast<size_t>(k)];
  SlotJournal& j = s.j;
  RoundRecord& rec = j.record;
  j.phase = "decided";
  if (keep) rec.verdict = kKept;
  INLOOP_RETURN_IF_ERROR(SaveSlotJournal(*ctx_.paths, j));
  std::vector<Sample> champion = ctx_.state->champion_samples;
  if (keep) INLOOP_RETURN_IF_ERROR(CommitKeep(ctx_, j, &rec));
  rec.ended_at = NowSeconds();
  rec.cpu_s = s.cpu_s;
  std::optional<GateDecision> d;
  if (!rec.samples.empty() && !champion.empty()) {
    d = JudgeCandidate(GateOf(*ctx_.cfg), Values(champion), Values(rec.samples));
  }
  AddVerdictEvent(*ctx_.cfg, GateOf(*ctx_.cfg), champion, rec, d ? &*d : nullptr);
  Say(ctx_, fmt::format("round {} (slot {}): {}: {}", rec.round, k, rec.verdict, rec.reason));
  INLOOP_RETURN_IF_ERROR(CloseRecord(ctx_, rec));
  if (keep) next_noise_seed_ = 0;
  ForgetSlot(ctx_, k, j.tree);
  s = Slot{};
  return Status::OK();
}

// Every action is carried out even after one failed (a started slot must be watched, or the
// scheduler would wait for it forever); the first failure is returned.
Status Driver::Apply(const std::vector<SchedulerAction>& actions) {
  Status first;
  for (const SchedulerAction& a : actions) {
    Status st = ApplyOne(a);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status Driver::ApplyOne(const SchedulerAction& a) {
  using K = SchedulerAction::Kind;
  {
    Slot* s = a.slot >= 0 ? &slots_[static_cast<size_t>(a.slot)] : nullptr;
    switch (a.kind) {
      case K::kStartCandidate:
        INLOOP_RETURN_IF_ERROR(StartFailed(a.slot, StartCandidate(a.slot)));
        break;
      case K::kStartChampionNoise:
        INLOOP_RETURN_IF_ERROR(StartFailed(a.slot, StartChampionNoise(a.slot)));
        break;
      case K::kKeep: INLOOP_RETURN_IF_ERROR(Close(a.slot, true)); break;
      case K::kDiscard: INLOOP_RETURN_IF_ERROR(Close(a.slot, false)); break;
      case K::kConflict: INLOOP_RETURN_IF_ERROR(Close(a.slot, false)); break;
      case K::kStale:
        s->j.record.verdict = kStale;
        s->j.record.reason = fmt::format(
            "passed its gate, but the champion moved again after {} rebase(s): discarded",
            s->j.rebases);
        INLOOP_RETURN_IF_ERROR(Close(a.slot, false));
        break;
      case K::kRebase: {
        bool ok = false;
        INLOOP_RETURN_IF_ERROR(Rebase(a.slot, &ok));
        SchedulerEvent e;
        e.kind = SchedulerEvent::Kind::kRebased;
        e.slot = a.slot;
        e.ok = ok;
        INLOOP_RETURN_IF_ERROR(Apply(sched_.OnEvent(e)));
        break;
      }
      case K::kRemeasure:
        INLOOP_RETURN_IF_ERROR(StartFailed(a.slot, Spawn(a.slot, s->remeasure)));
        break;
      case K::kAcceptSample:
        ctx_.state->champion_samples.push_back(s->sample);
        INLOOP_RETURN_IF_ERROR(SaveState(*ctx_.paths, *ctx_.state));
        ForgetSlot(ctx_, a.slot, s->j.tree);
        *s = Slot{};
        break;
      case K::kDropSample:
        ForgetSlot(ctx_, a.slot, s->j.tree);
        *s = Slot{};
        break;
      case K::kDone: break;
    }
  }
  return Status::OK();
}

// A slot that could not start (git, a file, the process) ends its round as failed, so the
// scheduler never waits for a process that does not exist; the error is then returned and the
// driver starts nothing more.
Status Driver::StartFailed(int k, const Status& started) {
  if (started.ok()) return started;
  Slot& s = slots_[static_cast<size_t>(k)];
  if (s.pid > 0) return started;
  SchedulerEvent e;
  e.kind = SchedulerEvent::Kind::kFinished;
  e.slot = k;
  if (s.j.task != kSlotChampion) {
    s.j.record.verdict = kFailed;
    s.j.record.reason = "the slot could not start: " + started.message();
  }
  Status applied = Apply(sched_.OnEvent(e));
  return applied.ok() ? started : applied;
}

Status Driver::Reap(int k, int wait_status, const rusage& ru) {
  Slot& s = slots_[static_cast<size_t>(k)];
  s.pid = -1;
  s.cpu_s += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
             static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::string path = SlotFile(*ctx_.paths, k, ".result.json");
  std::string text;
  SlotResult res;
  Status rs = ReadFile(path, &text);
  if (rs.ok()) rs = ParseSlotResult(text, &res);
  if (!rs.ok()) {
    res.record.verdict = kFailed;
    res.record.reason = fmt::format("the slot process ended without a result (exit code {})",
                                    DecodeWaitStatus(wait_status));
  }
  SchedulerEvent e;
  e.kind = SchedulerEvent::Kind::kFinished;
  e.slot = k;
  if (s.j.task == kSlotChampion) {
    e.ok = !res.interrupted && !res.record.samples.empty();
    if (e.ok) s.sample = res.record.samples.front();
    if (!e.ok && !res.interrupted) {
      Say(ctx_, fmt::format("champion re-run in slot {} failed: {}", k, res.record.reason));
    }
    return Apply(sched_.OnEvent(e));
  }
  RoundRecord& rec = s.j.record;
  const RoundRecord& got = res.record;
  for (auto& id : got.run_ids) rec.run_ids.push_back(id);
  rec.samples = got.samples;
  rec.metric = got.metric;
  rec.gain = got.gain;
  rec.threshold = got.threshold;
  rec.p_value = got.p_value;
  if (got.noise_sd) rec.noise_sd = got.noise_sd;
  rec.verdict = got.verdict;
  rec.reason = got.reason;
  if (s.j.task == kSlotRemeasure) {
    rec.reason = fmt::format("rebased onto the champion of round {} and measured again: {}",
                             ctx_.state->champion_round, got.reason);
  }
  if (s.j.task == kSlotCandidate) {
    rec.changed_files = got.changed_files;
    rec.diff_lines = got.diff_lines;
    rec.diff_path = got.diff_path;
    rec.audit = got.audit;
  }
  if (!res.candidate.empty()) s.j.candidate = res.candidate;
  if (res.interrupted) {
    rec.verdict = kInterruptedRound;
    rec.reason = "stopped (Ctrl-C or SIGTERM) while the round ran; its worktree was removed";
  }
  e.passed = rec.verdict == kKept;
  if (e.passed && sched_.OnChampion(k)) {
    // The gate again, against everything known of the champion now (its noise may have been
    // topped up while this round ran).
    GateDecision d = JudgeCandidate(GateOf(*ctx_.cfg), Values(ctx_.state->champion_samples),
                                    Values(rec.samples));
    rec.gain = d.gain;
    rec.threshold = d.threshold;
    rec.p_value = GatePValue(d, GateOf(*ctx_.cfg));
    if (d.noise_known) rec.noise_sd = d.noise_sd;
    if (d.verdict != GateVerdict::kKeep) {
      e.passed = false;
      rec.verdict = kDiscarded;
      rec.reason = d.reason;
    }
  }
  e.champion_samples = static_cast<int>(rec.samples.size());
  Status saved = SaveSlotJournal(*ctx_.paths, s.j);
  Status applied = Apply(sched_.OnEvent(e));  // even so: the scheduler must see the slot end
  return saved.ok() ? applied : saved;
}

void Driver::WaitABit() {
  sigset_t m;
  sigemptyset(&m);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&m, sig);
  timespec t{0, 100 * 1000 * 1000};
  if (sigtimedwait(&m, nullptr, &t) > 0) signalled_ = true;
}

Status Driver::Run(bool* interrupted) {
  *interrupted = false;
  std::error_code ec;
  exe_ = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Status::Io("cannot find the inloop binary (/proc/self/exe) to start slots");
  fs::create_directories(SlotsDir(*ctx_.paths), ec);
  if (ec) return Status::Io(fmt::format("{}: cannot create: {}", SlotsDir(*ctx_.paths), ec.message()));
  bool stopping = false;
  Status failure;
  while (true) {
    if (!stopping && (signalled_ || ctx_.stop_requested())) {
      stopping = true;
      *interrupted = true;
      for (auto& s : slots_) {
        if (s.pid > 0) kill(s.pid, SIGTERM);
      }
      Status st = Apply(sched_.OnEvent({SchedulerEvent::Kind::kStop}));
      if (!st.ok() && failure.ok()) failure = st;
    }
    SchedulerEvent tick;
    tick.may_start = failure.ok() && MayStart();
    Status st = Apply(sched_.OnEvent(tick));
    if (!st.ok() && failure.ok()) {
      failure = st;  // a git or file failure: start nothing more, let the running slots end
      sched_.OnEvent({SchedulerEvent::Kind::kStop});
    }
    if (sched_.done()) break;
    bool reaped = false;
    for (size_t k = 0; k < slots_.size(); ++k) {
      if (slots_[k].pid <= 0) continue;
      int status = 0;
      rusage ru{};
      pid_t r = wait4(slots_[k].pid, &status, WNOHANG, &ru);
      if (r != slots_[k].pid) continue;
      reaped = true;
      st = Reap(static_cast<int>(k), status, ru);
      if (!st.ok() && failure.ok()) {
        failure = st;
        sched_.OnEvent({SchedulerEvent::Kind::kStop});
      }
    }
    if (!reaped) WaitABit();
  }
  if (!failure.ok()) return failure;
  if (ctx_.out->stop_reason.empty() && ctx_.options->rounds > 0) {
    ctx_.out->stop_reason = fmt::format("{} round(s) done", sched_.started());
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> VisibleDevices(const char* env_value) {
  std::vector<std::string> out;
  if (!env_value) return out;
  std::string cur;
  for (const char* p = env_value;; ++p) {
    if (*p == ',' || *p == '\0') {
      while (!cur.empty() && cur.back() == ' ') cur.pop_back();
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (*p == '\0') break;
    } else if (!(cur.empty() && *p == ' ')) {
      cur += *p;
    }
  }
  return out;
}

Status RunParallelRounds(const ParallelContext& ctx, int parallel, bool* interrupted) {
  Driver d(ctx, parallel);
  return d.Run(interrupted);
}

std::vector<SlotJournal> SlotsInFlight(const LoopPaths& p, std::vector<std::string>* torn) {
  std::vector<SlotJournal> out;
  std::error_code ec;
  if (!fs::is_directory(SlotsDir(p), ec)) return out;
  for (auto& entry : fs::directory_iterator(SlotsDir(p), ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("slot-", 0) != 0 || entry.path().extension() != ".json" ||
        name.find(".request.") != std::string::npos || name.find(".result.") != std::string::npos ||
        name.find(".history.") != std::string::npos) {
      continue;
    }
    std::string text;
    SlotJournal j;
    if (ReadFile(entry.path().string(), &text).ok() && ParseSlotJournal(text, &j).ok()) {
      out.push_back(j);
    } else if (torn) {
      torn->push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end(),
            [](const SlotJournal& a, const SlotJournal& b) { return a.slot < b.slot; });
  return out;
}

Status RecoverSlots(const ParallelContext& ctx) {
  const LoopPaths& p = *ctx.paths;
  std::error_code ec;
  if (!fs::is_directory(SlotsDir(p), ec)) return Status::OK();
  std::vector<RoundRecord> rounds;
  INLOOP_RETURN_IF_ERROR(LoadRounds(p, &rounds));
  std::vector<std::string> torn;
  std::vector<SlotJournal> journals = SlotsInFlight(p, &torn);
  for (auto& t : torn) fs::remove(t, ec);  // a torn journal: its round never started
  for (SlotJournal& j : journals) {
    bool recorded = j.task == kSlotChampion;
    for (auto& r : rounds) recorded = recorded || r.round == j.round;
    if (!recorded) {
      RoundRecord rec = j.record;
      rec.round = j.round;
      std::string head;
      if (j.phase == "decided" && rec.verdict == kKept) {
        if (HeadIsRound(*ctx.repo, j.base, j.round, &head)) {
          rec.commit = head;
        } else {
          Status s = CommitKeep(ctx, j, &rec);
          if (!s.ok()) {
            rec.verdict = kInterruptedRound;
            rec.reason = "kept, but its change could not be committed after a crash: " +
                         s.message();
          }
        }
      } else if (j.phase != "decided" || rec.verdict.empty()) {
        rec.verdict = kInterruptedRound;
        rec.reason = fmt::format("inloop stopped mid-round (slot {}: Ctrl-C, SIGTERM or a "
                                 "crash); its worktree was removed", j.slot);
      }
      if (rec.ended_at == 0) rec.ended_at = NowSeconds();
      Say(ctx, fmt::format("round {} was left in flight in slot {} ({}): {}", j.round, j.slot,
                           j.phase, rec.verdict));
      INLOOP_RETURN_IF_ERROR(CloseRecord(ctx, rec));
    }
    ForgetSlot(ctx, j.slot, j.tree.empty() ? TreePath(p, j.slot) : j.tree);
  }
  for (auto& entry : fs::directory_iterator(SlotsDir(p), ec)) {
    if (entry.is_directory(ec)) RemoveWorktree(*ctx.repo, entry.path().string());
    else fs::remove(entry.path(), ec);
  }
  (void)ctx.repo->Git({"worktree", "prune"});
  return Status::OK();
}

}  // namespace inloop::loop
