// Attempt logs of the store (store.h): where each attempt's stdout and stderr live, and reads of
// them through LogReader (attempt_log.h), for compressed logs and for the raw logs of stores
// made before compression alike.
#include <fmt/format.h>

#include <algorithm>

#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;

namespace internal {

// The log path of `a` for `stream`, relative to the store; NotFound when it has none.
Status LogPathOf(const AttemptRecord& a, LogStream stream, std::string* rel) {
  *rel = stream == LogStream::kStdout ? a.stdout_path : a.stderr_path;
  if (rel->empty()) {
    return Status::NotFound(
        fmt::format("run {} attempt {} kept no {} log", a.run_id, a.number, LogStreamName(stream)));
  }
  return Status::OK();
}

}  // namespace internal

Status SqliteStore::OpenAttemptLog(const std::string& run_id, int attempt, LogStream stream,
                             std::unique_ptr<LogWriter>* out, std::string* rel_path) {
  INLOOP_RETURN_IF_ERROR(MakeDir(PathOf("runs/" + run_id)));
  std::string rel =
      fmt::format("runs/{}/attempt-{}.{}.zst", run_id, attempt, LogStreamName(stream));
  INLOOP_RETURN_IF_ERROR(LogWriter::Open(PathOf(rel), LogWriterOptions{}, out));
  *rel_path = std::move(rel);
  return Status::OK();
}

namespace internal {

Status FindAttempt(Store* st, const std::string& run_id, int attempt, AttemptRecord* out) {
  std::vector<AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(st->ListAttempts(run_id, &attempts));
  if (attempts.empty()) {
    return Status::NotFound(fmt::format("run {} has no attempt yet (nothing was logged)", run_id));
  }
  if (attempt == 0) {
    *out = attempts.back();
    return Status::OK();
  }
  for (auto& a : attempts) {
    if (a.number == attempt) {
      *out = a;
      return Status::OK();
    }
  }
  return Status::NotFound(fmt::format("run {} has no attempt {} (its attempts are 1..{})", run_id,
                                      attempt, attempts.back().number));
}

}  // namespace internal

Status SqliteStore::ReadAttemptLog(const LogLinesQuery& q, LogLines* out) {
  *out = LogLines{};
  AttemptRecord a;
  INLOOP_RETURN_IF_ERROR(FindAttempt(this, q.run_id, q.attempt, &a));
  std::string rel;
  INLOOP_RETURN_IF_ERROR(LogPathOf(a, q.stream, &rel));
  std::unique_ptr<LogReader> r;
  INLOOP_RETURN_IF_ERROR(LogReader::Open(PathOf(rel), &r));
  out->attempt = a.number;
  out->info = r->info();
  if (q.tail) {
    out->first_line = std::max<int64_t>(0, r->info().lines - std::max<int64_t>(0, *q.tail));
    return r->Tail(*q.tail, &out->lines);
  }
  out->first_line = q.first_line;
  return r->Lines(q.first_line, q.max_lines, &out->lines);
}

Status SqliteStore::AttemptLogInfo(const std::string& run_id, int attempt, LogStream stream,
                             LogInfo* out) {
  AttemptRecord a;
  INLOOP_RETURN_IF_ERROR(FindAttempt(this, run_id, attempt, &a));
  std::string rel;
  INLOOP_RETURN_IF_ERROR(LogPathOf(a, stream, &rel));
  std::unique_ptr<LogReader> r;
  INLOOP_RETURN_IF_ERROR(LogReader::Open(PathOf(rel), &r));
  *out = r->info();
  return Status::OK();
}

}  // namespace inloop::store
