// CRC-32C (Castagnoli), the checksum of every on-disk record in the store (WAL batches, chunks).
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace inloop::crc32c {

// Returns the CRC-32C of data[0,n) continuing from `init` (0 for a fresh checksum).
uint32_t Extend(uint32_t init, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// TFRecord / LevelDB style masking, so a CRC stored inside checksummed data stays robust.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace inloop::crc32c
