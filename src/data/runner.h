// The pipeline runner behind `inloop data run` and `inloop data status` (docs/data.md). A step
// is up to date when its cache key (SHA-256 of the expanded argv, the declared environment
// variables and every input's content hash) equals the manifest's, its last run passed, and its
// outputs still hold the recorded content. Out-of-date steps run as `inloop run` children (each a
// supervised run with its logs and events in the store) up to `jobs` at a time, in DAG order;
// their outputs are then hashed and validated, the check results recorded as "data_check"
// events on the step's run, and the step's record committed to the manifest (step_exec.h;
// `inloop data run --slurm` runs the same sequence in one Slurm job per step, slurm_executor.h).
// A failed command or a failed error-severity check stops the steps that depend on it (others go
// on); earlier outputs are left as they are, so the next run resumes at the failed step. The
// caller's thread does everything but the children; one pipeline run per project at a time (an
// flock on .inloop/data/lock, else Invalid), and none while a Slurm job builds one of its steps.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/check_result.h"
#include "data/dag.h"
#include "data/manifest.h"
#include "data/quarantine.h"
#include "data/step_spec.h"

namespace inloop::data {

struct RunOptions {
  std::string project_dir = ".";  // where inloop.toml is; paths are relative to it
  std::string store_dir;
  std::string config_path;        // passed on to `inloop run --config`
  std::string inloop_exe;         // the binary that runs `inloop run`
  int jobs = 1;
  std::vector<std::string> targets;  // step names; empty: all
  bool progress = true;  // a line on stderr per step start and end
  bool color = false;
};

struct StepOutcome {
  std::string name;
  // "up_to_date", "ran" (built and passed), "failed" (the command), "invalid" (an error check
  // failed), "blocked" (a step it depends on did not succeed)
  std::string state;
  std::string reason;  // why it ran, failed or was blocked
  std::string run_id;
  std::string job_id;  // --slurm: the step's Slurm job
  int exit_code = 0;
  double seconds = 0;
  std::vector<CheckResult> checks;
  std::vector<OutputRecord> outputs;
};

struct PipelineOutcome {
  std::vector<StepOutcome> steps;  // in DAG order
  bool ok = true;  // no step failed, was invalid or blocked
};

// Problems of the pipeline itself (a cycle, a missing producer, an unknown step, a bad template)
// are a non-OK Status with nothing run; everything about steps is in the outcome.
Status RunPipeline(const PipelineSpec& spec, const RunOptions& opts, PipelineOutcome* out);

// The DAG and the steps `targets` select (with what they depend on), checked before anything runs:
// source inputs exist, command templates expand. What RunPipeline does first.
Status PreparePipeline(const PipelineSpec& spec, const std::vector<std::string>& targets,
                       const std::string& project_dir, Dag* dag, std::vector<int>* selected);

// Takes the project's pipeline lock (DATA_DIR/lock, not waited for: Invalid when another
// `inloop data run` holds it); close(*fd) releases it.
Status LockPipeline(const std::string& project_dir, int* fd);

struct StepStatus {
  std::string name;
  bool up_to_date = false;
  std::string reason;  // why it is stale ("" when up to date)
  std::string run_id;  // of the last build
  std::string last_status;
  std::string job_id;     // its latest Slurm job (data run --slurm), "" when none
  std::string job_state;  // queued, running, or what the job recorded (slurm_plan.h ViewJob)
  std::string job_reason;
};

// The state of every step (or of `targets` and their dependencies) without running anything.
Status PipelineStatus(const PipelineSpec& spec, const std::string& project_dir,
                      const std::vector<std::string>& targets, std::vector<StepStatus>* out);

// The parts of a step's cache key, and why the manifest's record does not match them.
struct StepKey {
  std::string key, command_hash, env_hash;
  std::vector<std::pair<std::string, std::string>> inputs;  // path, sha256
  std::vector<std::string> argv;
};
// Fills `key` (hashing inputs through the manifest's stat cache) and returns in `stale_reason`
// why the step must run ("" when it is up to date). NotFound when an input is missing.
// `quarantine` (may be null): the records to drop from its outputs, part of the key.
Status AssessStep(const StepSpec& step, const std::string& project_dir, Manifest* m, StepKey* key,
                  std::string* stale_reason, const QuarantineList* quarantine = nullptr);

}  // namespace inloop::data
