// Store implementation, series side: the run writer (WAL + sealing chunks), readers that merge
// sealed chunks with the WAL tail in one consistent snapshot, and crash recovery guarded by a
// per-run flock so that a live writer's run is never touched.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;

namespace {

constexpr size_t kWalRotateBytes = 64u << 20;
// A bulk writer commits its sealed chunks to the index every this many (store.h AppendPoints).
constexpr size_t kBulkCommitChunks = 256;

}  // namespace

Status SqliteStore::CreateSeries(const std::string& run_id, std::string_view key, int segment,
                           int64_t* id) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("INSERT OR IGNORE INTO series(run_id, key, segment) VALUES(?,?,?)", &s));
  s.Bind(1, run_id).Bind(2, key).Bind(3, segment);
  INLOOP_RETURN_IF_ERROR(s.Run());
  Stmt q;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT id FROM series WHERE run_id=? AND key=? AND segment=?", &q));
  q.Bind(1, run_id).Bind(2, key).Bind(3, segment);
  if (!q.Step()) return Status::Io(fmt::format("series '{}' vanished from the index", key));
  *id = q.Int(0);
  return Status::OK();
}

int SqliteStore::ChunkFd(const std::string& run_id) {
  auto it = chunk_fds_.find(run_id);
  if (it != chunk_fds_.end()) {
    chunk_fd_order_.splice(chunk_fd_order_.begin(), chunk_fd_order_, it->second.order);
    return it->second.fd;
  }
  // Bounded: a query over thousands of runs must not run out of descriptors (ulimit -n is often
  // 1024). Callers use the descriptor at once and never keep it, so closing the least recently
  // used one is safe.
  while (chunk_fds_.size() >= kMaxChunkFds) {
    auto victim = chunk_fds_.find(chunk_fd_order_.back());
    ::close(victim->second.fd);
    chunk_fds_.erase(victim);
    chunk_fd_order_.pop_back();
  }
  int fd = ::open(PathOf("series/" + run_id + ".chunks").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    chunk_fd_order_.push_front(run_id);
    chunk_fds_[run_id] = CachedFd{fd, chunk_fd_order_.begin()};
  }
  return fd;
}

Status SqliteStore::ReadChunkSummary(const std::string& run_id, const ChunkRef& c, ChunkSummary* sum) {
  int fd = ChunkFd(run_id);
  std::string what = PathOf("series/" + run_id + ".chunks");
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", what, std::strerror(errno)));
  std::string buf;
  size_t n = std::min<size_t>(ChunkHeaderSize(), static_cast<size_t>(c.length));
  INLOOP_RETURN_IF_ERROR(PReadAll(fd, c.offset, n, &buf, what));
  Status s = store::ReadChunkSummary(buf, sum);
  if (!s.ok()) return Status::Corrupt(fmt::format("{} at byte {}: {}", what, c.offset, s.message()));
  return Status::OK();
}

Status SqliteStore::ReadChunkPoints(const std::string& run_id, const ChunkRef& c,
                              std::vector<Point>* out) {
  int fd = ChunkFd(run_id);
  std::string what = PathOf("series/" + run_id + ".chunks");
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", what, std::strerror(errno)));
  std::string buf;
  INLOOP_RETURN_IF_ERROR(PReadAll(fd, c.offset, static_cast<size_t>(c.length), &buf, what));
  Status s = DecodeChunk(buf, out);
  if (!s.ok()) return Status::Corrupt(fmt::format("{} at byte {}: {}", what, c.offset, s.message()));
  return Status::OK();
}

