// MLflow requests and answers without the store (mlflow_translate.h): errors, fields, write
// bodies, run and experiment JSON. The search forms are in mlflow_search.cc.
#include "http/mlflow_translate.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"

namespace inloop::http::mlflow {
namespace {

int HttpStatusOf(std::string_view code) {
  if (code == "RESOURCE_DOES_NOT_EXIST" || code == "ENDPOINT_NOT_FOUND") return 404;
  if (code == "INTERNAL_ERROR") return 500;
  if (code == "NOT_IMPLEMENTED") return 501;
  if (code == "PERMISSION_DENIED") return 403;
  return 400;
}

// A number, or protobuf JSON's strings for non-finite doubles.
bool DoubleOf(simdjson::dom::element e, double* out) {
  if (e.is_number()) return !e.get_double().get(*out);
  std::string_view s;
  if (e.get_string().get(s)) return false;
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
  } else if (s == "Infinity") {
    *out = std::numeric_limits<double>::infinity();
  } else if (s == "-Infinity") {
    *out = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// An int64 as protobuf JSON allows: a number without fraction or a decimal string.
bool Int64Of(simdjson::dom::element e, int64_t* out) {
  if (e.is_int64()) return !e.get_int64().get(*out);
  if (e.is_uint64()) return false;  // beyond int64
  if (e.is_double()) {
    double d = 0;
    if (e.get_double().get(d) || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e18)
      return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  std::string_view s;
  return !e.get_string().get(s) && ParseInt64(s, out);
}

std::optional<HttpResponse> ParseBody(const std::string& body, simdjson::dom::parser& parser,
                                      simdjson::dom::object* obj,
                                      simdjson::dom::element* doc_out = nullptr) {
  if (body.empty()) return BadParam("request body: empty (send a JSON object)");
  simdjson::dom::element doc;
  if (doc_out == nullptr) doc_out = &doc;
  if (parser.parse(body).get(*doc_out) || doc_out->get_object().get(*obj)) {
    return BadParam("request body: not a JSON object");
  }
  return std::nullopt;
}

std::optional<HttpResponse> RunIdOf(simdjson::dom::object obj, std::string* out) {
  std::string_view sv;
  for (const char* name : {"run_id", "run_uuid"}) {
    simdjson::dom::element e;
    if (!obj[name].get(e) && !e.is_null()) {
      if (e.get_string().get(sv) || sv.empty() || sv.size() > 256) {
        return BadParam(fmt::format("{}: must be a non-empty string", name));
      }
      *out = std::string(sv);
      return std::nullopt;
    }
  }
  return BadParam("run_id: missing (the run to log to)");
}

std::optional<HttpResponse> KeyValue(simdjson::dom::element item, std::string_view where,
                                     size_t max_value, bool value_required,
                                     std::pair<std::string, std::string>* out) {
  std::string why;
  std::string_view key, value;
  if (!item.is_object()) return BadParam(fmt::format("{}: must be an object", where));
  if (item["key"].get_string().get(key)) {
    return BadParam(fmt::format("{}.key: missing, a string", where));
  }
  if (!ValidKey(key, fmt::format("{}.key", where), &why)) return BadParam(why);
  simdjson::dom::element v;
  if (!item["value"].get(v) && !v.is_null()) {
    if (v.get_string().get(value)) {
      return BadParam(fmt::format("{}.value: must be a string", where));
    }
  } else if (value_required) {
    return BadParam(fmt::format("{}.value: missing, a string", where));
  }
  if (value.size() > max_value) {
    return BadParam(fmt::format("{}.value: {} characters, over MLflow's limit of {}", where,
                                value.size(), max_value));
  }
  *out = {std::string(key), std::string(value)};
  return std::nullopt;
}

std::optional<HttpResponse> Metric(simdjson::dom::element item, std::string_view where,
                                   int64_t now_ms, MetricPoint* out) {
  std::string why;
  std::string_view key;
  if (!item.is_object()) return BadParam(fmt::format("{}: must be an object", where));
  if (item["key"].get_string().get(key)) {
    return BadParam(fmt::format("{}.key: missing, a string", where));
  }
  if (!ValidKey(key, fmt::format("{}.key", where), &why)) return BadParam(why);
  simdjson::dom::element e;
  if (item["value"].get(e) || !DoubleOf(e, &out->value)) {
    return BadParam(
        fmt::format("{}.value: missing, a number or \"NaN\", \"Infinity\", \"-Infinity\"", where));
  }
  out->timestamp_ms = now_ms;
  if (!item["timestamp"].get(e) && !e.is_null() && !Int64Of(e, &out->timestamp_ms)) {
    return BadParam(fmt::format("{}.timestamp: must be an integer (ms since the epoch)", where));
  }
  out->step = 0;
  if (!item["step"].get(e) && !e.is_null() && !Int64Of(e, &out->step)) {
    return BadParam(fmt::format("{}.step: must be an integer", where));
  }
  out->key = std::string(key);
  return std::nullopt;
}

void WriteDouble(JsonWriter& w, double v) { w.Number(v); }

}  // namespace

HttpResponse Error(std::string_view code, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Key("error_code").String(code).Key("message").String(message).EndObject();
  HttpResponse resp;
  resp.status = HttpStatusOf(code);
  resp.body = w.Take();
  return resp;
}

HttpResponse ErrorOf(const Status& s) {
  if (s.code() == Status::Code::kNotFound) return Error("RESOURCE_DOES_NOT_EXIST", s.message());
  if (s.code() == Status::Code::kInvalid) return Error("INVALID_PARAMETER_VALUE", s.message());
  return Error("INTERNAL_ERROR", s.message());
}

const char* MlflowStatus(std::string_view s) {
  if (s == "running") return "RUNNING";
  if (s == "finished") return "FINISHED";
  if (s == "failed") return "FAILED";
  return "KILLED";  // stopped, interrupted
}

bool InloopStatus(std::string_view s, std::string* out) {
  if (s == "RUNNING" || s == "SCHEDULED")
    *out = "running";
  else if (s == "FINISHED")
    *out = "finished";
  else if (s == "FAILED")
    *out = "failed";
  else if (s == "KILLED")
    *out = "stopped";
  else
    return false;
  return true;
}

bool ValidKey(std::string_view key, std::string_view what, std::string* why) {
  if (key.empty() || key.size() > kMaxKeyLength) {
    *why = fmt::format("{}: must have 1 to {} characters", what, kMaxKeyLength);
    return false;
  }
  for (unsigned char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ' ' || c == ':' || c == '/' || c >= 0x80;
    if (!ok) {
      *why = fmt::format(
          "{} '{}': use letters, digits, '_', '-', '.', ' ', ':' or '/' (MLflow's key rule)", what,
          key.substr(0, 100));
      return false;
    }
  }
  if (key.front() == '/' || key == ".." || key.substr(0, 3) == "../" ||
      key.find("/../") != std::string_view::npos ||
      (key.size() >= 3 && key.substr(key.size() - 3) == "/..")) {
    *why = fmt::format("{} '{}': must not start with '/' or climb with '..'", what,
                       key.substr(0, 100));
    return false;
  }
  return true;
}

std::string TagOf(std::string_view key, std::string_view value) {
  return fmt::format("{}={}", key, value);
}

std::pair<std::string, std::string> SplitTag(std::string_view tag) {
  size_t eq = tag.find('=');
  if (eq == std::string_view::npos) return {std::string(tag), ""};
  return {std::string(tag.substr(0, eq)), std::string(tag.substr(eq + 1))};
}

std::optional<HttpResponse> Fields::Of(const HttpRequest& r, Fields* out) {
  out->query_ = r.query;
  bool get = r.method == "GET" || r.method == "HEAD";
  if (get && (!r.query.empty() || r.body.empty())) return std::nullopt;
  out->json_ = true;
  out->body_ = r.body;
  if (r.body.empty()) {
    out->body_ = "{}";
    return std::nullopt;
  }
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (auto bad = ParseBody(r.body, parser, &obj)) return bad;
  return std::nullopt;
}

namespace {

// The field `name` of a POST body as a DOM element (the parser owns it).
bool JsonField(const std::string& body, simdjson::dom::parser& parser, std::string_view name,
               simdjson::dom::element* out) {
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) return false;
  if (doc[name].get(*out)) return false;
  return !out->is_null();
}

}  // namespace

std::optional<std::string> Fields::String(std::string_view name) const {
  if (!json_) {
    for (auto& [k, v] : query_) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (!JsonField(body_, parser, name, &e)) return std::nullopt;
  std::string_view sv;
  if (!e.get_string().get(sv)) return std::string(sv);
  if (e.is_number() || e.is_bool()) return simdjson::minify(e);
  return std::nullopt;
}

std::optional<HttpResponse> Fields::Required(std::string_view name, std::string* out) const {
  auto v = String(name);
  if (!v || v->empty()) return BadParam(fmt::format("{}: missing, a non-empty string", name));
  *out = std::move(*v);
  return std::nullopt;
}

std::optional<HttpResponse> Fields::Int(std::string_view name, std::optional<int64_t>* out) const {
  auto v = String(name);
  if (!v) return std::nullopt;
  int64_t n = 0;
  if (!ParseInt64(*v, &n)) return BadParam(fmt::format("{}: must be an integer", name));
  *out = n;
  return std::nullopt;
}

std::optional<HttpResponse> Fields::Strings(std::string_view name,
                                            std::vector<std::string>* out) const {
  out->clear();
  if (!json_) {
    for (auto& [k, v] : query_) {
      if (k == name) out->push_back(v);
    }
    return std::nullopt;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (!JsonField(body_, parser, name, &e)) return std::nullopt;
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return BadParam(fmt::format("{}: must be an array of strings", name));
  for (auto item : arr) {
    std::string_view sv;
    if (!item.get_string().get(sv)) {
      out->emplace_back(sv);
    } else if (item.is_int64()) {
      out->push_back(simdjson::minify(item));
    } else {
      return BadParam(fmt::format("{}: must be an array of strings", name));
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> ParseLogBatch(const std::string& body, int64_t now_ms, Batch* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (auto bad = ParseBody(body, parser, &obj)) return bad;
  Batch b;
  if (auto bad = RunIdOf(obj, &b.run_id)) return bad;
  // Absent (or null) arrays stay empty: a default simdjson array must not be read.
  std::vector<simdjson::dom::element> metrics, params, tags;
  auto array_of = [&](const char* name,
                      std::vector<simdjson::dom::element>* out) -> std::optional<HttpResponse> {
    simdjson::dom::element e;
    if (obj[name].get(e) || e.is_null()) return std::nullopt;
    simdjson::dom::array arr;
    if (e.get_array().get(arr)) return BadParam(fmt::format("{}: must be an array", name));
    for (auto item : arr) out->push_back(item);
    return std::nullopt;
  };
  if (auto bad = array_of("metrics", &metrics)) return bad;
  if (auto bad = array_of("params", &params)) return bad;
  if (auto bad = array_of("tags", &tags)) return bad;
  size_t nm = metrics.size(), np = params.size(), nt = tags.size();
  if (nm > kMaxMetricsPerBatch || np > kMaxParamsTagsPerBatch || nt > kMaxParamsTagsPerBatch ||
      nm + np + nt > kMaxEntitiesPerBatch) {
    return BadParam(fmt::format(
        "A batch logging request can contain at most {} metrics, {} params, {} tags and {} "
        "entities in total; got {} metrics, {} params and {} tags (split it into several "
        "requests)",
        kMaxMetricsPerBatch, kMaxParamsTagsPerBatch, kMaxParamsTagsPerBatch, kMaxEntitiesPerBatch,
        nm, np, nt));
  }
  size_t i = 0;
  for (auto item : metrics) {
    MetricPoint m;
    if (auto bad = Metric(item, fmt::format("metrics[{}]", i++), now_ms, &m)) return bad;
    b.metrics.push_back(std::move(m));
  }
  i = 0;
  for (auto item : params) {
    std::pair<std::string, std::string> kv;
    if (auto bad = KeyValue(item, fmt::format("params[{}]", i++), kMaxParamValueLength, true, &kv))
      return bad;
    b.params.push_back(std::move(kv));
  }
  i = 0;
  for (auto item : tags) {
    std::pair<std::string, std::string> kv;
    if (auto bad = KeyValue(item, fmt::format("tags[{}]", i++), kMaxTagValueLength, false, &kv))
      return bad;
    b.tags.push_back(std::move(kv));
  }
  *out = std::move(b);
  return std::nullopt;
}

std::optional<HttpResponse> ParseLogMetric(const std::string& body, int64_t now_ms, Batch* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::dom::element doc;
  if (auto bad = ParseBody(body, parser, &obj, &doc)) return bad;
  Batch b;
  if (auto bad = RunIdOf(obj, &b.run_id)) return bad;
  MetricPoint m;
  if (auto bad = Metric(doc, "metric", now_ms, &m)) return bad;
  b.metrics.push_back(std::move(m));
  *out = std::move(b);
  return std::nullopt;
}

namespace {

// log-parameter and set-tag: {run_id, key, value}, one pair into the batch's params or tags.
std::optional<HttpResponse> ParseOnePair(const std::string& body, const char* what,
                                         size_t max_value_length, bool is_param, Batch* out) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  simdjson::dom::element doc;
  if (auto bad = ParseBody(body, parser, &obj, &doc)) return bad;
  Batch b;
  if (auto bad = RunIdOf(obj, &b.run_id)) return bad;
  std::pair<std::string, std::string> kv;
  if (auto bad = KeyValue(doc, what, max_value_length, is_param, &kv)) return bad;
  (is_param ? b.params : b.tags).push_back(std::move(kv));
  *out = std::move(b);
  return std::nullopt;
}

}  // namespace

std::optional<HttpResponse> ParseLogParam(const std::string& body, Batch* out) {
  return ParseOnePair(body, "param", kMaxParamValueLength, true, out);
}

std::optional<HttpResponse> ParseSetTag(const std::string& body, Batch* out) {
  return ParseOnePair(body, "tag", kMaxTagValueLength, false, out);
}

std::optional<HttpResponse> ParseTagList(const std::string& body,
                                         std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (auto bad = ParseBody(body, parser, &obj)) return bad;
  simdjson::dom::element e;
  if (obj["tags"].get(e) || e.is_null()) return std::nullopt;
  simdjson::dom::array arr;
  if (e.get_array().get(arr)) return BadParam("tags: must be an array of {key, value}");
  if (arr.size() > kMaxParamsTagsPerBatch) {
    return BadParam(fmt::format("tags: at most {} per request", kMaxParamsTagsPerBatch));
  }
  size_t i = 0;
  for (auto item : arr) {
    std::pair<std::string, std::string> kv;
    if (auto bad = KeyValue(item, fmt::format("tags[{}]", i++), kMaxTagValueLength, false, &kv))
      return bad;
    out->push_back(std::move(kv));
  }
  return std::nullopt;
}

namespace {

void WriteInfo(JsonWriter& w, const RunView& r) {
  w.BeginObject();
  w.Key("run_id").String(r.run_id).Key("run_uuid").String(r.run_id);
  w.Key("run_name").String(r.run_name);
  w.Key("experiment_id").String(fmt::format("{}", r.experiment_id));
  w.Key("user_id").String(r.user_id);
  w.Key("status").String(MlflowStatus(r.status));
  w.Key("start_time").Int(r.start_time_ms);
  if (r.end_time_ms) w.Key("end_time").Int(*r.end_time_ms);
  w.Key("artifact_uri").String(r.artifact_uri);
  w.Key("lifecycle_stage").String(r.lifecycle);
  w.EndObject();
}

void WriteKeyValues(JsonWriter& w, const std::map<std::string, std::string>& kv) {
  w.BeginArray();
  for (auto& [k, v] : kv) w.BeginObject().Key("key").String(k).Key("value").String(v).EndObject();
  w.EndArray();
}

}  // namespace

std::string RunInfoJson(const RunView& run) {
  JsonWriter w;
  WriteInfo(w, run);
  return w.Take();
}

std::string RunJson(const RunView& run) {
  JsonWriter w;
  w.BeginObject().Key("info");
  WriteInfo(w, run);
  w.Key("data").BeginObject().Key("metrics").BeginArray();
  for (auto& m : run.metrics) {
    w.BeginObject().Key("key").String(m.key).Key("value");
    WriteDouble(w, m.value);
    w.Key("timestamp").Int(m.timestamp_ms).Key("step").Int(m.step).EndObject();
  }
  w.EndArray().Key("params");
  WriteKeyValues(w, run.params);
  w.Key("tags");
  WriteKeyValues(w, run.tags);
  w.EndObject();
  w.Key("inputs").BeginObject().EndObject();
  w.EndObject();
  return w.Take();
}

std::string ExperimentJson(const ExperimentView& e) {
  JsonWriter w;
  w.BeginObject();
  w.Key("experiment_id").String(fmt::format("{}", e.id)).Key("name").String(e.name);
  w.Key("artifact_location").String(e.artifact_location);
  w.Key("lifecycle_stage").String(e.lifecycle);
  w.Key("last_update_time").Int(e.last_update_time_ms);
  w.Key("creation_time").Int(e.creation_time_ms);
  w.Key("tags").BeginArray().EndArray();
  w.EndObject();
  return w.Take();
}

bool ViewTypeOf(const std::optional<std::string>& field, std::string* out) {
  std::string v = field.value_or("ACTIVE_ONLY");
  if (v == "1") v = "ACTIVE_ONLY";
  if (v == "2") v = "DELETED_ONLY";
  if (v == "3") v = "ALL";
  if (v != "ACTIVE_ONLY" && v != "DELETED_ONLY" && v != "ALL") return false;
  *out = v;
  return true;
}

bool InView(const std::string& view_type, std::string_view lifecycle) {
  bool deleted = lifecycle == "deleted";
  if (view_type == "ACTIVE_ONLY") return !deleted;
  if (view_type == "DELETED_ONLY") return deleted;
  return true;
}

Status OffsetOfToken(const std::optional<std::string>& token, int64_t* offset) {
  *offset = 0;
  if (!token || token->empty()) return Status::OK();
  if (!ParseInt64(*token, offset) || *offset < 0) {
    return Status::Invalid("page_token: not a token this server gave (start without one)");
  }
  return Status::OK();
}

}  // namespace inloop::http::mlflow
