// Ingest over HTTP (ingest.h): JSON bodies checked field by field (400 naming the field), then the
// catalog and the run's writer in the run's lane. Points are flushed (durable) before the answer.
#include "http/ingest.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "http/ingest_body.h"
#include "supervise/run_context.h"

namespace inloop::http {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status ParseObject(const std::string& body, simdjson::dom::parser& parser,
                   simdjson::dom::element* doc) {
  if (body.empty()) return Status::Invalid("body: empty (send a JSON object)");
  if (parser.parse(body).get(*doc) || !doc->is_object()) {
    return Status::Invalid("body: not a JSON object");
  }
  return Status::OK();
}

}  // namespace

IngestRuns::IngestRuns(std::string store_dir, ServerMetrics* metrics)
    : dir_(std::move(store_dir)), metrics_(metrics) {
  int n = store::Store::IsPostgresUrl(dir_) ? kPgLanes : 1;
  for (int i = 0; i < n; ++i) lanes_.push_back(std::make_unique<Lane>());
}

IngestRuns::~IngestRuns() { CloseAll(); }

IngestRuns::Lane& IngestRuns::LaneOf(std::string_view key) {
  return *lanes_[std::hash<std::string_view>{}(key) % lanes_.size()];
}

Status IngestRuns::OpenStores() {
  if (open_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard<std::mutex> lock(open_mu_);
  if (open_.load(std::memory_order_relaxed)) return Status::OK();
  std::vector<std::unique_ptr<store::Store>> stores(lanes_.size());
  for (auto& st : stores) INLOOP_RETURN_IF_ERROR(store::Store::Open(dir_, false, &st));
  for (size_t i = 0; i < lanes_.size(); ++i) {
    std::lock_guard<std::mutex> l(lanes_[i]->mu);
    lanes_[i]->store = std::move(stores[i]);
  }
  open_.store(true, std::memory_order_release);
  return Status::OK();
}

Status IngestRuns::LockRunLane(const std::string& run_ref, std::unique_lock<std::mutex>* lock,
                               Lane** lane, store::RunRecord* run) {
  INLOOP_RETURN_IF_ERROR(OpenStores());
  *lane = &LaneOf(run_ref);
  *lock = std::unique_lock<std::mutex>((*lane)->mu);
  INLOOP_RETURN_IF_ERROR((*lane)->store->FindRun(run_ref, run));
  Lane* home = &LaneOf(run->id);
  if (home == *lane) return Status::OK();
  lock->unlock();  // never two lanes at once
  *lane = home;
  *lock = std::unique_lock<std::mutex>(home->mu);
  return home->store->FindRun(run->id, run);  // as it is now, under the run's own lane
}

Status IngestRuns::LockRunningRun(const std::string& run_ref, std::unique_lock<std::mutex>* lock,
                                  Lane** lane, store::RunRecord* run) {
  INLOOP_RETURN_IF_ERROR(OpenStores());
  auto now = std::chrono::steady_clock::now();
  *lane = &LaneOf(run_ref);
  *lock = std::unique_lock<std::mutex>((*lane)->mu);
  auto seen = (*lane)->seen_running.find(run_ref);
  if (seen != (*lane)->seen_running.end()) {
    if (now - seen->second < kRunRecheck && (*lane)->writers.count(run_ref) > 0) {
      run->id = run_ref;
      run->status = store::kRunning;
      return Status::OK();
    }
    (*lane)->seen_running.erase(seen);
  }
  lock->unlock();
  INLOOP_RETURN_IF_ERROR(LockRunLane(run_ref, lock, lane, run));
  if (run->status == store::kRunning) (*lane)->seen_running[run->id] = now;
  return Status::OK();
}

Status IngestRuns::WriterIn(Lane& lane, const std::string& run_id, store::RunWriter** out) {
  auto it = lane.writers.find(run_id);
  if (it == lane.writers.end()) {
    std::unique_ptr<store::RunWriter> w;
    Status s = lane.store->OpenWriter(run_id, &w);
    if (!s.ok()) return s;
    it = lane.writers.emplace(run_id, std::move(w)).first;
  }
  *out = it->second.get();
  return Status::OK();
}

void IngestRuns::CloseAll() {
  for (auto& lane : lanes_) {
    std::lock_guard<std::mutex> lock(lane->mu);
    for (auto& [id, w] : lane->writers) {
      Status s = w->Close();
      if (!s.ok()) fmt::print(stderr, "inloop serve: warning: run {}: {}\n", id, s.message());
    }
    lane->writers.clear();
    lane->sync.clear();
    lane->seen_running.clear();
  }
}

Status IngestRuns::Locked(const std::function<Status(Session&)>& fn) {
  INLOOP_RETURN_IF_ERROR(OpenStores());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(lanes_.size());
  for (auto& lane : lanes_) locks.emplace_back(lane->mu);  // in order: nothing else holds two
  Session session(this);
  return fn(session);
}

Status IngestRuns::Session::AppendWith(const std::string& run_id, size_t points,
                                       const std::function<Status(store::RunWriter*)>& append) {
  Lane& lane = owner_->LaneOf(run_id);
  store::RunWriter* w = nullptr;
  Status s = owner_->WriterIn(lane, run_id, &w);
  if (!s.ok()) {
    return Status::Invalid(
        fmt::format("run {}: {} (another process writes it)", run_id, s.message()));
  }
  s = append(w);
  if (s.ok()) s = w->Flush();
  if (!s.ok()) {
    lane.writers.erase(run_id);
    return s;
  }
  owner_->metrics_->AddPointsIngested(static_cast<int64_t>(points));
  return Status::OK();
}

Status IngestRuns::Session::Append(const std::string& run_id,
                                   const std::vector<IngestPoint>& points) {
  return AppendWith(run_id, points.size(), [&](store::RunWriter* w) {
    for (auto& p : points) INLOOP_RETURN_IF_ERROR(w->Append(p.key, p.step, p.wall_time, p.value));
    return Status::OK();
  });
}

Status IngestRuns::Session::Append(const std::string& run_id, const std::vector<std::string>& keys,
                                   const std::vector<KeyedPoint>& points) {
  return AppendWith(run_id, points.size(), [&](store::RunWriter* w) {
    for (const KeyedPoint& p : points) {
      if (p.key >= keys.size()) {
        return Status::Invalid(
            fmt::format("run {}: a point names key {} of {}", run_id, p.key, keys.size()));
      }
      INLOOP_RETURN_IF_ERROR(w->Append(keys[p.key], p.step, p.wall_time, p.value));
    }
    return Status::OK();
  });
}

Status IngestRuns::Session::CloseWriter(const std::string& run_id) {
  Lane& lane = owner_->LaneOf(run_id);
  lane.seen_running.erase(run_id);
  auto& writers = lane.writers;
  auto it = writers.find(run_id);
  if (it == writers.end()) return Status::OK();
  Status s = it->second->Close();
  writers.erase(it);
  return s;
}

HttpResponse IngestRuns::Create(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  Status s = ParseObject(body, parser, &doc);
  if (!s.ok()) return ErrorFor(s);
  store::RunRecord run;
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::string_view sv;
  simdjson::dom::element e;
  if (!doc["name"].get(e)) {
    if (e.get_string().get(sv) || sv.empty())
      return JsonError(400, "name: must be a non-empty string");
    run.name = std::string(sv);
  }
  if (!doc["command"].get(e)) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr)) return JsonError(400, "command: must be an array of strings");
    for (auto a : arr) {
      if (a.get_string().get(sv)) return JsonError(400, "command: must be an array of strings");
      run.command.emplace_back(sv);
    }
  }
  if (!doc["params"].get(e)) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj)) return JsonError(400, "params: must be an object");
    for (auto [k, v] : obj) {
      store::Param p;
      p.key = std::string(k);
      p.source = "http";
      if (!v.get_string().get(sv)) {
        p.value = std::string(sv);
      } else if (v.is_number() || v.is_bool()) {
        p.value = simdjson::minify(v);
      } else {
        return JsonError(400, fmt::format("params.{}: must be a string, number or boolean", k));
      }
      params.push_back(std::move(p));
    }
  }
  if (!doc["tags"].get(e)) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr)) return JsonError(400, "tags: must be an array of strings");
    for (auto a : arr) {
      if (a.get_string().get(sv) || sv.empty()) {
        return JsonError(400, "tags: must be an array of non-empty strings");
      }
      tags.emplace_back(sv);
    }
  }
  if (run.name.empty()) run.name = "http-run";
  run.status = store::kRunning;
  run.started_at = Now();
  run.attempts = 1;
  run.host = "";
  run.supervisor_pid = ::getpid();
  run.supervisor_host = supervise::HostName();
  s = OpenStores();
  if (!s.ok()) return ErrorFor(s);
  // The catalog rows on any lane (the run has no id yet), then its writer in its own lane.
  Lane& any = *lanes_[next_create_.fetch_add(1) % lanes_.size()];
  std::unique_lock<std::mutex> lock(any.mu);
  store::Store* store = any.store.get();
  s = store->CreateRun(&run);
  if (s.ok()) s = store->SetParams(run.id, params);
  if (s.ok()) s = store->AddTags(run.id, tags);
  if (s.ok()) {
    store::AttemptRecord a;
    a.run_id = run.id;
    a.number = 1;
    a.reason = "start";
    a.started_at = run.started_at;
    s = store->PutAttempt(a);
  }
  if (s.ok()) {
    store::EventRecord ev;
    ev.run_id = run.id;
    ev.time = run.started_at;
    ev.kind = "run_start";
    ev.severity = "info";
    ev.message = "run created over HTTP (points arrive by POST)";
    ev.data_json = R"({"source":"http"})";
    s = store->AddEvent(&ev);
  }
  if (!s.ok()) return ErrorFor(s);
  lock.unlock();  // never two lanes at once
  Lane& home = LaneOf(run.id);
  lock = std::unique_lock<std::mutex>(home.mu);
  store::RunWriter* w = nullptr;
  s = WriterIn(home, run.id, &w);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter out;
  out.BeginObject().Key("id").String(run.id).Key("name").String(run.name).EndObject();
  return JsonResponse(out.Take());
}

