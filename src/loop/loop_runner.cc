// The loop's control flow. Signals: SIGINT/SIGTERM/SIGHUP are blocked for the whole run and
// read between steps (sigtimedwait); while a training run goes, the supervisor reads them from
// its signalfd and stops the run, which the loop sees as an interrupted round. The time budget
// is a timer thread that sends SIGTERM to the loop's thread (the supervisor forwards it and
// kills after the grace period), remembered so it is not taken for a user's Ctrl-C. The steps
// of a round (the run, the seeds, the guard rails, the store records) are in round_steps.h,
// shared with the slots of `--parallel N` (parallel_driver.h), which Run hands over to after
// its set-up.
#include "loop/loop_runner.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "loop/parallel_driver.h"
#include "loop/program.h"
#include "loop/recheck.h"
#include "loop/round_steps.h"
#include "loop/tamper.h"
#include "registry/registry.h"
#include "loop/throughput.h"

namespace inloop::loop {
namespace fs = std::filesystem;
namespace {

double Now() { return NowSeconds(); }
double Mean(const std::vector<Sample>& v) { return MeanOf(v); }
std::optional<double> Sd(const std::vector<Sample>& v) { return SdOf(v); }

sigset_t StopSignals() {
  sigset_t m;
  sigemptyset(&m);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&m, s);
  return m;
}

class LoopSession {
 public:
  LoopSession(const RunOptions& o, RunSummary* out) : o_(o), out_(out) {}
  Status Run(LoopFailure* why);

 private:
  void Say(const std::string& s) {
    if (o_.say) o_.say(s);
  }
  bool StopRequested();
  Status Recover(const Journal& j);
  Status FinishRound(Journal j);
  Status RunBaseline(LoopFailure* why);
  Status EnsureChampionNoise();
  Status RunRound(int64_t n);
  RunResult RunOnce(int64_t round, int64_t seed, const ParamValues& params, const std::string& label);
  Status WriteHistory(int64_t round);
  Status CloseRound(const RoundRecord& rec);
  bool CheckEvaluation(RoundRecord* rec) {
    return loop::CheckEvaluation(paths_, cfg_, repo_.top(), rec);
  }
  Status RunRecheck(int64_t n);  // recheck.h
  ParamValues FullParams(const ParamValues& v) const;
  ParallelContext Parallel() {
    return {&o_, &repo_, &paths_, &cfg_, &st_, space_ ? &*space_ : nullptr, out_,
            [this] { return StopRequested(); }};
  }

