// Canonical JSON over simdjson's DOM: sorted keys, compact, shortest numbers. Pure.
#include "gateway/canonical_json.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "common/json_writer.h"

namespace inloop::gateway {
namespace {

void Write(simdjson::dom::element e, std::string* out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
      simdjson::dom::object obj;
      if (e.get_object().get(obj)) return;
      for (auto field : obj) fields.emplace_back(field.key, field.value);
      std::stable_sort(fields.begin(), fields.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      out->push_back('{');
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i) out->push_back(',');
        AppendJsonString(out, fields[i].first);
        out->push_back(':');
        Write(fields[i].second, out);
      }
      out->push_back('}');
      return;
    }
    case element_type::ARRAY: {
      out->push_back('[');
      bool first = true;
      simdjson::dom::array arr;
      if (e.get_array().get(arr)) return;
      for (auto v : arr) {
        if (!first) out->push_back(',');
        first = false;
        Write(v, out);
      }
      out->push_back(']');
      return;
    }
    case element_type::STRING: {
      std::string_view str;
      if (e.get_string().get(str)) return;
      AppendJsonString(out, str);
      return;
    }
    case element_type::INT64:
      *out += std::to_string(int64_t(e));
      return;
    case element_type::UINT64:
      *out += std::to_string(uint64_t(e));
      return;
    case element_type::DOUBLE: {
      double d = double(e);
      // 1.0 and 1 are the same number to a model server; write integral doubles as integers.
      if (d == static_cast<double>(static_cast<int64_t>(d)) && d > -9.0e15 && d < 9.0e15) {
        *out += std::to_string(static_cast<int64_t>(d));
      } else {
        *out += JsonNumber(d);
      }
      return;
    }
    case element_type::BOOL:
      *out += bool(e) ? "true" : "false";
      return;
    case element_type::NULL_VALUE:
      *out += "null";
      return;
  }
}

}  // namespace

Status CanonicalJson(std::string_view in, std::string* out) {
  thread_local simdjson::dom::parser parser;  // keeps its buffers between calls
  simdjson::dom::element doc;
  if (parser.parse(in.data(), in.size()).get(doc)) {
    return Status::Invalid("request body is not valid JSON");
  }
  out->clear();
  Write(doc, out);
  return Status::OK();
}

std::optional<double> TopLevelNumber(std::string_view json, std::string_view key) {
  if (json.find(key) == std::string_view::npos) return std::nullopt;  // cheap common case
  thread_local simdjson::dom::parser parser;  // keeps its buffers between calls
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return std::nullopt;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return std::nullopt;
  simdjson::dom::element v;
  if (obj.at_key(key).get(v)) return std::nullopt;
  double d;
  if (v.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return std::nullopt;
}

}  // namespace inloop::gateway
