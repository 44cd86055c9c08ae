// One run's upload (replicator.h): read the local run, ask the server's marks once, then send
// what lies beyond them in batches of at most max_batch_points points and kMaxBatchEvents events.
// The final status travels only in a batch after which nothing remains, so the server never
// shows a run as ended while its points are still on the way.
#include "sync/replicator.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <simdjson.h>

namespace inloop::sync {
namespace {

constexpr const char* kSyncPath = "/api/v1/sync/runs";
constexpr size_t kBatchEvents = 2000;
constexpr size_t kBatchLogBytes = 4u << 20;

// The server's error message from an error answer's body, or the body's start.
std::string ErrorOf(const PostResult& r) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view msg;
  if (!r.body.empty() && !p.parse(r.body).get(doc) && !doc["error"].get_string().get(msg)) {
    return std::string(msg);
  }
  return r.body.substr(0, 200);
}

}  // namespace

RunReplicator::RunReplicator(store::Store* local, Transport* transport, std::string origin,
                             std::string run_id, size_t max_batch_points)
    : local_(local),
      transport_(transport),
      origin_(std::move(origin)),
      run_id_(std::move(run_id)),
      max_batch_points_(std::clamp<size_t>(max_batch_points, 1, kMaxBatchPoints)) {}

Status RunReplicator::ReadLocal() {
  INLOOP_RETURN_IF_ERROR(local_->FindRun(run_id_, &run_));
  params_.clear();
  tags_.clear();
  attempts_.clear();
  INLOOP_RETURN_IF_ERROR(local_->GetParams(run_id_, &params_));
  INLOOP_RETURN_IF_ERROR(local_->GetTags(run_id_, &tags_));
  INLOOP_RETURN_IF_ERROR(local_->ListAttempts(run_id_, &attempts_));
  std::vector<store::EventRecord> more;
  INLOOP_RETURN_IF_ERROR(
      local_->ListEventsAfter(run_id_, events_.empty() ? 0 : events_.back().id, &more));
  for (auto& e : more) events_.push_back(std::move(e));
  for (auto& a : attempts_) {
    for (auto stream : {store::LogStream::kStdout, store::LogStream::kStderr}) {
      const std::string& path = stream == store::LogStream::kStdout ? a.stdout_path : a.stderr_path;
      if (path.empty()) continue;
      std::unique_ptr<store::LogReader> r;
      Status s = store::LogReader::Open(local_->PathOf(path), &r);
      if (s.code() == Status::Code::kNotFound) continue;  // not made yet
      INLOOP_RETURN_IF_ERROR(s);
      logs_[{a.number, stream}] = {path, r->info().raw_bytes};
    }
  }
  store::SeriesVersion v;
  INLOOP_RETURN_IF_ERROR(local_->SeriesVersionOf(run_id_, &v));
  if (version_ && *version_ == v) return Status::OK();
  store::RunSeriesSnapshot snap;
  INLOOP_RETURN_IF_ERROR(local_->ReadRunSnapshot(run_id_, &snap));
  version_ = snap.version;
  segments_ = std::move(snap.segments);
  series_.clear();
  for (auto& sd : segments_) series_[sd.key].segments.push_back(&sd);
  for (auto& [key, ls] : series_) {
    std::sort(ls.segments.begin(), ls.segments.end(),
              [](auto* a, auto* b) { return a->segment < b->segment; });
    for (auto* sd : ls.segments) {
      int64_t n = static_cast<int64_t>(sd->tail.size());
      for (auto& c : sd->chunks) n += c.count;
      ls.counts.push_back(n);
      ls.total += n;
    }
  }
  return Status::OK();
}