Status SqliteStore::ReadWalFor(const std::string& run_id, int wal_fd,
                         std::unordered_map<int64_t, std::vector<Point>>* loose) {
  loose->clear();
  if (wal_fd < 0) return Status::OK();
  WalContents wal;
  INLOOP_RETURN_IF_ERROR(ReadWal(wal_fd, &wal));
  // Sealed counts per series, read after the WAL was opened (see the rotation order in RunWriter).
  std::unordered_map<int64_t, int64_t> sealed;
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT c.series_id, SUM(c.count) FROM chunks c JOIN series s ON s.id = c.series_id "
      "WHERE s.run_id=? GROUP BY c.series_id",
      &s));
  s.Bind(1, run_id);
  while (s.Step()) sealed[s.Int(0)] = s.Int(1);
  INLOOP_RETURN_IF_ERROR(s.status());
  std::unordered_map<int64_t, int64_t> ordinal;
  for (auto& [id, base] : wal.bases) ordinal[id] = base;
  for (auto& [id, p] : wal.points) {
    int64_t ord = ordinal[id]++;
    if (ord >= sealed[id]) (*loose)[id].push_back(p);
  }
  return Status::OK();
}

Status SqliteStore::ReadSegments(const std::string& run_id, const std::string& key,
                           std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, &key, out);
}

Status SqliteStore::ReadAllSegments(const std::string& run_id, std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, nullptr, out);
}

Status SqliteStore::ReadSegmentsOf(const std::string& run_id, const std::string* key,
                             std::vector<SegmentData>* out) {
  out->clear();
  // Open the WAL before reading the chunk index: a rotation in between then leaves us with the
  // old WAL, whose points are either still loose or sealed in chunks we are about to see.
  int wal_fd = ::open(PathOf("series/" + run_id + ".wal").c_str(), O_RDONLY | O_CLOEXEC);
  // One snapshot of the index for the series, their chunks and the sealed counts that cut the
  // WAL: a chunk committed between two of these statements would otherwise be missing from the
  // listing while its points are already cut from the tail (a gap). Every point the snapshot
  // shows sealed was flushed to the WAL before its chunk was committed (SqliteRunWriter::Flush), so
  // the WAL read after it holds every point from the sealed count on: a contiguous tail.
  ReadSnapshot snap(db_.get());
  Status st = snap.status();
  Stmt s;
  // Series ids grow as keys and segments appear, so id order is first-seen and segment order.
  if (st.ok()) st = db_->Prepare(
      "SELECT id, segment, key FROM series WHERE run_id=?1 AND (?2 IS NULL OR key=?2) "
      "ORDER BY id",
      &s);
  if (st.ok()) {
    s.Bind(1, run_id);
    if (key) s.Bind(2, *key); else s.BindNull(2);
    while (s.Step()) {
      SegmentData seg;
      seg.series_id = s.Int(0);
      seg.segment = static_cast<int>(s.Int(1));
      seg.key = s.Text(2);
      out->push_back(std::move(seg));
    }
    st = s.status();
  }
  if (st.ok()) {
    Stmt c;
    st = db_->Prepare(
        "SELECT ordinal, offset, length, count, first_step, last_step FROM chunks "
        "WHERE series_id=? ORDER BY ordinal",
        &c);
    for (auto& seg : *out) {
      if (!st.ok()) break;
      c.Bind(1, seg.series_id);
      while (c.Step()) {
        ChunkRef r;
        r.series_id = seg.series_id;
        r.ordinal = c.Int(0);
        r.offset = c.Int(1);
        r.length = c.Int(2);
        r.count = c.Int(3);
        r.first_step = c.Int(4);
        r.last_step = c.Int(5);
        seg.chunks.push_back(r);
      }
      st = c.status();
      c.Reset();
    }
  }
  std::unordered_map<int64_t, std::vector<Point>> loose;
  if (st.ok()) st = ReadWalFor(run_id, wal_fd, &loose);
  if (wal_fd >= 0) ::close(wal_fd);
  INLOOP_RETURN_IF_ERROR(st);
  for (auto& seg : *out) {
    auto it = loose.find(seg.series_id);
    if (it != loose.end()) seg.tail = std::move(it->second);
  }
  return Status::OK();
}

