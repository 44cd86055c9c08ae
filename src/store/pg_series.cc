// PgStore, series side (pg_store.h): the run writer (points staged per Flush, sealed into chunk
// rows), readers over one REPEATABLE READ snapshot, and the recovery of a dead writer's points.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "store/pg_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;
using pg::Params;
using pg::Result;
using pg::Txn;

namespace {

// A bulk writer (store.h AppendPoints) commits its sealed chunks once they add up to this much.
constexpr size_t kBulkCommitBytes = 8u << 20;

std::string IdArray(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{}", i ? "," : "", v[i]);
  return s + "}";
}

}  // namespace

Status PgStore::CreateSeries(const std::string& run_id, std::string_view key, int segment,
                             int64_t* id) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "INSERT INTO series(run_id, key, segment) VALUES($1,$2,$3) "
      "ON CONFLICT (run_id, key, segment) DO UPDATE SET segment=EXCLUDED.segment RETURNING id",
      Params().Text(run_id).Text(key).Int(segment), &r));
  if (r.rows() != 1) return Status::Io(fmt::format("series '{}' vanished from the index", key));
  *id = r.Int(0, 0);
  return Status::OK();
}

// ---- Reads ---------------------------------------------------------------------------------

Status PgStore::ReadSegmentsOf(const std::string& run_id, const std::string* key,
                               std::vector<SegmentData>* out) {
  out->clear();
  // One statement, so one snapshot, for the series, their chunks and the staged points: a chunk
  // committed between two statements would otherwise be missing while its points left the
  // staging table. Rows: kind 0 a series, 1 a chunk, 2 a staged batch; in kind, id, ordinal order.
  Params p;
  p.Text(run_id);
  if (key) p.Text(*key); else p.Null();
  Result q;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT 0 AS kind, id, segment::bigint AS o, 0::bigint, 0::bigint, 0::bigint, 0, key, "
      "NULL::bytea FROM series WHERE run_id=$1 AND ($2::text IS NULL OR key=$2) "
      "UNION ALL SELECT 1, c.series_id, c.ordinal, c.count, c.first_step, c.last_step, "
      "length(c.data), NULL, NULL FROM chunks c JOIN series s ON s.id = c.series_id "
      "WHERE s.run_id=$1 AND ($2::text IS NULL OR s.key=$2) "
      "UNION ALL SELECT 2, g.series_id, g.first_ordinal, 0, 0, 0, 0, NULL, g.data "
      "FROM staging g JOIN series s ON s.id = g.series_id "
      "WHERE s.run_id=$1 AND ($2::text IS NULL OR s.key=$2) ORDER BY 1, 2, 3",
      p, &q));
  int n = q.rows(), i = 0;
  std::unordered_map<int64_t, size_t> index;
  for (; i < n && q.Int(i, 0) == 0; ++i) {
    SegmentData seg;
    seg.series_id = q.Int(i, 1);
    seg.segment = static_cast<int>(q.Int(i, 2));
    seg.key = std::string(q.Text(i, 7));
    index[seg.series_id] = out->size();
    out->push_back(std::move(seg));
  }
  std::unordered_map<int64_t, int64_t> sealed;
  for (; i < n && q.Int(i, 0) == 1; ++i) {
    ChunkRef r;
    r.series_id = q.Int(i, 1);
    r.ordinal = q.Int(i, 2);
    r.count = q.Int(i, 3);
    r.first_step = q.Int(i, 4);
    r.last_step = q.Int(i, 5);
    r.length = q.Int(i, 6);
    sealed[r.series_id] += r.count;
    auto it = index.find(r.series_id);
    if (it != index.end()) (*out)[it->second].chunks.push_back(r);
  }
  // Staged batches in ordinal order; points already sealed (a batch that straddles a chunk's
  // end) are cut, so the tail continues the chunks without a gap or an overlap.
  std::vector<Point> pts;
  for (; i < n; ++i) {
    int64_t id = q.Int(i, 1);
    auto it = index.find(id);
    if (it == index.end()) continue;
    SegmentData& seg = (*out)[it->second];
    int64_t next = sealed[id] + static_cast<int64_t>(seg.tail.size());
    pts.clear();  // DecodeChunk appends
    INLOOP_RETURN_IF_ERROR(DecodeChunk(q.Bytes(i, 8), &pts));
    int64_t ord = q.Int(i, 2);
    for (auto& pt : pts) {
      if (ord++ == next) {
        seg.tail.push_back(pt);
        ++next;
      }
    }
  }
  return Status::OK();
}