Status RunReplicator::ReadPoints(const LocalSeries& ls, int64_t from, size_t budget,
                                 std::vector<Point>* out) {
  int64_t base = 0;  // flat offset of the segment's first point
  for (size_t i = 0; i < ls.segments.size() && out->size() < budget; ++i) {
    const store::SegmentData* sd = ls.segments[i];
    int64_t n = ls.counts[i];
    int64_t pos = from + static_cast<int64_t>(out->size()) - base;  // wanted index in segment
    if (pos >= n) {
      base += n;
      continue;
    }
    int64_t sealed = 0;
    for (auto& c : sd->chunks) {
      sealed += c.count;
      if (out->size() >= budget) break;
      pos = from + static_cast<int64_t>(out->size()) - base;
      if (c.ordinal + c.count <= pos) continue;
      std::vector<Point> pts;
      INLOOP_RETURN_IF_ERROR(local_->ReadChunkPoints(run_id_, c, &pts));
      if (static_cast<int64_t>(pts.size()) != c.count) {
        return Status::Corrupt(fmt::format("run {}: a chunk of '{}' holds {} points, not {}",
                                           run_id_, sd->key, pts.size(), c.count));
      }
      for (size_t j = static_cast<size_t>(std::max<int64_t>(0, pos - c.ordinal));
           j < pts.size() && out->size() < budget; ++j) {
        out->push_back(pts[j]);
      }
    }
    pos = from + static_cast<int64_t>(out->size()) - base;
    for (size_t j = static_cast<size_t>(std::max<int64_t>(0, pos - sealed));
         j < sd->tail.size() && out->size() < budget; ++j) {
      out->push_back(sd->tail[j]);
    }
    base += n;
  }
  return Status::OK();
}

Status RunReplicator::BuildBatch(SyncBatch* b, bool* has_data) {
  b->origin = origin_;
  b->origin_run = run_id_;
  b->run = run_;
  b->params = params_;
  b->tags = tags_;
  b->attempts = attempts_;
  *has_data = false;
  if (!marks_) return Status::OK();  // first ask what the server holds
  bool more = false;
  size_t ev_from = static_cast<size_t>(marks_->events);
  b->events_from = marks_->events;
  if (ev_from < events_.size()) {
    size_t end = std::min(events_.size(), ev_from + kBatchEvents);
    b->events.assign(events_.begin() + static_cast<std::ptrdiff_t>(ev_from),
                     events_.begin() + static_cast<std::ptrdiff_t>(end));
    more = end < events_.size();
    *has_data = true;
  }
  size_t budget = max_batch_points_;
  for (auto& [key, ls] : series_) {
    const SeriesMarks* m = marks_->Find(key);
    int64_t held = m ? m->total() : 0;
    if (ls.total <= held) continue;
    if (budget == 0 || b->series.size() >= kMaxBatchSeries) {
      more = true;
      break;
    }
    SeriesBatch sb;
    sb.key = key;
    sb.from = held;
    INLOOP_RETURN_IF_ERROR(ReadPoints(ls, held, budget, &sb.points));
    budget -= sb.points.size();
    if (held + static_cast<int64_t>(sb.points.size()) < ls.total) more = true;
    b->series.push_back(std::move(sb));
    *has_data = true;
  }
  size_t log_budget = kBatchLogBytes;
  for (auto& [k, log] : logs_) {
    int64_t held = marks_->LogBytes(k.first, k.second);
    if (log.bytes <= held) continue;
    if (log_budget == 0) {
      more = true;
      break;
    }
    LogBatch piece;
    piece.attempt = k.first;
    piece.stream = k.second;
    piece.from = held;
    std::unique_ptr<store::LogReader> r;
    INLOOP_RETURN_IF_ERROR(store::LogReader::Open(local_->PathOf(log.path), &r));
    int64_t n = std::min<int64_t>(log.bytes - held, static_cast<int64_t>(log_budget));
    INLOOP_RETURN_IF_ERROR(r->Bytes(held, n, &piece.bytes));
    if (piece.bytes.empty()) continue;
    log_budget -= piece.bytes.size();
    if (held + static_cast<int64_t>(piece.bytes.size()) < log.bytes) more = true;
    b->logs.push_back(std::move(piece));
    *has_data = true;
  }
  if (more && run_.status != store::kRunning) b->run.status = store::kRunning;
  return Status::OK();
}

PassOutcome RunReplicator::Send(const SyncBatch& b, Status* error) {
  PostResult r = transport_->Post(kSyncPath, EncodeBatch(b));
  if (!r.reached) {
    *error = Status::Io(r.error);
    return PassOutcome::kUnreachable;
  }
  if (r.status != 200 && r.status != 409) {
    *error = Status::Invalid(fmt::format("the server answered {}: {}", r.status, ErrorOf(r)));
    return PassOutcome::kRefused;
  }
  SyncMarks m;
  Status s = ParseMarks(r.body, &m);
  if (!s.ok()) {
    *error = s;
    return PassOutcome::kRefused;
  }
  if (marks_) {
    progress_.events_sent += std::max<int64_t>(0, m.events - marks_->events);
    for (auto& sm : m.series) {
      const SeriesMarks* old = marks_->Find(sm.key);
      progress_.points_sent += std::max<int64_t>(0, sm.total() - (old ? old->total() : 0));
    }
  }
  marks_ = std::move(m);
  if (r.status == 200) {
    SyncBatch meta;
    meta.run = b.run;
    meta.params = b.params;
    meta.tags = b.tags;
    meta.attempts = b.attempts;
    acked_meta_ = EncodeBatch(meta);
  }
  return PassOutcome::kCaughtUp;
}

