// The Slurm jobs of a project's pipeline steps, kept at DATA_DIR/slurm_jobs.json (docs/data.md):
// per step its latest job, written by the driver when it submits the job and by the job itself
// when it starts and when it has recorded the step, always under the data lock (manifest.h), as
// the driver and several jobs change it at once. `inloop data status` and `inloop data run
// --slurm` read it with the queue (squeue) to tell queued and running steps from finished ones.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::data {

struct StepJob {
  std::string job_id;
  // "submitted" (by the driver), "running" (the job started), then what the job recorded:
  // "ran", "up_to_date", "failed", "invalid"
  std::string state;
  std::string reason;
  std::string run_id;
  std::vector<std::string> after;  // the jobs it waited for (afterok)
  double submitted_at = 0;
  double updated_at = 0;
};

using StepJobs = std::map<std::string, StepJob>;  // by step name

std::string StepJobsJson(const StepJobs& jobs);
Status ParseStepJobs(const std::string& text, StepJobs* jobs);

// A missing file is no jobs. Read without the lock is fine for a look (writes are atomic).
Status LoadStepJobs(const std::string& data_dir, StepJobs* jobs);

// Under the data lock: `step`'s entry becomes `job` (the driver, just after sbatch). When the job
// has already started and written its entry (a fast scheduler), its state is kept.
Status RecordStepJob(const std::string& data_dir, const std::string& step, const StepJob& job);

// Under the data lock: job `job_id` (running `step`) sets the entry's state, reason and run; an
// entry of another job, or none, is replaced by this job's (the newest job to touch a step owns it).
Status UpdateStepJob(const std::string& data_dir, const std::string& step, const std::string& job_id,
                     const std::string& state, const std::string& reason, const std::string& run_id,
                     double now);

// The queue's view of `job_ids`: job id -> Slurm state (PENDING, RUNNING, ...) for those it still
// lists (`squeue --me`, a fixed argv). Io when squeue cannot be run or fails.
Status QueueStates(const std::vector<std::string>& job_ids, std::map<std::string, std::string>* states);

// Whether the records show the job as not finished ("submitted" or "running"): only the queue can
// tell whether it still is.
bool IsLive(const StepJob& job);

// The queue's view (QueueStates) of the live jobs of `steps` (names): job id -> Slurm state for
// those it still lists. The queue is not asked when none of them is live.
Status QueueOfLiveJobs(const StepJobs& jobs, const std::vector<std::string>& steps,
                       std::map<std::string, std::string>* states);

// Invalid naming the first of `steps` whose Slurm job (per the records and the queue) is still
// queued or running: a local run must not build a step a job is building. No records, or no
// live ones, is OK without asking the queue; a queue that cannot be read is OK with a warning.
Status RefuseLiveJobs(const std::string& data_dir, const std::vector<std::string>& steps);

}  // namespace inloop::data