Status PgStore::ReadSegments(const std::string& run_id, const std::string& key,
                             std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, &key, out);
}

Status PgStore::ReadAllSegments(const std::string& run_id, std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, nullptr, out);
}

// Every flush and every seal of the run bumps run_points.version in its own transaction.
Status PgStore::SeriesVersionOf(const std::string& run_id, SeriesVersion* out) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT version FROM run_points WHERE run_id=$1",
                                     Params().Text(run_id), &r));
  out->wal_bytes = r.rows() == 1 ? r.Int(0, 0) : 0;
  out->wal_mtime_ns = 0;
  out->sealed_chunks = 0;
  return Status::OK();
}

Status PgStore::ReadRunSnapshot(const std::string& run_id, RunSeriesSnapshot* out) {
  Txn t(conn_.get(), "ISOLATION LEVEL REPEATABLE READ READ ONLY");
  INLOOP_RETURN_IF_ERROR(t.status());
  INLOOP_RETURN_IF_ERROR(SeriesVersionOf(run_id, &out->version));
  INLOOP_RETURN_IF_ERROR(ReadSegmentsOf(run_id, nullptr, &out->segments));
  return t.Commit();
}

Status PgStore::ReadChunkBytes(const ChunkRef& c, std::string* out) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT data FROM chunks WHERE series_id=$1 AND ordinal=$2",
                                     Params().Int(c.series_id).Int(c.ordinal), &r));
  if (r.rows() != 1) {
    return Status::Corrupt(fmt::format("{}: chunk {} of series {} is missing", location_,
                                       c.ordinal, c.series_id));
  }
  *out = r.Bytes(0, 0);
  return Status::OK();
}

Status PgStore::ReadChunkSummary(const std::string&, const ChunkRef& c, ChunkSummary* sum) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT substring(data FROM 1 FOR $3) FROM chunks WHERE series_id=$1 AND ordinal=$2",
      Params().Int(c.series_id).Int(c.ordinal).Int(static_cast<int64_t>(ChunkHeaderSize())),
      &r));
  if (r.rows() != 1) {
    return Status::Corrupt(fmt::format("{}: chunk {} of series {} is missing", location_,
                                       c.ordinal, c.series_id));
  }
  Status s = store::ReadChunkSummary(r.Bytes(0, 0), sum);
  if (!s.ok()) {
    return Status::Corrupt(fmt::format("{}: chunk {} of series {}: {}", location_, c.ordinal,
                                       c.series_id, s.message()));
  }
  return Status::OK();
}

Status PgStore::ReadChunkPoints(const std::string&, const ChunkRef& c, std::vector<Point>* out) {
  std::string bytes;
  INLOOP_RETURN_IF_ERROR(ReadChunkBytes(c, &bytes));
  Status s = DecodeChunk(bytes, out);
  if (!s.ok()) {
    return Status::Corrupt(fmt::format("{}: chunk {} of series {}: {}", location_, c.ordinal,
                                       c.series_id, s.message()));
  }
  return Status::OK();
}

