// The MLflow tracking REST API 2.0 (mlflow_api.h) without the store: its error answers, request
// fields (a GET's query or a POST's JSON object), the bodies of log-metric / log-parameter /
// set-tag / log-batch checked whole against MLflow's own limits, the run and experiment JSON it
// answers with, and the `filter` / `order_by` forms of runs/search. Pure functions, so every rule
// is unit-tested (tests/http/mlflow_translate_test.cc).
//
// Mapping onto inloop: an MLflow run is an inloop run (RUNNING/FINISHED/FAILED/KILLED <->
// running/finished/failed/stopped; interrupted reads KILLED); a metric point is a series point
// (step -> step, timestamp ms -> wall_time s); params are params (source "mlflow"); a tag KEY=VALUE
// is the inloop tag "KEY=VALUE" (MLflow keys cannot hold '=', so the first '=' splits them; an
// inloop tag without '=' reads as KEY with an empty value).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/router.h"

namespace inloop::http::mlflow {

// MLflow's limits (mlflow/utils/validation.py).
inline constexpr size_t kMaxMetricsPerBatch = 1000;
inline constexpr size_t kMaxParamsTagsPerBatch = 100;
inline constexpr size_t kMaxEntitiesPerBatch = 1000;
inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxParamValueLength = 6000;
inline constexpr size_t kMaxTagValueLength = 8000;
inline constexpr size_t kMaxExperimentNameLength = 500;
inline constexpr int64_t kMaxSearchResults = 50000;
inline constexpr int64_t kDefaultSearchResults = 1000;

// MLflow's error answer: {"error_code": CODE, "message": MESSAGE} with the HTTP status MLflow
// gives the code (INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS: 400; RESOURCE_DOES_NOT_EXIST,
// ENDPOINT_NOT_FOUND: 404; INTERNAL_ERROR: 500; NOT_IMPLEMENTED: 501).
HttpResponse Error(std::string_view code, std::string_view message);
inline HttpResponse BadParam(std::string_view message) {
  return Error("INVALID_PARAMETER_VALUE", message);
}
// A store Status as MLflow's error: NotFound -> RESOURCE_DOES_NOT_EXIST, Invalid ->
// INVALID_PARAMETER_VALUE, anything else INTERNAL_ERROR.
HttpResponse ErrorOf(const Status& s);

// inloop run status -> MLflow RunStatus name.
const char* MlflowStatus(std::string_view inloop_status);
// MLflow RunStatus name -> inloop status; false for an unknown name (SCHEDULED reads running).
bool InloopStatus(std::string_view mlflow_status, std::string* out);

// Whether `key` is a valid metric/param/tag key: 1 to 250 characters of letters, digits, '_',
// '-', '.', ' ', ':', '/' (and non-ASCII letters), not a path that climbs ("..") or starts '/'.
// `what` names the field in *why.
bool ValidKey(std::string_view key, std::string_view what, std::string* why);

// "KEY=VALUE" <-> (KEY, VALUE).
std::string TagOf(std::string_view key, std::string_view value);
std::pair<std::string, std::string> SplitTag(std::string_view tag);

// The fields of one request: a GET's query parameters or a POST's JSON object. Field reads
// return INVALID_PARAMETER_VALUE answers naming the field.
class Fields {
 public:
  // nullopt and *out filled, or the 400 answer (a POST body that is not a JSON object).
  static std::optional<HttpResponse> Of(const HttpRequest& r, Fields* out);
  // A string field (numbers are taken as their text); nullopt when absent or null.
  std::optional<std::string> String(std::string_view name) const;
  // Required string: nullopt and *out set, or the 400 answer.
  std::optional<HttpResponse> Required(std::string_view name, std::string* out) const;
  // An int64 field (a JSON number or a decimal string, as protobuf JSON writes int64).
  std::optional<HttpResponse> Int(std::string_view name, std::optional<int64_t>* out) const;
  // A list of strings (a JSON array, or repeated / comma-free query parameters).
  std::optional<HttpResponse> Strings(std::string_view name, std::vector<std::string>* out) const;
  // The raw JSON text of a field of a POST body, or nullopt (for the batch parsers).
  const std::string& body() const { return body_; }

