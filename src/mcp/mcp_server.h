// `inloop mcp`: a Model Context Protocol server over stdio (JSON-RPC 2.0, one message per line)
// so any MCP-capable coding agent can use inloop as its lab bench. Methods: initialize,
// notifications/initialized, ping, tools/list, tools/call. The tools are assist's registry
// (the read verbs, compare, report, insights), evaldiff (paths confined to the server's
// directory), loop_status, and the run tools (mcp/run_tools.h: start_run within the limits of
// inloop.toml's [mcp], run_status, wait_run, stop_run, propose_action for a person to decide). Malformed input gets a JSON-RPC error, a failing
// tool an isError result; nothing a client sends ends the server but closing stdin.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "assist/tools.h"
#include "config/mcp_config.h"
#include "mcp/run_tools.h"

namespace inloop::mcp {

inline constexpr const char* kProtocolVersion = "2025-06-18";

struct McpOptions {
  std::string store_dir;  // opened per call (it may appear later); absolute for start_run
  std::string root;       // the directory served: evaldiff paths, the loop's repository
  std::string version;    // serverInfo.version
  config::McpConfig limits;  // [mcp]: what start_run may start
  std::string config_path;   // the inloop.toml loaded, passed on to the runs ("" when none)
};

class McpServer {
 public:
  explicit McpServer(McpOptions o);
  McpServer(const McpServer&) = delete;  // the tools hold a pointer to launcher_
  McpServer& operator=(const McpServer&) = delete;
  // One incoming line -> the response line without newline ("" when none is due).
  std::string HandleLine(std::string_view line);
  // Reads lines from in_fd until EOF; writes responses to out_fd. Returns 0, or 1 when the
  // output cannot be written. Between messages, at least once a second, enforces run budgets.
  int Serve(int in_fd, int out_fd);

  const assist::ToolRegistry& tools() const { return tools_; }

 private:
  McpOptions o_;
  std::unique_ptr<RunLauncher> launcher_;
  assist::ToolRegistry tools_;
  bool initialized_ = false;
};

}  // namespace inloop::mcp