HttpResponse IngestRuns::Points(const std::string& run_ref, const std::string& body) {
  // Validate the whole batch before appending any of it.
  std::vector<IngestPoint> pts;
  if (auto bad = ParsePointsBody(body, Now(), &pts)) return std::move(*bad);
  std::unique_lock<std::mutex> lock;
  Lane* lane = nullptr;
  store::RunRecord run;
  Status s = LockRunningRun(run_ref, &lock, &lane, &run);
  if (!s.ok()) return ErrorFor(s);
  if (run.status != store::kRunning) {
    return JsonError(409, fmt::format("run {} is {}: points are accepted only while it runs",
                                      run.id, run.status));
  }
  store::RunWriter* w = nullptr;
  s = WriterIn(*lane, run.id, &w);
  if (!s.ok()) {
    return JsonError(409,
                     fmt::format("run {}: {} (another process writes it)", run.id, s.message()));
  }
  lane->sync.erase(run.id);  // points from elsewhere: a replicated run's marks are derived again
  for (auto& p : pts) {
    s = w->Append(p.key, p.step, p.wall_time, p.value);
    if (!s.ok()) break;
  }
  if (s.ok()) s = w->Flush();
  if (!s.ok()) {
    lane->writers.erase(run.id);  // a failed writer is done; a new one recovers from the WAL
    return ErrorFor(s);
  }
  metrics_->AddPointsIngested(static_cast<int64_t>(pts.size()));
  JsonWriter out;
  out.BeginObject().Key("accepted").Int(static_cast<int64_t>(pts.size())).EndObject();
  return JsonResponse(out.Take());
}

