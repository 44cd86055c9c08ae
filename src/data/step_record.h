// What the runner records about a finished step: its outputs validated (with the previous
// version's profile for drift, and this version's profile saved for the next), the results as
// "data_check" events and a "data_step" event on the step's run, and the run itself found in the
// store. Only the Store's public API (runs, events, tags).
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "data/check_result.h"
#include "data/manifest.h"
#include "data/step_spec.h"

namespace inloop::data {

// The id of the newest run named `name` whose supervisor was `pid`, "" when none.
std::string FindStepRun(const std::string& store_dir, const std::string& name, pid_t pid);

// Validates every declared output of `step` (rec.outputs hold their new hashes).
void ValidateStep(const StepSpec& step, const std::string& project_dir, const std::string& data_dir,
                  const StepRecord& rec, std::vector<CheckResult>* results);

// "data_step" and one "data_check" per result on rec.run_id, and the tag "data-step". Best effort:
// a store problem is printed, never fatal to the pipeline.
void RecordStepEvents(const std::string& store_dir, const StepSpec& step, const StepRecord& rec,
                      const std::vector<CheckResult>& results);

// "<check> on <output>: <message>" of the first failed error check.
std::string FirstFailure(const std::vector<CheckResult>& results);

}  // namespace inloop::data
