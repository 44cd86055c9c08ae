// Event reads (store.h): one run's timeline, every event of a kind across runs, and the cursor
// reads of the live stream (the events of a run after an id it has seen).
#include <fmt/format.h>

#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {

namespace internal {

const char* const kEventColumns =
    "id, run_id, time, kind, severity, step_lo, step_hi, message, data";

Status ReadEventRows(Stmt* s, std::vector<EventRecord>* out) {
  while (s->Step()) {
    EventRecord e;
    e.id = s->Int(0);
    e.run_id = s->Text(1);
    e.time = s->Double(2);
    e.kind = s->Text(3);
    e.severity = s->Text(4);
    if (!s->IsNull(5)) e.step_lo = s->Int(5);
    if (!s->IsNull(6)) e.step_hi = s->Int(6);
    e.message = s->Text(7);
    e.data_json = s->Text(8);
    out->push_back(std::move(e));
  }
  return s->status();
}

}  // namespace internal

using namespace internal;

Status SqliteStore::ListEvents(const std::string& run_id, std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM events WHERE run_id=? ORDER BY time, id", kEventColumns), &s));
  s.Bind(1, run_id);
  return ReadEventRows(&s, out);
}

Status SqliteStore::ListEventsOfKind(std::string_view kind, std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM events WHERE kind=? ORDER BY time, id", kEventColumns), &s));
  s.Bind(1, kind);
  return ReadEventRows(&s, out);
}

Status SqliteStore::ListEventsAfter(const std::string& run_id, int64_t after_id,
                              std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM events WHERE run_id=? AND id>? ORDER BY id", kEventColumns), &s));
  s.Bind(1, run_id).Bind(2, after_id);
  return ReadEventRows(&s, out);
}

Status SqliteStore::LastEventId(const std::string& run_id, int64_t* id) {
  *id = 0;
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT COALESCE(MAX(id), 0) FROM events WHERE run_id=?", &s));
  s.Bind(1, run_id);
  if (s.Step()) *id = s.Int(0);
  return s.status();
}

}  // namespace inloop::store
