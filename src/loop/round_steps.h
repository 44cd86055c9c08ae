// The steps of one candidate round, shared by the sequential loop (loop_runner.cc), the slots of
// `loop run --parallel N` (parallel_slot.h) and `loop submit`: one supervised training run with
// the loop's budget, the seeds-until-the-gate-decides measurement, the guard rails over a staged
// change, and the round's records in the store. None of them prints: progress goes to `say`.
#pragma once

#include <pthread.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loop/gate.h"
#include "loop/git_repo.h"
#include "loop/loop_state.h"

namespace inloop::loop {

using SayFn = std::function<void(const std::string&)>;

double NowSeconds();
double MeanOf(const std::vector<Sample>& v);              // NaN when empty
std::optional<double> SdOf(const std::vector<Sample>& v);  // needs >= 2 samples
std::string ReplaceAll(std::string s, const std::string& from, const std::string& to);
GateConfig GateOf(const LoopConfig& c);
// The one-sided p-value of the decision's gain exceeding min_gain (pooled t with its df); none
// when the noise is unknown (one sample on a side).
std::optional<double> GatePValue(const GateDecision& d, const GateConfig& g);

// One training run's result.
struct RunResult {
  std::string run_id;
  bool ok = false;
  bool interrupted = false;
  double value = 0;
  std::string reason;  // why it failed
  bool tampered = false;  // the metric came from elsewhere than the evaluation (tamper.h)
};

// One supervised run of the loop's command (templates filled) in the process's current
// directory, stopped at the budget by a SIGTERM to `signal_thread` (the supervisor forwards it).
// `extra_env` is added to the run's environment (CUDA_VISIBLE_DEVICES of a slot).
RunResult RunOnce(const LoopConfig& cfg, int64_t round, int64_t seed, const ParamValues& params,
                  const std::string& label, pthread_t signal_thread,
                  const std::vector<std::pair<std::string, std::string>>& extra_env = {});

// Runs seeds seed_base, seed_base+1, ... until the gate (against `champion`) decides or
// max_seeds runs were made, filling rec's samples, run ids, metric, gain, threshold, noise,
// verdict and reason (kKept / kDiscarded / kFailed). *interrupted: a run was stopped by the
// user (rec's verdict then stays empty). `after_run` is called after each run (the journal).
struct MeasureOptions {
  const LoopConfig* cfg = nullptr;
  GateConfig gate;
  std::vector<double> champion;
  int64_t round = 0;
  ParamValues params;
  std::string label;
  pthread_t signal_thread{};
  std::vector<std::pair<std::string, std::string>> extra_env;
  SayFn say;
  std::function<void()> after_run;
  // After each run: true when the evaluation was tampered with (it then set rec's verdict to
  // kTampered with the evidence); null: no evaluation declared.
  std::function<bool(RoundRecord*)> evaluation_changed;
};
std::optional<GateDecision> MeasureCandidate(const MeasureOptions& o, RoundRecord* rec,
                                             bool* interrupted);

// Guard rails over the change in `repo` against `base` (everything staged first): the diff is
// saved in the store, then the evaluation (tamper.h: kTampered), protected paths, the diff-size
// limit, "changed nothing" (unless `allow_empty`, the search's rounds) and the diff audit may
// set rec's verdict to kRejected (the audit's evaluation rules: kTampered).
Status CheckChange(const GitRepo& repo, const LoopPaths& paths, const LoopConfig& cfg,
                   const std::string& base, bool allow_empty, const SayFn& say, RoundRecord* rec);

// Tamper-evidence (tamper.h) of a round: the evaluation as declared at init (files, settings, the
// loop's config on disk, put back when edited) and the round's changed paths. True (verdict
// `tampered`, the evidence on the record) when anything changed.
bool CheckEvaluation(const LoopPaths& paths, const LoopConfig& cfg, const std::string& repo_top,
                     RoundRecord* rec);

// history.json for the agent: the loop, the champion and every finished round; written to
// `path` when given (a slot's own copy), else paths.history().
Status WriteLoopHistory(const LoopPaths& paths, const LoopConfig& cfg, const LoopState& st,
                        int64_t round, const std::string& path = "");

// The commit message of a kept round (its trailers name round, run, metric, gain, parent).
std::string KeptCommitMessage(const LoopConfig& cfg, const RoundRecord& rec);

// The round's records in the store: the gate's verdict event (`loop_verdict`) and the finished
// round (`loop_round`, so `inloop serve` can draw the loop without reading this repository).
void AddVerdictEvent(const LoopConfig& cfg, const GateConfig& gate,
                     const std::vector<Sample>& champion, const RoundRecord& rec,
                     const GateDecision* d);
void RecordRoundInStore(const LoopConfig& cfg, const RoundRecord& rec);

}  // namespace inloop::loop
