// W&B's LevelDB-style log framing, block by block (see wandb_log.h for the contract).
#include "importers/wandb_log.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace inloop::importers {
namespace {

constexpr uint8_t kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4;

uint32_t Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

const char* TypeName(uint8_t type) {
  switch (type) {
    case kFull: return "FULL";
    case kFirst: return "FIRST";
    case kMiddle: return "MIDDLE";
    case kLast: return "LAST";
  }
  return "?";
}

#if defined(__x86_64__)
// CRC-32 of 16-byte blocks (len >= 64, a multiple of 16) by carry-less multiplication: four
// 128-bit lanes folded 64 bytes at a time, then into one, then Barrett-reduced to 32 bits
// (Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", Intel 2009; the
// constants are those of the reflected IEEE polynomial, as in zlib-ng and Chromium's zlib).
// `crc` is the running register, not inverted (the caller does zlib's inversions).
#define INLOOP_PCLMUL __attribute__((target("pclmul,sse4.1")))
INLOOP_PCLMUL inline __m128i Load128(const unsigned char* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
// acc folded over 128 bits (by k) onto next.
INLOOP_PCLMUL inline __m128i Fold128(__m128i acc, __m128i next, __m128i k) {
  __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(acc, k, 0x11), next), lo);
}

INLOOP_PCLMUL uint32_t FoldPclmul(const unsigned char* buf, size_t len,
                                                              uint32_t crc) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  __m128i x1 = Load128(buf), x2 = Load128(buf + 16), x3 = Load128(buf + 32),
          x4 = Load128(buf + 48);
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128(static_cast<int>(crc)));
  buf += 64;
  len -= 64;
  while (len >= 64) {
    __m128i x5 = _mm_clmulepi64_si128(x1, k1k2, 0x00), x6 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
    __m128i x7 = _mm_clmulepi64_si128(x3, k1k2, 0x00), x8 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k1k2, 0x11), x5), Load128(buf));
    x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, k1k2, 0x11), x6),
                       Load128(buf + 16));
    x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, k1k2, 0x11), x7),
                       Load128(buf + 32));
    x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, k1k2, 0x11), x8),
                       Load128(buf + 48));
    buf += 64;
    len -= 64;
  }
  x1 = Fold128(Fold128(Fold128(x1, x2, k3k4), x3, k3k4), x4, k3k4);
  while (len >= 16) {
    x1 = Fold128(x1, Load128(buf), k3k4);
    buf += 16;
    len -= 16;
  }
  // 128 bits to 64, then Barrett reduction to 32.
  const __m128i mask = _mm_setr_epi32(~0, 0, ~0, 0);
  x2 = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask), k5k0, 0x00), x2);
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask), poly, 0x10);
  x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, mask), poly, 0x00);
  x1 = _mm_xor_si128(x1, x2);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}
#undef INLOOP_PCLMUL

bool HavePclmul() {
  static const bool have = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return have;
}
#endif

}  // namespace

