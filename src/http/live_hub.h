// LiveHub: the server-sent events of /api/v1/stream. One poller per watched run, shared by every
// client of that run: each tick (~200 ms) it reads the store once for points past what it last
// sent (per series segment), new events, changed actions and the run's status, serialises each
// message once and queues it on every client. A client's queue is bounded: a client too slow to
// keep up is disconnected (its stream ends) rather than silently losing points. Never decides how
// bytes reach a socket (server.cc does, through SseClient's wakeup).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "http/server_metrics.h"
#include "http/store_pool.h"

namespace inloop::http {

// One stream's outgoing queue. Thread-safe.
class SseClient {
 public:
  explicit SseClient(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Queues msg. False when the client is closed or overflowed; a push that would exceed the
  // byte bound marks the client overflowed (the stream must end) and queues nothing.
  bool Push(const std::shared_ptr<const std::string>& msg);
  // Appends everything queued to *out and empties the queue.
  void TakeAll(std::string* out);
  bool overflowed() const;
  bool closed() const;
  // No more pushes are accepted (the connection ended).
  void Close();
  // Called (from the hub's thread) when the queue stops being empty or the client overflows.
  void SetWakeup(std::function<void()> wakeup);
  size_t queued_bytes() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  size_t bytes_ = 0;
  size_t max_bytes_;
  bool overflowed_ = false;
  bool closed_ = false;
  std::function<void()> wakeup_;
};

struct LiveHubOptions {
  int poll_ms = 200;
  double heartbeat_s = 15;
  size_t client_max_bytes = 16u << 20;  // queued bytes before a client is disconnected
  int max_points_per_message = 2000;
};

// "event: TYPE\ndata: JSON\n\n".
std::string SseMessage(std::string_view type, std::string_view json);

class LiveHub {
 public:
  LiveHub(StorePool* pool, ServerMetrics* metrics, LiveHubOptions options = {});
  ~LiveHub();
  void Start();
  void Stop();

  // A new client of `run_ids` (resolved ids), or of every live run when empty. Its first message
  // is `ready`: {"runs":[{"run","status","series":{"KEY":{"points":N,"last_step":S}}}]}, the
  // position from which every later point is pushed (none before it, none dropped after it).
  Status Subscribe(const std::vector<std::string>& run_ids, std::shared_ptr<SseClient>* out);
  void Unsubscribe(const std::shared_ptr<SseClient>& client);

  size_t clients() const;
  size_t pollers() const;

 private:
  struct RunPoller;
  void Loop();
  void Tick();
  Status InitPoller(store::Store* st, RunPoller* p, bool from_start);
  Status PollRun(store::Store* st, RunPoller* p,
                 std::vector<std::shared_ptr<const std::string>>* msgs);
  std::string ReadyRunJson(const RunPoller& p) const;

  StorePool* pool_;
  ServerMetrics* metrics_;
  LiveHubOptions options_;
  mutable std::mutex mu_;  // pollers_, all_clients_, clients_; taken before any poller's mutex
  std::map<std::string, std::shared_ptr<RunPoller>> pollers_;
  std::vector<std::shared_ptr<SseClient>> all_clients_;  // subscribed to every live run
  std::vector<std::shared_ptr<SseClient>> clients_;      // every client, for heartbeats
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace inloop::http
