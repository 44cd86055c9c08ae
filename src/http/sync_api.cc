// POST /api/v1/sync/runs (ingest.h IngestRuns::Sync): a batch of a run supervised elsewhere
// (sync/protocol.h), applied exactly once. The server's marks come from its own data: the run
// is found by the import key "sync:<origin>:<origin run>", points per series-segment from the
// store's segments, events by count. A batch is checked whole (fields, then gaps) before any of
// it is applied; points are flushed (durable) before the answer. Builds no command or path from
// the request.
//
// A server killed mid-ingest recovers the run at its next start (store/): the store then marks
// it interrupted and adds a `run_interrupted` event of its own, which the origin never sent. The
// first batch after that (origin still running) records that event as the server's own (import
// key "sync-own:<event id>"), so that it is not counted as an origin event, and sets the status
// back to the origin's. If the origin was interrupted too, the two cannot be told apart and the
// server counts one event more than the origin has (the client reports it; nothing is lost).
#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/ingest.h"

namespace inloop::http {
namespace {

std::string ImportKey(const sync::SyncBatch& b) {
  return fmt::format("sync:{}:{}", b.origin, b.origin_run);
}
std::string OwnEventKey(int64_t event_id) { return fmt::format("sync-own:{}", event_id); }

HttpResponse MarksResponse(int status, const sync::SyncMarks& m, std::string_view error) {
  HttpResponse r = JsonResponse(sync::EncodeMarks(m));
  r.status = status;
  if (!error.empty()) {
    // {"run_id":...} -> {"error":"...","run_id":...}
    JsonWriter w;
    w.BeginObject().Key("error").String(error).EndObject();
    std::string e = w.Take();
    e.pop_back();
    r.body = e + "," + r.body.substr(1);
  }
  return r;
}

// The origin's record as the server keeps it: the server's id, no local log paths.
store::RunRecord ServerCopy(const store::RunRecord& origin, const std::string& id) {
  store::RunRecord r = origin;
  r.id = id;
  return r;
}

}  // namespace

Status IngestRuns::LoadSyncState(Lane& lane, const store::RunRecord& run,
                                 const std::string& origin_status, SyncState** out) {
  store::Store* store = lane.store.get();
  auto cached = lane.sync.find(run.id);
  if (cached != lane.sync.end()) {
    *out = &cached->second;
    return Status::OK();
  }
  SyncState st;
  std::vector<store::SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(store->ReadAllSegments(run.id, &segs));
  std::map<std::string, std::vector<const store::SegmentData*>> by_key;
  for (auto& sd : segs) by_key[sd.key].push_back(&sd);
  for (auto& [key, list] : by_key) {
    std::sort(list.begin(), list.end(), [](auto* a, auto* b) { return a->segment < b->segment; });
    std::vector<int64_t> counts;
    int64_t last_step = 0;
    for (auto* sd : list) {
      int64_t n = static_cast<int64_t>(sd->tail.size());
      for (auto& c : sd->chunks) n += c.count;
      if (n == 0) continue;
      counts.push_back(n);
      last_step = !sd->tail.empty() ? sd->tail.back().step : sd->chunks.back().last_step;
    }
    if (!counts.empty()) st.series.emplace(key, sync::SegmentCounter(std::move(counts), last_step));
  }
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(store->ListEventsAfter(run.id, 0, &events));
  if (run.status == store::kInterrupted && origin_status != store::kInterrupted &&
      !events.empty() && events.back().kind == "run_interrupted") {
    std::string owner;
    INLOOP_RETURN_IF_ERROR(store->FindImport(OwnEventKey(events.back().id), &owner));
    if (owner.empty()) {
      INLOOP_RETURN_IF_ERROR(
          store->RecordImport(OwnEventKey(events.back().id), run.id, "sync", "server-event"));
    }
  }
  std::vector<store::AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(store->ListAttempts(run.id, &attempts));
  for (auto& a : attempts) {
    for (auto stream : {store::LogStream::kStdout, store::LogStream::kStderr}) {
      const std::string& path = stream == store::LogStream::kStdout ? a.stdout_path : a.stderr_path;
      if (path.empty()) continue;
      st.log_paths[{a.number, stream}] = path;
      store::LogInfo info;
      Status s = store->AttemptLogInfo(run.id, a.number, stream, &info);
      if (!s.ok() && s.code() != Status::Code::kNotFound) return s;
      st.log_bytes[{a.number, stream}] = s.ok() ? info.raw_bytes : 0;
    }
  }
  for (auto& e : events) {
    if (e.kind == "run_interrupted") {
      std::string owner;
      INLOOP_RETURN_IF_ERROR(store->FindImport(OwnEventKey(e.id), &owner));
      if (!owner.empty()) continue;
    }
    ++st.events;
  }
  *out = &(lane.sync[run.id] = std::move(st));
  return Status::OK();
}

Status IngestRuns::ApplyLogs(Lane& lane, const std::string& run_id, const sync::SyncBatch& b,
                             SyncState* st) {
  store::Store* store = lane.store.get();
  for (auto& piece : b.logs) {
    std::pair<int, store::LogStream> k{piece.attempt, piece.stream};
    auto ov = sync::OverlapOf(st->log_bytes[k], piece.from,
                              static_cast<int64_t>(piece.bytes.size()));
    if (static_cast<size_t>(ov.skip) >= piece.bytes.size()) continue;
    std::unique_ptr<store::LogWriter> w;
    std::string rel;
    INLOOP_RETURN_IF_ERROR(store->OpenAttemptLog(run_id, piece.attempt, piece.stream, &w, &rel));
    if (st->log_paths[k] != rel) {
      // The record names its log before any byte is in it: after a crash the marks are read
      // from the file the record names, so nothing is appended twice.
      st->log_paths[k] = rel;
      for (auto& a : b.attempts) {
        if (a.number != piece.attempt) continue;
        store::AttemptRecord copy = a;
        copy.run_id = run_id;
        copy.stdout_path = st->log_paths[{a.number, store::LogStream::kStdout}];
        copy.stderr_path = st->log_paths[{a.number, store::LogStream::kStderr}];
        INLOOP_RETURN_IF_ERROR(store->PutAttempt(copy));
      }
    }
    INLOOP_RETURN_IF_ERROR(w->Append(std::string_view(piece.bytes).substr(ov.skip)));
    INLOOP_RETURN_IF_ERROR(w->Close());
    st->log_bytes[k] += static_cast<int64_t>(piece.bytes.size()) - ov.skip;
  }
  return Status::OK();
}

sync::SyncMarks IngestRuns::MarksOf(const store::RunRecord& run, const SyncState& st) const {
  sync::SyncMarks m;
  m.run_id = run.id;
  m.status = run.status;
  m.events = st.events;
  for (auto& [key, counter] : st.series) m.series.push_back({key, counter.segments()});
  for (auto& [k, bytes] : st.log_bytes) m.logs.push_back({k.first, k.second, bytes});
  return m;
}

Status IngestRuns::SyncRunFor(Lane& lane, const sync::SyncBatch& b, store::RunRecord* run) {
  store::Store* store = lane.store.get();
  std::string run_id;
  INLOOP_RETURN_IF_ERROR(store->FindImport(ImportKey(b), &run_id));
  if (!run_id.empty()) return store->FindRun(run_id, run);
  // New here. (A crash between these two leaves an empty run behind; the retry makes another.)
  *run = ServerCopy(b.run, "");
  INLOOP_RETURN_IF_ERROR(store->CreateRun(run));
  return store->RecordImport(ImportKey(b), run->id, "sync:" + b.origin, "inloop-sync");
}

std::optional<HttpResponse> IngestRuns::RefuseGaps(const sync::SyncBatch& b,
                                                   const store::RunRecord& run,
                                                   const SyncState& st) const {
  if (b.events_from > st.events) {
    return MarksResponse(409, MarksOf(run, st),
                         fmt::format("events from {}: the server holds only {}", b.events_from,
                                     st.events));
  }
  for (auto& sb : b.series) {
    auto it = st.series.find(sb.key);
    int64_t held = it == st.series.end() ? 0 : it->second.total();
    if (sync::OverlapOf(held, sb.from, static_cast<int64_t>(sb.points.size())).gap) {
      return MarksResponse(409, MarksOf(run, st),
                           fmt::format("series '{}' from {}: the server holds only {}", sb.key,
                                       sb.from, held));
    }
  }
  for (auto& piece : b.logs) {
    auto it = st.log_bytes.find({piece.attempt, piece.stream});
    int64_t held = it == st.log_bytes.end() ? 0 : it->second;
    if (sync::OverlapOf(held, piece.from, static_cast<int64_t>(piece.bytes.size())).gap) {
      return MarksResponse(409, MarksOf(run, st),
                           fmt::format("attempt {} log from byte {}: the server holds only {}",
                                       piece.attempt, piece.from, held));
    }
    bool known = false;
    for (auto& a : b.attempts) known = known || a.number == piece.attempt;
    if (!known) {
      return JsonError(400, fmt::format("logs: attempt {} is not in attempts", piece.attempt));
    }
  }
  return std::nullopt;
}

Status IngestRuns::ApplyPoints(Lane& lane, const std::string& run_id, const sync::SyncBatch& b,
                               SyncState* st) {
  bool any = false;
  for (auto& sb : b.series) {
    auto it = st->series.find(sb.key);
    int64_t held = it == st->series.end() ? 0 : it->second.total();
    auto ov = sync::OverlapOf(held, sb.from, static_cast<int64_t>(sb.points.size()));
    any = any || static_cast<size_t>(ov.skip) < sb.points.size();
  }
  if (!any) return Status::OK();
  store::RunWriter* w = nullptr;
  Status s = WriterIn(lane, run_id, &w);
  if (!s.ok()) {
    return Status::Invalid(fmt::format("run {}: {} (another process writes it)", run_id,
                                       s.message()));
  }
  int64_t appended = 0;
  for (auto& sb : b.series) {
    sync::SegmentCounter& counter = st->series[sb.key];
    auto ov = sync::OverlapOf(counter.total(), sb.from, static_cast<int64_t>(sb.points.size()));
    for (size_t i = static_cast<size_t>(ov.skip); i < sb.points.size() && s.ok(); ++i) {
      const Point& p = sb.points[i];
      s = w->Append(sb.key, p.step, p.wall_time, p.value);
      if (s.ok()) counter.Add(p.step);
      ++appended;
    }
    if (!s.ok()) break;
  }
  if (s.ok()) s = w->Flush();
  if (!s.ok()) {
    // A failed writer is done; the next batch reopens it (recovering from the WAL).
    lane.writers.erase(run_id);
    return s;
  }
  metrics_->AddPointsIngested(appended);
  return Status::OK();
}

HttpResponse IngestRuns::Sync(const std::string& body) {
  sync::SyncBatch b;
  Status s = sync::ParseBatch(body, &b);
  if (!s.ok()) return ErrorFor(s);
  s = OpenStores();
  if (!s.ok()) return ErrorFor(s);
  // The run is found (or made) in the lane of its import key, so that two batches of a new run
  // make one run; the rest happens in the run's own lane (never two lanes at once), with the run
  // as it is there now.
  Lane* by_key = &LaneOf(ImportKey(b));
  std::unique_lock<std::mutex> lock(by_key->mu);
  store::RunRecord run;
  s = SyncRunFor(*by_key, b, &run);
  if (!s.ok()) return ErrorFor(s);
  Lane& lane = LaneOf(run.id);
  store::Store* store = lane.store.get();
  if (&lane != by_key) {
    lock.unlock();
    lock = std::unique_lock<std::mutex>(lane.mu);
    s = store->FindRun(run.id, &run);
    if (!s.ok()) return ErrorFor(s);
  }
  SyncState* st = nullptr;
  s = LoadSyncState(lane, run, b.run.status, &st);
  if (!s.ok()) return ErrorFor(s);
  // Gaps first: a batch is applied whole or not at all.
  if (auto refused = RefuseGaps(b, run, *st)) return std::move(*refused);

  if (b.params) s = store->SetParams(run.id, *b.params);
  if (s.ok() && b.tags) s = store->AddTags(run.id, *b.tags);
  if (s.ok()) s = ApplyLogs(lane, run.id, b, st);
  for (auto& a : b.attempts) {
    if (!s.ok()) break;
    store::AttemptRecord copy = a;
    copy.run_id = run.id;
    auto out = st->log_paths.find({a.number, store::LogStream::kStdout});
    auto err = st->log_paths.find({a.number, store::LogStream::kStderr});
    copy.stdout_path = out == st->log_paths.end() ? "" : out->second;
    copy.stderr_path = err == st->log_paths.end() ? "" : err->second;
    s = store->PutAttempt(copy);
  }
  if (s.ok()) s = ApplyPoints(lane, run.id, b, st);
  auto ov = sync::OverlapOf(st->events, b.events_from, static_cast<int64_t>(b.events.size()));
  for (size_t i = static_cast<size_t>(ov.skip); i < b.events.size() && s.ok(); ++i) {
    store::EventRecord e = b.events[i];
    e.id = 0;
    e.run_id = run.id;
    s = store->AddEvent(&e);
    if (s.ok()) ++st->events;
  }
  if (s.ok()) {
    store::RunRecord updated = ServerCopy(b.run, run.id);
    s = store->UpdateRun(updated);
    if (s.ok()) run = updated;
  }
  if (s.ok() && run.status != store::kRunning) {
    auto it = lane.writers.find(run.id);
    if (it != lane.writers.end()) {
      s = it->second->Close();
      lane.writers.erase(it);
    }
  }
  if (!s.ok()) {
    lane.sync.erase(run.id);  // derived from the data again by the next batch
    return ErrorFor(s);
  }
  return MarksResponse(200, MarksOf(run, *st), "");
}

}  // namespace inloop::http
