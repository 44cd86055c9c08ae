// One pipeline step inside a Slurm job: what `inloop data exec-step STEP` does as the body of the
// jobs `inloop data run --slurm` submits (docs/data.md). The same sequence as the local runner
// gives a step once its dependencies are done: assess its cache key (up to date: nothing runs, as
// when a rebuilt input came out the same), run its command under `inloop run` (a run with logs
// and events in the store), hash and validate its outputs, record the events and commit the
// step's record to the manifest (step_exec.h). The job's entry in slurm_jobs.json says "running",
// then the result, so nothing depends on the submitting driver staying alive. A step that did not
// succeed makes the job fail, and Slurm cancels the jobs that wait for it (afterok).
#pragma once

#include <string>

#include "common/status.h"
#include "data/runner.h"
#include "data/step_spec.h"

namespace inloop::data {

// Runs step `name` of `spec` (its dependencies' outputs must be there). `job_id`: the Slurm job
// (SLURM_JOB_ID), "" when run by hand (no job record then). NotFound: no such step; everything
// about the step itself is in `out` (state "ran", "up_to_date", "failed" or "invalid").
Status ExecStep(const PipelineSpec& spec, const std::string& name, const RunOptions& opts,
                const std::string& job_id, StepOutcome* out);

}  // namespace inloop::data
