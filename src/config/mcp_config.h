// [mcp] in inloop.toml (docs/mcp.md): the limits a human sets on what an agent may start through
// `inloop mcp`'s start_run. Nothing is allowed by default: with no allowed_commands, start_run is
// refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace toml {
inline namespace v3 {
class table;
}  // namespace v3
}  // namespace toml

namespace inloop::config {

struct McpConfig {
  // argv prefixes: a command is allowed when its first elements equal one of them, element by
  // element (["python3", "train.py"] allows `python3 train.py --lr 3e-4`, not `python3 -c ...`).
  std::vector<std::vector<std::string>> allowed_commands;
  int max_concurrent_runs = 2;  // runs this server started that are still running
  int64_t max_budget_s = 3600;  // the most a start_run may ask for; also the budget when none is
};

// Loads the [mcp] table; errors name path:line:col and the field.
Status LoadMcpConfig(const toml::table& t, const std::string& path, McpConfig* out);

}  // namespace inloop::config
