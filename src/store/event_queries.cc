// Event reads beyond Store::ListEvents (event_queries.h).
#include "store/event_queries.h"

#include <fmt/format.h>

namespace inloop::store {

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

Status ListEventsOfKind(Store* st, std::string_view kind, std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(st->db()->Prepare(
      fmt::format("SELECT {} FROM events WHERE kind=? ORDER BY time, id", kEventColumns), &s));
  s.Bind(1, kind);
  return ReadEventRows(&s, out);
}

Status ListEventsAfter(Store* st, const std::string& run_id, int64_t after_id,
                       std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(st->db()->Prepare(
      fmt::format("SELECT {} FROM events WHERE run_id=? AND id>? ORDER BY id", kEventColumns),
      &s));
  s.Bind(1, run_id).Bind(2, after_id);
  return ReadEventRows(&s, out);
}

}  // namespace inloop::store