Status SqliteStore::SeriesVersionOf(const std::string& run_id, SeriesVersion* out) {
  struct stat sb;
  if (::stat(PathOf("series/" + run_id + ".wal").c_str(), &sb) == 0) {
    out->wal_bytes = sb.st_size;
    out->wal_mtime_ns = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
  } else {
    out->wal_bytes = 0;  // no live writer: only sealed chunks
    out->wal_mtime_ns = 0;
  }
  Stmt q;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT COUNT(*) FROM chunks c JOIN series s ON s.id = c.series_id WHERE s.run_id=?", &q));
  q.Bind(1, run_id);
  out->sealed_chunks = q.Step() ? q.Int(0) : 0;
  return q.status();
}

Status SqliteStore::ReadRunSnapshot(const std::string& run_id, RunSeriesSnapshot* out) {
  INLOOP_RETURN_IF_ERROR(SeriesVersionOf(run_id, &out->version));
  return ReadSegmentsOf(run_id, nullptr, &out->segments);
}

Status SqliteStore::SeriesStatsFor(const std::string& run_id, std::vector<SeriesStats>* out) {
  out->clear();
  // Every segment of every key in one pass: the WAL is read once, not once per key.
  std::vector<SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(ReadSegmentsOf(run_id, nullptr, &segs));
  std::unordered_map<std::string, size_t> index;  // key -> position in *out
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
      ChunkSummary cs;
      INLOOP_RETURN_IF_ERROR(ReadChunkSummary(run_id, c, &cs));
      add(cs);
    }
    if (!seg.tail.empty()) add(Summarize(seg.tail));
  }
  // A key whose series row exists but holds no point yet is not listed.
  std::vector<SeriesStats> kept;
  for (size_t i = 0; i < out->size(); ++i) {
    if (any[i]) kept.push_back(std::move((*out)[i]));
  }
  *out = std::move(kept);
  return Status::OK();
}

// ---- Disk-full reserve ---------------------------------------------------------------------

Status SqliteStore::ReserveSpace(const std::string& run_id, int64_t bytes) {
  std::string path = PathOf("series/" + run_id + ".reserve");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  int err = ::posix_fallocate(fd, 0, bytes);
  ::close(fd);
  if (err != 0) {
    ::unlink(path.c_str());
    return Status::Io(fmt::format("{}: cannot reserve {} bytes: {}", path, bytes, std::strerror(err)));
  }
  return Status::OK();
}

void SqliteStore::ReleaseReserve(const std::string& run_id) {
  ::unlink(PathOf("series/" + run_id + ".reserve").c_str());
}

// ---- Recovery ----------------------------------------------------------------------------

Status SqliteStore::RecoverAll() {
  DIR* d = ::opendir(PathOf("series").c_str());
  if (!d) return Status::OK();
  std::vector<std::string> runs;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".wal") runs.emplace_back(n.substr(0, n.size() - 4));
  }
  ::closedir(d);
  for (auto& run_id : runs) {
    int lock_fd = ::open(PathOf("series/" + run_id + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                         0644);
    if (lock_fd < 0) continue;  // read-only store: leave it to a writer
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd);  // a live writer owns it
      continue;
    }
    // A writer creates its WAL only after taking the lock and removes it before letting go, so
    // a WAL still there now that we hold the lock was left by a dead writer. Gone: the writer
    // closed normally between our listing and our lock; nothing to recover, nothing to mark.
    struct stat wb;
    if (::stat(PathOf("series/" + run_id + ".wal").c_str(), &wb) != 0) {
      ::close(lock_fd);
      continue;
    }
    Status s = Recover(run_id);
    ::close(lock_fd);
    if (!s.ok() && s.code() != Status::Code::kIo) return s;
    if (!s.ok()) {
      // The disk is full or the OS refused a write: the WAL stays where it is (readers merge it
      // with the sealed chunks, so nothing is hidden) and the next open tries again. Failing the
      // open here would make a store that filled up unreadable until space is freed.
      fmt::print(stderr,
                 "inloop: warning: run {} was left by a dead writer and could not be recovered "
                 "yet ({}); its points stay readable, recovery is retried on the next open\n",
                 run_id, s.message());
    }
  }
  return Status::OK();
}

