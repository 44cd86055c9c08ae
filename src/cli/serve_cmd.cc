// `inloop serve`: the REST API, server-sent events, ingest and the embedded dashboard over one
// store (src/http/). Prints the URL (with the token) and serves until SIGINT/SIGTERM. Refuses a
// non-loopback bind without a token. Exit codes 30-34 (exit_codes.h).
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "http/api.h"
#include "http/live_hub.h"
#include "http/router.h"
#include "http/server.h"
#include "http/server_metrics.h"
#include "http/store_pool.h"
#include "store/store.h"

namespace inloop::cli {

int CmdServe(const ServeArgs& a) {
  std::string token = a.token;
  if (token.empty()) {
    if (const char* env = std::getenv("INLOOP_TOKEN"); env && *env) token = env;
  }
  if (!http::IsLoopbackBind(a.bind) && token.empty()) {
    fmt::print(stderr,
               "inloop: error: --bind {}: serving beyond this machine needs a token: pass "
               "--token T or set INLOOP_TOKEN (or bind 127.0.0.1)\n",
               a.bind);
    return kExitServeNeedsToken;
  }
  std::string dir = ResolveStore(a.store_dir);
  // A central server may start before any run reported to it: the store is made when missing.
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(dir, true, &st);
  if (!s.ok()) return Fail(s);
  st.reset();
  http::ServerMetrics metrics;
  http::StorePool pool(dir);
  http::Api api(&pool, &metrics);
  http::LiveHubOptions hub_options;
  if (a.poll_ms > 0) hub_options.poll_ms = a.poll_ms;
  http::LiveHub hub(&pool, &metrics, hub_options);
  http::ServerOptions options;
  options.bind = a.bind;
  options.port = a.port;
  options.token = token;
  options.threads = a.threads;
  options.max_body_bytes = a.max_body_mb << 20;
  std::unique_ptr<http::Server> server;
  s = http::Server::Start(options, &api, &hub, &metrics, &server);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: error: {}\n", s.message());
    return s.code() == Status::Code::kInvalid ? kExitServeBadAddress : kExitServeCannotListen;
  }
  hub.Start();
  std::string host =
      a.bind.find(':') != std::string::npos && a.bind.front() != '[' ? "[" + a.bind + "]" : a.bind;
  fmt::print("inloop serve: http://{}:{}/{} (store {})\n", host, server->port(),
             token.empty() ? "" : "?token=" + token, dir);
  std::fflush(stdout);
  server->Wait();
  hub.Stop();
  server.reset();
  api.CloseWriters();
  fmt::print(stderr, "inloop serve: stopped\n");
  return kExitOk;
}

}  // namespace inloop::cli
