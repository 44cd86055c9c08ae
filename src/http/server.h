// Server: the HTTP/1.1 listener of `inloop serve` (Boost.Beast, asynchronous, keep-alive, a few
// worker threads). Admits each request (router.h: target, token), answers the stream from the
// LiveHub and everything else from the Api. Beast and Asio stay inside server.cc; this header is
// all other modules see. Never binds a non-loopback address without a token (the caller checks,
// Start refuses too).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

namespace inloop::http {

class Api;
class LiveHub;
class ServerMetrics;

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8642;  // 0: any free port (see Server::port())
  std::string token;
  int threads = 4;
  size_t max_body_bytes = 32u << 20;  // larger request bodies get 413
};

class Server {
 public:
  ~Server();
  // Binds and listens, then serves on background threads. Invalid for a non-loopback bind
  // without a token; Io when the address cannot be bound (in use, not local).
  static Status Start(const ServerOptions& options, Api* api, LiveHub* hub, ServerMetrics* metrics,
                      std::unique_ptr<Server>* out);
  int port() const;
  // Blocks until SIGINT / SIGTERM or Stop().
  void Wait();
  void Stop();

 private:
  struct Impl;
  Server();
  std::unique_ptr<Impl> impl_;
};

}  // namespace inloop::http