Status RunReplicator::CheckMarks() {
  if (marks_->events > static_cast<int64_t>(events_.size())) {
    return Status::Corrupt(fmt::format(
        "the server holds {} events of run {}, this store only {}: was the store replaced?",
        marks_->events, run_id_, events_.size()));
  }
  for (auto& sm : marks_->series) {
    auto it = series_.find(sm.key);
    std::string why;
    if (it == series_.end()) {
      if (sm.total() == 0) continue;
      why = "this store has no such series";
    } else if (SegmentsAgree(it->second.counts, sm.segments, &why)) {
      continue;
    }
    return Status::Corrupt(fmt::format(
        "run {}, series '{}': the server's copy differs from this store ({})", run_id_, sm.key,
        why));
  }
  return Status::OK();
}

void RunReplicator::UpdateProgress() {
  progress_.points_local = 0;
  progress_.points_server = 0;
  for (auto& [key, ls] : series_) {
    progress_.points_local += ls.total;
    if (marks_) {
      const SeriesMarks* m = marks_->Find(key);
      progress_.points_server += m ? std::min(m->total(), ls.total) : 0;
    }
  }
  progress_.log_bytes_local = 0;
  progress_.log_bytes_server = 0;
  for (auto& [k, log] : logs_) {
    progress_.log_bytes_local += log.bytes;
    if (marks_) progress_.log_bytes_server += std::min(log.bytes, marks_->LogBytes(k.first, k.second));
  }
  progress_.events_local = static_cast<int64_t>(events_.size());
  progress_.events_server = marks_ ? marks_->events : 0;
  progress_.local_status = run_.status;
  progress_.server_status = marks_ ? marks_->status : "";
  progress_.server_run_id = marks_ ? marks_->run_id : "";
  progress_.complete = marks_ && run_.status != store::kRunning &&
                       progress_.points_server == progress_.points_local &&
                       progress_.events_server == progress_.events_local &&
                       progress_.log_bytes_server == progress_.log_bytes_local &&
                       marks_->status == run_.status;
}

PassOutcome RunReplicator::Pass(Status* error) {
  *error = ReadLocal();
  if (!error->ok()) return PassOutcome::kRefused;
  int conflicts = 0;
  for (;;) {
    SyncBatch b;
    bool has_data = false;
    *error = BuildBatch(&b, &has_data);
    if (!error->ok()) return PassOutcome::kRefused;
    if (marks_ && !has_data) {
      SyncBatch meta;
      meta.run = b.run;
      meta.params = b.params;
      meta.tags = b.tags;
      meta.attempts = b.attempts;
      if (EncodeBatch(meta) == acked_meta_) break;
    }
    std::optional<SyncMarks> before = marks_;
    PassOutcome o = Send(b, error);
    UpdateProgress();
    if (o != PassOutcome::kCaughtUp) return o;
    *error = CheckMarks();
    if (!error->ok()) return PassOutcome::kRefused;
    // A 409 leaves acked_meta_ as it was; the next batch starts at the server's marks. The same
    // answer twice in a row means the server will not move: give up this pass.
    bool moved = !before || EncodeMarks(*before) != EncodeMarks(*marks_);
    conflicts = moved ? 0 : conflicts + 1;
    if (conflicts >= 3) {
      *error = Status::Invalid(fmt::format("run {}: the server keeps refusing the batch", run_id_));
      return PassOutcome::kRefused;
    }
  }
  UpdateProgress();
  return PassOutcome::kCaughtUp;
}

double Backoff::Next(double draw) {
  double d = initial_ * std::pow(2.0, std::min(failures_, 30));
  ++failures_;
  d = std::min(d, cap_);
  return d * (0.5 + 0.5 * std::clamp(draw, 0.0, 1.0));
}

}  // namespace inloop::sync