// Opens the run's chunk file for appending, dropping a torn chunk at its end (bytes past the last
// indexed chunk were never acknowledged through the index), and loads every series segment of
// the run with its sealed count, ordered by segment so the newest segment of a key comes last.
Status SqliteStore::LoadWriterState(SqliteRunWriter* w) {
  const std::string& run_id = w->run_id_;
  std::string chunk_path = PathOf("series/" + run_id + ".chunks");
  w->chunk_fd_ = ::open(chunk_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->chunk_fd_ < 0) {
    return Status::Io(fmt::format("{}: cannot open: {}", chunk_path, std::strerror(errno)));
  }
  Stmt q;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT COALESCE(MAX(c.offset + c.length), 0) FROM chunks c JOIN series s "
      "ON s.id = c.series_id WHERE s.run_id=?",
      &q));
  q.Bind(1, run_id);
  int64_t end = q.Step() ? q.Int(0) : 0;
  INLOOP_RETURN_IF_ERROR(q.status());
  if (::ftruncate(w->chunk_fd_, end) != 0) {
    return Status::Io(fmt::format("{}: cannot truncate: {}", chunk_path, std::strerror(errno)));
  }
  w->chunk_size_ = end;
  Stmt ser;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT s.id, s.key, s.segment, COALESCE((SELECT SUM(count) FROM chunks WHERE "
      "series_id = s.id), 0), COALESCE((SELECT MAX(last_step) FROM chunks WHERE "
      "series_id = s.id), 0) FROM series s WHERE s.run_id=? ORDER BY s.segment, s.id",
      &ser));
  ser.Bind(1, run_id);
  while (ser.Step()) {
    auto st = std::make_unique<SqliteRunWriter::SeriesState>();
    st->id = ser.Int(0);
    st->key = ser.Text(1);
    st->segment = static_cast<int>(ser.Int(2));
    st->sealed = st->count = ser.Int(3);
    st->last_step = ser.Int(4);
    w->series_.push_back(std::move(st));
  }
  return ser.status();
}

Status SqliteStore::Recover(const std::string& run_id) {
  // Re-open the run's writer state from the index and the WAL, then close it normally: Close()
  // seals the loose points and removes the WAL.
  std::unique_ptr<SqliteRunWriter> w(new SqliteRunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  INLOOP_RETURN_IF_ERROR(LoadWriterState(w.get()));
  std::unordered_map<int64_t, std::vector<Point>> loose;
  std::string wal_path = PathOf("series/" + run_id + ".wal");
  int wal_fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
  Status s = ReadWalFor(run_id, wal_fd, &loose);
  if (wal_fd >= 0) ::close(wal_fd);
  INLOOP_RETURN_IF_ERROR(s);
  for (auto& st : w->series_) {
    auto it = loose.find(st->id);
    if (it == loose.end()) continue;
    st->head = std::move(it->second);
    st->count += static_cast<int64_t>(st->head.size());
  }
  ReleaseReserve(run_id);  // the dead writer's insurance is the space recovery may need
  INLOOP_RETURN_IF_ERROR(w->Close());
  ::unlink(wal_path.c_str());

  RunRecord run;
  if (FindRun(run_id, &run).ok() && run.status == kRunning) {
    run.status = kInterrupted;
    if (run.ended_at == 0) run.ended_at = NowSeconds();
    INLOOP_RETURN_IF_ERROR(UpdateRun(run));
    EventRecord e;
    e.run_id = run_id;
    e.kind = "run_interrupted";
    e.severity = "warning";
    e.message = "the supervisor died; points acknowledged to its write-ahead log were recovered";
    INLOOP_RETURN_IF_ERROR(AddEvent(&e));
  }
  // Its remedies waiting for approve/deny: nobody is left to apply them.
  Stmt x;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE actions SET state='expired', decided_by='recovery', decided_at=? "
      "WHERE run_id=? AND state='pending'",
      &x));
  x.Bind(1, NowSeconds()).Bind(2, run_id);
  return x.Run();
}

