// Store-wide event reads (event_queries.h).
#include "store/event_queries.h"

namespace inloop::store {

Status ListEventsOfKind(Store* st, std::string_view kind, std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(st->db()->Prepare(
      "SELECT id, run_id, time, kind, severity, step_lo, step_hi, message, data FROM events "
      "WHERE kind=? ORDER BY time, id",
      &s));
  s.Bind(1, kind);
  while (s.Step()) {
    EventRecord e;
    e.id = s.Int(0);
    e.run_id = s.Text(1);
    e.time = s.Double(2);
    e.kind = s.Text(3);
    e.severity = s.Text(4);
    if (!s.IsNull(5)) e.step_lo = s.Int(5);
    if (!s.IsNull(6)) e.step_hi = s.Int(6);
    e.message = s.Text(7);
    e.data_json = s.Text(8);
    out->push_back(std::move(e));
  }
  return s.status();
}

}  // namespace inloop::store
