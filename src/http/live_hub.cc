// LiveHub (live_hub.h). Positions are counts of points per series segment (series id), so a
// resumed attempt that rewinds its steps opens a new segment and loses nothing. Each read is the
// store's consistent snapshot of the run (Store::ReadRunSnapshot: chunks and WAL tail
// contiguous), and a tick skips a run whose change stamp (Store::SeriesVersionOf) has not moved.
// Lock order: the hub's mutex, then a poller's; a poller's mutex is held while it reads and
// queues, and while a client joins it, so a client's `ready` position and the points it is sent
// afterwards never overlap or leave a gap.
#include "http/live_hub.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/json_views.h"

namespace inloop::http {

// ---- SseClient ----

bool SseClient::Push(const std::shared_ptr<const std::string>& msg) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || overflowed_) return false;
    if (bytes_ + msg->size() > max_bytes_) {
      overflowed_ = true;
      queue_.clear();
      bytes_ = 0;
      wake = wakeup_;
    } else {
      if (queue_.empty()) wake = wakeup_;
      queue_.push_back(msg);
      bytes_ += msg->size();
    }
  }
  if (wake) wake();
  std::lock_guard<std::mutex> lock(mu_);
  return !overflowed_;
}

void SseClient::TakeAll(std::string* out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& m : queue_) out->append(*m);
  queue_.clear();
  bytes_ = 0;
}

bool SseClient::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_;
}

bool SseClient::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void SseClient::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  queue_.clear();
  bytes_ = 0;
  wakeup_ = nullptr;
}

void SseClient::SetWakeup(std::function<void()> wakeup) {
  bool pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wakeup_ = std::move(wakeup);
    pending = !queue_.empty() || overflowed_;
  }
  if (pending && wakeup_) wakeup_();
}

size_t SseClient::queued_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

std::string SseMessage(std::string_view type, std::string_view json) {
  return fmt::format("event: {}\ndata: {}\n\n", type, json);
}

// ---- LiveHub ----

struct LiveHub::RunPoller {
  std::string run_id;
  std::mutex mu;
  std::string status;  // "" until first read
  double ended_at = 0;
  std::optional<int> exit_code;
  struct Segment {
    std::string key;
    int64_t sent = 0;       // points of this segment already pushed (or before the start)
    int64_t last_step = 0;  // of the last of them
  };
  std::map<int64_t, Segment> segments;  // by series id
  int64_t last_event_id = 0;
  std::map<int64_t, std::string> action_states;
  std::vector<std::shared_ptr<SseClient>> clients;
  bool in_all = false;
  bool done = false;  // the run ended and a tick after that read everything
  // Change detection: a tick reads the series only when the run's stamp moved.
  store::SeriesVersion version;
};

LiveHub::LiveHub(StorePool* pool, ServerMetrics* metrics, LiveHubOptions options)
    : pool_(pool), metrics_(metrics), options_(options) {}

LiveHub::~LiveHub() { Stop(); }

void LiveHub::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LiveHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t LiveHub::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

size_t LiveHub::pollers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pollers_.size();
}

namespace {

Status RunStatus(store::Store* st, const std::string& run_id, store::RunRecord* rec) {
  return st->FindRun(run_id, rec);
}

int64_t SegmentSize(const store::SegmentData& s) {
  int64_t n = static_cast<int64_t>(s.tail.size());
  for (auto& c : s.chunks) n += c.count;
  return n;
}

// Points of `s` at positions >= from (decoding only the chunks that hold them).
Status PointsFrom(store::Store* st, const std::string& run_id, const store::SegmentData& s,
                  int64_t from, std::vector<Point>* out) {
  int64_t base = 0;
  for (auto& c : s.chunks) {
    if (base + c.count > from) {
      std::vector<Point> pts;
      INLOOP_RETURN_IF_ERROR(st->ReadChunkPoints(run_id, c, &pts));
      size_t skip = from > base ? static_cast<size_t>(from - base) : 0;
      if (skip < pts.size()) out->insert(out->end(), pts.begin() + skip, pts.end());
    }
    base += c.count;
  }
  size_t skip = from > base ? static_cast<size_t>(from - base) : 0;
  if (skip < s.tail.size()) out->insert(out->end(), s.tail.begin() + skip, s.tail.end());
  return Status::OK();
}

void WriteStatusJson(JsonWriter& w, const std::string& run_id, const std::string& status,
                     double ended_at, std::optional<int> exit_code) {
  w.BeginObject().Key("run").String(run_id).Key("status").String(status).Key("ended_at");
  if (ended_at > 0)
    w.Number(ended_at);
  else
    w.Null();
  w.Key("exit_code");
  if (exit_code)
    w.Int(*exit_code);
  else
    w.Null();
  w.EndObject();
}

}  // namespace