  const RunOptions& o_;
  RunSummary* out_;
  GitRepo repo_;
  LoopPaths paths_;
  LoopConfig cfg_;
  LoopState st_;
  std::optional<SearchSpace> space_;
  std::vector<std::string> agent_argv_;
  GateConfig gate_;
  pthread_t main_thread_{};
  bool interrupted_ = false;
  double cpu_at_start_ = -1;  // ChildCpuSeconds() when the round began (its cost)
};

bool LoopSession::StopRequested() {
  if (interrupted_) return true;
  sigset_t m = StopSignals();
  timespec zero{0, 0};
  if (sigtimedwait(&m, nullptr, &zero) > 0) interrupted_ = true;
  return interrupted_;
}

ParamValues LoopSession::FullParams(const ParamValues& v) const {
  if (!space_) return v;
  ParamValues out = DefaultValues(*space_);
  for (auto& [k, x] : out) {
    for (auto& [k2, x2] : v) {
      if (k2 == k) x = x2;
    }
  }
  return out;
}

RunResult LoopSession::RunOnce(int64_t round, int64_t seed, const ParamValues& params,
                               const std::string& label) {
  RunResult r = loop::RunOnce(cfg_, round, seed, params, label, main_thread_);
  if (r.interrupted) interrupted_ = true;
  return r;
}

Status LoopSession::WriteHistory(int64_t round) {
  return WriteLoopHistory(paths_, cfg_, st_, round);
}

// Finishes what the journal says: commit a decided keep, or put the tree back to base.
Status LoopSession::Recover(const Journal& j0) {
  Journal j = j0;
  RoundRecord& rec = j.record;
  rec.round = j.round;
  if (j.phase == "decided" && rec.verdict == kKept) {
    std::string head;
    INLOOP_RETURN_IF_ERROR(repo_.Head(&head));
    std::string msg;
    if (head != j.base && repo_.Git({"log", "-1", "--format=%B"}, &msg).ok() &&
        msg.find(fmt::format("inloop-round: {}\n", j.round)) != std::string::npos) {
      rec.commit = head;  // committed before the crash
    } else {
      return FinishRound(j);
    }
  } else {
    INLOOP_RETURN_IF_ERROR(repo_.ResetTo(j.branch.empty() ? cfg_.branch : j.branch, j.base));
    if (j.phase != "decided") {
      rec.verdict = kInterruptedRound;
      rec.reason = "inloop stopped mid-round (Ctrl-C, SIGTERM or a crash); the tree was reset";
      if (rec.parent.empty()) rec.parent = j.base;
    }
  }
  if (rec.ended_at == 0) rec.ended_at = Now();
  return CloseRound(rec);
}

// A finished round: the champion moves when it was kept, the round's line and store event are
// written, the state saved and the journal cleared.
Status LoopSession::CloseRound(const RoundRecord& rec) {
  if (rec.verdict == kKept) {
    st_.champion_commit = rec.commit;
    st_.champion_round = rec.round;
    st_.champion_samples = rec.samples;
    st_.champion_params = rec.params;
  }
  CloseRecheckRound(rec, &st_);
  INLOOP_RETURN_IF_ERROR(AppendRound(paths_, rec));
  RecordRoundInStore(cfg_, rec);
  st_.next_round = std::max(st_.next_round, rec.round + 1);
  INLOOP_RETURN_IF_ERROR(SaveState(paths_, st_));
  out_->rounds.push_back(rec);
  return ClearJournal(paths_);
}

// The verdict is on record in the journal first; then commit or reset; then the round's line.
Status LoopSession::FinishRound(Journal j) {
  RoundRecord& rec = j.record;
  j.phase = "decided";
  INLOOP_RETURN_IF_ERROR(SaveJournal(paths_, j));
  if (rec.verdict == kKept) {
    std::vector<std::string> files;
    int64_t lines = 0;
    INLOOP_RETURN_IF_ERROR(repo_.StageAgainst(j.base, &files, &lines));
    std::string msg = KeptCommitMessage(cfg_, rec);
    INLOOP_RETURN_IF_ERROR(repo_.Commit(msg, &rec.commit));
  } else {
    INLOOP_RETURN_IF_ERROR(repo_.ResetTo(cfg_.branch, j.base));
  }
  rec.ended_at = Now();
  if (cpu_at_start_ >= 0) rec.cpu_s = ChildCpuSeconds() - cpu_at_start_;
  return CloseRound(rec);
}

Status LoopSession::EnsureChampionNoise() {
  int failures = 0;
  while (static_cast<int>(st_.champion_samples.size()) < cfg_.noise_seeds &&
         failures < cfg_.noise_seeds) {
    if (StopRequested()) return Status::OK();
    int64_t seed = cfg_.seed_base;
    for (auto& s : st_.champion_samples) seed = std::max(seed, s.seed + 1);
    seed += failures;
    Say(fmt::format("champion (round {}): seed {} for the noise estimate", st_.champion_round, seed));
    RunResult r = RunOnce(st_.champion_round, seed, FullParams(st_.champion_params), "champion");
    if (r.interrupted) return Status::OK();
    if (!r.ok) {
      ++failures;
      Say(fmt::format("champion re-run with seed {} failed: {}", seed, r.reason));
      continue;
    }
    st_.champion_samples.push_back({seed, r.value, r.run_id});
    INLOOP_RETURN_IF_ERROR(SaveState(paths_, st_));
  }
  return Status::OK();
}

// The champion and its reference (recheck.h) on the same fresh seeds: the reference from a
// detached checkout of its commit, then the champion; the journal's base is the champion, so an
// interruption resets to it, and a demotion moves the branch back to the reference.
Status LoopSession::RunRecheck(int64_t n) {
  Journal j;
  j.round = n;
  j.phase = "open";
  j.branch = cfg_.branch;
  INLOOP_RETURN_IF_ERROR(repo_.Head(&j.base));
  j.started_at = Now();
  cpu_at_start_ = ChildCpuSeconds();
  RoundRecord& rec = j.record;
  rec.round = n;
  rec.proposer = "recheck";
  rec.parent = st_.recheck.reference_commit;
  rec.commit = st_.champion_commit;
  rec.params = st_.champion_params;
  rec.started_at = j.started_at;
  INLOOP_RETURN_IF_ERROR(SaveJournal(paths_, j));
  std::vector<int64_t> seeds =
      RecheckSeeds(cfg_.seed_base, n, RecheckSeedCount(cfg_.noise_seeds, cfg_.max_seeds));
  Say(fmt::format("round {}: re-check of the champion (round {}) against its reference (round {}) "
                  "on {} fresh seeds a side", n, st_.champion_round, st_.recheck.reference_round,
                  seeds.size()));
  for (int side = 0; side < 2 && rec.verdict.empty(); ++side) {
    bool ref = side == 0;
    INLOOP_RETURN_IF_ERROR(ref ? repo_.Git({"checkout", "-q", "--detach", rec.parent})
                               : repo_.ResetTo(cfg_.branch, j.base));
    ParamValues params = FullParams(ref ? st_.recheck.reference_params : st_.champion_params);
    for (int64_t seed : seeds) {
      RunResult r = RunOnce(n, seed, params, fmt::format("r{}-{}", n, ref ? "ref" : "champion"));
      if (!r.run_id.empty()) rec.run_ids.push_back(r.run_id);
      SaveJournal(paths_, j);
      if (r.interrupted) return Recover(j);
      if (r.tampered) {
        rec.verdict = kTampered;
        rec.reason = "tampered: " + r.reason;
        rec.tamper.push_back(r.reason);
      }
      if (r.tampered || CheckEvaluation(&rec)) break;
      if (!r.ok) {
        rec.verdict = kFailed;
        rec.reason = fmt::format("re-check: a run of the {} failed: {}", ref ? "reference" : "champion", r.reason);
        break;
      }
      (ref ? rec.reference_samples : rec.samples).push_back({seed, r.value, r.run_id});
    }
  }
  if (rec.verdict.empty()) {
    std::vector<double> reference, champion;
    for (auto& x : rec.reference_samples) reference.push_back(x.value);
    for (auto& x : rec.samples) champion.push_back(x.value);
    RecheckDecision d = DecideRecheck(gate_, reference, champion);
    rec.verdict = d.demote ? kDemoted : kRechecked;
    rec.reason = d.reason;
    rec.metric = d.gate.candidate_mean;
    rec.champion_metric = d.gate.champion_mean;
    rec.gain = d.gate.gain;
    rec.threshold = d.gate.threshold;
    if (d.gate.noise_known) rec.noise_sd = d.gate.noise_sd;
    if (d.demote) j.base = rec.parent;  // FinishRound resets the branch to the reference
  }
  AddVerdictEvent(cfg_, gate_, st_.champion_samples, rec, nullptr);
  Say(fmt::format("round {}: {}: {}", n, rec.verdict, rec.reason));
  return FinishRound(j);
}

Status LoopSession::RunBaseline(LoopFailure* why) {
  INLOOP_RETURN_IF_ERROR(repo_.Head(&st_.champion_commit));
  st_.champion_round = 0;
  st_.champion_params = space_ ? DefaultValues(*space_) : ParamValues{};
  Say(fmt::format("baseline: {} run(s) of the unchanged command measure {} and its seed noise",
                  cfg_.noise_seeds, cfg_.metric));
  double started = Now();
  double cpu_start = ChildCpuSeconds();
  INLOOP_RETURN_IF_ERROR(EnsureChampionNoise());
  if (interrupted_) return Status::OK();
  if (st_.champion_samples.empty()) {
    *why = LoopFailure::kBaselineFailed;
    return Status::Invalid(fmt::format("the baseline failed: no run of the unchanged command "
                                       "logged a finite {} (see `inloop runs`)", cfg_.metric));
  }
  RoundRecord rec;
  rec.round = 0;
  rec.verdict = kBaseline;
  rec.proposer = "baseline";
  rec.reason = "the unchanged command";
  rec.samples = st_.champion_samples;
  for (auto& s : rec.samples) rec.run_ids.push_back(s.run_id);
  rec.metric = Mean(rec.samples);
  rec.noise_sd = Sd(rec.samples);
  rec.commit = st_.champion_commit;
  rec.params = st_.champion_params;
  rec.started_at = started;
  rec.ended_at = Now();
  rec.cpu_s = ChildCpuSeconds() - cpu_start;
  st_.baseline_done = true;
  st_.recheck = StartRechecks(st_.champion_commit, st_.champion_params);
  INLOOP_RETURN_IF_ERROR(AppendRound(paths_, rec));
  RecordRoundInStore(cfg_, rec);
  INLOOP_RETURN_IF_ERROR(SaveState(paths_, st_));
  out_->rounds.push_back(rec);
  Say(fmt::format("baseline {} = {:.6g}{}", cfg_.metric, *rec.metric,
                  rec.noise_sd ? fmt::format(" (seed noise sd {:.3g})", *rec.noise_sd) : ""));
  return Status::OK();
}

Status LoopSession::RunRound(int64_t n) {
  Journal j;
  j.round = n;
  j.phase = "open";
  j.branch = cfg_.branch;
  INLOOP_RETURN_IF_ERROR(repo_.Head(&j.base));
  j.started_at = Now();
  cpu_at_start_ = ChildCpuSeconds();
  RoundRecord& rec = j.record;
  rec.round = n;
  rec.parent = st_.champion_commit;
  rec.started_at = j.started_at;
  rec.proposer = space_ ? "search" : "agent";
  rec.champion_metric = Mean(st_.champion_samples);
  rec.noise_sd = Sd(st_.champion_samples);
  INLOOP_RETURN_IF_ERROR(SaveJournal(paths_, j));

  // (1) Propose.
  ParamValues values;
  if (space_) {
    std::vector<RoundRecord> rounds;
    INLOOP_RETURN_IF_ERROR(LoadRounds(paths_, &rounds));
    std::vector<Observation> history;
    for (auto& r : rounds) {
      if (r.metric && !r.params.empty()) history.push_back({r.params, *r.metric});
    }
    values = ProposeValues(*space_, history, cfg_.minimize, static_cast<uint64_t>(n));
    rec.params = values;
    std::string shown;
    for (auto& [k, v] : values) shown += fmt::format(" {}={}", k, v);
    Say(fmt::format("round {}: search proposes{}", n, shown));
    if (!space_->params_file.empty()) {
      INLOOP_RETURN_IF_ERROR(WriteFileAtomically(
          cfg_.workdir + "/" + space_->params_file,
          ParamsFileText(*space_, values, space_->params_file)));
    }
  } else {
    INLOOP_RETURN_IF_ERROR(WriteHistory(n));
    std::vector<std::string> argv;
    for (auto a : agent_argv_) {
      a = ReplaceAll(a, "{program}", cfg_.program);
      a = ReplaceAll(a, "{history}", paths_.history());
      a = ReplaceAll(a, "{round}", std::to_string(n));
      argv.push_back(a);
    }
    EnvPairs env = {{"INLOOP_LOOP_PROGRAM", cfg_.program},
                    {"INLOOP_LOOP_HISTORY", paths_.history()},
                    {"INLOOP_LOOP_ROUND", std::to_string(n)},
                    {"INLOOP_LOOP_METRIC", cfg_.metric},
                    {"INLOOP_LOOP_GOAL", cfg_.minimize ? "min" : "max"},
                    {"INLOOP_LOOP_BRANCH", cfg_.branch}};
    Say(fmt::format("round {}: agent {}", n, argv.front()));
    AgentEnd end;
    int code = -1;
    Status s = RunInteractive(argv, cfg_.workdir, env, o_.agent_timeout_s,
                              [this] { return StopRequested(); }, &end, &code);
    if (end == AgentEnd::kStopped || interrupted_) return Recover(j);
    if (!s.ok() || end == AgentEnd::kTimedOut || code != 0) {
      rec.verdict = kFailed;
      rec.reason = !s.ok() ? s.message()
                   : end == AgentEnd::kTimedOut
                       ? fmt::format("the agent ran past its timeout of {:g}s", o_.agent_timeout_s)
                       : fmt::format("the agent exited with code {}", code);
    }
  }

  // (2) Guard rails, before anything runs.
  if (rec.verdict.empty()) {
    std::string branch;
    INLOOP_RETURN_IF_ERROR(repo_.CurrentBranch(&branch));
    if (branch != cfg_.branch) {
      rec.verdict = kRejected;
      rec.reason = fmt::format("the proposer left the loop's branch (now on '{}')",
                               branch.empty() ? "a detached HEAD" : branch);
    }
  }
  if (rec.verdict.empty()) {
    INLOOP_RETURN_IF_ERROR(
        CheckChange(repo_, paths_, cfg_, j.base, space_.has_value(), o_.say, &rec));
  }
  SaveJournal(paths_, j);

  // (3) Run with seeds until the gate decides.
  std::optional<GateDecision> decision;
  if (rec.verdict.empty()) {
    MeasureOptions mo;
    mo.cfg = &cfg_;
    mo.gate = gate_;
    for (auto& s : st_.champion_samples) mo.champion.push_back(s.value);
    mo.round = n;
    mo.params = FullParams(space_ ? values : st_.champion_params);
    mo.label = fmt::format("r{}", n);
    mo.signal_thread = main_thread_;
    mo.say = o_.say;
    mo.after_run = [&] { SaveJournal(paths_, j); };
    mo.evaluation_changed = [this](RoundRecord* r) { return CheckEvaluation(r); };
    bool stopped = false;
    decision = MeasureCandidate(mo, &rec, &stopped);
    if (stopped) {
      interrupted_ = true;
      return Recover(j);
    }
    if (rec.verdict == kKept && o_.confirm_keep && !o_.confirm_keep(rec)) {
      rec.verdict = kDiscarded;
      rec.reason = "declined at the approval prompt (" + rec.reason + ")";
    }
  }
  // A decided round is finished even when Ctrl-C came meanwhile; the loop stops after it.
  AddVerdictEvent(cfg_, gate_, st_.champion_samples, rec, decision ? &*decision : nullptr);
  Say(fmt::format("round {}: {}: {}", n, rec.verdict, rec.reason));
  return FinishRound(j);
}

Status LoopSession::Run(LoopFailure* why) {
  main_thread_ = pthread_self();
  Status s = GitRepo::Open(o_.cwd, &repo_);
  if (!s.ok()) {
    *why = LoopFailure::kNoLoop;
    return s;
  }
  paths_.dir = repo_.git_dir() + "/inloop-loop";
  s = LoadConfig(paths_, &cfg_);
  if (!s.ok()) {
    if (s.code() == Status::Code::kNotFound) *why = LoopFailure::kNoLoop;
    return s;
  }
  int lock_fd = ::open(paths_.lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (lock_fd >= 0) ::close(lock_fd);
    *why = LoopFailure::kBusy;
    return Status::Invalid(fmt::format("another `inloop loop run` is working in {} (lock {})",
                                       repo_.top(), paths_.lock()));
  }
  struct LockGuard {
    int fd;
    ~LockGuard() { ::close(fd); }
  } guard{lock_fd};
  if (::chdir(cfg_.workdir.c_str()) != 0) {
    return Status::NotFound(fmt::format("{}: the loop's work dir is gone", cfg_.workdir));
  }
  gate_ = GateOf(cfg_);
  if (!o_.submit_patch.empty()) {
    // a submitted change: no proposer
  } else if (!o_.search_path.empty()) {
    SearchSpace space;
    INLOOP_RETURN_IF_ERROR(LoadSearchSpace(o_.search_path, &space));
    space_ = std::move(space);
  } else {
    INLOOP_RETURN_IF_ERROR(SplitCommandLine(o_.agent, &agent_argv_));
  }
  INLOOP_RETURN_IF_ERROR(LoadState(paths_, &st_));
  if (st_.baseline_done && st_.recheck.reference_commit.empty()) {
    st_.recheck = StartRechecks(st_.champion_commit, st_.champion_params);  // an older loop
  }
  if (!cfg_.eval_fingerprint.empty() && cfg_.eval_fingerprint != EvalFingerprint(cfg_)) {
    return Status::Invalid(fmt::format("{}: the loop's settings were edited after `loop init` (its "
                                       "fingerprint differs): `inloop loop init --replace` to "
                                       "start over with new ones", paths_.config()));
  }

  sigset_t stop = StopSignals(), old;
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  // Blocked and read by us; an inherited "ignore" (a background job of a script) would discard
  // them instead, and Ctrl-C/SIGTERM must always undo the round.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  struct MaskGuard {
    sigset_t old;
    ~MaskGuard() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  } mask_guard{old};