Status PgStore::SeriesStatsFor(const std::string& run_id, std::vector<SeriesStats>* out) {
  out->clear();
  std::vector<SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(ReadSegmentsOf(run_id, nullptr, &segs));
  // Every chunk's summary in one statement (the header holds it), not one round trip each.
  Result h;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT c.series_id, c.ordinal, substring(c.data FROM 1 FOR $2) FROM chunks c "
      "JOIN series s ON s.id = c.series_id WHERE s.run_id=$1",
      Params().Text(run_id).Int(static_cast<int64_t>(ChunkHeaderSize())), &h));
  std::map<std::pair<int64_t, int64_t>, ChunkSummary> sums;
  for (int i = 0; i < h.rows(); ++i) {
    ChunkSummary cs;
    INLOOP_RETURN_IF_ERROR(store::ReadChunkSummary(h.Bytes(i, 2), &cs));
    sums[{h.Int(i, 0), h.Int(i, 1)}] = cs;
  }
  std::unordered_map<std::string, size_t> index;
  std::vector<bool> any;
  for (auto& seg : segs) {
    auto [it, fresh] = index.emplace(seg.key, out->size());
    if (fresh) {
      out->emplace_back().key = seg.key;
      any.push_back(false);
    }
    SeriesStats& st = (*out)[it->second];
    st.segments++;
    auto add = [&](const ChunkSummary& cs) {
      if (!any[it->second]) st.first_step = cs.first.step;
      any[it->second] = true;
      st.last = cs.last;
      st.last_step = cs.last.step;
      st.points += cs.count;
      st.nonfinite += cs.nonfinite;
      if (cs.count > cs.nonfinite) {
        st.min = st.has_finite ? std::min(st.min, cs.min.value) : cs.min.value;
        st.max = st.has_finite ? std::max(st.max, cs.max.value) : cs.max.value;
        st.has_finite = true;
      }
    };
    for (auto& c : seg.chunks) {
      auto f = sums.find({c.series_id, c.ordinal});
      if (f == sums.end()) {
        return Status::Corrupt(fmt::format("{}: chunk {} of series {} is missing", location_,
                                           c.ordinal, c.series_id));
      }
      add(f->second);
    }
    if (!seg.tail.empty()) add(Summarize(seg.tail));
  }
  std::vector<SeriesStats> kept;
  for (size_t i = 0; i < out->size(); ++i) {
    if (any[i]) kept.push_back(std::move((*out)[i]));
  }
  *out = std::move(kept);
  return Status::OK();
}

// ---- Writer state and recovery --------------------------------------------------------------

Status PgStore::LoadWriterState(PgRunWriter* w) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT s.id, s.key, s.segment, COALESCE((SELECT SUM(count) FROM chunks WHERE "
      "series_id = s.id), 0), COALESCE((SELECT MAX(last_step) FROM chunks WHERE "
      "series_id = s.id), 0) FROM series s WHERE s.run_id=$1 ORDER BY s.segment, s.id",
      Params().Text(w->run_id_), &r));
  for (int i = 0; i < r.rows(); ++i) {
    auto st = std::make_unique<PgRunWriter::SeriesState>();
    st->id = r.Int(i, 0);
    st->key = std::string(r.Text(i, 1));
    st->segment = static_cast<int>(r.Int(i, 2));
    st->sealed = st->count = r.Int(i, 3);
    st->last_step = r.Int(i, 4);
    w->series_.push_back(std::move(st));
  }
  return Status::OK();
}

