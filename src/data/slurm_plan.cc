// The submission plan of `inloop data run --slurm` (slurm_plan.h).
#include "data/slurm_plan.h"

#include <utility>

#include <fmt/format.h>

namespace inloop::data {

const char* PlanStateName(PlanState s) {
  switch (s) {
    case PlanState::kUnknown: return "unknown";
    case PlanState::kUpToDate: return "up_to_date";
    case PlanState::kInFlight: return "in_flight";
    case PlanState::kSubmitted: return "submitted";
    case PlanState::kFailed: return "failed";
    case PlanState::kBlocked: return "blocked";
  }
  return "unknown";
}

SlurmPlan::SlurmPlan(std::vector<std::string> names, std::vector<std::vector<int>> deps,
                     std::vector<int> order)
    : names_(std::move(names)),
      deps_(std::move(deps)),
      order_(std::move(order)),
      steps_(deps_.size()),
      asked_(deps_.size(), false) {}

void SlurmPlan::InFlight(int step, const std::string& job_id) {
  PlannedStep& s = steps_[static_cast<size_t>(step)];
  s.state = PlanState::kInFlight;
  s.job_id = job_id;
  s.reason = fmt::format("job {} of an earlier submission is still queued or running", job_id);
}

PlanAction SlurmPlan::Next() {
  if (!to_submit_.empty()) {
    PlanAction a;
    a.kind = PlanAction::Kind::kSubmit;
    a.step = to_submit_.front();
    to_submit_.erase(to_submit_.begin());
    return a;
  }
  for (int i : order_) {
    PlannedStep& s = steps_[static_cast<size_t>(i)];
    if (s.state != PlanState::kUnknown || asked_[static_cast<size_t>(i)]) continue;
    std::vector<std::string> after;
    bool undecided = false;
    int blocked_by = -1;
    for (int d : deps_[static_cast<size_t>(i)]) {
      const PlannedStep& ds = steps_[static_cast<size_t>(d)];
      if (ds.state == PlanState::kUnknown) undecided = true;
      if (ds.state == PlanState::kInFlight || ds.state == PlanState::kSubmitted) after.push_back(ds.job_id);
      if ((ds.state == PlanState::kFailed || ds.state == PlanState::kBlocked) && blocked_by < 0) blocked_by = d;
    }
    if (blocked_by >= 0) {
      s.state = PlanState::kBlocked;
      s.reason = fmt::format("step '{}' did not succeed", names_[static_cast<size_t>(blocked_by)]);
      continue;
    }
    // A dependency with its action still out: this step's turn comes when it is answered.
    if (undecided) continue;
    asked_[static_cast<size_t>(i)] = true;
    PlanAction a;
    a.step = i;
    if (after.empty()) {
      a.kind = PlanAction::Kind::kAssess;
    } else {
      // Its inputs are not built yet: it cannot be assessed now; its job assesses it when it runs.
      a.kind = PlanAction::Kind::kSubmit;
      s.after = after;
      s.reason = "a step it depends on is being built";
      a.after = std::move(after);
    }
    return a;
  }
  return PlanAction{};
}

void SlurmPlan::Assessed(int step, bool up_to_date, const std::string& stale_reason) {
  PlannedStep& s = steps_[static_cast<size_t>(step)];
  if (up_to_date) {
    s.state = PlanState::kUpToDate;
    s.reason.clear();
    return;
  }
  s.reason = stale_reason;
  to_submit_.push_back(step);
}

void SlurmPlan::AssessFailed(int step, const std::string& reason) {
  PlannedStep& s = steps_[static_cast<size_t>(step)];
  s.state = PlanState::kFailed;
  s.reason = reason;
}

void SlurmPlan::Submitted(int step, const std::string& job_id) {
  PlannedStep& s = steps_[static_cast<size_t>(step)];
  s.state = PlanState::kSubmitted;
  s.job_id = job_id;
}

void SlurmPlan::SubmitFailed(int step, const std::string& reason) {
  PlannedStep& s = steps_[static_cast<size_t>(step)];
  s.state = PlanState::kFailed;
  s.reason = reason;
}

JobView ViewJob(const std::string& recorded_state, const std::string& recorded_reason,
                const std::string& queue_state, const std::string& dep_failed) {
  JobView v;
  bool final_state = recorded_state == "ran" || recorded_state == "up_to_date" ||
                     recorded_state == "failed" || recorded_state == "invalid";
  if (!queue_state.empty()) {
    if (final_state) {
      v.state = recorded_state;
      v.reason = recorded_reason;
    } else if (queue_state == "PENDING" || queue_state == "REQUEUED" || queue_state == "REQUEUE_HOLD" ||
               queue_state == "REQUEUE_FED" || queue_state == "SUSPENDED") {
      v.state = "queued";
      v.reason = queue_state;
    } else {
      v.state = "running";
      v.reason = queue_state;
    }
    return v;
  }
  v.settled = true;
  if (final_state) {
    v.state = recorded_state;
    v.reason = recorded_reason;
  } else if (recorded_state == "running") {
    v.state = "lost";
    v.reason = "the job ended before it recorded the step (killed, out of time or memory: see its "
               "Slurm output)";
  } else if (!dep_failed.empty()) {
    v.state = "blocked";
    v.reason = fmt::format("step '{}' did not succeed", dep_failed);
  } else {
    v.state = "lost";
    v.reason = "the job left the queue without running the step (cancelled?)";
  }
  return v;
}

}  // namespace inloop::data
