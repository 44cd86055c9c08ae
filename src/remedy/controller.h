// Controller: the remedy state machine of one supervised run, in one place for both paths — a
// failure of the live process (a finding, a hang) and a process that exited on its own. It holds
// the mode (auto/ask/observe), the pending approval, the restart decided during an attempt, the
// spike patience, the outcome watch of the latest remedy and the policy's ladder.
//
// Pure, in the style of gateway/autoscaler: no clock reads, no I/O, no processes (the checkpoint
// book's file checks aside, which are injectable: CheckpointBook::SetExists). The supervisor feeds
// it inputs (findings, steps, loss points, SDK messages, the process's exit, approvals, an
// interrupt, time) and carries out the commands it queues, in order (Take()). Replay tests drive
// it through whole scenarios without a process.
//
// Commands go to a CommandSink as they are decided, in order; the sink answers kRecordAction with
// the id the store gave the action (0 when it could not be recorded), and that id is all the
// controller learns from it. The supervisor's sink carries the commands out; a test's records them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "detect/crash_classifier.h"
#include "detect/finding.h"
#include "detect/series_class.h"
#include "remedy/policy.h"
#include "remedy/remedy_config.h"
#include "remedy/spike_patience.h"
#include "remedy/timeline.h"

namespace inloop::remedy {

enum class CommandKind {
  kKill,            // SIGTERM the process group now (SIGKILL after stop_grace_seconds)
  kRecordAction,    // add an action record (`record`, `state`, decided by `by`); answer its id
  kSetActionState,  // action `action_id` is now `state`, decided by `by`
  kEvent,           // write `event` on the timeline
  kSay,             // one line to the user on stderr
  kAskApproval,     // tell the user how to approve or deny action `action_id` (ask mode)
  kRestart,         // start attempt `attempt` with the policy's state after `plan`
  kEnd,             // the run ends with `status` (and `stop_reason` when the policy ended it)
  kDeliver,         // ask the live process to apply `plan` in place: request `seq` (the SDK's
                    // inloop.remedy_request()), for action `action_id`
  kRewind,          // the live process applied `plan` in place: judge it from plan.resume_step
};
std::string_view CommandName(CommandKind k);

struct Command {
  CommandKind kind = CommandKind::kSay;
  int64_t action_id = 0;  // kSetActionState, kAskApproval
  Plan plan;              // kRecordAction, kAskApproval, kRestart
  ActionData record;      // kRecordAction: the action record's data (no action id)
  std::string state;      // kRecordAction / kSetActionState: store::kAction* text
  std::string by;         // who decided ("policy", "interrupted", "exit"); empty: nobody yet
  TimelineEvent event;    // kEvent
  std::string text;       // kSay; kRestart: the attempt's reason; kEnd: the status
  int attempt = 0;        // kRestart
  int64_t seq = 0;        // kDeliver
};

class CommandSink {
 public:
  virtual ~CommandSink() = default;
  // Carries out `c`. kRecordAction: returns the action's id (0: not recorded); otherwise 0.
  virtual int64_t Execute(const Command& c) = 0;
};

// How the attempt's process ended, as the supervisor saw it.
struct ExitInput {
  int exit_code = 0;  // 128+signal when killed
  // The classified exit, when the process died on its own (DiedOnItsOwn was true).
  std::optional<detect::CrashReport> crash;
  double now = 0;  // seconds (any epoch, the same as Tick's)
};

class Controller {
 public:
  // `run_dir`: where the command runs (relative checkpoint globs start there).
  Controller(const RemedyConfig& config, const std::string& run_dir, CommandSink* sink);

  // ---- inputs ----
  // Attempt `number` starts (1 = the first).
  void OnAttemptStart(int number);
  // A logged step of a series (any series with a step).
  void OnStep(int64_t step);
  // A point of a training-loss series (the spike patience watches it).
  void OnLossPoint(const std::string& series, int64_t step, double value);
  // Findings in the order the detectors produced them, with their series' class.
  void OnFindings(const std::vector<std::pair<detect::Finding, detect::SeriesClass>>& findings);
  // SDK messages.
  void OnParam(std::string_view key, std::string_view value);
  void OnRemediesAcknowledged();
  void OnCheckpoint(const std::string& path, std::optional<int64_t> step);
  // In-process remedies (RemedyConfig::in_process). OnLiveReady: the process polls for them
  // (SDK inloop.remedy_request()). OnLiveApplied: it applied request `seq` in place.
  void OnLiveReady();
  void OnLiveApplied(int64_t seq);
  // The clock while the process lives (seconds, the epoch of ExitInput::now): a request not
  // applied within in_process_timeout_seconds falls back to ending the process and restarting.
  void OnClock(double now);
  // Whether the command's script reads INLOOP_SKIP / INLOOP_CONTROL itself.
  void SetSkipReachable(bool reachable) { policy_.SetSkipReachable(reachable); }
  // A person approved (true) or denied (false) action `id`, at time `now` (see Tick).
  void OnDecision(int64_t id, bool approved, double now);
  // A signal asks inloop to stop (the supervisor forwards it to the process).
  void OnInterrupt();
  // The process is gone (reaped); what is found from here on is recorded only.
  void OnProcessGone() { process_gone_ = true; }
  // The attempt ended (its streams drained). Queues kRestart or kEnd, or waits for an approval
  // (pending_approval) or a backoff (wake_at) first.
  void OnExit(const ExitInput& exit);
  // Time passes while waiting after an exit (seconds, the epoch of ExitInput::now).
  void Tick(double now);
  // The run continues from another supervisor's attempts (`inloop run --continue-run`): the next
  // attempt starts with `state` (its checkpoint, skip windows, lr scale, micro-batch).
  void ContinueFrom(const RemedyState& state) { policy_.Restore(state); }
  // The store failed: nobody can approve anything from here on.
  void OnStoreFailed() { store_ok_ = false; }