  std::optional<Journal> journal;
  INLOOP_RETURN_IF_ERROR(LoadJournal(paths_, &journal));
  if (journal) {
    Say(fmt::format("round {} was left in flight ({}): finishing it", journal->round,
                    journal->phase));
    s = Recover(*journal);
    if (!s.ok()) {
      *why = LoopFailure::kGit;
      return s;
    }
  }
  s = RecoverSlots(Parallel());  // rounds a killed `loop run --parallel` left in its slots
  if (!s.ok()) {
    *why = LoopFailure::kGit;
    return s;
  }
  std::string branch;
  INLOOP_RETURN_IF_ERROR(repo_.CurrentBranch(&branch));
  std::vector<std::string> dirt;
  INLOOP_RETURN_IF_ERROR(repo_.Dirt(&dirt));
  if (!dirt.empty()) {
    *why = LoopFailure::kDirtyTree;
    return Status::Invalid(fmt::format(
        "the working tree has changes the loop did not make ({}{}): commit or stash them first",
        dirt.front(), dirt.size() > 1 ? fmt::format(" and {} more", dirt.size() - 1) : ""));
  }
  if (branch != cfg_.branch) {
    s = repo_.Git({"checkout", "-q", cfg_.branch});
    if (!s.ok()) {
      *why = LoopFailure::kGit;
      return s;
    }
  }
  RoundRecord before;
  if (CheckEvaluation(&before)) {
    return Status::Invalid(fmt::format("the evaluation changed since `loop init` ({}): restore it, "
                                       "or `inloop loop init --replace` to declare it anew",
                                       before.tamper.front()));
  }
  if (!st_.baseline_done) {
    INLOOP_RETURN_IF_ERROR(RunBaseline(why));
  }
  int64_t done = 0;
  bool slots = o_.parallel > 1 || !o_.submit_patch.empty();
  // Re-checks run alone (no candidate in flight): under --parallel a due one runs before the
  // slots start.
  if (slots && !interrupted_ && st_.baseline_done &&
      RecheckDue(cfg_.recheck_every, st_.recheck, st_.champion_commit)) {
    s = RunRecheck(st_.next_round);
    if (!s.ok()) {
      *why = LoopFailure::kGit;
      return s;
    }
  }
  if (slots && !interrupted_) {
    bool stopped = false;
    s = RunParallelRounds(Parallel(), o_.parallel, &stopped);
    if (!s.ok()) {
      *why = LoopFailure::kGit;
      return s;
    }
    interrupted_ = interrupted_ || stopped;
  }
  while (!slots && !StopRequested()) {
    if (o_.rounds > 0 && done >= o_.rounds) {
      out_->stop_reason = fmt::format("{} round(s) done", done);
      break;
    }
    if (o_.until > 0 && Now() >= o_.until) {
      out_->stop_reason = "the --until time has passed";
      break;
    }
    if (cfg_.max_rounds > 0 && st_.next_round > cfg_.max_rounds) {
      out_->stop_reason = fmt::format("the loop's budget of {} rounds is spent", cfg_.max_rounds);
      break;
    }
    INLOOP_RETURN_IF_ERROR(EnsureChampionNoise());
    if (StopRequested()) break;
    bool recheck = RecheckDue(cfg_.recheck_every, st_.recheck, st_.champion_commit);
    s = recheck ? RunRecheck(st_.next_round) : RunRound(st_.next_round);
    if (!s.ok()) {
      *why = LoopFailure::kGit;
      return s;
    }
    ++done;
    RoundRecord after;  // a tampered round's evidence the reset did not undo (an ignored file)
    if (!out_->rounds.empty() && out_->rounds.back().verdict == kTampered && CheckEvaluation(&after)) {
      return Status::Invalid(fmt::format("the evaluation is still changed after the tampered round "
                                         "was reset ({}): restore it, then `inloop loop run`",
                                         after.tamper.front()));
    }
  }
  if (interrupted_) {
    *why = LoopFailure::kInterrupted;
    out_->stop_reason = "interrupted; the tree is clean and `inloop loop run` resumes";
    return Status::Invalid("interrupted: the round in flight was undone");
  }
  return Status::OK();
}

}  // namespace