// ---- RunWriter ---------------------------------------------------------------------------

Status SqliteStore::OpenWriter(const std::string& run_id, std::unique_ptr<RunWriter>* out) {
  std::unique_ptr<SqliteRunWriter> w(new SqliteRunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  std::string lock_path = PathOf("series/" + run_id + ".lock");
  w->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->lock_fd_ < 0) {
    return Status::Io(fmt::format("{}: cannot create: {}", lock_path, std::strerror(errno)));
  }
  if (::flock(w->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Invalid(fmt::format("run {} is being written by another inloop process", run_id));
  }
  INLOOP_RETURN_IF_ERROR(LoadWriterState(w.get()));
  std::vector<std::pair<int64_t, int64_t>> bases;
  for (auto& st : w->series_) {
    bases.emplace_back(st->id, st->count);
    w->by_key_[st->key] = st.get();  // ordered by segment: the newest segment wins
  }
  INLOOP_RETURN_IF_ERROR(WalWriter::Create(PathOf("series/" + run_id + ".wal"), bases, &w->wal_));
  *out = std::move(w);
  return Status::OK();
}

SqliteRunWriter::~SqliteRunWriter() {
  if (!closed_ && store_ != nullptr && failed_.ok()) Close();
  if (chunk_fd_ >= 0) ::close(chunk_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status SqliteRunWriter::Fail(Status s) {
  if (failed_.ok()) failed_ = s;
  return s;
}

int64_t SqliteRunWriter::points_appended() const { return points_; }

int64_t SqliteRunWriter::LastStep(std::string_view key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end() || it->second->count == 0) return -1;
  return it->second->last_step;
}

Status SqliteRunWriter::FirstSegment(std::string_view key, SeriesState** out) {
  auto st = std::make_unique<SeriesState>();
  st->key = std::string(key);
  INLOOP_RETURN_IF_ERROR(store_->CreateSeries(run_id_, key, 0, &st->id));
  *out = st.get();
  by_key_.emplace(st->key, st.get());
  series_.push_back(std::move(st));
  return Status::OK();
}

Status SqliteRunWriter::NextSegment(SeriesState* s, SeriesState** out) {
  // Steps went backwards (a resumed attempt rewound): start a new segment, keep the old one.
  INLOOP_RETURN_IF_ERROR(Seal(s));
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

Status SqliteRunWriter::Append(std::string_view key, int64_t step, double wall_time, double value) {
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
  Point p{step, wall_time, value};
  if (wal_) wal_->Add(s->id, p);
  s->head.push_back(p);
  s->count++;
  s->last_step = step;
  ++points_;
  if (s->head.size() >= kChunkPoints) {
    Status c = Seal(s);
    if (!c.ok()) return Fail(c);
  }
  return Status::OK();
}

Status SqliteRunWriter::ResolveSeries(std::string_view key, int32_t* handle) {
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

// Seals what the WAL holds and drops it: from here on points are durable when sealed.
Status SqliteRunWriter::EnterBulk() {
  if (wal_) {
    INLOOP_RETURN_IF_ERROR(wal_->Flush());
    for (auto& s : series_) INLOOP_RETURN_IF_ERROR(Seal(s.get()));
    INLOOP_RETURN_IF_ERROR(CommitPending());
    wal_.reset();
    ::unlink(store_->PathOf("series/" + run_id_ + ".wal").c_str());
  }
  bulk_ = true;
  return Status::OK();
}

Status SqliteRunWriter::AppendPoints(int32_t handle, std::span<const Point> points) {
  if (!failed_.ok()) return failed_;
  if (handle < 0 || static_cast<size_t>(handle) >= handles_.size())
    return Status::Invalid(fmt::format("run {}: no series handle {}", run_id_, handle));
  if (!bulk_) {
    Status c = EnterBulk();
    if (!c.ok()) return Fail(c);
  }
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
    if (s->head.size() >= kChunkPoints) {
      c = Seal(s);
      if (!c.ok()) return Fail(c);
    }
  }
  if (pending_.size() >= kBulkCommitChunks) {
    Status c = CommitPending();
    if (!c.ok()) return Fail(c);
  }
  return Status::OK();
}

Status SqliteRunWriter::Seal(SeriesState* s) {
  if (s->head.empty()) return Status::OK();
  std::string bytes = EncodeChunk(s->head);
  INLOOP_RETURN_IF_ERROR(
      PWriteAll(chunk_fd_, chunk_size_, bytes, store_->PathOf("series/" + run_id_ + ".chunks")));
  ChunkRef r;
  r.series_id = s->id;
  r.ordinal = s->sealed;
  r.offset = chunk_size_;
  r.length = static_cast<int64_t>(bytes.size());
  r.count = static_cast<int64_t>(s->head.size());
  r.first_step = s->head.front().step;
  r.last_step = s->head.back().step;
  pending_.push_back(r);
  chunk_size_ += r.length;
  s->sealed += r.count;
  s->head.clear();
  return Status::OK();
}

Status SqliteRunWriter::CommitPending() {
  if (pending_.empty()) return Status::OK();
  Db* db = store_->db();
  Stmt ins;
  INLOOP_RETURN_IF_ERROR(db->Prepare(
      "INSERT OR REPLACE INTO chunks(series_id, ordinal, offset, length, count, first_step, "
      "last_step) VALUES(?,?,?,?,?,?,?)",
      &ins));
  INLOOP_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  for (auto& r : pending_) {
    ins.Bind(1, r.series_id).Bind(2, r.ordinal).Bind(3, r.offset).Bind(4, r.length);
    ins.Bind(5, r.count).Bind(6, r.first_step).Bind(7, r.last_step);
    Status s = ins.Run();
    if (!s.ok()) {
      db->Exec("ROLLBACK");
      return s;
    }
  }
  INLOOP_RETURN_IF_ERROR(db->Exec("COMMIT"));
  pending_.clear();
  return Status::OK();
}

Status SqliteRunWriter::Flush() {
  if (!failed_.ok()) return failed_;
  if (!wal_) {  // a bulk writer: its points are durable once sealed
    Status s;
    for (auto& st : series_)
      if (s.ok()) s = Seal(st.get());
    if (s.ok()) s = CommitPending();
    if (!s.ok()) return Fail(s);
    return Status::OK();
  }
  Status s = wal_->Flush();
  if (s.ok()) s = CommitPending();
  if (s.ok() && wal_->file_size() > kWalRotateBytes) s = RotateWal();
  if (!s.ok()) return Fail(s);
  return Status::OK();
}

Status SqliteRunWriter::RotateWal() {
  // Seal every head so that all points of the old WAL are in indexed chunks, then replace it.
  for (auto& s : series_) INLOOP_RETURN_IF_ERROR(Seal(s.get()));
  INLOOP_RETURN_IF_ERROR(CommitPending());
  std::vector<std::pair<int64_t, int64_t>> bases;
  for (auto& s : series_) bases.emplace_back(s->id, s->count);
  return WalWriter::Create(store_->PathOf("series/" + run_id_ + ".wal"), bases, &wal_);
}

Status SqliteRunWriter::Close() {
  if (closed_) return failed_;
  closed_ = true;
  if (!failed_.ok()) return failed_;
  Status s = wal_ ? wal_->Flush() : Status::OK();
  for (auto& st : series_) {
    if (!s.ok()) break;
    s = Seal(st.get());
  }
  if (s.ok()) s = CommitPending();
  if (!s.ok()) return Fail(s);
  if (wal_) {
    wal_.reset();
    ::unlink(store_->PathOf("series/" + run_id_ + ".wal").c_str());
  }
  return Status::OK();
}

}  // namespace inloop::store
