// The deploy server's admin side (deploy_server.h): promote and rollback of the candidate, the
// admin endpoints, the status JSON and the /metrics text.
#include "gateway/deploy_server.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "gateway/metrics_text.h"

namespace inloop::gateway::deploy_internal {
namespace {

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

}  // namespace

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

}  // namespace inloop::gateway::deploy_internal
