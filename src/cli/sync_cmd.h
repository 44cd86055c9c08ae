// `inloop sync [--store DIR] URL` (sync_cmd.cc): uploads the runs of a local store to a server,
// incrementally (only what the server lacks) and in parallel (--jobs). Registers itself through
// the VerbTable.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/verb_table.h"

namespace inloop::cli {

void AddSyncVerb(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli
