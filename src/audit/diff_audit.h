// The audit of an agent's change in `inloop loop`, before the round's training runs: a unified
// diff (git diff) read line by line for the reward-hacking patterns reported for agents (edits to
// timers and budgets, writing the metric or the logs the loop reads, reporting the metric itself)
// and for new reach outside the experiment (network, subprocesses, reads outside the repository),
// plus inloop's code rules (audit/code_scan.h) on the added Python lines.
// Critical findings reject the round (`rejected`, reason "audit: ..."); the others are recorded on
// the round and shown to the human under --approve.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audit/finding.h"

namespace inloop::audit {

struct DiffAuditOptions {
  std::string metric_key;  // the loop's metric: a change that prints or logs it is reported
};

std::vector<Finding> AuditDiff(std::string_view unified_diff, const DiffAuditOptions& o);

}  // namespace inloop::audit