HttpResponse IngestRuns::Finish(const std::string& run_ref, const std::string& body) {
  std::string status = store::kFinished;
  std::optional<int> exit_code;
  if (!body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    Status s = ParseObject(body, parser, &doc);
    if (!s.ok()) return ErrorFor(s);
    simdjson::dom::element e;
    std::string_view sv;
    if (!doc["status"].get(e)) {
      if (e.get_string().get(sv) || (sv != store::kFinished && sv != store::kFailed)) {
        return JsonError(400, "status: must be \"finished\" or \"failed\"");
      }
      status = std::string(sv);
    }
    if (!doc["exit_code"].get(e) && !e.is_null()) {
      int64_t c = 0;
      if (e.get_int64().get(c) || c < 0 || c > 255) {
        return JsonError(400, "exit_code: must be an integer from 0 to 255");
      }
      exit_code = static_cast<int>(c);
    }
  }
  std::unique_lock<std::mutex> lock;
  Lane* lane = nullptr;
  store::RunRecord run;
  Status s = LockRunLane(run_ref, &lock, &lane, &run);
  if (!s.ok()) return ErrorFor(s);
  if (run.status != store::kRunning) {
    return JsonError(409, fmt::format("run {} is already {}", run.id, run.status));
  }
  store::Store* store = lane->store.get();
  lane->seen_running.erase(run.id);
  auto it = lane->writers.find(run.id);
  if (it != lane->writers.end()) {
    s = it->second->Close();
    lane->writers.erase(it);
    if (!s.ok()) return ErrorFor(s);
  }
  run.status = status;
  run.ended_at = Now();
  run.exit_code = exit_code;
  s = store->UpdateRun(run);
  std::vector<store::AttemptRecord> attempts;
  if (s.ok()) s = store->ListAttempts(run.id, &attempts);
  if (s.ok() && !attempts.empty()) {
    store::AttemptRecord a = attempts.back();
    a.ended_at = run.ended_at;
    a.exit_code = exit_code;
    s = store->PutAttempt(a);
  }
  if (s.ok()) {
    store::EventRecord ev;
    ev.run_id = run.id;
    ev.time = run.ended_at;
    ev.kind = "run_end";
    ev.severity = status == store::kFinished ? "info" : "error";
    ev.message = fmt::format("run {} (reported over HTTP)", status);
    ev.data_json = R"({"source":"http"})";
    s = store->AddEvent(&ev);
  }
  if (!s.ok()) return ErrorFor(s);
  JsonWriter out;
  out.BeginObject().Key("id").String(run.id).Key("status").String(status).EndObject();
  return JsonResponse(out.Take());
}

}  // namespace inloop::http
