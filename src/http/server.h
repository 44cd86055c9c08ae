// Server: the HTTP/1.1 listener of `inloop serve` (Boost.Beast, asynchronous, keep-alive, a few
// I/O threads and a pool of handler threads). Admits each request (admission.h: Host, Origin,
// Content-Type; router.h: the target; auth.h: token and scope), answers the stream from the
// LiveHub and everything else from the Api. Beast and Asio stay inside server.cc; this header is
// all other modules see. Never serves without a token unless told so (no_token), and never without one beyond loopback (the
// caller checks, Start refuses too).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::http {

class Api;
class LiveHub;
class ServerMetrics;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8642;  // 0: any free port (see Server::port())
  std::string token;      // the server's own token (every scope); required unless no_token
  bool no_token = false;  // loopback only: requests without credentials get every scope
  std::vector<std::string> allow_hosts;  // --allow-host: more Host names (admission.h)
  int threads = 4;           // I/O threads: read, admit, write
  int handler_threads = 16;  // requests answered at once (a handler may wait on a commit)
  size_t max_body_bytes = 32u << 20;  // larger request bodies get 413
};

class Server {
 public:
  ~Server();
  // Binds and listens, then serves on background threads. Invalid without a token (unless
  // no_token on a loopback bind) or for a malformed --allow-host; Io when the address cannot be
  // bound (in use, not local).
  static Status Start(const ServerOptions& options, Api* api, LiveHub* hub, ServerMetrics* metrics,
                      std::unique_ptr<Server>* out);
  int port() const;
  // Blocks until SIGINT / SIGTERM or Stop().
  void Wait();
  void Stop();

 private:
  struct Impl;
  explicit Server(int handler_threads);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inloop::http
