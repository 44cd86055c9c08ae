// `inloop loop-slot REQUEST` (internal, hidden): one slot of `inloop loop run --parallel N`,
// started by the loop itself (loop/parallel_slot.h). Registers itself through the VerbTable.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/verb_table.h"

namespace inloop::cli {

void AddLoopSlotVerb(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop loop submit (--diff FILE | --branch NAME) [--json]`: one round of the configured loop
// whose change is the given diff (or the branch's change since it left the loop's branch), no
// proposer; prints the gate's verdict with its numbers. What MCP's loop_round runs. Added to the
// `loop` subcommand, so call it after that exists.
void AddLoopSubmitVerb(CLI::App& app, VerbTable* verbs);
}  // namespace inloop::cli
