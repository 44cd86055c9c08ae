// `inloop serve`: the REST API, server-sent events, ingest and the embedded dashboard over one
// store (src/http/). Draws a random per-server token unless given one (--token, INLOOP_TOKEN) or
// told --no-token (loopback only), prints the URL with it once, and serves until SIGINT/SIGTERM.
// Refuses a non-loopback bind without an explicit token. Exit codes 30-34 (exit_codes.h);
// docs/security.md.
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/secrets.h"
#include "http/admission.h"
#include "http/auth.h"
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
  if (a.no_token && !token.empty()) {
    fmt::print(stderr, "inloop: error: --no-token and a token (--token or INLOOP_TOKEN) "
                       "contradict each other: drop one\n");
    return kExitUsage;
  }
  if (a.no_token && !http::IsLoopbackBind(a.bind)) {
    fmt::print(stderr, "inloop: error: --no-token --bind {}: serving without a token is only "
                       "allowed on a loopback address (bind 127.0.0.1, or drop --no-token)\n",
               a.bind);
    return kExitServeNeedsToken;
  }
  // Beyond loopback the token must be one the clients already know: a fresh random one would
  // change at every restart and lock them out.
  if (!http::IsLoopbackBind(a.bind) && token.empty()) {
    fmt::print(stderr,
               "inloop: error: --bind {}: serving beyond this machine needs a token: pass "
               "--token T or set INLOOP_TOKEN (or bind 127.0.0.1)\n",
               a.bind);
    return kExitServeNeedsToken;
  }
  std::string why;
  if (!token.empty() && !http::ValidServerToken(token, &why)) {
    fmt::print(stderr, "inloop: error: {}\n", why);
    return kExitUsage;
  }
  for (const std::string& h : a.allow_hosts) {
    if (!http::ValidAllowHost(h, &why)) {
      fmt::print(stderr, "inloop: error: {}\n", why);
      return kExitUsage;
    }
  }
  bool generated = false;
  if (token.empty() && !a.no_token) {
    Status rs = RandomHex(32, &token);
    if (!rs.ok()) return Fail(rs);
    generated = true;
  }
  std::string dir = ResolveStore(a.store_dir);
  // A central server may start before any run reported to it: the store is made when missing.
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(dir, true, &st);
  if (!s.ok()) return Fail(s);
  const std::string shown = st->location();  // a URL's password elided
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
  options.no_token = a.no_token;
  options.allow_hosts = a.allow_hosts;
  options.threads = a.threads;
  options.handler_threads = a.handlers;
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
             token.empty() ? "" : "?token=" + token, shown);
  std::fflush(stdout);
  if (a.no_token) {
    fmt::print(stderr,
               "inloop serve: warning: --no-token: any program or user on this machine can read "
               "every run, ingest, and approve or deny remedies; web pages still cannot (Host, "
               "Origin and Content-Type checks stay on)\n");
  } else if (generated) {
    fmt::print(stderr,
               "inloop serve: the token in that URL is new at each start (API clients: "
               "`Authorization: Bearer TOKEN`; keep one with --token or INLOOP_TOKEN; named, "
               "scoped tokens: `inloop token create`)\n");
  }
  fmt::print(stderr,
             "inloop serve: MLflow clients log here with "
             "MLFLOW_TRACKING_URI=http://{}:{}{}\n",
             host, server->port(), a.no_token ? "" : " and MLFLOW_TRACKING_TOKEN=TOKEN");
  fmt::print(stderr, "inloop serve: W&B clients log here with WANDB_BASE_URL=http://{}:{}{}\n",
             host, server->port(),
             a.no_token ? " (WANDB_API_KEY: any value)" : " and WANDB_API_KEY=TOKEN");
  server->Wait();
  hub.Stop();
  server.reset();
  api.CloseWriters();
  fmt::print(stderr, "inloop serve: stopped\n");
  return kExitOk;
}

}  // namespace inloop::cli
