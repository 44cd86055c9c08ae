// PgStore's attempt logs (pg_store.h): the seekable-frame format of attempt_log.h unchanged,
// its bytes in rows of the logs table (path, off, data), one row per write. A writer only ever
// appends or rewrites its tail (the open frame), so a write deletes the rows from its offset on
// and inserts one: a log's rows always tile it without overlap.
#include <fmt/format.h>

#include "store/pg_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;
using pg::Params;
using pg::Result;
using pg::Txn;

namespace {

class PgLogFile : public LogFile {
 public:
  // `owned`: a connection of its own (a log writer's thread); else `conn` is borrowed.
  PgLogFile(pg::PgConn* conn, std::unique_ptr<pg::PgConn> owned, std::string path,
            std::string shown)
      : owned_(std::move(owned)), conn_(owned_ ? owned_.get() : conn), path_(std::move(path)),
        name_(std::move(shown)) {}

  Status Read(int64_t offset, size_t n, std::string* out) override {
    out->clear();
    Result r;
    int64_t end = offset + static_cast<int64_t>(n);
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        "SELECT off, substring(data FROM (GREATEST(off, $2) - off + 1)::int "
        "FOR (LEAST(off + length(data), $3) - GREATEST(off, $2))::int) FROM logs "
        "WHERE path=$1 AND off < $3 AND off + length(data) > $2 ORDER BY off",
        Params().Text(path_).Int(offset).Int(end), &r));
    for (int i = 0; i < r.rows(); ++i) {
      int64_t at = std::max(r.Int(i, 0), offset);
      if (at != offset + static_cast<int64_t>(out->size())) break;  // a hole: short read
      out->append(r.Bytes(i, 1));
    }
    if (out->size() != n) {
      return Status::Corrupt(fmt::format("{}: truncated at byte {} (wanted {} more bytes)", name_,
                                         offset + static_cast<int64_t>(out->size()),
                                         n - out->size()));
    }
    return Status::OK();
  }

  Status Write(int64_t offset, std::string_view data) override {
    Txn t(conn_);
    INLOOP_RETURN_IF_ERROR(t.status());
    INLOOP_RETURN_IF_ERROR(Cut(offset));
    INLOOP_RETURN_IF_ERROR(conn_->Exec("INSERT INTO logs(path, off, data) VALUES($1,$2,$3)",
                                       Params().Text(path_).Int(offset).Bytes(data)));
    return t.Commit();
  }

  Status Truncate(int64_t size) override {
    Txn t(conn_);
    INLOOP_RETURN_IF_ERROR(t.status());
    INLOOP_RETURN_IF_ERROR(Cut(size));
    return t.Commit();
  }

  Status Size(int64_t* size) override {
    Result r;
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        "SELECT COALESCE(MAX(off + length(data)), 0) FROM logs WHERE path=$1",
        Params().Text(path_), &r));
    *size = r.Int(0, 0);
    return Status::OK();
  }

  const std::string& name() const override { return name_; }

 private:
  // Drops every byte from `at` on.
  Status Cut(int64_t at) {
    INLOOP_RETURN_IF_ERROR(conn_->Exec("DELETE FROM logs WHERE path=$1 AND off >= $2",
                                       Params().Text(path_).Int(at)));
    return conn_->Exec(
        "UPDATE logs SET data = substring(data FROM 1 FOR ($2 - off)::int) "
        "WHERE path=$1 AND off < $2 AND off + length(data) > $2",
        Params().Text(path_).Int(at));
  }

  std::unique_ptr<pg::PgConn> owned_;
  pg::PgConn* conn_;
  std::string path_, name_;
};

}  // namespace

Status PgStore::OpenAttemptLog(const std::string& run_id, int attempt, LogStream stream,
                               std::unique_ptr<LogWriter>* out, std::string* rel_path) {
  std::string rel =
      fmt::format("runs/{}/attempt-{}.{}.zst", run_id, attempt, LogStreamName(stream));
  // The writer compresses and writes on a thread of its own: a connection of its own too.
  std::unique_ptr<pg::PgConn> own;
  INLOOP_RETURN_IF_ERROR(pg::PgConn::Connect(url_, &own));
  INLOOP_RETURN_IF_ERROR(LogWriter::Open(
      std::make_unique<PgLogFile>(nullptr, std::move(own), rel, PathOf(rel)), LogWriterOptions{},
      out));
  *rel_path = std::move(rel);
  return Status::OK();
}

namespace {

Status OpenPgLog(pg::PgConn* conn, const std::string& rel, const std::string& shown,
                 std::unique_ptr<LogReader>* r) {
  Result n;
  INLOOP_RETURN_IF_ERROR(
      conn->Exec("SELECT 1 FROM logs WHERE path=$1 LIMIT 1", Params().Text(rel), &n));
  if (n.rows() == 0) return Status::NotFound(fmt::format("{}: no such log", shown));
  return LogReader::Open(std::make_unique<PgLogFile>(conn, nullptr, rel, shown), r);
}

}  // namespace

Status PgStore::ReadAttemptLog(const LogLinesQuery& q, LogLines* out) {
  *out = LogLines{};
  AttemptRecord a;
  INLOOP_RETURN_IF_ERROR(FindAttempt(this, q.run_id, q.attempt, &a));
  std::string rel;
  INLOOP_RETURN_IF_ERROR(LogPathOf(a, q.stream, &rel));
  // One snapshot: a writer's rewrite of its open frame between two reads is never half seen.
  Txn t(conn_.get(), "ISOLATION LEVEL REPEATABLE READ READ ONLY");
  INLOOP_RETURN_IF_ERROR(t.status());
  std::unique_ptr<LogReader> r;
  INLOOP_RETURN_IF_ERROR(OpenPgLog(conn_.get(), rel, PathOf(rel), &r));
  out->attempt = a.number;
  out->info = r->info();
  if (q.tail) {
    out->first_line = std::max<int64_t>(0, r->info().lines - std::max<int64_t>(0, *q.tail));
    INLOOP_RETURN_IF_ERROR(r->Tail(*q.tail, &out->lines));
  } else {
    out->first_line = q.first_line;
    INLOOP_RETURN_IF_ERROR(r->Lines(q.first_line, q.max_lines, &out->lines));
  }
  return t.Commit();
}

Status PgStore::AttemptLogInfo(const std::string& run_id, int attempt, LogStream stream,
                               LogInfo* out) {
  AttemptRecord a;
  INLOOP_RETURN_IF_ERROR(FindAttempt(this, run_id, attempt, &a));
  std::string rel;
  INLOOP_RETURN_IF_ERROR(LogPathOf(a, stream, &rel));
  Txn t(conn_.get(), "ISOLATION LEVEL REPEATABLE READ READ ONLY");
  INLOOP_RETURN_IF_ERROR(t.status());
  std::unique_ptr<LogReader> r;
  INLOOP_RETURN_IF_ERROR(OpenPgLog(conn_.get(), rel, PathOf(rel), &r));
  *out = r->info();
  return t.Commit();
}

}  // namespace inloop::store