  // Spike verdicts wait for the next OnFindings.
  bool has_work() const { return !verdicts_.empty(); }

  // ---- state ----
  // Whether a non-zero exit now would be the process dying on its own (not restarted, stopped or
  // interrupted by inloop): the supervisor then classifies it and passes the crash to OnExit.
  bool DiedOnItsOwn(int exit_code) const;
  // The action waiting for a person: while the process lives or after it exited.
  std::optional<int64_t> pending_approval() const;
  // After an exit: waiting for a person or for a backoff (feed OnDecision / Tick / OnInterrupt).
  bool waiting() const { return phase_ == Phase::kAwaitApproval || phase_ == Phase::kBackoff; }
  std::optional<double> wake_at() const { return wake_at_; }
  bool ended() const { return ended_; }
  bool policy_stopped() const { return policy_stop_; }
  const std::string& stop_reason() const { return stop_reason_; }
  const std::vector<std::string>& summary() const { return remedies_; }
  std::optional<int64_t> last_step() const { return last_step_; }
  const RemedyState& state() const { return policy_.state(); }
  CheckpointBook& checkpoints() { return policy_.checkpoints(); }
  const RemedyConfig& config() const { return policy_.config(); }

 private:
  struct Decision {
    int64_t id = 0;
    Plan plan;
  };
  struct Watch {
    int64_t id;
    std::string action;
    std::optional<int64_t> step;  // passing this step proves the remedy worked
  };
  enum class Phase { kRunning, kAwaitApproval, kBackoff, kEnded };

  void OnFinding(const detect::Finding& f, detect::SeriesClass cls);
  void OnVerdicts();
  void OnLiveFailure(const Failure& f);
  void Withheld(const Plan& p);
  Decision Propose(const Plan& p);
  void Commit(const Decision& d);
  void ApplyStop(const Decision& d, const std::string& message);
  void Applied(const Decision& d);
  void JudgeOutcome(bool passed, const std::string& how);
  void DecideAfterExit(const ExitInput& exit);
  // What a proposal leads to in the mode: the one place the modes differ.
  void Route(const Decision& d, bool live, double now);
  void RestartWhenDue(const Decision& d, double now);
  void Restart(const Decision& d);
  void End(std::string_view status);
  // In-process remedies: whether `p` can be applied by the live process, the request, and the
  // fallback to a restart when it is not applied in time (`why` says what happened; `gone`: the
  // process already ended).
  bool CanApplyInProcess(const Plan& p) const;
  void Deliver(const Decision& d);
  void FallBackToRestart(const std::string& why, bool gone);
  std::optional<int64_t> StepGap() const;

  int64_t Send(Command c);
  void Emit(TimelineEvent e);
  void Say(std::string text);
  void SetState(int64_t id, std::string_view state, std::string_view by);
  ActionData DataOf(const Plan& p, int64_t id) const;

  Policy policy_;
  Mode mode_;
  CommandSink* sink_;
  int attempt_ = 0;
  bool store_ok_ = true;
  bool process_gone_ = false;
  bool interrupted_ = false;
  bool policy_stop_ = false;
  bool ended_ = false;
  std::string stop_reason_;
  std::optional<Decision> restart_;  // decided during the attempt: restart once it has ended
  std::optional<Decision> pending_;  // ask mode, live process: waits for approve/deny
  // After an exit: the decision waiting for a person (kAwaitApproval) or for its backoff.
  Phase phase_ = Phase::kRunning;
  std::optional<Decision> after_exit_;
  std::optional<double> wake_at_;
  std::optional<int64_t> last_step_, prev_step_;
  std::optional<Watch> watch_;
  std::vector<std::string> remedies_;  // one line per applied remedy, for the summary
  SpikePatience patience_;
  std::map<std::string, Failure, std::less<>> held_;
  std::vector<SpikeVerdict> verdicts_;
  bool remedies_read_ = false;     // the SDK said the process reads its remedies
  bool skip_undelivered_ = false;  // the latest restart's skip window was not deliverable
  // In-process remedies: the process polls for them; the request in flight and its deadline.
  struct Inflight {
    Decision decision;
    int64_t seq = 0;
    double deadline = 0;
  };
  bool live_ready_ = false;
  int64_t live_seq_ = 0;
  double now_ = 0;
  std::optional<Inflight> inflight_;
};

// One line per command, for replay tests and debugging: "kill", "record 1 rollback_skip approved
// by policy", "event action_applied #1", "restart attempt 2 from step 100 skip 101..120", "end
// failed", ...
std::string Describe(const Command& c);

}  // namespace inloop::remedy