Status LiveHub::InitPoller(store::Store* st, RunPoller* p, bool from_start) {
  store::RunRecord rec;
  INLOOP_RETURN_IF_ERROR(RunStatus(st, p->run_id, &rec));
  if (from_start) return Status::OK();  // everything is new: the first tick sends it all
  p->status = rec.status;
  p->ended_at = rec.ended_at;
  p->exit_code = rec.exit_code;
  store::RunSeriesSnapshot snap;
  INLOOP_RETURN_IF_ERROR(st->ReadRunSnapshot(p->run_id, &snap));
  p->version = snap.version;
  for (auto& s : snap.segments) {
    RunPoller::Segment& seg = p->segments[s.series_id];
    seg.key = s.key;
    seg.sent = SegmentSize(s);
    if (!s.tail.empty()) {
      seg.last_step = s.tail.back().step;
    } else if (!s.chunks.empty()) {
      seg.last_step = s.chunks.back().last_step;
    }
  }
  INLOOP_RETURN_IF_ERROR(st->LastEventId(p->run_id, &p->last_event_id));
  std::vector<store::ActionRecord> actions;
  INLOOP_RETURN_IF_ERROR(st->ListActions(p->run_id, "", &actions));
  for (auto& a : actions) p->action_states[a.id] = a.state;
  p->done = rec.status != store::kRunning;
  return Status::OK();
}

std::string LiveHub::ReadyRunJson(const RunPoller& p) const {
  JsonWriter w;
  w.BeginObject().Key("run").String(p.run_id).Key("status").String(p.status);
  // Per key: points already behind the client and the step of the last of them.
  std::map<std::string, std::pair<int64_t, int64_t>> keys;
  for (auto& [id, seg] : p.segments) {
    auto& k = keys[seg.key];
    k.first += seg.sent;
    if (seg.sent > 0) k.second = seg.last_step;
  }
  w.Key("series").BeginObject();
  for (auto& [key, v] : keys) {
    w.Key(key).BeginObject().Key("points").Int(v.first).Key("last_step").Int(v.second).EndObject();
  }
  w.EndObject().EndObject();
  return w.Take();
}

Status LiveHub::Subscribe(const std::vector<std::string>& run_ids,
                          std::shared_ptr<SseClient>* out) {
  auto client = std::make_shared<SseClient>(options_.client_max_bytes);
  std::lock_guard<std::mutex> lock(mu_);
  StorePool::Lease st;
  INLOOP_RETURN_IF_ERROR(pool_->Acquire(&st));
  std::vector<std::string> ids = run_ids;
  bool all = ids.empty();
  if (all) INLOOP_RETURN_IF_ERROR(st->RunningRunIds(&ids));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Create every missing poller first, so a failure leaves no half-registered client.
  std::map<std::string, std::shared_ptr<RunPoller>> fresh;
  for (auto& id : ids) {
    if (pollers_.count(id)) continue;
    auto p = std::make_shared<RunPoller>();
    p->run_id = id;
    INLOOP_RETURN_IF_ERROR(InitPoller(st.get(), p.get(), false));
    fresh[id] = std::move(p);
  }
  for (auto& [id, p] : fresh) pollers_[id] = p;
  JsonWriter w;
  w.BeginObject().Key("runs").BeginArray();
  for (auto& id : ids) {
    RunPoller& p = *pollers_[id];
    std::lock_guard<std::mutex> plock(p.mu);
    if (all) p.in_all = true;
    p.clients.push_back(client);
    w.Raw(ReadyRunJson(p));
  }
  w.EndArray().Key("all_live").Bool(all).EndObject();
  client->Push(std::make_shared<const std::string>(SseMessage("ready", w.str())));
  if (all) all_clients_.push_back(client);
  clients_.push_back(client);
  metrics_->SseClientOpened();
  *out = std::move(client);
  return Status::OK();
}

