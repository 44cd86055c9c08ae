// The number grammar of number_scan.h, on top of std::from_chars (exact, locale-independent).
#include "ingest/number_scan.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace inloop::ingest {

std::string_view TrimSpace(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

namespace {

bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }

// nan / inf / infinity at s[i..]; returns the word length or 0.
size_t ScanSpecial(std::string_view s, size_t i, double* value, bool negative) {
  std::string_view rest = s.substr(i);
  size_t len = 0;
  double v = 0;
  if (StartsWithIgnoreCase(rest, "infinity")) {
    len = 8;
    v = std::numeric_limits<double>::infinity();
  } else if (StartsWithIgnoreCase(rest, "inf")) {
    len = 3;
    v = std::numeric_limits<double>::infinity();
  } else if (StartsWithIgnoreCase(rest, "nan")) {
    len = 3;
    v = std::numeric_limits<double>::quiet_NaN();
  } else {
    return 0;
  }
  if (len < rest.size() && IsWordChar(rest[len])) return 0;
  *value = negative ? -v : v;
  return len;
}

bool IsGroup(std::string_view s, size_t i) {  // ",ddd" at i, not followed by another digit
  return i + 3 < s.size() && s[i] == ',' && IsDigit(s[i + 1]) && IsDigit(s[i + 2]) &&
         IsDigit(s[i + 3]) && !(i + 4 < s.size() && IsDigit(s[i + 4]));
}

}  // namespace

size_t ScanNumber(std::string_view s, double* value, bool allow_groups) {
  const size_t n = s.size();
  size_t i = 0;
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  }
  if (i >= n) return 0;
  if (!IsDigit(s[i]) && s[i] != '.') {
    size_t len = ScanSpecial(s, i, value, negative);
    return len == 0 ? 0 : i + len;
  }
  const size_t mantissa = i;
  while (i < n && IsDigit(s[i])) ++i;
  size_t int_digits = i - mantissa;
  bool grouped = false;
  if (allow_groups && int_digits >= 1 && int_digits <= 3 && IsGroup(s, i)) {
    grouped = true;
    while (IsGroup(s, i)) i += 4;
  }
  size_t frac_digits = 0;
  if (i < n && s[i] == '.') {
    size_t j = i + 1;
    while (j < n && IsDigit(s[j])) ++j;
    frac_digits = j - i - 1;
    if (int_digits + frac_digits > 0) i = j;
  }
  if (int_digits + frac_digits == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < n && IsDigit(s[j])) {
      while (j < n && IsDigit(s[j])) ++j;
      i = j;
    }
  }
  std::string_view token = s.substr(mantissa, i - mantissa);
  char buf[128];
  if (grouped) {
    if (token.size() > sizeof(buf)) return 0;
    size_t m = 0;
    for (char c : token) {
      if (c != ',') buf[m++] = c;
    }
    token = std::string_view(buf, m);
  }
  double v = 0;
  auto [ptr, ec] =
      std::from_chars(token.data(), token.data() + token.size(), v, std::chars_format::general);
  if (ptr != token.data() + token.size()) return 0;
  if (ec == std::errc::result_out_of_range) {
    // Beyond double's range: "1e400" is infinite, "1e-400" is zero.
    size_t e = token.find_first_of("eE");
    std::string_view int_part = token.substr(0, token.find_first_of(".eE"));
    bool tiny = (e != std::string_view::npos && e + 1 < token.size() && token[e + 1] == '-') ||
                int_part.find_first_not_of('0') == std::string_view::npos;
    v = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc()) {
    return 0;
  }
  *value = negative ? -v : v;
  return i;
}

bool ParseNumericString(std::string_view s, double* value) {
  s = TrimSpace(s);
  if (s.empty()) return false;
  double v = 0;
  size_t len = ScanNumber(s, &v, /*allow_groups=*/true);
  if (len == 0 || len != s.size()) return false;
  *value = v;
  return true;
}

bool AsStep(double v, int64_t* step) {
  constexpr double kMaxExact = 9007199254740992.0;  // 2^53
  if (!(v >= 0 && v <= kMaxExact) || std::floor(v) != v) return false;
  *step = static_cast<int64_t>(v);
  return true;
}

}  // namespace inloop::ingest
