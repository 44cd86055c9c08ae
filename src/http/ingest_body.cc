// Parsing of the points body (ingest_body.h): simdjson DOM, every field checked.
#include "http/ingest_body.h"

#include <cmath>
#include <limits>
#include <string_view>

#include <fmt/format.h>
#include <simdjson.h>

namespace inloop::http {
namespace {

// A number, or the project's strings for non-finite values.
bool ValueOf(simdjson::dom::element e, double* out) {
  if (e.is_number()) {
    return !e.get_double().get(*out);
  }
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

}  // namespace

std::optional<HttpResponse> ParsePointsBody(const std::string& body, double now,
                                            std::vector<IngestPoint>* out) {
  if (body.empty()) return ErrorFor(Status::Invalid("body: empty (send a JSON object)"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) || !doc.is_object()) {
    return ErrorFor(Status::Invalid("body: not a JSON object"));
  }
  simdjson::dom::array arr;
  if (doc["points"].get_array().get(arr)) {
    return JsonError(400, "points: required, an array of {key, step, wall_time, value}");
  }
  std::vector<IngestPoint> pts;
  size_t i = 0;
  for (auto p : arr) {
    IngestPoint ip;
    std::string_view key;
    int64_t step = 0;
    if (!p.is_object()) return JsonError(400, fmt::format("points[{}]: must be an object", i));
    if (p["key"].get_string().get(key) || key.empty()) {
      return JsonError(400, fmt::format("points[{}].key: required, a non-empty string", i));
    }
    if (p["step"].get_int64().get(step)) {
      return JsonError(400, fmt::format("points[{}].step: required, an integer", i));
    }
    simdjson::dom::element e;
    ip.wall_time = now;
    if (!p["wall_time"].get(e) && !e.is_null()) {
      if (e.get_double().get(ip.wall_time) || !std::isfinite(ip.wall_time)) {
        return JsonError(400, fmt::format("points[{}].wall_time: must be a number (Unix s)", i));
      }
    }
    if (p["value"].get(e) || !ValueOf(e, &ip.value)) {
      return JsonError(
          400,
          fmt::format(
              "points[{}].value: required, a number or \"NaN\", \"Infinity\", \"-Infinity\"", i));
    }
    ip.key = std::string(key);
    ip.step = step;
    pts.push_back(std::move(ip));
    ++i;
  }
  out->insert(out->end(), std::make_move_iterator(pts.begin()), std::make_move_iterator(pts.end()));
  return std::nullopt;
}

}  // namespace inloop::http
