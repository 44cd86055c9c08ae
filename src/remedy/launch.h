// Launch: how a (re)started attempt learns what the remedy decided, through three channels —
// the control file (INLOOP_CONTROL, JSON, rewritten atomically), environment variables
// (INLOOP_RESUME_FROM, INLOOP_SKIP, INLOOP_LR_SCALE, INLOOP_MICRO_BATCH) and the templated
// arguments of [remedy] appended to the command. Values come only from the remedy state (a
// checkpoint path the process announced or a file the glob found), never from log content.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "remedy/policy.h"
#include "remedy/remedy_config.h"

namespace inloop::remedy {

struct Launch {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // INLOOP_CONTROL and the remedy values
  std::string control_json;
};

// The launch of attempt `attempt` (1 = the first) of `command` after `action` ("start" for the
// first attempt), with the control file at `control_path`.
Launch BuildLaunch(const std::vector<std::string>& command, const RemedyConfig& config,
                   const RemedyState& state, int attempt, std::string_view action,
                   const std::string& control_path);

// The control file of an attempt with an in-process request added under "live" (the SDK's
// inloop.remedy_request()): {"seq", "action", "resume_from", "resume_step", "skip_windows" (every
// window in effect after the plan, in order), "lr_scale", "micro_batch"}. `control_json` is an
// attempt's Launch::control_json; `before` the remedy state before the plan.
std::string ControlWithLiveRequest(const std::string& control_json, const Plan& plan,
                                   const RemedyState& before, int64_t seq);

// "S:T,S2:T2"
std::string SkipText(const std::vector<SkipWindow>& windows);

// Whether the command's script reads its remedies without the SDK telling inloop so: a file named
// in the command (relative to `cwd`; regular, at most 4 MiB, text) mentions INLOOP_SKIP or
// INLOOP_CONTROL. The only file-system read of this header; a missing file is false.
bool ScriptReadsRemedies(const std::vector<std::string>& command, const std::string& cwd);

}  // namespace inloop::remedy
