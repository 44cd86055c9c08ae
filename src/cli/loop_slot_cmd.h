// `inloop loop-slot REQUEST` (internal, hidden): one slot of `inloop loop run --parallel N`,
// started by the loop itself (loop/parallel_slot.h). Registers itself through the VerbTable.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/verb_table.h"

namespace inloop::cli {

void AddLoopSlotVerb(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli
