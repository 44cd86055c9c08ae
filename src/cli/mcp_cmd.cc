// `inloop mcp`: serves MCP on stdin/stdout until stdin closes (mcp/mcp_server.h). stdout carries
// protocol messages only; anything for people goes to stderr.
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "config/config.h"
#include "mcp/mcp_server.h"
#include "supervise/run_context.h"

namespace inloop::cli {

int CmdMcp(const std::string& store_dir) {
  signal(SIGPIPE, SIG_IGN);  // a client that goes away ends us through write errors
  config::Config cfg;  // ./inloop.toml: the [mcp] limits on start_run
  if (Status s = config::ResolveConfig("", &cfg); !s.ok()) {
    fmt::print(stderr, "inloop: error: {}\n", s.message());
    return kExitInvalid;
  }
  mcp::McpOptions o;
  std::error_code ec;
  o.store_dir = std::filesystem::absolute(store_dir, ec).string();
  if (ec) o.store_dir = store_dir;
  o.root = supervise::CurrentDir();
  o.version = INLOOP_VERSION;
  o.limits = cfg.mcp;
  if (!cfg.path.empty()) o.config_path = std::filesystem::absolute(cfg.path, ec).string();
  mcp::McpServer server(o);
  return server.Serve(0, 1);
}

}  // namespace inloop::cli
