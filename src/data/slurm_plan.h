// SlurmPlan: which steps of a pipeline `inloop data run --slurm` submits, and after which jobs
// (docs/data.md, "On a Slurm cluster"). Pure: no clock, no files, no Slurm; the driver
// (slurm_executor.h) asks Next() for an action, carries it out, and reports back.
//
// Dependencies are Slurm's: a step whose inputs come from a step that is submitted now, or whose
// job from an earlier `data run --slurm` is still queued or running, is submitted at once with
// --dependency=afterok on those jobs (and --kill-on-invalid-dep=yes, so a failed step's job
// cancels its dependents). The pipeline then goes on without the driver, and each job records
// its own step (slurm_step.h). A step whose dependencies are all up to date is assessed first
// (its cache key against the manifest) and submitted only when stale. A step that still has a
// live job is never submitted twice.
#pragma once

#include <string>
#include <vector>

namespace inloop::data {

enum class PlanState {
  kUnknown,    // not decided yet
  kUpToDate,   // assessed: nothing to do
  kInFlight,   // a job of an earlier submission is queued or running
  kSubmitted,  // submitted now
  kFailed,     // could not be assessed (a missing input) or submitted
  kBlocked,    // a step it depends on failed
};
const char* PlanStateName(PlanState s);

struct PlanAction {
  enum class Kind { kAssess, kSubmit, kDone };
  Kind kind = Kind::kDone;
  int step = -1;
  std::vector<std::string> after;  // kSubmit: the job ids it waits for (afterok)
};

struct PlannedStep {
  PlanState state = PlanState::kUnknown;
  std::string job_id;  // kInFlight, kSubmitted
  std::vector<std::string> after;
  std::string reason;  // why it is submitted, failed or blocked
};

class SlurmPlan {
 public:
  // names[i]: step i's name; deps[i]: the steps producing step i's inputs; order: the selected
  // steps, topologically.
  SlurmPlan(std::vector<std::string> names, std::vector<std::vector<int>> deps, std::vector<int> order);

  // Before the first Next(): step i has a live job from an earlier submission.
  void InFlight(int step, const std::string& job_id);

  // The next thing to do; kDone when every selected step is settled.
  PlanAction Next();

  // Replies to kAssess: up to date, or stale with why; or the step could not be assessed.
  void Assessed(int step, bool up_to_date, const std::string& stale_reason);
  void AssessFailed(int step, const std::string& reason);
  // Replies to kSubmit.
  void Submitted(int step, const std::string& job_id);
  void SubmitFailed(int step, const std::string& reason);

  const PlannedStep& step(int i) const { return steps_[static_cast<size_t>(i)]; }
  const std::vector<int>& order() const { return order_; }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<int>> deps_;
  std::vector<int> order_;
  std::vector<PlannedStep> steps_;
  std::vector<bool> asked_;     // an action for it is out
  std::vector<int> to_submit_;  // assessed stale: submitted next, with no dependency
};

// What became of a submitted step once its job has left the queue (or while it is in it), from
// what the job recorded (`recorded_state`: "", "running", "ran", "up_to_date", "failed",
// "invalid") and whether the queue still lists it (`queue_state`: "" when not, else Slurm's
// PENDING/RUNNING/...). `dep_failed`: the name of a step it waits for that did not succeed.
struct JobView {
  std::string state;   // queued, running, ran, up_to_date, failed, invalid, blocked, lost
  std::string reason;
  bool settled = false;  // no longer in the queue
};
JobView ViewJob(const std::string& recorded_state, const std::string& recorded_reason,
                const std::string& queue_state, const std::string& dep_failed);

}  // namespace inloop::data
