// SDK protocol parsing with simdjson. Non-finite values arrive as "NaN"/"Infinity" strings.
#include "ingest/sdk_message.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

namespace inloop::ingest {
namespace {

bool NumberFromString(std::string_view s, double* v) {
  if (s == "NaN" || s == "nan") {
    *v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "Infinity" || s == "inf") {
    *v = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Infinity" || s == "-inf") {
    *v = -std::numeric_limits<double>::infinity();
    return true;
  }
  std::string tmp(s);
  char* end = nullptr;
  *v = std::strtod(tmp.c_str(), &end);
  return !tmp.empty() && end == tmp.c_str() + tmp.size();
}

bool ElementNumber(simdjson::dom::element e, double* v) {
  switch (e.type()) {
    case simdjson::dom::element_type::DOUBLE: *v = double(e); return true;
    case simdjson::dom::element_type::INT64: *v = double(int64_t(e)); return true;
    case simdjson::dom::element_type::UINT64: *v = double(uint64_t(e)); return true;
    case simdjson::dom::element_type::BOOL: *v = bool(e) ? 1.0 : 0.0; return true;
    case simdjson::dom::element_type::STRING: return NumberFromString(std::string_view(e), v);
    default: return false;
  }
}

void FlattenMetrics(simdjson::dom::object obj, const std::string& prefix, SdkMessage* out,
                    int depth) {
  for (auto field : obj) {
    std::string key = prefix.empty() ? std::string(field.key)
                                     : fmt::format("{}/{}", prefix, field.key);
    double v;
    if (field.value.type() == simdjson::dom::element_type::OBJECT && depth < 8) {
      FlattenMetrics(simdjson::dom::object(field.value), key, out, depth + 1);
    } else if (ElementNumber(field.value, &v)) {
      out->metrics.emplace_back(std::move(key), v);
    }
  }
}

}  // namespace

bool ParseSdkMessage(std::string_view line, SdkMessage* out) {
  thread_local simdjson::dom::parser parser;
  *out = SdkMessage{};
  simdjson::dom::element doc;
  simdjson::padded_string padded(line);
  if (parser.parse(padded).get(doc)) return false;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return false;
  std::string_view t;
  if (obj["t"].get_string().get(t)) return false;
  int64_t step;
  double dstep;
  if (!obj["step"].get_int64().get(step)) {
    out->step = step;
  } else if (!obj["step"].get_double().get(dstep) && dstep >= -9223372036854775808.0 &&
             dstep < 9223372036854775808.0) {  // in int64's range (so finite): no UB in the cast
    out->step = static_cast<int64_t>(dstep);
  }
  int64_t rank;
  if (!obj["rank"].get_int64().get(rank) && rank >= 0 && rank <= (1 << 24)) {
    out->rank = static_cast<int>(rank);
  }
  if (t == "log") {
    out->type = SdkMessage::Type::kLog;
    double st;
    if (!obj["step_time"].get_double().get(st) && std::isfinite(st) && st > 0) {
      out->step_time = st;  // simdjson reads an integer as a double too
    }
    simdjson::dom::object m;
    if (obj["metrics"].get_object().get(m)) return false;
    FlattenMetrics(m, "", out, 0);
    return true;
  }
  if (t == "params") {
    out->type = SdkMessage::Type::kParams;
    simdjson::dom::object p;
    if (obj["params"].get_object().get(p)) return false;
    for (auto field : p) {
      std::string value;
      switch (field.value.type()) {
        case simdjson::dom::element_type::STRING: value = std::string(std::string_view(field.value)); break;
        default: value = simdjson::minify(field.value); break;
      }
      out->params.emplace_back(std::string(field.key), std::move(value));
    }
    return true;
  }
  if (t == "tags") {
    out->type = SdkMessage::Type::kTags;
    simdjson::dom::array a;
    if (obj["tags"].get_array().get(a)) return false;
    for (auto v : a) {
      std::string_view tag;
      if (v.get_string().get(tag) || tag.empty()) continue;
      out->tags.emplace_back(tag);
    }
    return true;
  }
  if (t == "remedies") {
    out->type = SdkMessage::Type::kRemedies;
    return true;
  }
  if (t == "live") {
    out->type = SdkMessage::Type::kLive;
    return true;
  }
  if (t == "remedy_applied") {
    out->type = SdkMessage::Type::kRemedyApplied;
    int64_t seq = 0;
    if (obj["seq"].get_int64().get(seq) || seq <= 0) return false;
    out->seq = seq;
    return true;
  }
  if (t == "checkpoint") {
    out->type = SdkMessage::Type::kCheckpoint;
    std::string_view path;
    if (obj["path"].get_string().get(path)) return false;
    out->path = std::string(path);
    return true;
  }
  if (t == "rank") {
    if (!out->rank) return false;
    out->type = SdkMessage::Type::kRank;
    int64_t world;
    if (!obj["world_size"].get_int64().get(world) && world > 0 && world <= (1 << 24)) {
      out->world_size = static_cast<int>(world);
    }
    std::string_view host;
    if (!obj["host"].get_string().get(host)) out->host = std::string(host.substr(0, 255));
    return true;
  }
  if (t == "dataset") {
    out->type = SdkMessage::Type::kDataset;
    std::string_view path, name;
    if (obj["path"].get_string().get(path) || path.empty()) return false;
    if (obj["name"].get_string().get(name)) name = path;
    out->path = std::string(path);
    out->name = std::string(name);
    return true;
  }
  if (t == "batches") {
    out->type = SdkMessage::Type::kBatches;
    if (!data::ParseBatchLog(line, &out->batches)) return false;
    out->batches.path.clear();  // the supervisor resolves the name
    return true;
  }
  return false;
}

}  // namespace inloop::ingest