void LiveHub::Unsubscribe(const std::shared_ptr<SseClient>& client) {
  client->Close();
  std::lock_guard<std::mutex> lock(mu_);
  auto drop = [&](std::vector<std::shared_ptr<SseClient>>& v) {
    size_t before = v.size();
    std::erase(v, client);
    return before != v.size();
  };
  if (drop(clients_)) metrics_->SseClientClosed();
  drop(all_clients_);
  for (auto& [id, p] : pollers_) {
    std::lock_guard<std::mutex> plock(p->mu);
    drop(p->clients);
  }
}

Status LiveHub::PollRun(store::Store* st, RunPoller* p,
                        std::vector<std::shared_ptr<const std::string>>* msgs) {
  // Status first: when it says the run ended, every point was durable before we read it, so the
  // points read below are the last ones and the `status` message can go out after them.
  store::RunRecord rec;
  INLOOP_RETURN_IF_ERROR(RunStatus(st, p->run_id, &rec));
  metrics_->SsePoll();
  store::SeriesVersion version;
  INLOOP_RETURN_IF_ERROR(st->SeriesVersionOf(p->run_id, &version));
  if (!(version == p->version)) {
    store::RunSeriesSnapshot snap;
    INLOOP_RETURN_IF_ERROR(st->ReadRunSnapshot(p->run_id, &snap));
    int64_t sent_points = 0;
    for (auto& s : snap.segments) {
      RunPoller::Segment& seg = p->segments[s.series_id];
      seg.key = s.key;
      int64_t size = SegmentSize(s);
      if (size <= seg.sent) continue;
      std::vector<Point> pts;
      INLOOP_RETURN_IF_ERROR(PointsFrom(st, p->run_id, s, seg.sent, &pts));
      size_t per = static_cast<size_t>(std::max(1, options_.max_points_per_message));
      for (size_t i = 0; i < pts.size(); i += per) {
        JsonWriter w;
        w.BeginObject().Key("run").String(p->run_id).Key("key").String(s.key);
        w.Key("segment").Int(s.segment).Key("points").BeginArray();
        for (size_t j = i; j < std::min(pts.size(), i + per); ++j) {
          w.BeginArray().Int(pts[j].step).Number(pts[j].wall_time).Number(pts[j].value).EndArray();
        }
        w.EndArray().EndObject();
        msgs->push_back(std::make_shared<const std::string>(SseMessage("points", w.str())));
      }
      seg.sent += static_cast<int64_t>(pts.size());
      if (!pts.empty()) seg.last_step = pts.back().step;
      sent_points += static_cast<int64_t>(pts.size());
    }
    p->version = snap.version;
    metrics_->SsePointsSent(sent_points * static_cast<int64_t>(p->clients.size()));
  }
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEventsAfter(p->run_id, p->last_event_id, &events));
  for (auto& e : events) {
    JsonWriter w;
    WriteEventJson(w, e);
    msgs->push_back(std::make_shared<const std::string>(SseMessage("event", w.str())));
    p->last_event_id = e.id;
  }
  std::vector<store::ActionRecord> actions;
  INLOOP_RETURN_IF_ERROR(st->ListActions(p->run_id, "", &actions));
  for (auto& a : actions) {
    auto it = p->action_states.find(a.id);
    if (it != p->action_states.end() && it->second == a.state) continue;
    p->action_states[a.id] = a.state;
    JsonWriter w;
    WriteActionJson(w, a, rec.name);
    msgs->push_back(std::make_shared<const std::string>(SseMessage("action", w.str())));
  }
  if (rec.status != p->status) {
    p->status = rec.status;
    p->ended_at = rec.ended_at;
    p->exit_code = rec.exit_code;
    JsonWriter w;
    WriteStatusJson(w, p->run_id, rec.status, rec.ended_at, rec.exit_code);
    msgs->push_back(std::make_shared<const std::string>(SseMessage("status", w.str())));
  }
  if (rec.status != store::kRunning) p->done = true;
  return Status::OK();
}

