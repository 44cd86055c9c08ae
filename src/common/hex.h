// Bytes as lower-case hex, two characters a byte: digests and random tokens as text.
#pragma once

#include <cstddef>
#include <string>

namespace inloop {

inline std::string LowerHex(const void* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

}  // namespace inloop
