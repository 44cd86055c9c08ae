// The number in a parsed JSON value, whatever simdjson's integer/double kind it was stored as:
// one reading for the readers of stored payloads (remedy/timeline.cc, report/run_report.cc).
#pragma once

#include <cstdint>
#include <optional>

#include <simdjson.h>

namespace inloop {

// nullopt for anything that is not a JSON number (strings such as "NaN" included).
inline std::optional<double> JsonNumberOf(const simdjson::dom::element& e) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: {
      int64_t v = 0;
      if (e.get(v)) return std::nullopt;
      return static_cast<double>(v);
    }
    case simdjson::dom::element_type::UINT64: {
      uint64_t v = 0;
      if (e.get(v)) return std::nullopt;
      return static_cast<double>(v);
    }
    case simdjson::dom::element_type::DOUBLE: {
      double v = 0;
      if (e.get(v)) return std::nullopt;
      return v;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace inloop