void LiveHub::Tick() {
  std::vector<std::shared_ptr<RunPoller>> pollers;
  StorePool::Lease st;
  if (!pool_->Acquire(&st).ok()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!all_clients_.empty()) {
      // Runs that started since: polled from their first point for the all-runs clients.
      std::vector<std::string> running;
      if (st->RunningRunIds(&running).ok()) {
        for (const std::string& id : running) {
          auto it = pollers_.find(id);
          if (it == pollers_.end()) {
            auto p = std::make_shared<RunPoller>();
            p->run_id = id;
            if (!InitPoller(st.get(), p.get(), true).ok()) continue;
            p->in_all = true;
            p->clients = all_clients_;
            pollers_[id] = std::move(p);
          } else if (!it->second->in_all) {
            std::lock_guard<std::mutex> plock(it->second->mu);
            it->second->in_all = true;
            for (auto& c : all_clients_) {
              if (std::find(it->second->clients.begin(), it->second->clients.end(), c) ==
                  it->second->clients.end()) {
                it->second->clients.push_back(c);
              }
            }
          }
        }
      }
    }
    for (auto& [id, p] : pollers_) pollers.push_back(p);
  }
  std::vector<std::shared_ptr<SseClient>> dropped;
  for (auto& p : pollers) {
    std::lock_guard<std::mutex> plock(p->mu);
    if (p->done || p->clients.empty()) continue;
    std::vector<std::shared_ptr<const std::string>> msgs;
    Status s = PollRun(st.get(), p.get(), &msgs);
    if (!s.ok()) {
      fmt::print(stderr, "inloop serve: warning: polling run {}: {}\n", p->run_id, s.message());
      continue;
    }
    for (auto& c : p->clients) {
      for (auto& m : msgs) {
        if (!c->Push(m)) {
          if (c->overflowed()) dropped.push_back(c);
          break;
        }
      }
    }
  }
  // Forget clients that are gone or fell behind, and pollers nobody needs.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : dropped) {
    if (std::find(clients_.begin(), clients_.end(), c) != clients_.end()) {
      metrics_->SseClientDropped();
    }
  }
  auto gone = [](const std::shared_ptr<SseClient>& c) { return c->closed() || c->overflowed(); };
  size_t before = clients_.size();
  std::erase_if(clients_, gone);
  for (size_t i = clients_.size(); i < before; ++i) metrics_->SseClientClosed();
  std::erase_if(all_clients_, gone);
  for (auto it = pollers_.begin(); it != pollers_.end();) {
    RunPoller& p = *it->second;
    std::lock_guard<std::mutex> plock(p.mu);
    std::erase_if(p.clients, gone);
    if (p.in_all && p.done) {
      // An ended run leaves the all-runs stream; its own subscribers keep it.
      for (auto& c : all_clients_) std::erase(p.clients, c);
      p.in_all = false;
    }
    if (p.clients.empty()) {
      it = pollers_.erase(it);
    } else {
      ++it;
    }
  }
}

void LiveHub::Loop() {
  auto last_beat = std::chrono::steady_clock::now();
  auto beat = std::make_shared<const std::string>(": heartbeat\n\n");
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                            [this] { return stop_; })) {
        return;
      }
    }
    Tick();
    auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_beat).count() >= options_.heartbeat_s) {
      last_beat = now;
      std::vector<std::shared_ptr<SseClient>> all;
      {
        std::lock_guard<std::mutex> lock(mu_);
        all = clients_;
      }
      for (auto& c : all) c->Push(beat);
    }
  }
}

}  // namespace inloop::http
