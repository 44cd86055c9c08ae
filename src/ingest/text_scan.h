// Small scanners shared by the text line parsers (text_metrics.cc, caffe_lines.cc).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/number_scan.h"

namespace inloop::ingest {

// Lower-case words joined by '_'.
inline void AppendWords(std::string* out, std::string_view words) {
  bool gap = false;
  for (char c : words) {
    if (IsSpace(c)) {
      gap = true;
      continue;
    }
    if (gap && !out->empty() && out->back() != '_') out->push_back('_');
    gap = false;
    out->push_back(ToLower(c));
  }
}

// A whole decimal integer.
inline bool ParseInt(std::string_view digits, int64_t* v) {
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *v);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

// The number of digits at s[i...].
inline size_t DigitsAt(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && IsDigit(s[j])) ++j;
  return j - i;
}

}  // namespace inloop::ingest
