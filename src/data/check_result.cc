// CheckResult <-> JSON.
#include "data/check_result.h"

#include <cmath>

#include <simdjson.h>

#include "common/json_writer.h"

namespace inloop::data {

std::string CheckResultJson(const CheckResult& r) {
  JsonWriter w;
  w.BeginObject().Key("output").String(r.output).Key("check").String(r.check);
  w.Key("field").String(r.field).Key("severity").String(SeverityName(r.severity));
  w.Key("passed").Bool(r.passed).Key("value").Number(r.value);
  if (r.has_limit) w.Key("limit").Number(r.limit);
  w.Key("message").String(r.message).Key("numbers").BeginObject();
  for (auto& [k, v] : r.numbers) w.Key(k).Number(v);
  w.EndObject().Key("examples").BeginArray();
  for (auto& e : r.examples) w.String(e);
  w.EndArray().EndObject();
  return w.Take();
}

bool ParseCheckResult(std::string_view json, CheckResult* out) {
  *out = CheckResult{};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  if (parser.parse(padded).get(doc) || !doc.is_object()) return false;
  std::string_view s;
  if (doc["check"].get_string().get(s)) return false;
  out->check = std::string(s);
  if (!doc["output"].get_string().get(s)) out->output = std::string(s);
  if (!doc["field"].get_string().get(s)) out->field = std::string(s);
  if (!doc["message"].get_string().get(s)) out->message = std::string(s);
  if (!doc["severity"].get_string().get(s)) out->severity = s == "warn" ? Severity::kWarn : Severity::kError;
  bool b;
  if (!doc["passed"].get_bool().get(b)) out->passed = b;
  auto num = [](simdjson::dom::element e, double* v) {
    if (!e.get_double().get(*v)) return true;
    std::string_view t;
    if (!e.get_string().get(t)) {  // "NaN", "Infinity"
      *v = t == "Infinity" ? HUGE_VAL : t == "-Infinity" ? -HUGE_VAL : NAN;
      return true;
    }
    return false;
  };
  simdjson::dom::element e;
  if (!doc["value"].get(e)) num(e, &out->value);
  if (!doc["limit"].get(e) && num(e, &out->limit)) out->has_limit = true;
  simdjson::dom::object o;
  if (!doc["numbers"].get_object().get(o)) {
    for (auto f : o) {
      double v;
      if (num(f.value, &v)) out->numbers.emplace_back(std::string(f.key), v);
    }
  }
  simdjson::dom::array a;
  if (!doc["examples"].get_array().get(a)) {
    for (auto x : a) {
      if (!x.get_string().get(s)) out->examples.emplace_back(s);
    }
  }
  return true;
}

bool AnyErrorFailed(const std::vector<CheckResult>& results) {
  for (auto& r : results) {
    if (!r.passed && r.severity == Severity::kError) return true;
  }
  return false;
}

}  // namespace inloop::data
