// The deploy server: replica processes (spawn, readiness, health checks, restarts with backoff,
// drain), the asynchronous reverse proxy (Beast, C++20 coroutines on one io_context thread, so
// replica and pool state need no locks), the autoscaler tick, the response cache path, shadow and
// canary routing, the admin endpoints and /metrics. Never runs anything taken from a request;
// replicas get the configured argv with only "{port}" substituted.
#include "gateway/deploy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/container/small_vector.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "common/subprocess.h"
#include "gateway/balancer.h"
#include "gateway/canonical_json.h"
#include "gateway/metrics_text.h"
#include "gateway/response_cache.h"

extern char** environ;

namespace inloop::gateway {
namespace {

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
double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::chrono::steady_clock::duration Secs(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// ---------------------------------------------------------------------------------------------
// Processes

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// Starts argv (with "{port}" replaced) in its own process group (killed if inloop dies), stdout and stderr appended to
// log_path, stdin from /dev/null, PORT in the environment.
Status SpawnReplica(const std::vector<std::string>& command, int port, const std::string& log_path,
                    pid_t* pid) {
  std::vector<std::string> args;
  for (const auto& a : command) {
    std::string s = a;
    for (size_t p = s.find("{port}"); p != std::string::npos; p = s.find("{port}", p)) {
      s.replace(p, 6, std::to_string(port));
    }
    args.push_back(std::move(s));
  }
  // Through common/subprocess: the replica leads its own process group and is killed when
  // inloop dies (PR_SET_PDEATHSIG), so a deploy killed with SIGKILL leaves no server behind.
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status::Io(fmt::format("cannot open the replica log {}: {}", log_path, strerror(errno)));
  }
  SubprocessSpec spec;
  spec.argv = std::move(args);
  spec.env.emplace_back("PORT", std::to_string(port));
  spec.stdin_plan = StdioPlan::DevNull();
  spec.stdout_plan = StdioPlan::Fd(log_fd);
  spec.stderr_plan = StdioPlan::Fd(log_fd);
  spec.new_process_group = true;
  spec.die_with_parent = true;
  Status st = StartSubprocess(spec, pid);
  close(log_fd);
  if (!st.ok()) return Status::NotFound(fmt::format("cannot start replica: {}", st.message()));
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// State

enum class ReplicaState { kStarting, kReady, kDraining, kBackoff, kStopped };
const char* StateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kStarting: return "starting";
    case ReplicaState::kReady: return "ready";
    case ReplicaState::kDraining: return "draining";
    case ReplicaState::kBackoff: return "backoff";
    case ReplicaState::kStopped: return "stopped";
  }
  return "?";
}

struct UpstreamConn {
  Stream stream;
  beast::flat_buffer buffer;
  std::string wire;  // the request's bytes, reused
  explicit UpstreamConn(Executor ex) : stream(ex) {}
};

using UpstreamParser = http::response_parser<http::buffer_body>;

// Reads more of an upstream answer's body into [data, data + size) within timeout_s: the number
// of bytes placed there, or nothing when the replica failed, closed early or timed out.
Task<std::optional<size_t>> ReadBodyInto(UpstreamConn& conn, UpstreamParser& parser, char* data,
                                         size_t size, double timeout_s) {
  auto& body = parser.get().body();
  body.data = data;
  body.size = size;
  conn.stream.expires_after(Secs(timeout_s));
  auto [ec, n] = co_await http::async_read_some(conn.stream, conn.buffer, parser, kTuple);
  if (ec == http::error::need_buffer) ec = {};  // the buffer is full: more to read next time
  if (ec) co_return std::nullopt;
  co_return size - body.size;
}

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

void DeployServer::AddEvent(std::string kind, std::string message, std::string data_json) {
  Event e{WallNow(), std::move(kind), std::move(message),
          data_json.empty() ? "{}" : std::move(data_json)};
  if (events_file_.is_open()) {
    JsonWriter w;
    w.BeginObject().Key("time").Number(e.time).Key("kind").String(e.kind);
    w.Key("message").String(e.message).Key("data").Raw(e.data_json).EndObject();
    events_file_ << w.str() << '\n';
    events_file_.flush();
  }
  if (opt_.print_events) fmt::print(stderr, "deploy: {:<16} {}\n", e.kind, e.message);
  recent_events_.push_back(std::move(e));
  while (recent_events_.size() > 200) recent_events_.pop_front();
}

// ---------------------------------------------------------------------------------------------
// Replicas

Task<void> DeployServer::Sleep(double s) {
  Timer t(co_await asio::this_coro::executor);
  t.expires_after(Secs(s));
  co_await t.async_wait(kTuple);
}

std::shared_ptr<Replica> DeployServer::AddReplica(const std::shared_ptr<Pool>& pool) {
  auto r = std::make_shared<Replica>();
  r->id = next_replica_id_++;
  r->pool = pool.get();
  r->log_path = fmt::format("{}/replicas/{}-{}.log", opt_.state_dir, pool->role, r->id);
  pool->replicas.push_back(r);
  ++live_replica_loops_;
  asio::co_spawn(ioc_, ReplicaLoop(pool, r), asio::detached);
  return r;
}

bool DeployServer::Reap(Replica* r, int* wstatus) {
  if (r->pid <= 0) return true;
  pid_t got = waitpid(r->pid, wstatus, WNOHANG);
  if (got == r->pid || (got < 0 && errno == ECHILD)) {
    r->pid = -1;
    return true;
  }
  return false;
}

Task<bool> DeployServer::HealthCheck(int port) {
  auto ex = co_await asio::this_coro::executor;
  Stream s(ex);
  s.expires_after(Secs(opt_.health_timeout_s));
  tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port));
  auto [ec] = co_await s.async_connect(ep, kTuple);
  if (ec) co_return false;
  http::request<http::empty_body> req{http::verb::get, opt_.health_path, 11};
  req.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  req.keep_alive(false);
  auto [wec, wn] = co_await http::async_write(s, req, kTuple);
  if (wec) co_return false;
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  auto [rec, rn] = co_await http::async_read(s, buf, res, kTuple);
  beast::error_code ignore;
  s.socket().shutdown(tcp::socket::shutdown_both, ignore);
  co_return !rec && res.result_int() == 200;
}

