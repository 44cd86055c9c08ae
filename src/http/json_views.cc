// Event and action JSON for the HTTP API (json_views.h).
#include "http/json_views.h"

#include <optional>

#include <simdjson.h>

namespace inloop::http {

void WriteStoredJson(JsonWriter& w, const std::string& json, const char* fallback) {
  if (json.empty()) {
    w.Raw(fallback);
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!parser.parse(json).get(doc)) {
    w.Raw(json);
  } else {
    w.String(json);
  }
}

void WriteEventJson(JsonWriter& w, const store::EventRecord& e) {
  w.BeginObject().Key("id").Int(e.id).Key("run_id").String(e.run_id).Key("time").Number(e.time);
  w.Key("kind").String(e.kind).Key("severity").String(e.severity).Key("step");
  if (e.step_lo)
    w.Int(*e.step_lo);
  else
    w.Null();
  w.Key("step_lo");
  if (e.step_lo)
    w.Int(*e.step_lo);
  else
    w.Null();
  w.Key("step_hi");
  if (e.step_hi)
    w.Int(*e.step_hi);
  else
    w.Null();
  // The attempt an event belongs to, when its evidence says (attempt_start/exit, remedies).
  std::optional<int64_t> attempt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool data_ok = !e.data_json.empty() && !parser.parse(e.data_json).get(doc);
  if (data_ok && doc.is_object()) {
    int64_t a = 0;
    if (!doc["attempt"].get_int64().get(a)) attempt = a;
  }
  w.Key("attempt");
  if (attempt)
    w.Int(*attempt);
  else
    w.Null();
  w.Key("message").String(e.message).Key("data");
  if (data_ok)
    w.Raw(e.data_json);
  else
    w.Raw("{}");
  w.EndObject();
}

void WriteActionJson(JsonWriter& w, const store::ActionRecord& a, const std::string& run_name) {
  w.BeginObject().Key("id").Int(a.id).Key("run_id").String(a.run_id);
  w.Key("run_name").String(run_name).Key("kind").String(a.action).Key("action").String(a.action);
  w.Key("trigger").String(a.trigger).Key("step");
  if (a.step)
    w.Int(*a.step);
  else
    w.Null();
  w.Key("state").String(a.state).Key("reason").String(a.reason);
  w.Key("created_at").Number(a.created_at).Key("decided_by").String(a.decided_by);
  w.Key("decided_at");
  if (a.decided_at > 0)
    w.Number(a.decided_at);
  else
    w.Null();
  w.Key("note").String(a.note).Key("data");
  WriteStoredJson(w, a.data_json, "{}");
  w.EndObject();
}

}  // namespace inloop::http
