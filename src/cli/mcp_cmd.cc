// `inloop mcp`: serves MCP on stdin/stdout until stdin closes (mcp/mcp_server.h). stdout carries
// protocol messages only; anything for people goes to stderr.
#include <signal.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "mcp/mcp_server.h"
#include "supervise/run_context.h"

namespace inloop::cli {

int CmdMcp(const std::string& store_dir) {
  signal(SIGPIPE, SIG_IGN);  // a client that goes away ends us through write errors
  mcp::McpOptions o;
  o.store_dir = store_dir;
  o.root = supervise::CurrentDir();
  o.version = INLOOP_VERSION;
  mcp::McpServer server(o);
  return server.Serve(0, 1);
}

}  // namespace inloop::cli