std::string ExitText(int wstatus) {
  if (WIFEXITED(wstatus)) return fmt::format("exit {}", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return fmt::format("signal {}", WTERMSIG(wstatus));
  return "ended";
}

Task<void> DeployServer::ReplicaLoop(std::shared_ptr<Pool> pool, std::shared_ptr<Replica> r) {
  std::error_code dir_error;
  std::filesystem::create_directories(opt_.state_dir + "/replicas", dir_error);
  while (!r->retire) {
    // Start.
    r->port = FreePort();
    r->host = fmt::format("127.0.0.1:{}", r->port);
    r->state = ReplicaState::kStarting;
    r->suspect = false;
    Status s = r->port > 0 ? SpawnReplica(pool->command, r->port, r->log_path, &r->pid)
                           : Status::Io("no free port on 127.0.0.1");
    std::string failure;
    double started = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    auto elapsed = [&] {
      return std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - started;
    };
    if (!s.ok()) {
      failure = s.message();
    } else {
      // Readiness: poll the health path until it answers 200.
      int wstatus = 0;
      bool ready = false;
      while (!r->retire) {
        if (Reap(r.get(), &wstatus)) {
          failure = fmt::format("exited before ready ({})", ExitText(wstatus));
          break;
        }
        if (co_await HealthCheck(r->port)) {
          ready = true;
          break;
        }
        if (elapsed() > opt_.startup_timeout_s) {
          failure = fmt::format("not ready after {}s", opt_.startup_timeout_s);
          break;
        }
        co_await Sleep(0.05);
      }
      if (ready && !r->retire) {
        r->state = ReplicaState::kReady;
        r->consecutive_failures = 0;
        AddEvent("replica_ready",
                 fmt::format("{} replica {} ready on port {} (pid {}) after {:.2f}s", pool->role,
                             r->id, r->port, r->pid, elapsed()),
                 fmt::format(R"({{"replica":{},"pool":"{}","port":{},"pid":{},"seconds":{:.3f}}})",
                             r->id, pool->role, r->port, r->pid, elapsed()));
        // Serve: watch the process and its health.
        double next_check = elapsed() + opt_.health_interval_s;
        int failed_checks = 0;
        while (!r->retire) {
          if (Reap(r.get(), &wstatus)) {
            failure = fmt::format("exited ({})", ExitText(wstatus));
            break;
          }
          if (elapsed() >= next_check) {
            bool ok = co_await HealthCheck(r->port);
            next_check = elapsed() + opt_.health_interval_s;
            if (ok) {
              failed_checks = 0;
              r->suspect = false;
            } else if (++failed_checks >= opt_.health_failures) {
              failure = fmt::format("failed {} health checks in a row", failed_checks);
              break;
            }
          }
          co_await Sleep(0.05);
        }
      }
    }
    if (r->retire) break;
    // Failed or died: kill what is left, back off, start again.
    r->state = ReplicaState::kBackoff;
    r->idle.clear();
    if (r->pid > 0) {
      kill(-r->pid, SIGKILL);
      int ws;
      waitpid(r->pid, &ws, 0);
      r->pid = -1;
    }
    double backoff = std::min(opt_.restart_backoff_max_s,
                              opt_.restart_backoff_s * std::pow(2.0, r->consecutive_failures));
    r->consecutive_failures += 1;
    r->restarts += 1;
    ++replica_restarts_;
    AddEvent("replica_restart",
             fmt::format("{} replica {} {}; restart {} in {:.2f}s (log {})", pool->role, r->id,
                         failure, r->restarts, backoff, r->log_path),
             fmt::format(R"({{"replica":{},"pool":"{}","restarts":{},"backoff_s":{:.3f}}})", r->id,
                         pool->role, r->restarts, backoff));
    co_await Sleep(backoff);
  }
  // Drain: no new requests are routed here (retire), in-flight ones finish, then stop.
  r->state = ReplicaState::kDraining;
  double drain_start = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  auto since = [&] {
    return std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - drain_start;
  };
  int wstatus = 0;
  while (r->outstanding > 0 && since() < opt_.drain_timeout_s && !Reap(r.get(), &wstatus)) {
    co_await Sleep(0.02);
  }
  int left = r->outstanding;
  r->idle.clear();
  if (r->pid > 0) {
    kill(-r->pid, SIGTERM);
    double term_at = since();
    while (!Reap(r.get(), &wstatus) && since() - term_at < opt_.kill_grace_s) {
      co_await Sleep(0.02);
    }
    if (r->pid > 0) {
      kill(-r->pid, SIGKILL);
      waitpid(r->pid, &wstatus, 0);
      r->pid = -1;
    }
  }
  r->state = ReplicaState::kStopped;
  AddEvent("replica_stopped",
           fmt::format("{} replica {} drained in {:.2f}s and stopped{}", pool->role, r->id,
                       since(), left ? fmt::format(" ({} requests still in flight)", left) : ""),
           fmt::format(R"({{"replica":{},"pool":"{}","drain_s":{:.3f},"in_flight_left":{}}})",
                       r->id, pool->role, since(), left));
  auto& v = pool->replicas;
  v.erase(std::remove(v.begin(), v.end(), r), v.end());
  --live_replica_loops_;
}

void DeployServer::Retire(Replica* r, const std::string& why) {
  if (r->retire) return;
  r->retire = true;
  AddEvent("replica_drain",
           fmt::format("{} replica {} draining ({}), {} in flight", r->pool->role, r->id, why,
                       r->outstanding),
           fmt::format(R"({{"replica":{},"pool":"{}","in_flight":{}}})", r->id, r->pool->role,
                       r->outstanding));
}

void DeployServer::RetirePool(const std::shared_ptr<Pool>& pool, const std::string& why) {
  pool->retired = true;
  for (auto& r : pool->replicas) Retire(r.get(), why);
  retired_pools_.push_back(pool);
}

Task<void> DeployServer::AutoscaleLoop() {
  double t0 = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  while (!shutting_down_) {
    co_await Sleep(opt_.autoscale_tick_s);
    if (shutting_down_) break;
    double now = std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - t0;
    std::shared_ptr<Pool> pool = current_;
    if (!pool->autoscaler) continue;
    pool->autoscaler->Observe(now, pool->in_flight);
    ScaleDecision d;
    int active = pool->Active();
    if (!pool->autoscaler->Decide(now, active, &d)) continue;
    const char* dir = d.to > d.from ? "up" : "down";
    scale_events_[d.panic ? std::string("panic_") + dir : std::string(dir)] += 1;
    JsonWriter w;
    w.BeginObject().Key("pool").String(pool->role).Key("from").Int(d.from).Key("to").Int(d.to);
    w.Key("panic").Bool(d.panic).Key("stable_avg").Number(d.stable_avg);
    w.Key("panic_avg").Number(d.panic_avg).Key("stable_want").Int(d.stable_want);
    w.Key("panic_want").Int(d.panic_want).Key("capacity").Number(d.capacity);
    w.Key("target_in_flight").Number(opt_.autoscale.target_in_flight);
    w.Key("stable_window_s").Number(opt_.autoscale.stable_window_s);
    w.Key("panic_window_s").Number(opt_.autoscale.panic_window_s).EndObject();
    AddEvent(d.to > d.from ? "scale_up" : "scale_down",
             fmt::format("{} -> {} replicas: {}", d.from, d.to, d.reason), w.Take());
    if (d.to > active) {
      for (int i = active; i < d.to; ++i) AddReplica(pool);
    } else {
      // One step down: the replica that is least useful now (not ready first, then idlest).
      Replica* pick = nullptr;
      for (auto& r : pool->replicas) {
        if (r->retire) continue;
        auto rank = [](Replica* x) { return x->Routable() ? 1 : 0; };
        if (!pick || rank(r.get()) < rank(pick) ||
            (rank(r.get()) == rank(pick) && r->outstanding <= pick->outstanding)) {
          pick = r.get();
        }
      }
      for (int i = active; i > d.to && pick; --i) Retire(pick, "scale down");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Proxy

Task<void> DeployServer::AcceptLoop() {
  while (!shutting_down_) {
    auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (shutting_down_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    beast::error_code nd;
    sock.set_option(tcp::no_delay(true), nd);
    asio::co_spawn(ioc_, Session(std::move(sock)), asio::detached);
  }
}

Task<void> DeployServer::Session(Socket socket) {
  beast::error_code ec0;
  auto remote = socket.remote_endpoint(ec0);
  bool loopback = !ec0 && remote.address().is_loopback();
  Stream client(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(static_cast<uint64_t>(opt_.max_body_bytes));
    client.expires_after(Secs(opt_.client_idle_timeout_s));
    auto [ec, n] = co_await http::async_read(client, buffer, parser, kTuple);
    if (ec == http::error::body_limit) {
      CountRequest(413, 0);
      co_await Reply(client, 413, "application/json",
                     fmt::format(R"({{"error":"request body larger than {} bytes"}})",
                                 opt_.max_body_bytes) + "\n",
                     false);
      break;
    }
    if (ec == http::error::header_limit) {
      CountRequest(431, 0);
      co_await Reply(client, 431, "application/json", "{\"error\":\"request head too large\"}\n",
                     false);
      break;
    }
    if (ec) break;
    http::request<http::string_body> req = parser.release();
    bool keep = co_await Handle(client, req, loopback);
    if (!keep) break;
  }
  // Lingering close: stop sending, then read what the client still sends (e.g. the rest of a
  // refused body) for a moment, so closing does not reset the connection before it read our
  // last answer.
  beast::error_code ignore;
  client.socket().shutdown(tcp::socket::shutdown_send, ignore);
  client.expires_after(Secs(1));
  std::array<char, 4096> junk;
  for (int i = 0; i < 256; ++i) {
    auto [rec, rn] = co_await client.async_read_some(asio::buffer(junk), kTuple);
    if (rec) break;
  }
}

Task<bool> DeployServer::Reply(Stream& client, int status,
                                    std::string content_type, std::string body, bool keep_alive,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "inloop-deploy");
  res.set(http::field::content_type, content_type);
  for (auto& [k, v] : headers) res.set(k, v);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  client.expires_after(Secs(opt_.client_idle_timeout_s));
  auto [ec, n] = co_await http::async_write(client, res, kTuple);
  co_return !ec && keep_alive;
}

void DeployServer::CountRequest(int status, double seconds) {
  requests_by_code_[status] += 1;
  latency_count_ += 1;
  latency_sum_ += seconds;
  for (auto& [le, count] : latency_buckets_) {
    if (seconds <= le) count += 1;
  }
}

Task<bool> DeployServer::Handle(Stream& client,
                                     http::request<http::string_body>& req, bool from_loopback) {
  std::string_view target(req.target().data(), req.target().size());
  if (target == "/metrics" && req.method() == http::verb::get) {
    co_return co_await Reply(client, 200, "text/plain; version=0.0.4", MetricsText(),
                             req.keep_alive());
  }
  if (target.substr(0, 7) == "/admin/") {
    co_return co_await Admin(client, req, from_loopback);
  }
  co_return co_await Proxy(client, req);
}

Replica* DeployServer::PickNow(Pool* pool, const Tried& tried, bool allow_tried) {
  loads_.clear();
  for (auto& r : pool->replicas) {
    bool excluded = !allow_tried &&
                    std::find(tried.begin(), tried.end(), r.get()) != tried.end();
    loads_.push_back({r->outstanding, r->Routable(), excluded});
  }
  int i = PickLeastOutstanding(loads_, &pool->cursor);
  return i >= 0 ? pool->replicas[i].get() : nullptr;
}

Task<Replica*> DeployServer::WaitForReplica(Pool* pool, const Tried& tried) {
  auto start = Clock::now();
  auto deadline = start + Secs(opt_.queue_timeout_s);
  // After a failed attempt prefer another replica; once none has come up for a second, a
  // replica already tried may be tried again (e.g. the same one after its restart).
  auto reuse_after = start + Secs(1.0);
  for (;;) {
    Replica* r = PickNow(pool, tried, Clock::now() >= reuse_after);
    if (r) co_return r;
    if (Clock::now() >= deadline || shutting_down_ || pool->retired) co_return nullptr;
    co_await Sleep(0.01);
  }
}

Task<std::unique_ptr<UpstreamConn>> DeployServer::Acquire(Replica* r) {
  while (!r->idle.empty()) {
    auto c = std::move(r->idle.back());
    r->idle.pop_back();
    if (c->stream.socket().is_open()) co_return c;
  }
  auto c = std::make_unique<UpstreamConn>(co_await asio::this_coro::executor);
  c->stream.expires_after(Secs(std::min(2.0, opt_.upstream_timeout_s)));
  tcp::endpoint ep(asio::ip::address_v4::loopback(), static_cast<unsigned short>(r->port));
  auto [ec] = co_await c->stream.async_connect(ep, kTuple);
  if (ec) co_return nullptr;
  beast::error_code nd;
  c->stream.socket().set_option(tcp::no_delay(true), nd);
  co_return c;
}

void DeployServer::Release(Replica* r, std::unique_ptr<UpstreamConn> conn) {
  if (r->Routable() && r->idle.size() < 64) r->idle.push_back(std::move(conn));
}

// HTTP/1.1 wire bytes of a head (start line already in *out) and body, built by hand into one
// buffer: one write per message, without the serializer's buffer-sequence machinery.
void AppendFieldsAndBody(const http::fields& fields, std::string_view body, std::string* out) {
  for (const auto& f : fields) {
    out->append(f.name_string().data(), f.name_string().size());
    out->append(": ");
    out->append(f.value().data(), f.value().size());
    out->append("\r\n");
  }
  out->append("\r\n");
  out->append(body);
}

bool HopByHop(http::field f) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
      return true;
    default:
      return false;
  }
}

// Sends req to a replica of `pool` and relays the answer to `client` as it arrives (client may
// be null: the answer is only captured). A connection that fails before any response byte is
// retried on another replica; a missing response head after upstream_timeout is a 504.
Task<ForwardResult> DeployServer::Forward(Stream* client, bool client_keep_alive,
                                               http::request<http::string_body>& req,
                                               std::shared_ptr<Pool> pool, bool capture) {
  ForwardResult out;
  out.version = pool->version;
  auto t0 = Clock::now();
  pool->in_flight += 1;
  Tried tried;
  std::shared_ptr<Replica> keep_replica;  // keeps the chosen replica alive across awaits
  // The request goes upstream as it came, less hop-by-hop fields, kept alive.
  http::request<http::string_body>& up_req = req;
  for (auto it = up_req.begin(); it != up_req.end();) {
    if (HopByHop(it->name())) {
      it = up_req.erase(it);
    } else {
      ++it;
    }
  }
  up_req.version(11);
  up_req.keep_alive(true);
  up_req.prepare_payload();

  for (int attempt = 0; attempt <= opt_.retries && out.status == 0; ++attempt) {
    // A promotion or rollback retired this pool while the request waited: the version that
    // serves now answers it (shadow copies, client == null, are dropped instead).
    if (pool->retired && client && current_ && current_ != pool && !shutting_down_) {
      pool->in_flight -= 1;
      pool = current_;
      pool->in_flight += 1;
      out.version = pool->version;
      tried.clear();
    }
    Replica* r = PickNow(pool.get(), tried, false);
    if (!r) r = co_await WaitForReplica(pool.get(), tried);
    if (!r && pool->retired && client && current_ != pool && !shutting_down_) {
      --attempt;
      continue;
    }
    if (!r) {
      out.status = 503;
      if (client) {
        bool ok = co_await Reply(*client, 503, "application/json",
                                 "{\"error\":\"no ready replica\"}\n", client_keep_alive);
        out.client_broken = !ok;
      }
      break;
    }
    for (auto& sp : pool->replicas) {
      if (sp.get() == r) keep_replica = sp;
    }
    tried.push_back(r);
    if (attempt > 0) ++retries_;
    r->outstanding += 1;
    struct Done {
      Replica* r;
      ~Done() { r->outstanding -= 1; }
    } done{r};
    std::unique_ptr<UpstreamConn> conn;
    while (!conn && !r->idle.empty()) {  // fast path: a pooled connection, no coroutine
      conn = std::move(r->idle.back());
      r->idle.pop_back();
      if (!conn->stream.socket().is_open()) conn.reset();
    }
    if (!conn) conn = co_await Acquire(r);
    if (!conn) {
      r->suspect = true;  // refused: not routable until its next good health check
      continue;
    }
    conn->stream.expires_after(Secs(opt_.upstream_timeout_s));
    up_req.set(http::field::host, r->host);
    std::string& wire = conn->wire;  // reused per connection
    wire.clear();
    wire.append(up_req.method_string().data(), up_req.method_string().size());
    wire.push_back(' ');
    wire.append(up_req.target().data(), up_req.target().size());
    wire.append(" HTTP/1.1\r\n");
    AppendFieldsAndBody(up_req.base(), up_req.body(), &wire);
    auto [wec, wn] = co_await asio::async_write(conn->stream, asio::buffer(wire), kTuple);
    if (wec) continue;  // nothing was answered: safe to try another replica
    UpstreamParser parser;
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(conn->stream, conn->buffer, parser, kTuple);
    if (hec) {
      if (hec == beast::error::timeout) {
        ++upstream_timeouts_;
        out.status = 504;
        if (client) {
          bool ok = co_await Reply(*client, 504, "application/json",
                                   fmt::format(R"({{"error":"no answer from replica {} in {}s"}})",
                                               r->id, opt_.upstream_timeout_s) + "\n",
                                   client_keep_alive);
          out.client_broken = !ok;
        }
        break;
      }
      if (!parser.got_some()) continue;  // closed before any byte (a crash, a stale connection)
      out.status = 502;
      if (client) {
        bool ok = co_await Reply(*client, 502, "application/json",
                                 "{\"error\":\"bad response head from replica\"}\n",
                                 client_keep_alive);
        out.client_broken = !ok;
      }
      break;
    }
    // A response head arrived: from here on the answer belongs to this request.
    auto& msg = parser.get();
    out.status = msg.result_int();
    out.content_type = std::string(msg[http::field::content_type]);
    out.streamed = msg.chunked() ||
                   out.content_type.find("text/event-stream") != std::string::npos;
    for (auto it = msg.begin(); it != msg.end();) {
      if (HopByHop(it->name())) {
        it = msg.erase(it);
      } else {
        ++it;
      }
    }
    msg.keep_alive(client_keep_alive);
    std::array<char, 16384> buf;
    bool upstream_ok = true;
    auto length = parser.content_length();
    if (client && !out.streamed && length && *length <= kWholeBodyLimit) {
      // Small answer: read it whole, then one write of head and body to the client.
      std::string body(static_cast<size_t>(*length), '\0');
      size_t got = 0;
      while (!parser.is_done()) {
        auto n = co_await ReadBodyInto(*conn, parser, body.data() + got, body.size() - got,
                                       opt_.upstream_timeout_s);
        if (!n) {
          upstream_ok = false;
          break;
        }
        got += *n;
      }
      bool upstream_keep = parser.keep_alive();
      if (!upstream_ok) {
        // Cut before its end: a 502 when nothing was sent to the client yet.
        out.status = 502;
        bool ok = co_await Reply(*client, 502, "application/json",
                                 "{\"error\":\"the replica closed in the middle of its answer\"}\n",
                                 client_keep_alive);
        out.client_broken = !ok;
        break;
      }
      if (capture) {
        out.body = body;
        out.body_complete = true;
      }
      std::string wire;
      wire.reserve(256 + body.size());
      std::string_view reason(msg.reason().data(), msg.reason().size());
      if (reason.empty()) reason = std::string_view(http::obsolete_reason(msg.result()).data(),
                                                    http::obsolete_reason(msg.result()).size());
      wire.append(fmt::format("HTTP/1.1 {} ", msg.result_int()));
      wire.append(reason);
      wire.append("\r\n");
      AppendFieldsAndBody(msg.base(), body, &wire);
      client->expires_after(Secs(opt_.client_idle_timeout_s));
      auto [wec2, wn2] = co_await asio::async_write(*client, asio::buffer(wire), kTuple);
      if (wec2 || !client_keep_alive) out.client_broken = true;
      if (upstream_keep) Release(r, std::move(conn));
      break;
    }
    if (client) {
      http::serializer<false, http::buffer_body> sr{msg};
      msg.body().data = nullptr;
      msg.body().size = 0;
      msg.body().more = !parser.is_done();
      client->expires_after(Secs(opt_.client_idle_timeout_s));
      auto [whec, whn] = co_await http::async_write_header(*client, sr, kTuple);
      if (whec) out.client_broken = true;
      while (!out.client_broken && !sr.is_done()) {
        if (!parser.is_done()) {
          auto n = co_await ReadBodyInto(*conn, parser, buf.data(), buf.size(),
                                         opt_.upstream_timeout_s);
          if (!n) {
            upstream_ok = false;
            out.client_broken = true;  // the answer is cut: the client must see it end
            break;
          }
          msg.body().size = *n;
          msg.body().data = buf.data();
          msg.body().more = !parser.is_done();
        } else {
          msg.body().data = nullptr;
          msg.body().size = 0;
          msg.body().more = false;
        }
        // Nothing parsed yet (e.g. only a chunk header arrived): an empty write would send a
        // zero-size chunk, which ends a chunked body.
        if (msg.body().size == 0 && msg.body().more) continue;
        if (capture && out.body.size() + msg.body().size <= kCaptureLimit) {
          out.body.append(buf.data(), msg.body().size);
        } else if (capture) {
          capture = false;
          out.body.clear();
        }
        auto [wbec, wbn] = co_await http::async_write(*client, sr, kTuple);
        if (wbec == http::error::need_buffer) wbec = {};
        if (wbec) out.client_broken = true;
      }
      out.body_complete = capture && parser.is_done() && upstream_ok;
      if (!msg.keep_alive()) out.client_broken = true;
    } else {
      while (!parser.is_done()) {
        auto n = co_await ReadBodyInto(*conn, parser, buf.data(), buf.size(),
                                       opt_.upstream_timeout_s);
        if (!n) {
          upstream_ok = false;
          break;
        }
        if (out.body.size() + *n <= kCaptureLimit) out.body.append(buf.data(), *n);
      }
      out.body_complete = upstream_ok && parser.is_done();
    }
    if (upstream_ok && parser.is_done() && parser.keep_alive()) {
      Release(r, std::move(conn));
    }
  }
  if (out.status == 0) {
    out.status = 502;
    if (client) {
      bool ok = co_await Reply(*client, 502, "application/json",
                               "{\"error\":\"every replica tried failed to answer\"}\n",
                               client_keep_alive);
      out.client_broken = !ok;
    }
  }
  pool->in_flight -= 1;
  out.latency_s = std::chrono::duration<double>(Clock::now() - t0).count();
  co_return out;
}

Task<bool> DeployServer::Proxy(Stream& client,
                                    http::request<http::string_body>& req) {
  auto t0 = Clock::now();
  in_flight_ += 1;
  struct InFlight {
    int64_t* n;
    ~InFlight() { *n -= 1; }
  } in_flight_guard{&in_flight_};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  bool keep_alive = req.keep_alive();

  std::shared_ptr<Pool> pool = current_;
  if (candidate_ && opt_.canary_percent > 0 && unit(rng_) * 100.0 < opt_.canary_percent) {
    pool = candidate_;
    ++canary_requests_;
  }

  // Cache rule: an explicit header, or a JSON body with "temperature": 0.
  std::string key;
  if (cache_) {
    bool cacheable = false;
    auto h = req.find(opt_.cache_header);
    if (h != req.end()) cacheable = h->value() == "1";
    if (!cacheable && opt_.cache_temperature_zero && req.method() == http::verb::post) {
      auto t = TopLevelNumber(req.body(), "temperature");
      cacheable = t && *t == 0.0;
    }
    if (cacheable) {
      std::string canonical;
      if (!CanonicalJson(req.body(), &canonical).ok()) canonical = req.body();
      key = CacheKey(std::string_view(req.method_string().data(), req.method_string().size()),
                     std::string_view(req.target().data(), req.target().size()), pool->version,
                     canonical);
    }
  }
  CachedAnswer cached;
  bool have_cached = false;
  if (!key.empty()) {
    bool reverify = opt_.cache_reverify_fraction > 0 && unit(rng_) < opt_.cache_reverify_fraction;
    CacheLookup got = cache_->Lookup(key, pool->version, &cached);
    if (got == CacheLookup::kHit && !reverify) {
      std::vector<std::pair<std::string, std::string>> hit_headers;
      hit_headers.emplace_back("X-Inloop-Cache", "hit");
      bool ok = co_await Reply(client, 200, cached.content_type, std::move(cached.body),
                               keep_alive, std::move(hit_headers));
      CountRequest(200, std::chrono::duration<double>(Clock::now() - t0).count());
      co_return ok;
    }
    have_cached = got == CacheLookup::kHit;
  }

  std::shared_ptr<ShadowPair> pair;
  if (candidate_ && pool == current_ && opt_.shadow_fraction > 0 &&
      unit(rng_) < opt_.shadow_fraction) {
    pair = std::make_shared<ShadowPair>();
    pair->id = next_pair_id_++;
    pair->method = std::string(req.method_string());
    pair->path = std::string(req.target());
    pair->request = req.body();
    asio::co_spawn(ioc_, Shadow(req, pair), asio::detached);
  }

  ForwardResult res = co_await Forward(&client, keep_alive, req, pool, !key.empty() || pair);
  CountRequest(res.status, std::chrono::duration<double>(Clock::now() - t0).count());
  if (!key.empty() && res.status == 200 && res.body_complete && !res.streamed &&
      !pool->retired) {
    if (have_cached && cached.body != res.body) cache_->Evict(key, kEvictMismatch);
    cache_->Insert(key, pool->version, CachedAnswer{res.content_type, res.body});
  }
  if (pair) {
    pair->current = std::move(res);
    FinishPair(pair);
    co_return !pair->current.client_broken && keep_alive;
  }
  co_return !res.client_broken && keep_alive;
}

Task<void> DeployServer::Shadow(http::request<http::string_body> req,
                                     std::shared_ptr<ShadowPair> pair) {
  std::shared_ptr<Pool> pool = candidate_;
  if (pool) {
    pair->candidate = co_await Forward(nullptr, true, req, pool, true);
  } else {
    pair->candidate.status = 0;
  }
  FinishPair(pair);
}

void DeployServer::FinishPair(const std::shared_ptr<ShadowPair>& pair) {
  if (--pair->pending > 0) return;
  ++shadow_pairs_;
  if (!pairs_file_.is_open()) return;
  auto side = [](JsonWriter& w, const ForwardResult& r) {
    w.BeginObject().Key("version").String(r.version).Key("status").Int(r.status);
    w.Key("latency_ms").Number(std::round(r.latency_s * 1e6) / 1e3);
    w.Key("body").String(r.body_complete ? r.body : "").EndObject();
  };
  JsonWriter w;
  w.BeginObject().Key("id").String(fmt::format("{}-{}", static_cast<int64_t>(started_),
                                               pair->id));
  w.Key("time").Number(WallNow()).Key("method").String(pair->method);
  w.Key("path").String(pair->path).Key("request").String(pair->request);
  w.Key("current");
  side(w, pair->current);
  w.Key("candidate");
  side(w, pair->candidate);
  w.EndObject();
  pairs_file_ << w.str() << '\n';
  pairs_file_.flush();
}

// ---------------------------------------------------------------------------------------------
// Admin, metrics, versions

void DeployServer::Promote() {
  std::shared_ptr<Pool> old = current_;
  current_ = candidate_;
  candidate_ = nullptr;
  AutoscaleConfig a = opt_.autoscale;
  current_->autoscaler = std::make_unique<Autoscaler>(a);
  current_->role = "current";
  int64_t stale = cache_ ? cache_->EvictOtherVersions(current_->version) : 0;
  AddEvent("promote",
           fmt::format("version {} now serves; {} drains ({} in flight); {} cached answers of the "
                       "old version evicted", current_->version, old->version, old->in_flight,
                       stale),
           fmt::format(R"({{"from":"{}","to":"{}","in_flight_old":{},"stale_evicted":{}}})",
                       old->version, current_->version, old->in_flight, stale));
  old->role = "retired";
  RetirePool(old, "promoted " + current_->version);
}

void DeployServer::Rollback() {
  std::shared_ptr<Pool> cand = candidate_;
  candidate_ = nullptr;
  AddEvent("rollback",
           fmt::format("candidate {} removed; {} keeps serving", cand->version, current_->version),
           fmt::format(R"({{"removed":"{}","serving":"{}"}})", cand->version, current_->version));
  RetirePool(cand, "rolled back");
}

Task<bool> DeployServer::Admin(Stream& client,
                                    http::request<http::string_body>& req, bool from_loopback) {
  bool keep = req.keep_alive();
  std::string target(req.target());
  if (!opt_.token.empty()) {
    auto h = req.find(http::field::authorization);
    if (h == req.end() || h->value() != "Bearer " + opt_.token) {
      co_return co_await Reply(client, 401, "application/json",
                               "{\"error\":\"admin needs Authorization: Bearer TOKEN\"}\n", keep);
    }
  } else if (!from_loopback) {
    co_return co_await Reply(client, 403, "application/json",
                             "{\"error\":\"admin is for localhost only (no token set)\"}\n", keep);
  }
  if (target == "/admin/status") {
    co_return co_await Reply(client, 200, "application/json", StatusJson(), keep);
  }
  if (req.method() != http::verb::post) {
    co_return co_await Reply(client, 405, "application/json", "{\"error\":\"use POST\"}\n", keep);
  }
  if (target == "/admin/promote" || target == "/admin/rollback") {
    if (!candidate_) {
      co_return co_await Reply(client, 409, "application/json",
                               "{\"error\":\"no candidate version is running\"}\n", keep);
    }
    if (target == "/admin/promote") {
      if (candidate_->Ready() == 0) {
        co_return co_await Reply(client, 409, "application/json",
                                 "{\"error\":\"the candidate has no ready replica yet\"}\n", keep);
      }
      Promote();
    } else {
      Rollback();
    }
    co_return co_await Reply(client, 200, "application/json", StatusJson(), keep);
  }
  if (target.rfind("/admin/test/corrupt-cache", 0) == 0) {
    if (!opt_.test_hooks || !cache_) {
      co_return co_await Reply(client, 404, "application/json",
                               "{\"error\":\"test hooks are off\"}\n", keep);
    }
    int64_t n = cache_->CorruptForTest(1 << 30);
    AddEvent("test_corrupt_cache", fmt::format("test hook damaged {} cache entries", n),
             fmt::format(R"({{"damaged":{}}})", n));
    co_return co_await Reply(client, 200, "application/json",
                             fmt::format(R"({{"damaged":{}}})", n) + "\n", keep);
  }
  co_return co_await Reply(client, 404, "application/json", "{\"error\":\"no such admin path\"}\n",
                           keep);
}

std::string DeployServer::StatusJson() {
  JsonWriter w;
  w.BeginObject().Key("uptime_s").Number(WallNow() - started_);
  w.Key("port").Int(port_);
  w.Key("in_flight").Int(in_flight_);
  w.Key("shadow_fraction").Number(candidate_ ? opt_.shadow_fraction : 0);
  w.Key("canary_percent").Number(candidate_ ? opt_.canary_percent : 0);
  w.Key("panic").Bool(current_->autoscaler && current_->autoscaler->in_panic());
  w.Key("pools").BeginArray();
  std::vector<std::shared_ptr<Pool>> pools = {current_};
  if (candidate_) pools.push_back(candidate_);
  for (auto& p : retired_pools_) {
    if (!p->replicas.empty()) pools.push_back(p);
  }
  for (auto& p : pools) {
    w.BeginObject().Key("role").String(p->role).Key("version").String(p->version);
    w.Key("in_flight").Int(p->in_flight).Key("ready").Int(p->Ready());
    w.Key("replicas").BeginArray();
    for (auto& r : p->replicas) {
      w.BeginObject().Key("id").Int(r->id).Key("port").Int(r->port).Key("pid").Int(r->pid);
      w.Key("state").String(r->retire && r->state == ReplicaState::kReady ? "draining"
                                                                           : StateName(r->state));
      w.Key("outstanding").Int(r->outstanding).Key("restarts").Int(r->restarts);
      w.Key("log").String(r->log_path).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.Key("requests").BeginObject();
  for (auto& [code, n] : requests_by_code_) w.Key(std::to_string(code)).Int(n);
  w.EndObject();
  w.Key("retries").Int(retries_).Key("replica_restarts").Int(replica_restarts_);
  w.Key("upstream_timeouts").Int(upstream_timeouts_);
  w.Key("shadow_pairs").Int(shadow_pairs_).Key("canary_requests").Int(canary_requests_);
  w.Key("scaling_events").BeginObject();
  for (auto& [k, n] : scale_events_) w.Key(k).Int(n);
  w.EndObject();
  w.Key("cache");
  if (cache_) {
    CacheStats s = cache_->Stats();
    w.BeginObject().Key("hits").Int(s.hits).Key("misses").Int(s.misses);
    w.Key("entries").Int(s.entries).Key("bytes").Int(s.bytes);
    w.Key("max_bytes").Int(cache_->max_bytes()).Key("evictions").BeginObject();
    for (auto& [cause, n] : s.evictions) w.Key(cause).Int(n);
    w.EndObject().EndObject();
  } else {
    w.Null();
  }
  w.Key("events").BeginArray();
  size_t skip = recent_events_.size() > 50 ? recent_events_.size() - 50 : 0;
  for (size_t i = skip; i < recent_events_.size(); ++i) {
    const Event& e = recent_events_[i];
    w.BeginObject().Key("time").Number(e.time).Key("kind").String(e.kind);
    w.Key("message").String(e.message).Key("data").Raw(e.data_json).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take() + "\n";
}

std::string DeployServer::MetricsText() {
  MetricsWriter m;
  m.Help("inloop_requests_total", "counter", "Proxied requests by response status code.");
  for (auto& [code, n] : requests_by_code_) {
    m.Sample("inloop_requests_total", {{"code", std::to_string(code)}}, n);
  }
  m.Help("inloop_request_duration_seconds", "histogram",
         "Time from a request's head to the end of its answer.");
  for (auto& [le, n] : latency_buckets_) {
    m.Sample("inloop_request_duration_seconds_bucket", {{"le", fmt::format("{}", le)}}, n);
  }
  m.Sample("inloop_request_duration_seconds_bucket", {{"le", "+Inf"}}, latency_count_);
  m.Sample("inloop_request_duration_seconds_sum", {}, latency_sum_);
  m.Sample("inloop_request_duration_seconds_count", {}, latency_count_);
  m.Help("inloop_in_flight", "gauge", "Requests being answered now.");
  m.Sample("inloop_in_flight", {}, in_flight_);
  m.Help("inloop_replicas", "gauge", "Replicas by pool, version and state.");
  std::vector<std::shared_ptr<Pool>> pools = {current_};
  if (candidate_) pools.push_back(candidate_);
  for (auto& p : retired_pools_) {
    if (!p->replicas.empty()) pools.push_back(p);
  }
  for (auto& p : pools) {
    std::map<std::string, int> by_state = {{"ready", 0}, {"starting", 0}};
    for (auto& r : p->replicas) {
      by_state[r->retire && r->state == ReplicaState::kReady ? "draining" : StateName(r->state)]++;
    }
    for (auto& [state, n] : by_state) {
      m.Sample("inloop_replicas", {{"pool", p->role}, {"version", p->version}, {"state", state}},
               n);
    }
  }
  m.Help("inloop_upstream_retries_total", "counter",
         "Requests sent again to another replica after a connection failed unanswered.");
  m.Sample("inloop_upstream_retries_total", {}, retries_);
  m.Help("inloop_upstream_timeouts_total", "counter", "Requests answered 504.");
  m.Sample("inloop_upstream_timeouts_total", {}, upstream_timeouts_);
  m.Help("inloop_replica_restarts_total", "counter", "Replica restarts after a death or failure.");
  m.Sample("inloop_replica_restarts_total", {}, replica_restarts_);
  m.Help("inloop_scaling_events_total", "counter", "Autoscaler decisions by direction.");
  for (const char* k : {"up", "down", "panic_up"}) {
    auto it = scale_events_.find(k);
    m.Sample("inloop_scaling_events_total", {{"direction", k}},
             it == scale_events_.end() ? 0 : it->second);
  }
  m.Help("inloop_autoscaler_panic", "gauge", "1 while the autoscaler is in panic mode.");
  m.Sample("inloop_autoscaler_panic", {},
           current_->autoscaler && current_->autoscaler->in_panic() ? 1 : 0);
  m.Help("inloop_shadow_pairs_total", "counter", "Recorded current/candidate answer pairs.");
  m.Sample("inloop_shadow_pairs_total", {}, shadow_pairs_);
  m.Help("inloop_canary_requests_total", "counter", "Requests answered by the candidate.");
  m.Sample("inloop_canary_requests_total", {}, canary_requests_);
  if (cache_) {
    CacheStats s = cache_->Stats();
    m.Help("inloop_cache_hits_total", "counter", "Answers served from the cache.");
    m.Sample("inloop_cache_hits_total", {}, s.hits);
    m.Help("inloop_cache_misses_total", "counter", "Cacheable requests not served from it.");
    m.Sample("inloop_cache_misses_total", {}, s.misses);
    m.Help("inloop_cache_evictions_total", "counter", "Cache entries removed, by cause.");
    for (const char* c : {kEvictCorrupt, kEvictStaleVersion, kEvictMismatch, kEvictCapacity}) {
      auto it = s.evictions.find(c);
      m.Sample("inloop_cache_evictions_total", {{"cause", c}},
               it == s.evictions.end() ? 0 : it->second);
    }
    m.Help("inloop_cache_bytes", "gauge", "Bytes held by the cache.");
    m.Sample("inloop_cache_bytes", {}, s.bytes);
    m.Help("inloop_cache_entries", "gauge", "Entries in the cache.");
    m.Sample("inloop_cache_entries", {}, s.entries);
  }
  return m.Take();
}

void DeployServer::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  AddEvent("deploy_stop", "stopping: draining every replica", "");
  beast::error_code ignore;
  acceptor_.close(ignore);
  RetirePool(current_, "shutdown");
  if (candidate_) RetirePool(candidate_, "shutdown");
  asio::co_spawn(
      ioc_,
      [this]() -> Task<void> {
        while (live_replica_loops_ > 0) co_await Sleep(0.02);
        ioc_.stop();
      },
      asio::detached);
}

int DeployServer::Run(std::string* error) {
  started_ = WallNow();
  std::error_code fec;
  std::filesystem::create_directories(opt_.state_dir + "/replicas", fec);
  if (fec) {
    *error = fmt::format("cannot create {}: {}", opt_.state_dir, fec.message());
    return kDeployExitBind;
  }
  events_file_.open(opt_.state_dir + "/events.jsonl", std::ios::app);
  pairs_file_.open(opt_.state_dir + "/pairs.jsonl", std::ios::app);

  beast::error_code ec;
  auto addr = asio::ip::make_address(opt_.bind, ec);
  if (ec) {
    *error = fmt::format("--bind {}: not an IP address", opt_.bind);
    return kDeployExitBind;
  }
  tcp::endpoint ep(addr, static_cast<unsigned short>(opt_.port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = fmt::format("cannot listen on {}:{}: {} (pick another --port)", opt_.bind, opt_.port,
                         ec.message());
    return kDeployExitBind;
  }
  int port = acceptor_.local_endpoint(ec).port();
  port_ = port;
  if (!opt_.port_file.empty()) {
    Status s = WriteFileAtomically(opt_.port_file, std::to_string(port) + "\n");
    if (!s.ok()) {
      *error = s.message();
      return kDeployExitBind;
    }
  }

  current_ = std::make_shared<Pool>();
  current_->role = "current";
  current_->version = opt_.version;
  current_->command = opt_.command;
  current_->autoscaler = std::make_unique<Autoscaler>(opt_.autoscale);
  AddEvent("deploy_start",
           fmt::format("listening on {}:{}; {} replicas of {} (min {}, max {})", opt_.bind, port,
                       opt_.autoscale.min_replicas, opt_.version, opt_.autoscale.min_replicas,
                       opt_.autoscale.max_replicas),
           fmt::format(R"({{"port":{},"min":{},"max":{}}})", port, opt_.autoscale.min_replicas,
                       opt_.autoscale.max_replicas));
  for (int i = 0; i < opt_.autoscale.min_replicas; ++i) AddReplica(current_);
  if (!opt_.candidate_command.empty()) {
    candidate_ = std::make_shared<Pool>();
    candidate_->role = "candidate";
    candidate_->version = opt_.candidate_version;
    candidate_->command = opt_.candidate_command;
    for (int i = 0; i < std::max(1, opt_.candidate_replicas); ++i) AddReplica(candidate_);
  }
  fmt::print(stderr, "inloop deploy: listening on http://{}:{} (metrics /metrics, admin "
             "/admin/status); state in {}\n", opt_.bind, port, opt_.state_dir);

  int exit_code = 0;
  signals_.async_wait([this](const beast::error_code& e, int) {
    if (!e) Shutdown();
  });
  asio::co_spawn(ioc_, AcceptLoop(), asio::detached);
  asio::co_spawn(ioc_, AutoscaleLoop(), asio::detached);
  // Start-up watchdog: no ready replica of the current version in time ends the deploy.
  asio::co_spawn(
      ioc_,
      [this, &exit_code, error]() -> Task<void> {
        auto deadline = Clock::now() + Secs(opt_.startup_timeout_s);
        while (Clock::now() < deadline && current_->Ready() == 0 && !shutting_down_) {
          co_await Sleep(0.05);
        }
        if (current_->Ready() == 0 && !shutting_down_) {
          exit_code = kDeployExitNoReplica;
          *error = fmt::format("no replica of `{}` became ready within {}s (GET {} on its "
                               "port); see {}/replicas/*.log",
                               opt_.command.empty() ? "" : opt_.command[0],
                               opt_.startup_timeout_s, opt_.health_path, opt_.state_dir);
          Shutdown();
        }
      },
      asio::detached);
  ioc_.run();
  return exit_code;
}

}  // namespace

int RunDeploy(const DeployOptions& options, std::string* error) {
  // Writes to a client that went away must be errors, not a signal that ends the deploy.
  signal(SIGPIPE, SIG_IGN);
  DeployServer server(options);
  return server.Run(error);
}

}  // namespace inloop::gateway
