// The deploy server's one class and the state it shares between its parts (internal to
// src/gateway; the public entry is RunDeploy in deploy.h): replica and pool state, the request
// forwarding results, and the DeployServer whose members live in deploy_server.cc (start-up,
// events, shutdown), deploy_replicas.cc (replica processes, health checks, restarts, the
// autoscaler tick), deploy_proxy.cc (the reverse proxy, cache path, shadow and canary routing)
// and deploy_admin.cc (admin endpoints, status, /metrics, promote and rollback). Everything runs
// on one io_context thread (C++20 coroutines), so replica and pool state need no locks.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/container/small_vector.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gateway/autoscaler.h"
#include "gateway/balancer.h"
#include "gateway/deploy.h"
#include "gateway/response_cache.h"

namespace inloop::gateway::deploy_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
// One concrete executor type everywhere (not any_io_executor): the hot path then never copies
// or type-erases executors.
using Executor = asio::io_context::executor_type;
template <class T>
using Task = asio::awaitable<T, Executor>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable_t<Executor>{});
using Stream = beast::basic_stream<tcp, Executor>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

using Clock = std::chrono::steady_clock;
inline double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline std::chrono::steady_clock::duration Secs(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

enum class ReplicaState { kStarting, kReady, kDraining, kBackoff, kStopped };

struct UpstreamConn {
  Stream stream;
  beast::flat_buffer buffer;
  std::string wire;  // the request's bytes, reused
  explicit UpstreamConn(Executor ex) : stream(ex) {}
};

using UpstreamParser = http::response_parser<http::buffer_body>;

struct Pool;

struct Replica {
  int id = 0;
  Pool* pool = nullptr;  // the pool outlives its replicas (shared_ptr held by the loop)
  int port = -1;
  pid_t pid = -1;
  ReplicaState state = ReplicaState::kStarting;
  int outstanding = 0;
  int restarts = 0;
  int consecutive_failures = 0;  // spawn/health failures since the last ready
  bool retire = false;           // drain and stop, do not restart
  bool suspect = false;          // a connection to it was refused: not routable until healthy
  std::string log_path;
  std::string host;  // "127.0.0.1:PORT", the Host header sent to it
  std::vector<std::unique_ptr<UpstreamConn>> idle;
  bool Routable() const { return state == ReplicaState::kReady && !retire && !suspect; }
};

struct Pool {
  std::string role;  // "current" or "candidate"
  std::string version;
  std::vector<std::string> command;
  std::vector<std::shared_ptr<Replica>> replicas;
  uint64_t cursor = 0;
  int in_flight = 0;  // requests assigned to this pool, waiting or sent
  std::unique_ptr<Autoscaler> autoscaler;  // null: fixed size
  bool retired = false;
  int Active() const {
    int n = 0;
    for (auto& r : replicas) n += !r->retire;
    return n;
  }
  int Ready() const {
    int n = 0;
    for (auto& r : replicas) n += r->Routable();
    return n;
  }
};

struct Event {
  double time = 0;
  std::string kind;
  std::string message;
  std::string data_json;
};

struct ForwardResult {
  int status = 0;            // 0: nothing was sent to the client yet
  bool client_broken = false;  // the client connection cannot be reused
  std::string body;          // captured when asked and not larger than the capture limit
  bool body_complete = false;
  bool streamed = false;     // chunked / event-stream: never cached
  std::string content_type;
  std::string version;       // the pool's version that answered
  double latency_s = 0;
};

struct ShadowPair {
  int64_t id = 0;
  std::string method, path, request;
  ForwardResult current, candidate;
  int pending = 2;
};

constexpr size_t kCaptureLimit = 4 << 20;
// Answers up to this size with a Content-Length are read whole and written to the client in one
// write; larger or chunked ones are relayed piece by piece as they arrive.
constexpr uint64_t kWholeBodyLimit = 64 << 10;
using Tried = boost::container::small_vector<Replica*, 4>;

class DeployServer {
 public:
  DeployServer(const DeployOptions& o)
      : opt_(o), acceptor_(ioc_.get_executor()), signals_(ioc_, SIGINT, SIGTERM), rng_(std::random_device{}()) {
    if (o.cache_bytes > 0) cache_ = std::make_unique<ResponseCache>(o.cache_bytes);
    for (double b : {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                     5.0, 10.0}) {
      latency_buckets_.emplace_back(b, 0);
    }
  }

  int Run(std::string* error);

 private:
  // --- events and files
  void AddEvent(std::string kind, std::string message, std::string data_json);
  // --- replicas
  std::shared_ptr<Replica> AddReplica(const std::shared_ptr<Pool>& pool);
  Task<void> ReplicaLoop(std::shared_ptr<Pool> pool, std::shared_ptr<Replica> r);
  Task<bool> HealthCheck(int port);
  Task<void> Sleep(double s);
  bool Reap(Replica* r, int* wstatus);
  void Retire(Replica* r, const std::string& why);
  void RetirePool(const std::shared_ptr<Pool>& pool, const std::string& why);
  Task<void> AutoscaleLoop();
  // --- proxy
  Task<void> AcceptLoop();
  Task<void> Session(Socket socket);
  Task<bool> Handle(Stream& client, http::request<http::string_body>& req,
                         bool from_loopback);
  Task<bool> Proxy(Stream& client, http::request<http::string_body>& req);
  Replica* PickNow(Pool* pool, const Tried& tried, bool allow_tried);
  Task<Replica*> WaitForReplica(Pool* pool, const Tried& tried);
  Task<std::unique_ptr<UpstreamConn>> Acquire(Replica* r);
  void Release(Replica* r, std::unique_ptr<UpstreamConn> conn);
  Task<ForwardResult> Forward(Stream* client, bool client_keep_alive,
                                   http::request<http::string_body>& req,
                                   std::shared_ptr<Pool> pool, bool capture);
  Task<void> Shadow(http::request<http::string_body> req, std::shared_ptr<ShadowPair> pair);
  void FinishPair(const std::shared_ptr<ShadowPair>& pair);
  Task<bool> Reply(Stream& client, int status, std::string content_type,
                        std::string body, bool keep_alive,
                        std::vector<std::pair<std::string, std::string>> headers = {});
  // --- admin
  Task<bool> Admin(Stream& client, http::request<http::string_body>& req,
                        bool from_loopback);
  std::string StatusJson();
  std::string MetricsText();
  void CountRequest(int status, double seconds);
  void Promote();
  void Rollback();
  void Shutdown();

  DeployOptions opt_;
  asio::io_context ioc_;
  Acceptor acceptor_;
  asio::signal_set signals_;
  std::mt19937_64 rng_;
  std::shared_ptr<Pool> current_, candidate_;
  std::vector<std::shared_ptr<Pool>> retired_pools_;
  int next_replica_id_ = 1;
  bool shutting_down_ = false;
  int live_replica_loops_ = 0;
  std::unique_ptr<ResponseCache> cache_;
  std::ofstream events_file_, pairs_file_;
  std::deque<Event> recent_events_;
  int64_t next_pair_id_ = 1;
  double started_ = 0;
  int port_ = 0;

  // metrics
  std::map<int, int64_t> requests_by_code_;
  std::vector<std::pair<double, int64_t>> latency_buckets_;
  int64_t latency_count_ = 0;
  double latency_sum_ = 0;
  int64_t in_flight_ = 0;
  int64_t retries_ = 0;
  int64_t replica_restarts_ = 0;
  int64_t shadow_pairs_ = 0;
  int64_t canary_requests_ = 0;
  int64_t upstream_timeouts_ = 0;
  std::map<std::string, int64_t> scale_events_;  // "up"/"down"/"panic_up" -> count
  std::vector<BackendLoad> loads_;  // scratch for PickNow (one thread)
};

}  // namespace inloop::gateway::deploy_internal
