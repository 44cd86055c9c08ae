// One step's build, shared by the local runner (runner.h) and a Slurm job running one step
// (slurm_step.h): the step's command started as an `inloop run` child (a supervised run with its
// logs and events in the store), then, once it exited, its outputs quarantined, hashed and
// validated, the results recorded as events on its run and the step's record committed to the
// manifest under the data lock (CommitStep), so that processes finishing steps at once do not
// lose each other's records.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "data/manifest.h"
#include "data/quarantine.h"
#include "data/runner.h"
#include "data/step_spec.h"

namespace inloop::data {

// Starts `inloop run --name data.STEP --policy observe -- ARGV` in the project directory, its
// output in DATA_DIR/logs/STEP.log. `extra_env` is added to the child's environment.
Status StartStepRun(const StepSpec& step, const StepKey& key, const RunOptions& opts,
                    const std::vector<std::pair<std::string, std::string>>& extra_env, pid_t* pid);

// Everything after the child `pid` exited with `exit_code`: fills `o` (state "ran", "failed" or
// "invalid", reason, run, outputs, checks, seconds since `started`), records the events and
// commits the step's record; `m` (the caller's manifest: previous versions, the hash cache) gets
// the new record too.
void FinishStepRun(const StepSpec& step, const StepKey& key, pid_t pid, int exit_code,
                   double started, const RunOptions& opts, const QuarantineList& q, Manifest* m,
                   StepOutcome* o);

// Seconds since the epoch.
double NowSeconds();

// The progress line of one step on stderr: "data: NAME  STATE (DETAIL)", the state green when
// done or up to date, cyan while running, submitted or in flight, red otherwise (`color`).
void PrintStepState(std::string_view name, std::string_view state, std::string_view detail,
                    bool color);

}  // namespace inloop::data