// zlib's CRC-32 (IEEE polynomial, inverted in and out, chained the same way). Runs of 64 bytes
// and more are folded with PCLMULQDQ where the CPU has it (zlib's table code was 6% of a mixed
// import), the tail by zlib.
uint32_t Crc32Ieee(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
#if defined(__x86_64__)
  if (n >= 64 && HavePclmul()) {
    size_t blocks = n & ~size_t{15};
    crc = ~FoldPclmul(p, blocks, ~crc);
    p += blocks;
    n -= blocks;
    if (n == 0) return crc;
  }
#endif
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

WandbLogReader::WandbLogReader(std::string_view bytes) {
  read_ = [bytes, at = size_t{0}](char* dst, size_t n) mutable {
    size_t k = std::min(n, bytes.size() - at);
    if (k > 0) std::memcpy(dst, bytes.data() + at, k);
    at += k;
    return k;
  };
}

WandbLogReader::WandbLogReader(std::FILE* file) {
  read_ = [file](char* dst, size_t n) { return std::fread(dst, 1, n, file); };
}

bool WandbLogReader::LoadBlock() {
  if (eof_) return false;
  if (started_) block_start_ += static_cast<int64_t>(block_.size());
  started_ = true;
  block_.resize(kBlockSize);
  size_t got = 0;
  while (got < kBlockSize) {
    size_t n = read_(block_.data() + got, kBlockSize - got);
    if (n == 0) break;
    got += n;
  }
  block_.resize(got);
  counts_.bytes += static_cast<int64_t>(got);
  pos_ = 0;
  if (got < kBlockSize) eof_ = true;
  return got > 0;
}

void WandbLogReader::Problem(int64_t offset, std::string message) {
  problems_.push_back(WandbLogProblem{offset, std::move(message)});
}

void WandbLogReader::DropOpenRecord(const char* why) {
  if (record_start_ < 0) return;
  Problem(record_start_, fmt::format("byte {}: the record there {}; record skipped",
                                     record_start_, why));
  record_start_ = -1;
  record_.clear();
  record_too_long_ = false;
}

bool WandbLogReader::ReadHeader() {
  if (!LoadBlock() || block_.size() < kHeaderSize) {
    Problem(0, fmt::format("file too short for a W&B header ({} bytes); nothing read",
                           block_.size()));
    return false;
  }
  const auto* u = reinterpret_cast<const unsigned char*>(block_.data());
  if (std::memcmp(block_.data(), ":W&B", 4) != 0 || u[4] != 0xE1 || u[5] != 0xBE) {
    Problem(0, "not a W&B .wandb file (no ':W&B' header); nothing read");
    return false;
  }
  if (u[6] != 0) {
    Problem(0, fmt::format("W&B log version {} (this reader knows version 0); nothing read",
                           u[6]));
    return false;
  }
  pos_ = kHeaderSize;
  header_ok_ = true;
  return true;
}

WandbLogReader::Step WandbLogReader::NextChunk(uint8_t* type, std::string_view* data,
                                               int64_t* at) {
  if (pos_ + kChunkHeaderSize > block_.size()) {
    if (block_.size() == kBlockSize && LoadBlock()) return Step::kSkipped;  // a block's tail
    // The file ends here: in a block's padding, or inside a chunk header.
    size_t left = block_.size() - std::min(pos_, block_.size());
    const char* tail = block_.data() + std::min(pos_, block_.size());
    if (left > 0 && std::any_of(tail, tail + left, [](char c) { return c != 0; })) {
      int64_t where = block_start_ + static_cast<int64_t>(pos_);
      Problem(where, fmt::format("byte {}: file ends inside a chunk header ({} of {} bytes); "
                                 "stopped there",
                                 where, left, kChunkHeaderSize));
    }
    return Step::kEnd;
  }
  const char* h = block_.data() + pos_;
  const auto* u = reinterpret_cast<const unsigned char*>(h);
  *at = block_start_ + static_cast<int64_t>(pos_);
  uint32_t crc = Le32(h);
  size_t len = size_t{u[4]} | size_t{u[5]} << 8;
  *type = u[6];
  if (*type == 0 && len == 0 && crc == 0) {  // preallocated zeros: nothing more in this block
    ++counts_.padding_blocks;
    SkipBlock();
    return Step::kSkipped;
  }
  size_t end = pos_ + kChunkHeaderSize + len;
  std::string why;
  if (end > block_.size()) {
    if (block_.size() < kBlockSize) {  // the last block: the file ends inside this chunk
      Problem(*at, fmt::format("byte {}: file ends inside a chunk ({} of {} data bytes); "
                               "stopped there",
                               *at, block_.size() - pos_ - kChunkHeaderSize, len));
      return Step::kEnd;
    }
    why = fmt::format("length {} runs past its block", len);
  } else if (*type < kFull || *type > kLast) {
    why = fmt::format("unknown chunk type {}", *type);
  } else {
    uint32_t got = Crc32Ieee(Crc32Ieee(0, &u[6], 1), h + kChunkHeaderSize, len);
    if (got != crc)
      why = fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, got);
  }
  if (!why.empty()) {
    ++counts_.damaged_chunks;
    int64_t block_end = block_start_ + static_cast<int64_t>(block_.size());
    Problem(*at, fmt::format("byte {}: damaged chunk: {}; bytes {}..{} (the rest of its block) "
                             "skipped",
                             *at, why, *at, block_end));
    DropOpenRecord("lost a chunk to damage");
    in_orphans_ = false;
    SkipBlock();
    return Step::kSkipped;
  }
  *data = std::string_view(h + kChunkHeaderSize, len);
  pos_ = end;
  return Step::kChunk;
}

bool WandbLogReader::Join(uint8_t type, std::string_view data, int64_t at,
                          std::string_view* record, int64_t* offset) {
  if (type == kFull || type == kFirst) {
    (type == kFull ? counts_.full : counts_.first)++;
    DropOpenRecord("lacks its last chunk (a new record starts)");
    in_orphans_ = false;
    if (type == kFirst) {
      record_.assign(data);
      record_start_ = at;
      record_too_long_ = false;
      return false;
    }
    out_.assign(data);
    *record = out_;
    *offset = at;
    ++counts_.records;
    return true;
  }
  (type == kMiddle ? counts_.middle : counts_.last)++;
  if (record_start_ < 0) {
    if (!in_orphans_)
      Problem(at, fmt::format("byte {}: a {} chunk continues a record whose start is missing; "
                              "skipped with the chunks that follow it",
                              at, TypeName(type)));
    in_orphans_ = true;
    return false;
  }
  if (!record_too_long_ && record_.size() + data.size() > kMaxRecordBytes) {
    record_too_long_ = true;
    record_.clear();
    record_.shrink_to_fit();
  }
  if (!record_too_long_) record_.append(data);
  if (type == kMiddle) return false;
  if (record_too_long_) {
    DropOpenRecord("is longer than the 256 MiB this reader joins");
    return false;
  }
  out_.swap(record_);
  record_.clear();
  *record = out_;
  *offset = record_start_;
  record_start_ = -1;
  ++counts_.records;
  return true;
}

bool WandbLogReader::Next(std::string_view* record, int64_t* offset) {
  if (!header_ok_) return false;
  for (;;) {
    uint8_t type = 0;
    std::string_view data;
    int64_t at = 0;
    Step step = NextChunk(&type, &data, &at);
    if (step == Step::kEnd) {
      DropOpenRecord("lacks its last chunk (the file ends first)");
      header_ok_ = false;
      return false;
    }
    if (step == Step::kChunk && Join(type, data, at, record, offset)) return true;
  }
}

}  // namespace inloop::importers
