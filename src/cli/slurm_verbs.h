// The Slurm verbs, each registered from its own file through the VerbTable:
// `inloop submit --slurm ... -- CMD` (submit_cmd.cc) and `inloop nodes` (nodes_cmd.cc).
#pragma once

#include <string>
#include <vector>

#include "cli/verb_table.h"
#include "common/status.h"
#include "slurm/node_ledger.h"

namespace inloop::cli {

void AddSubmitVerb(CLI::App& app, VerbTable* verbs);
void AddNodesVerb(CLI::App& app, VerbTable* verbs);

// The lemon-node ledger of the store at `store_dir` (empty, OK, when there is no store yet).
Status ReadNodeLedger(const std::string& store_dir, std::vector<slurm::NodeFaults>* ledger);

// The lemon-node ledger of the `inloop serve` at `url` (GET /api/v1/nodes with the bearer
// `token`). Io: the server could not be reached (the caller may go on without it); Invalid: it
// answered, but not with a ledger (a refused token, a wrong URL).
Status ReadServerNodeLedger(const std::string& url, const std::string& token,
                            std::vector<slurm::NodeFaults>* ledger);

}  // namespace inloop::cli