Status PgStore::RecoverPoints(const std::string& run_id) {
  // Re-open the run's writer state with its staged points as the unsealed heads, then close it
  // normally: Close() seals them into chunks and empties the staging table.
  std::unique_ptr<PgRunWriter> w(new PgRunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  w->generation_ = conn_->generation();
  INLOOP_RETURN_IF_ERROR(LoadWriterState(w.get()));
  std::vector<SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(ReadSegmentsOf(run_id, nullptr, &segs));
  std::unordered_map<int64_t, std::vector<Point>*> tails;
  for (auto& seg : segs) tails[seg.series_id] = &seg.tail;
  for (auto& st : w->series_) {
    auto it = tails.find(st->id);
    if (it == tails.end() || it->second->empty()) continue;
    st->head = std::move(*it->second);
    st->count += static_cast<int64_t>(st->head.size());
    st->last_step = st->head.back().step;
    st->staged = st->head.size();
  }
  return w->Close();
}

Status PgStore::OpenWriter(const std::string& run_id, std::unique_ptr<RunWriter>* out) {
  bool got = false;
  INLOOP_RETURN_IF_ERROR(TryLockRun(run_id, &got));
  if (!got) {
    return Status::Invalid(fmt::format("run {} is being written by another inloop process", run_id));
  }
  // A writer that died after this store was opened left its staged points: seal them first.
  Status s = RecoverPoints(run_id);
  std::unique_ptr<PgRunWriter> w(new PgRunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  w->owns_lock_ = true;
  w->generation_ = conn_->generation();
  if (s.ok()) {
    s = conn_->Exec(
        "INSERT INTO run_points(run_id, version, live) VALUES($1, 1, TRUE) "
        "ON CONFLICT (run_id) DO UPDATE SET live=TRUE, version=run_points.version+1",
        Params().Text(run_id));
  }
  if (s.ok()) s = LoadWriterState(w.get());
  if (!s.ok()) {
    w->closed_ = true;  // the destructor lets the lock go
    return s;
  }
  for (auto& st : w->series_) w->by_key_[st->key] = st.get();  // the newest segment wins
  *out = std::move(w);
  return Status::OK();
}

// ---- PgRunWriter ---------------------------------------------------------------------------

PgRunWriter::~PgRunWriter() {
  if (!closed_ && store_ != nullptr && failed_.ok()) Close();
  if (owns_lock_ && store_) store_->UnlockRun(run_id_);
}

Status PgRunWriter::Fail(Status s) {
  if (failed_.ok()) failed_ = s;
  return s;
}

int64_t PgRunWriter::points_appended() const { return points_; }

int64_t PgRunWriter::LastStep(std::string_view key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end() || it->second->count == 0) return -1;
  return it->second->last_step;
}

Status PgRunWriter::FirstSegment(std::string_view key, SeriesState** out) {
  auto st = std::make_unique<SeriesState>();
  st->key = std::string(key);
  INLOOP_RETURN_IF_ERROR(store_->CreateSeries(run_id_, key, 0, &st->id));
  *out = st.get();
  by_key_.emplace(st->key, st.get());
  series_.push_back(std::move(st));
  return Status::OK();
}

Status PgRunWriter::NextSegment(SeriesState* s, SeriesState** out) {
  // Steps went backwards (a resumed attempt rewound): start a new segment, keep the old one.
  Seal(s);
  auto st = std::make_unique<SeriesState>();
  st->key = s->key;
  st->segment = s->segment + 1;
  st->handle = s->handle;
  INLOOP_RETURN_IF_ERROR(store_->CreateSeries(run_id_, st->key, st->segment, &st->id));
  *out = st.get();
  by_key_[st->key] = st.get();
  if (st->handle >= 0) handles_[static_cast<size_t>(st->handle)].state = st.get();
  series_.push_back(std::move(st));
  return Status::OK();
}

Status PgRunWriter::Append(std::string_view key, int64_t step, double wall_time, double value) {
  if (!failed_.ok()) return failed_;
  auto it = by_key_.find(key);
  SeriesState* s;
  if (it == by_key_.end()) {
    Status c = FirstSegment(key, &s);
    if (!c.ok()) return Fail(c);
    for (auto& h : handles_)  // resolved before its first point
      if (h.state == nullptr && h.key == key) {
        h.state = s;
        s->handle = static_cast<int32_t>(&h - handles_.data());
      }
  } else {
    s = it->second;
    if (s->count > 0 && step < s->last_step) {
      Status c = NextSegment(s, &s);
      if (!c.ok()) return Fail(c);
    }
  }
  s->head.push_back(Point{step, wall_time, value});
  s->count++;
  s->last_step = step;
  ++points_;
  if (s->head.size() >= kChunkPoints) Seal(s);
  return Status::OK();
}

Status PgRunWriter::ResolveSeries(std::string_view key, int32_t* handle) {
  if (!failed_.ok()) return failed_;
  auto it = by_key_.find(key);
  if (it != by_key_.end() && it->second->handle >= 0) {
    *handle = it->second->handle;
    return Status::OK();
  }
  for (auto& h : handles_)
    if (h.key == key) {
      *handle = static_cast<int32_t>(&h - handles_.data());
      return Status::OK();
    }
  *handle = static_cast<int32_t>(handles_.size());
  handles_.push_back(Handle{std::string(key), it == by_key_.end() ? nullptr : it->second});
  if (it != by_key_.end()) it->second->handle = *handle;
  return Status::OK();
}

Status PgRunWriter::AppendPoints(int32_t handle, std::span<const Point> points) {
  if (!failed_.ok()) return failed_;
  if (handle < 0 || static_cast<size_t>(handle) >= handles_.size())
    return Status::Invalid(fmt::format("run {}: no series handle {}", run_id_, handle));
  Handle& h = handles_[static_cast<size_t>(handle)];
  size_t i = 0;
  while (i < points.size()) {
    SeriesState* s = h.state;
    Status c;
    if (s == nullptr) {
      c = FirstSegment(h.key, &s);
      if (c.ok()) {
        s->handle = handle;
        h.state = s;
      }
    } else if (s->count > 0 && points[i].step < s->last_step) {
      c = NextSegment(s, &s);
    }
    if (!c.ok()) return Fail(c);
    // The longest run of steps that do not go back and fit in the open chunk.
    size_t room = kChunkPoints - s->head.size();
    size_t j = i + 1;
    int64_t last = points[i].step;
    while (j < points.size() && j - i < room && points[j].step >= last) last = points[j++].step;
    s->head.insert(s->head.end(), points.begin() + static_cast<ptrdiff_t>(i),
                   points.begin() + static_cast<ptrdiff_t>(j));
    s->count += static_cast<int64_t>(j - i);
    s->last_step = last;
    points_ += static_cast<int64_t>(j - i);
    i = j;
    if (s->head.size() >= kChunkPoints) Seal(s);
  }
  // Sealed chunks are committed as they fill (no staging of the heads: store.h).
  if (pending_bytes_ >= kBulkCommitBytes) {
    Status c = Commit(false, /*stage_heads=*/false);
    if (!c.ok()) return Fail(c);
  }
  return Status::OK();
}

void PgRunWriter::Seal(SeriesState* s) {
  if (s->head.empty()) return;
  PendingChunk c;
  c.series_id = s->id;
  c.ordinal = s->sealed;
  c.count = static_cast<int64_t>(s->head.size());
  c.first_step = s->head.front().step;
  c.last_step = s->head.back().step;
  c.data = EncodeChunk(s->head);
  pending_bytes_ += c.data.size();
  pending_.push_back(std::move(c));
  s->sealed += static_cast<int64_t>(s->head.size());
  s->head.clear();
  s->staged = 0;
}

// One transaction: the chunks sealed since the last commit, the staged batches they cover
// removed, the points appended since and not sealed staged, the run's version bumped.
Status PgRunWriter::Commit(bool closing, bool stage_heads) {
  pg::PgConn* c = store_->conn_.get();
  if (c->generation() != generation_) {
    return Status::Io(fmt::format(
        "run {}: the connection to {} was lost and with it the run's writer lock; the points "
        "acknowledged so far are kept, the run's writer must be opened again",
        run_id_, store_->location_));
  }
  if (pending_.empty() && !closing) return StageHeads(stage_heads);
  // Both COPYs in binary form: a chunk's bytes go as they are (as hex text they were twice the
  // size, and the server decoded them).
  pg::CopyBinaryRows chunk_rows, staged_rows;
  std::vector<int64_t> ids, sealed;
  for (auto& p : pending_) {
    chunk_rows.Row(6).Int8(p.series_id).Int8(p.ordinal).Int8(p.count).Int8(p.first_step);
    chunk_rows.Int8(p.last_step).Bytes(p.data);
  }
  std::vector<size_t> staged_now(series_.size());
  for (size_t i = 0; i < series_.size(); ++i) {
    SeriesState* s = series_[i].get();
    ids.push_back(s->id);
    sealed.push_back(s->sealed);
    staged_now[i] = stage_heads ? s->head.size() : s->staged;
    if (!stage_heads || s->head.size() <= s->staged) continue;
    std::span<const Point> fresh(s->head.data() + s->staged, s->head.size() - s->staged);
    staged_rows.Row(4).Int8(s->id).Int8(s->sealed + static_cast<int64_t>(s->staged));
    staged_rows.Int8(static_cast<int64_t>(fresh.size())).Bytes(EncodeChunk(fresh));
  }
  Txn t(c);
  INLOOP_RETURN_IF_ERROR(t.status());
  const bool chunks = !chunk_rows.empty(), staged = !staged_rows.empty();
  if (chunks) {
    INLOOP_RETURN_IF_ERROR(c->CopyIn(
        "COPY chunks(series_id, ordinal, count, first_step, last_step, data) FROM STDIN "
        "WITH (FORMAT binary)",
        chunk_rows.Finish()));
    INLOOP_RETURN_IF_ERROR(c->Exec(
        "DELETE FROM staging g USING (SELECT unnest($1::bigint[]) AS id, "
        "unnest($2::bigint[]) AS sealed) t WHERE g.series_id = t.id "
        "AND g.first_ordinal + g.count <= t.sealed",
        Params().Text(IdArray(ids)).Text(IdArray(sealed))));
  }
  if (staged) {
    INLOOP_RETURN_IF_ERROR(
        c->CopyIn("COPY staging(series_id, first_ordinal, count, data) FROM STDIN "
                  "WITH (FORMAT binary)",
                  staged_rows.Finish()));
  }
  if (closing) {
    INLOOP_RETURN_IF_ERROR(c->Exec(
        "DELETE FROM staging g USING series s WHERE s.id = g.series_id AND s.run_id=$1",
        Params().Text(run_id_)));
  }
  if (chunks || staged || closing) {
    INLOOP_RETURN_IF_ERROR(c->Exec(
        fmt::format("INSERT INTO run_points(run_id, version, live) VALUES($1, 1, {0}) "
                    "ON CONFLICT (run_id) DO UPDATE SET version=run_points.version+1, live={0}",
                    closing ? "FALSE" : "TRUE"),
        Params().Text(run_id_)));
  }
  INLOOP_RETURN_IF_ERROR(t.Commit());
  pending_.clear();
  pending_bytes_ = 0;
  for (size_t i = 0; i < series_.size(); ++i) series_[i]->staged = staged_now[i];
  return Status::OK();
}

// Most flushes seal no chunk: their staged points and the version bump are one statement (so
// one transaction, one round trip to the server) instead of BEGIN, COPY, INSERT and COMMIT.
Status PgRunWriter::StageHeads(bool stage_heads) {
  std::vector<int64_t> ids, firsts, counts;
  std::vector<std::string> data;
  std::vector<size_t> staged_now(series_.size());
  for (size_t i = 0; i < series_.size(); ++i) {
    SeriesState* s = series_[i].get();
    staged_now[i] = stage_heads ? s->head.size() : s->staged;
    if (!stage_heads || s->head.size() <= s->staged) continue;
    std::span<const Point> fresh(s->head.data() + s->staged, s->head.size() - s->staged);
    ids.push_back(s->id);
    firsts.push_back(s->sealed + static_cast<int64_t>(s->staged));
    counts.push_back(static_cast<int64_t>(fresh.size()));
    data.push_back(EncodeChunk(fresh));
  }
  if (ids.empty()) return Status::OK();  // nothing new since the last commit
  INLOOP_RETURN_IF_ERROR(store_->conn_->Exec(
      "WITH g AS (INSERT INTO staging(series_id, first_ordinal, count, data) "
      "SELECT t.id, t.o, t.n, t.d FROM "
      "unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[]) AS t(id, o, n, d)) "
      "INSERT INTO run_points(run_id, version, live) VALUES($1, 1, TRUE) "
      "ON CONFLICT (run_id) DO UPDATE SET version=run_points.version+1, live=TRUE",
      Params().Text(run_id_).Text(IdArray(ids)).Text(IdArray(firsts)).Text(IdArray(counts))
          .ByteaArray(data)));
  for (size_t i = 0; i < series_.size(); ++i) series_[i]->staged = staged_now[i];
  return Status::OK();
}

Status PgRunWriter::Flush() {
  if (!failed_.ok()) return failed_;
  Status s = Commit(false);
  if (!s.ok()) return Fail(s);
  return Status::OK();
}

Status PgRunWriter::Close() {
  if (closed_) return failed_;
  closed_ = true;
  if (!failed_.ok()) return failed_;
  for (auto& st : series_) Seal(st.get());
  Status s = Commit(true);
  if (!s.ok()) return Fail(s);
  return Status::OK();
}

}  // namespace inloop::store
