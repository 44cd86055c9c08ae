// MCP `loop_round` {diff | branch}: an agent submits its change as one round of the research
// loop configured in the project (`inloop loop init`) and gets the gate's verdict with its
// numbers: gain, noise, seeds, p-value, the threshold, and the commit when kept. The round runs
// as `inloop loop submit` (this binary, cli/loop_slot_cmd.cc): the loop's own command under
// supervision, in a worktree of its own, judged against the champion; a kept change is
// committed on the loop's branch. Refused with the reason when no loop is initialised or another
// `inloop loop run` holds the repository. The call blocks until the gate decides.
#pragma once

#include <string>

#include "assist/tools.h"

namespace inloop::mcp {

// root: the project directory (the loop's repository); self_exe: this binary ("" ->
// /proc/self/exe).
void RegisterLoopRoundTool(assist::ToolRegistry* r, const std::string& root,
                           const std::string& self_exe = "");

}  // namespace inloop::mcp
