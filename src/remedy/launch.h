// Launch: how a (re)started attempt learns what the remedy decided, through three channels —
// the control file (INLOOP_CONTROL, JSON, rewritten atomically), environment variables
// (INLOOP_RESUME_FROM, INLOOP_SKIP, INLOOP_LR_SCALE, INLOOP_MICRO_BATCH) and the templated
// arguments of [remedy] appended to the command. Values come only from the remedy state (a
// checkpoint path the process announced or a file the glob found), never from log content.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "remedy/policy.h"
#include "remedy/remedy_config.h"

namespace inloop::remedy {

// The control file's content (INLOOP_CONTROL): what an attempt was started with, and an
// in-process request (the SDK's inloop.remedy_request()) when one is pending.
struct ControlFile {
  int attempt = 1;
  std::string action;  // "start" for the first attempt
  RemedyState state;   // checkpoint, skip windows, lr scale, micro batch of the attempt
  struct Live {
    int64_t seq = 0;
    Plan plan;
    std::vector<SkipWindow> skip_windows;  // every window in effect after the plan, in order
  };
  std::optional<Live> live;
};

// {"attempt", "action", "resume_from", "resume_step", "skip_windows", "skip" (the last window),
// "lr_scale", "micro_batch"} and, with a live request, "live": {"seq", "action", "resume_from",
// "resume_step", "skip_windows", "lr_scale", "micro_batch"}; a newline at the end.
std::string ControlJson(const ControlFile& c);

struct Launch {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // INLOOP_CONTROL and the remedy values
  ControlFile control;
};

// The launch of attempt `attempt` (1 = the first) of `command` after `action` ("start" for the
// first attempt), with the control file at `control_path`.
Launch BuildLaunch(const std::vector<std::string>& command, const RemedyConfig& config,
                   const RemedyState& state, int attempt, std::string_view action,
                   const std::string& control_path);

// An attempt's control file with the in-process request for `plan` added; `before` is the remedy
// state before the plan (its skip windows stay in effect).
ControlFile WithLiveRequest(ControlFile control, const Plan& plan, const RemedyState& before,
                            int64_t seq);

// "S:T,S2:T2"
std::string SkipText(const std::vector<SkipWindow>& windows);

// Whether the command's script reads its remedies without the SDK telling inloop so: a file named
// in the command (relative to `cwd`; regular, at most 4 MiB, text) mentions INLOOP_SKIP or
// INLOOP_CONTROL. The only file-system read of this header; a missing file is false.
bool ScriptReadsRemedies(const std::vector<std::string>& command, const std::string& cwd);

}  // namespace inloop::remedy
