// ServerMetrics (server_metrics.h): counters under one mutex, rendered as Prometheus text.
#include "http/server_metrics.h"

#include <fmt/format.h>

namespace inloop::http {

std::string PrometheusLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

ServerMetrics::ServerMetrics()
    : bounds_{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
      buckets_(bounds_.size() + 1, 0) {}

void ServerMetrics::RecordRequest(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{route, status}]++;
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  buckets_[i]++;
  latency_sum_ += seconds;
  latency_count_++;
}

std::string ServerMetrics::Text() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP inloop_http_requests_total HTTP requests answered, by route and status code.\n";
  out += "# TYPE inloop_http_requests_total counter\n";
  for (auto& [k, n] : requests_) {
    out += fmt::format("inloop_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                       PrometheusLabelValue(k.first), k.second, n);
  }
  out += "# HELP inloop_http_request_duration_seconds Time to answer a request (SSE excluded).\n";
  out += "# TYPE inloop_http_request_duration_seconds histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i];
    out += fmt::format("inloop_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", bounds_[i],
                       cumulative);
  }
  cumulative += buckets_.back();
  out += fmt::format("inloop_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("inloop_http_request_duration_seconds_sum {}\n", latency_sum_);
  out += fmt::format("inloop_http_request_duration_seconds_count {}\n", latency_count_);
  auto gauge = [&](const char* name, const char* type, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  gauge("inloop_sse_clients", "gauge", "Server-sent-event streams open now.", sse_clients_.load());
  gauge("inloop_sse_clients_total", "counter", "Server-sent-event streams opened.",
        sse_clients_total_.load());
  gauge("inloop_sse_clients_dropped_total", "counter",
        "Streams closed because the client fell too far behind.", sse_clients_dropped_.load());
  gauge("inloop_sse_polls_total", "counter", "Store polls of live runs (one per run per tick).",
        sse_polls_.load());
  gauge("inloop_sse_points_sent_total", "counter", "Points pushed to stream clients.",
        sse_points_sent_.load());
  gauge("inloop_points_ingested_total", "counter", "Points accepted by POST .../points.",
        points_ingested_.load());
  return out;
}

}  // namespace inloop::http