 private:
  bool json_ = false;
  std::string body_;
  std::vector<std::pair<std::string, std::string>> query_;
};

struct MetricPoint {
  std::string key;
  double value = 0;
  int64_t timestamp_ms = 0;
  int64_t step = 0;
};

// What one write request carries: log-metric, log-parameter, set-tag and log-batch all become one.
struct Batch {
  std::string run_id;
  std::vector<MetricPoint> metrics;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> tags;
};

// Bodies of runs/log-batch ({run_id, metrics:[{key,value,timestamp,step}], params:[{key,value}],
// tags:[{key,value}]}), runs/log-metric ({run_id, key, value, timestamp, step}),
// runs/log-parameter and runs/set-tag ({run_id, key, value}). run_uuid is accepted for run_id.
// A metric without timestamp gets now_ms, without step 0; values may be numbers or "NaN",
// "Infinity", "-Infinity". The whole body is checked (keys, limits, types) before anything is
// returned: nullopt and *out filled, or the 400 answer naming the first bad field.
std::optional<HttpResponse> ParseLogBatch(const std::string& body, int64_t now_ms, Batch* out);
std::optional<HttpResponse> ParseLogMetric(const std::string& body, int64_t now_ms, Batch* out);
std::optional<HttpResponse> ParseLogParam(const std::string& body, Batch* out);
std::optional<HttpResponse> ParseSetTag(const std::string& body, Batch* out);
// The `tags` array of a runs/create body ([{key, value}], at most 100); absent: none.
std::optional<HttpResponse> ParseTagList(const std::string& body,
                                         std::vector<std::pair<std::string, std::string>>* out);

// A run as MLflow shows it.
struct RunView {
  std::string run_id;
  std::string run_name;
  int64_t experiment_id = 0;
  std::string user_id;
  std::string status;  // inloop status
  int64_t start_time_ms = 0;
  std::optional<int64_t> end_time_ms;
  std::string artifact_uri;
  std::string lifecycle = "active";
  std::vector<MetricPoint> metrics;  // the latest point of each key
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
};

// {"info": {...}, "data": {"metrics", "params", "tags"}, "inputs": {}} and the bare info object.
std::string RunJson(const RunView& run);
std::string RunInfoJson(const RunView& run);

struct ExperimentView {
  int64_t id = 0;
  std::string name;
  std::string artifact_location;
  std::string lifecycle = "active";
  int64_t creation_time_ms = 0;
  int64_t last_update_time_ms = 0;
};
std::string ExperimentJson(const ExperimentView& e);

// runs/search `filter`: comparisons joined by AND (MLflow has no OR).
//   metrics.KEY  (= != > >= < <=) NUMBER
//   params.KEY / tags.KEY  (= != LIKE ILIKE) 'STRING'   (also IS NULL / IS NOT NULL)
//   attributes.(status|run_name|run_id|user_id|lifecycle_stage)  (= != LIKE ILIKE) 'STRING',
//   attributes.run_id IN ('a', 'b'), attributes.(start_time|end_time) compared with NUMBER (ms).
// KEY may be quoted with `backticks` or "double quotes"; entity prefixes may be singular
// (metric., param., tag., attribute.) or omitted for attributes; keywords are case-insensitive.
// Anything else is refused (INVALID_PARAMETER_VALUE) rather than guessed.
struct Clause {
  enum class Entity { kMetric, kParam, kTag, kAttribute } entity = Entity::kAttribute;
  std::string key;
  std::string
      op;  // "=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "IS NULL", "IS NOT NULL"
  double number = 0;
  std::string text;
  std::vector<std::string> list;  // IN
};
Status ParseFilter(std::string_view filter, std::vector<Clause>* out);
bool Matches(const std::vector<Clause>& clauses, const RunView& run);
// SQL LIKE: '%' any run, '_' one character; case-insensitive when `fold`.
bool Like(std::string_view text, std::string_view pattern, bool fold);

// runs/search `order_by` items: "metrics.KEY [ASC|DESC]", "params.KEY", "tags.KEY",
// "attributes.(start_time|end_time|status|run_name|run_id)". Runs without the key sort last.
struct OrderKey {
  Clause::Entity entity = Clause::Entity::kAttribute;
  std::string key;
  bool ascending = true;
};
Status ParseOrderBy(const std::vector<std::string>& items, std::vector<OrderKey>* out);
// Sorts by the keys, then start_time DESC and run_id (MLflow's default order).
void SortRuns(const std::vector<OrderKey>& keys, std::vector<RunView>* runs);

// A ViewType as a name (ACTIVE_ONLY, DELETED_ONLY, ALL) or its protobuf number (1, 2, 3); absent:
// ACTIVE_ONLY. False for anything else.
bool ViewTypeOf(const std::optional<std::string>& field, std::string* out);
// Whether a run or experiment of `lifecycle` ("active" / "deleted") is in view `view_type`.
bool InView(const std::string& view_type, std::string_view lifecycle);

// page_token <-> offset (an opaque decimal string to clients). Invalid for a malformed token.
Status OffsetOfToken(const std::optional<std::string>& token, int64_t* offset);

}  // namespace inloop::http::mlflow
