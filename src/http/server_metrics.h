// ServerMetrics: what `inloop serve` counts about itself, printed as Prometheus text on /metrics:
// requests by route and status code, a latency histogram, SSE clients (now, dropped), SSE store
// polls, and points ingested. Thread-safe; never blocks on I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace inloop::http {

// A Prometheus label value: backslash, quote and newline escaped (text format 0.0.4).
std::string PrometheusLabelValue(const std::string& v);

class ServerMetrics {
 public:
  ServerMetrics();
  void RecordRequest(const std::string& route, int status, double seconds);
  void AddPointsIngested(int64_t n) { points_ingested_ += n; }
  void SseClientOpened() {
    ++sse_clients_;
    ++sse_clients_total_;
  }
  void SseClientClosed() { --sse_clients_; }
  void SseClientDropped() { ++sse_clients_dropped_; }
  void SsePoll() { ++sse_polls_; }
  void SsePointsSent(int64_t n) { sse_points_sent_ += n; }

  int64_t sse_clients() const { return sse_clients_; }
  int64_t sse_polls() const { return sse_polls_; }
  int64_t sse_clients_dropped() const { return sse_clients_dropped_; }

  // The Prometheus text exposition (version 0.0.4).
  std::string Text() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::vector<double> bounds_;    // histogram upper bounds, seconds
  std::vector<int64_t> buckets_;  // per bound (not cumulative), plus +Inf at the end
  double latency_sum_ = 0;
  int64_t latency_count_ = 0;
  std::atomic<int64_t> points_ingested_{0};
  std::atomic<int64_t> sse_clients_{0};
  std::atomic<int64_t> sse_clients_total_{0};
  std::atomic<int64_t> sse_clients_dropped_{0};
  std::atomic<int64_t> sse_polls_{0};
  std::atomic<int64_t> sse_points_sent_{0};
};

}  // namespace inloop::http
