// Test helper: a ParsedLine as one line of text, the format of tests/data/lines/*.expected:
// "step=100 loss=2.3456 time_ms=12.34" (the step first when present, then the metrics in line
// order, values in shortest round-trip form), or "-" when Parse returned false.
#pragma once

#include <fmt/format.h>

#include <string>

#include "ingest/line_parser.h"

namespace inloop::ingest {

inline std::string ParsedLineText(bool parsed, const ParsedLine& p) {
  if (!parsed) return "-";
  std::string s;
  if (p.has_step) s = fmt::format("step={}", p.step);
  for (const Metric& m : p.metrics) {
    if (!s.empty()) s.push_back(' ');
    s += fmt::format("{}={}", m.key, m.value);
  }
  return s;
}

}  // namespace inloop::ingest
