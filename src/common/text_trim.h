// Trimming whitespace off both ends of a string view, in the two senses the tree needs: any
// ASCII whitespace (log lines, source lines, JSON text), and HTTP's optional whitespace around a
// header value (space and horizontal tab only, RFC 9110 5.6.3). Views into the caller's string.
#pragma once

#include <string_view>

namespace inloop {

inline std::string_view TrimAsciiSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace inloop
