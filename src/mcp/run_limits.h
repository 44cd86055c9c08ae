// The pure checks behind start_run (mcp/run_tools.h): is a command allowed by [mcp]
// allowed_commands, is a budget within max_budget_s, is there room for one more run, and does a
// working directory lie inside the served directory. Each refusal is one line saying why and what
// the human or the agent can do.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::mcp {

// OK when `argv` starts with one of `allowed` (element by element, exact); Invalid
// otherwise, naming the command and the allowed prefixes (or that none are configured).
Status CheckCommand(const std::vector<std::vector<std::string>>& allowed,
                    const std::vector<std::string>& argv);

// The budget a run gets: `asked` when 1 <= asked <= max_budget_s, max_budget_s when absent;
// Invalid above the maximum or below 1.
Status CheckBudget(int64_t max_budget_s, std::optional<int64_t> asked, int64_t* budget);

// OK while `running` < `max_concurrent`, else Invalid saying how many run.
Status CheckConcurrency(int running, int max_concurrent);

// The canonical form of directory `dir` (absolute, or relative to root) when it is root or lies
// inside it; Invalid when it resolves outside (.., symlinks) or is not a directory, NotFound when
// it does not exist.
Status ConfineDir(const std::string& root, const std::string& dir, std::string* out);

}  // namespace inloop::mcp