Status ParseMetricSpec(const std::string& spec, std::string* key, bool* minimize) {
  auto colon = spec.rfind(':');
  std::string goal;
  *key = spec;
  if (colon != std::string::npos) {
    *key = spec.substr(0, colon);
    goal = spec.substr(colon + 1);
  }
  if (key->empty()) return Status::Invalid("--metric: give a series key, e.g. val_loss:min");
  if (goal.empty()) {
    std::string k = *key;
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool up = k.find("acc") != std::string::npos || k.find("reward") != std::string::npos ||
              k.find("score") != std::string::npos || k.find("f1") != std::string::npos;
    *minimize = !up;
  } else if (goal == "min" || goal == "max") {
    *minimize = goal == "min";
  } else {
    return Status::Invalid(fmt::format("--metric {}: the goal after ':' is min or max", spec));
  }
  return Status::OK();
}

Status InitLoop(const InitOptions& o, LoopConfig* out, LoopFailure* why) {
  *why = LoopFailure::kNone;
  GitRepo repo;
  Status s = GitRepo::Open(o.cwd, &repo);
  if (!s.ok()) {
    *why = LoopFailure::kNoLoop;
    return s;
  }
  LoopPaths paths{repo.git_dir() + "/inloop-loop"};
  LoopConfig c;
  INLOOP_RETURN_IF_ERROR(ParseMetricSpec(o.metric, &c.metric, &c.minimize));
  if (o.command.empty()) {
    return Status::Invalid("no command: `inloop loop init --metric KEY:min --budget 5m -- CMD ...`");
  }
  if (!(o.budget_s > 0)) return Status::Invalid("--budget must be positive (e.g. 5m, 90s)");
  if (o.noise_seeds < 1 || o.max_seeds < 1) return Status::Invalid("--seeds and --max-seeds are >= 1");
  if (!(o.alpha > 0 && o.alpha < 1)) return Status::Invalid("--alpha is in (0, 1)");
  for (auto& n : o.name) {
    if (!std::isalnum(static_cast<unsigned char>(n)) && n != '-' && n != '_' && n != '.') {
      return Status::Invalid("--name: letters, digits, '-', '_' and '.' only");
    }
  }
  LoopConfig existing;
  if (LoadConfig(paths, &existing).ok() && !o.replace) {
    return Status::Invalid(fmt::format("a loop '{}' already exists here (branch {}): `inloop loop "
                                       "status`, or init --replace to start over",
                                       existing.name, existing.branch));
  }
  std::error_code ec;
  fs::path cwd = fs::absolute(o.cwd, ec);
  c.workdir = cwd.lexically_normal().string();
  while (c.workdir.size() > 1 && c.workdir.back() == '/') c.workdir.pop_back();
  c.store_dir = fs::absolute(cwd / o.store_dir, ec).lexically_normal().string();
  while (c.store_dir.size() > 1 && c.store_dir.back() == '/') c.store_dir.pop_back();
  // A store inside the work tree must be invisible to git, or a reset would delete it.
  fs::path top = fs::path(repo.top());
  auto rel = fs::path(c.store_dir).lexically_relative(top);
  if (!rel.empty() && rel.native().rfind("..", 0) != 0 && !repo.IsIgnored(rel.string())) {
    std::string exclude = repo.git_dir() + "/info/exclude";
    fs::create_directories(fs::path(exclude).parent_path(), ec);
    std::string text;
    (void)ReadFile(exclude, &text);
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += "/" + rel.string() + "/\n";
    INLOOP_RETURN_IF_ERROR(WriteFileAtomically(exclude, text));
  }
  std::vector<std::string> dirt;
  INLOOP_RETURN_IF_ERROR(repo.Dirt(&dirt));
  if (!dirt.empty()) {
    *why = LoopFailure::kDirtyTree;
    return Status::Invalid(fmt::format(
        "the working tree is not clean ({}{}): commit or stash first, the loop resets it",
        dirt.front(), dirt.size() > 1 ? fmt::format(" and {} more", dirt.size() - 1) : ""));
  }
  if (!o.program.empty()) {
    fs::path p = fs::absolute(cwd / o.program, ec);
    if (!fs::exists(p, ec)) return Status::NotFound(fmt::format("--program {}: no such file", o.program));
    c.program = p.lexically_normal().string();
  }
  c.eval_globs = o.eval_globs;
  if (!o.eval_command.empty()) INLOOP_RETURN_IF_ERROR(SplitCommandLine(o.eval_command, &c.eval_command));
  INLOOP_RETURN_IF_ERROR(DeclareEvaluation(repo.top(), &c));
  s = repo.Head(&c.base_commit);
  if (!s.ok()) {
    *why = LoopFailure::kGit;
    return Status::Invalid("the repository has no commit yet: commit the training code first");
  }
  c.name = o.name;
  c.branch = "inloop/loop-" + o.name;
  s = repo.Git({"checkout", "-q", o.replace ? "-B" : "-b", c.branch});
  if (!s.ok()) {
    *why = LoopFailure::kGit;
    return Status::Invalid(fmt::format("cannot create branch {}: {} (init --replace reuses it)",
                                       c.branch, s.message()));
  }
  c.budget_s = o.budget_s;
  c.command = o.command;
  c.protected_globs = o.protected_globs;
  c.max_diff_lines = o.max_diff_lines;
  c.noise_seeds = o.noise_seeds;
  c.max_seeds = o.max_seeds;
  c.alpha = o.alpha;
  c.min_gain = o.min_gain;
  c.seed_base = o.seed_base;
  c.max_rounds = o.max_rounds;
  c.grace_s = o.grace_s;
  c.recheck_every = std::max(0, o.recheck_every);
  if (!o.register_as.empty()) {
    INLOOP_RETURN_IF_ERROR(registry::CheckModelName(o.register_as));
    c.register_as = o.register_as;
  }
  c.eval_fingerprint = EvalFingerprint(c);
  c.created_at = Now();
  fs::create_directories(paths.dir, ec);
  if (ec) return Status::Io(fmt::format("{}: cannot create: {}", paths.dir, ec.message()));
  for (auto& f : {paths.rounds(), paths.journal(), paths.history(), paths.state()}) {
    fs::remove(f, ec);
  }
  INLOOP_RETURN_IF_ERROR(SaveState(paths, LoopState{}));
  INLOOP_RETURN_IF_ERROR(SaveConfig(paths, c));
  *out = c;
  return Status::OK();
}

Status RunLoop(const RunOptions& o, RunSummary* out, LoopFailure* why) {
  *why = LoopFailure::kNone;
  LoopSession session(o, out);
  return session.Run(why);
}

Status LoadLoopView(const std::string& cwd, LoopView* v, LoopFailure* why) {
  *why = LoopFailure::kNone;
  Status s = GitRepo::Open(cwd, &v->repo);
  if (!s.ok()) {
    *why = LoopFailure::kNoLoop;
    return s;
  }
  v->paths.dir = v->repo.git_dir() + "/inloop-loop";
  s = LoadConfig(v->paths, &v->config);
  if (!s.ok()) {
    if (s.code() == Status::Code::kNotFound) *why = LoopFailure::kNoLoop;
    return s;
  }
  INLOOP_RETURN_IF_ERROR(LoadState(v->paths, &v->state));
  INLOOP_RETURN_IF_ERROR(LoadRounds(v->paths, &v->rounds));
  INLOOP_RETURN_IF_ERROR(LoadJournal(v->paths, &v->journal));
  if (!v->state.champion_samples.empty()) v->champion_metric = Mean(v->state.champion_samples);
  v->noise_sd = Sd(v->state.champion_samples);
  return Status::OK();
}

}  // namespace inloop::loop
