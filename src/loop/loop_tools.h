// The loop's read side as JSON, shared by `inloop loop status --json` and the loop_status tool
// the MCP server (and any other assist::ToolRegistry user) exposes. Reads only; never runs a
// round, git write or command.
#pragma once

#include <string>

#include "assist/tools.h"
#include "loop/loop_runner.h"

namespace inloop::loop {

// {name, branch, metric, goal, budget_s, base_commit, workdir, store, protected,
//  max_diff_lines, champion{round, commit, metric, noise_sd, samples, params},
//  rounds{total, kept, discarded, failed, rejected, interrupted}, next_round, in_flight}
std::string LoopStatusJson(const LoopView& v);

// loop_status (the status above plus the last rounds) for the loop of the repository at `dir`.
void RegisterLoopTools(assist::ToolRegistry* r, const std::string& dir);

}  // namespace inloop::loop
