// Policy: decides what to do about a failure of a supervised run — resume, rollback_skip, lr_cut,
// shrink_batch or stop — from the failure, the run's remedy history (the escalation ladder) and
// its checkpoints. Pure decisions: Decide() changes nothing; Apply() records a plan that was
// carried out. The supervisor owns the process, the mode (auto/ask/observe) and the timeline.
//
// Ladders (docs/remedy.md): a loss anomaly (non-finite, spike, divergence) is rolled back with its
// data window skipped, then, when an anomaly recurs after a rollback, rolled back with the
// learning rate cut. A crash or hang is resumed (with backoff), then, at the same step again,
// rolled back past that step's data. Out-of-memory halves the micro-batch. A failure a restart
// cannot fix (full disk, a bug), the same failure at the same step after every remedy of its
// ladder, or max_restarts reached: stop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detect/crash_classifier.h"
#include "detect/finding.h"
#include "remedy/checkpoints.h"
#include "remedy/remedy_config.h"

namespace inloop::remedy {

// kWithhold: a remedy was due but none is sound (a loss spike or divergence with no good
// checkpoint to return to, and restart_from_scratch off): recorded, the process is left alone.
enum class ActionKind { kResume, kRollbackSkip, kLrCut, kShrinkBatch, kStop, kWithhold };
std::string_view ActionName(ActionKind a);  // "resume", "rollback_skip", "lr_cut", ..., "withhold"

enum class Family {
  kLoss,   // a loss anomaly in a live process
  kCrash,  // the process died and a restart may help
  kHang,   // the process stopped making progress
  kOom,    // out of memory: only a smaller batch helps
  kFatal,  // a restart cannot help (full disk, a bug in the code)
};
std::string_view FamilyName(Family f);

struct Failure {
  Family family = Family::kCrash;
  std::string trigger;          // finding kind ("loss_spike") or crash class ("cuda_oom")
  std::optional<int64_t> step;  // onset step (anomaly) or last step seen (crash, hang)
  // Last step whose data may be to blame: the onset for an anomaly; for a crash or hang the step
  // after the last one logged (what ran when it died), when known.
  std::optional<int64_t> step_hi;
  bool process_alive = false;
  std::string detail;  // one line: the finding's message or the crash summary
};

// The failure a finding stands for, when the policy acts on that kind of finding (rollback_on;
// non-finite only for loss series). Updates (is_update) never are.
std::optional<Failure> FailureFromFinding(const detect::Finding& f, bool loss_series,
                                          const RemedyConfig& config);
Failure FailureFromCrash(const detect::CrashReport& c, std::optional<int64_t> last_step,
                         std::optional<int64_t> step_gap);
Failure FailureFromHang(const detect::Finding& f, std::optional<int64_t> last_step,
                        std::optional<int64_t> step_gap);

using SkipWindow = std::pair<int64_t, int64_t>;  // [from, to) in steps

// What every restarted attempt is told (cumulative over the run's remedies).
struct RemedyState {
  std::vector<SkipWindow> skip_windows;  // in the order applied
  std::optional<double> lr_scale;        // set once an lr_cut happened
  std::optional<int> micro_batch;        // set once a shrink happened
  std::optional<Checkpoint> checkpoint;  // of the latest restart
  int64_t resume_step = 0;               // its step; 0 from scratch
  int restarts = 0;
};

struct Plan {
  ActionKind action = ActionKind::kStop;
  Failure failure;
  std::string reason;                    // one line: what and why, with the ladder position
  std::optional<Checkpoint> checkpoint;  // restart point; none: from scratch
  int64_t resume_step = 0;               // checkpoint step, or 0
  std::optional<SkipWindow> new_skip;    // rollback_skip's window
  double lr_scale = 1;                   // in effect after the plan
  std::optional<int> micro_batch;        // in effect after the plan, when known
  double delay_seconds = 0;              // backoff before restarting
  // False when new_skip cannot reach the program (no skip_args, no SDK acknowledgement, no
  // INLOOP_SKIP/INLOOP_CONTROL in its script): the rollback is then a plain `resume` from the
  // checkpoint, and its skip window (still passed on) is marked not deliverable.
  bool skip_deliverable = true;
  bool restarts_process() const {
    return action != ActionKind::kStop && action != ActionKind::kWithhold;
  }
};

class Policy {
 public:
  // `run_dir` is where the command runs (relative checkpoint globs start there).
  Policy(RemedyConfig config, const std::string& run_dir);

  Plan Decide(const Failure& f) const;
  // The plan was carried out: a new attempt starts with it.
  void Apply(const Plan& p);
  // A run continued by another supervisor (a requeued Slurm job): its next attempt starts with
  // `state` (restored from the run's timeline), without a step on the escalation ladder.
  void Restore(const RemedyState& state);

  // A param the process reported (the micro-batch is learned from one).
  void OnParam(std::string_view key, std::string_view value);
  // Whether a skip window can reach the program (besides skip_args, which always can): the SDK
  // acknowledged reading its remedies, or its script reads INLOOP_SKIP / INLOOP_CONTROL.
  void SetSkipReachable(bool reachable) { skip_reachable_ = reachable; }
  bool SkipDeliverable() const { return !config_.skip_args.empty() || skip_reachable_; }

  CheckpointBook& checkpoints() { return book_; }
  const RemedyState& state() const { return state_; }
  const RemedyConfig& config() const { return config_; }
  // The micro-batch in effect, when known (a shrink, a reported param, or the config).
  std::optional<int> MicroBatch() const;

 private:
  struct Past {
    Family family;
    std::optional<int64_t> step;
    ActionKind action;
  };
  bool SameStep(const Past& p, Family family, std::optional<int64_t> step) const;
  double Backoff() const;
  // Turns a rollback_skip whose window cannot reach the program into a plain resume.
  void Undeliverable(Plan* p, const Failure& f, std::string_view again) const;

  RemedyConfig config_;
  CheckpointBook book_;
  RemedyState state_;
  std::vector<Past> history_;
  std::optional<int> reported_micro_;
  bool skip_reachable_ = true;  // until the supervisor says otherwise
};

}  // namespace inloop::remedy
