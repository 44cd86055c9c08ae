// Hash64: a fast non-cryptographic 64-bit hash of bytes (8 bytes per multiply-mix step, in the
// style of wyhash) for duplicate detection in the validators' hot loops. Not for anything an
// adversary controls the collisions of; content addresses use SHA-256 (manifest.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace inloop::data {

inline uint64_t Mix64(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Hash64(const void* data, size_t n, uint64_t seed = 0) {
  constexpr uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL,
                     k2 = 0x8ebc6af09c88c6e3ULL;
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed ^ k0 ^ (n * k2);
  while (n >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = Mix64(a ^ k1 ^ h, b ^ k2);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n > 0) {
    std::memcpy(&a, p, n);
  }
  return Mix64(a ^ k1 ^ h, b ^ k2 ^ n);
}

inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) { return Hash64(s.data(), s.size(), seed); }

}  // namespace inloop::data
