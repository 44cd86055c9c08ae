// `inloop mcp`: a Model Context Protocol server over stdio (JSON-RPC 2.0, one message per line)
// so any MCP-capable coding agent can use inloop as its lab bench. Methods: initialize,
// notifications/initialized, ping, tools/list, tools/call. The tools are assist's registry
// (the read verbs, compare, report, insights; not propose_action), evaldiff (paths confined to
// the server's directory) and loop_status. Malformed input gets a JSON-RPC error, a failing
// tool an isError result; nothing a client sends ends the server but closing stdin.
#pragma once

#include <string>
#include <string_view>

#include "assist/tools.h"

namespace inloop::mcp {

inline constexpr const char* kProtocolVersion = "2025-06-18";

struct McpOptions {
  std::string store_dir;  // read-only use; opened per call (it may appear later)
  std::string root;       // the directory served: evaldiff paths, the loop's repository
  std::string version;    // serverInfo.version
};

class McpServer {
 public:
  explicit McpServer(McpOptions o);
  // One incoming line -> the response line without newline ("" when none is due).
  std::string HandleLine(std::string_view line);
  // Reads lines from in_fd until EOF; writes responses to out_fd. Returns 0, or 1 when the
  // output cannot be written.
  int Serve(int in_fd, int out_fd);

  const assist::ToolRegistry& tools() const { return tools_; }

 private:
  McpOptions o_;
  assist::ToolRegistry tools_;
  bool initialized_ = false;
};

}  // namespace inloop::mcp
