// `inloop data run --slurm` (docs/data.md, "On a Slurm cluster"): every out-of-date step is
// submitted as a Slurm job whose body is `inloop data exec-step STEP` (slurm_step.h), in the
// order and with the dependencies SlurmPlan decides: a step after steps being built waits for
// their jobs with --dependency=afterok (and --kill-on-invalid-dep=yes, so a failed step's job
// cancels what depends on it); up-to-date steps are skipped as locally, and a step whose job from
// an earlier submission is still queued or running is not submitted again. The driver only
// submits: each job records its own step, so the pipeline goes on when the driver exits. With
// `wait` it then polls the queue until the jobs are gone and reports what they recorded.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/runner.h"
#include "data/step_spec.h"

namespace inloop::data {

struct SlurmOptions {
  std::string partition;   // --partition (empty: the cluster's default)
  std::string time;        // --time per step (empty: the partition's default)
  std::string script_dir;  // where the sbatch scripts and the jobs' output go (default DATA_DIR/slurm)
  bool wait = false;       // poll the queue until every submitted job has left it
  double poll_seconds = 1;
};

// Submits what is out of date. Outcome states: "up_to_date", "submitted" (job_id set),
// "in_flight" (an earlier job), "failed" (could not be assessed or submitted), "blocked"; with
// `wait`, what the jobs recorded instead of "submitted"/"in_flight": "ran", "up_to_date",
// "failed", "invalid", "blocked" (cancelled after a failed dependency) or "lost" (the job ended
// without recording its step). `ok` is false when any step did not end up built or up to date
// (without `wait`: failed or blocked at submission).
Status SubmitPipeline(const PipelineSpec& spec, const RunOptions& opts, const SlurmOptions& so,
                      PipelineOutcome* out);

// Adds each step's latest Slurm job (slurm_jobs.json with the queue) to `status`. A queue that
// cannot be read leaves job_state as recorded, with a warning on stderr.
void AddJobStatus(const PipelineSpec& spec, const std::string& project_dir, std::vector<StepStatus>* status);

}  // namespace inloop::data
