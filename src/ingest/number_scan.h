// Byte-level scanning helpers shared by the line parsers: character classes, case-insensitive
// comparison, and the one number grammar every shape uses (so "3e-4", "nan" and "25,000" mean
// the same in JSON strings, dict prints, prose and custom patterns). Locale-independent; never
// allocates; never reads outside the given string_view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace inloop::ingest {

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
inline char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}
inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Whether `word`, lower-cased, is one of `lower_words` (which must be lower-case).
template <size_t N>
bool InLowerList(std::string_view word, const std::string_view (&lower_words)[N]) {
  char buf[24];
  if (word.size() > sizeof(buf)) return false;
  for (size_t i = 0; i < word.size(); ++i) buf[i] = ToLower(word[i]);
  for (std::string_view x : lower_words) {
    if (x.size() != word.size()) continue;
    size_t i = 0;
    while (i < x.size() && x[i] == buf[i]) ++i;
    if (i == x.size()) return true;
  }
  return false;
}
std::string_view TrimSpace(std::string_view s);

// Scans one number at the start of `s`; returns the bytes it spans, 0 when there is none.
// Grammar: [+-]? (digits [. digits*]? | . digits) ([eE] [+-]? digits)?, or [+-]? followed by
// nan / inf / infinity in any case and not followed by a letter, digit or '_'. With
// `allow_groups`, an integer part of 1-3 digits may continue in ",ddd" thousands groups
// ("25,000,000"). Does not look at what follows a numeric token; callers check the boundary.
// Magnitudes beyond a double's range read as +-inf (or 0 for tiny ones).
size_t ScanNumber(std::string_view s, double* value, bool allow_groups);

// True when `s` minus surrounding whitespace is exactly one number (groups allowed).
bool ParseNumericString(std::string_view s, double* value);

// True when `v` is a whole number in [0, 2^53], i.e. usable as a step.
bool AsStep(double v, int64_t* step);

}  // namespace inloop::ingest
