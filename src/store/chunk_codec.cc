// Chunk codec: the byte layout of one chunk of points (docs/chunk_format.md), its encoders and
// its decoders. Owns the choice of column encoding per chunk. Decoding never trusts its input:
// every read is bounds-checked, even behind a valid CRC, and any inconsistency is
// Status::Corrupt naming what failed; it never crashes and never reads out of bounds.
#include "store/chunk_codec.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/crc32c.h"
#include "store/varint.h"
#include "store/zstd_context.h"

namespace inloop::store {
namespace {

static_assert(std::endian::native == std::endian::little, "the codec assumes little-endian");

constexpr char kMagic[4] = {'I', 'L', 'C', 'K'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderSize = 192;
constexpr size_t kFrame = 128;            // values per bit-packed frame
constexpr int kMaxExponent = 18;          // largest decimal scale 10^e
constexpr uint32_t kMaxCount = 1u << 20;  // decoder limit on points per chunk
constexpr double kTwo51 = 2251799813685248.0;

// Column codecs (low 7 bits of the codec byte); bit 7 marks a zstd-compressed block.
enum ColumnCodec : uint8_t { kInts = 0, kDecimal = 1, kGorilla = 2, kRaw = 3 };
constexpr uint8_t kZstdBit = 0x80;
constexpr uint8_t kFlagHasNonfinite = 1;
constexpr const char* kColumnName[3] = {"step", "wall_time", "value"};

// Header field offsets (see docs/chunk_format.md).
constexpr size_t kOffVersion = 4;
constexpr size_t kOffFlags = 5;
constexpr size_t kOffColumns = 6;  // 3 x {codec u8, param u8, stored u32, raw u32}
constexpr size_t kColumnDescSize = 10;
constexpr size_t kOffCount = 36;
constexpr size_t kOffNonfinite = 40;
constexpr size_t kOffFirst = 44;
constexpr size_t kOffLast = 68;
constexpr size_t kOffMin = 92;
constexpr size_t kOffMax = 116;
constexpr size_t kOffFirstNonfinite = 140;
constexpr size_t kOffMinIndex = 164;
constexpr size_t kOffMaxIndex = 168;
constexpr size_t kOffFirstNonfiniteIndex = 172;
constexpr size_t kOffSum = 176;
constexpr size_t kOffBodyCrc = 184;
constexpr size_t kOffHeaderCrc = 188;
static_assert(kOffHeaderCrc + 4 == kHeaderSize);
static_assert(kOffColumns + 3 * kColumnDescSize == kOffCount);

constexpr auto kPow10Int = [] {
  std::array<int64_t, kMaxExponent + 1> t{};
  t[0] = 1;
  for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] * 10;
  return t;
}();
constexpr double kPow10[kMaxExponent + 1] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                             1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                             1e14, 1e15, 1e16, 1e17, 1e18};

// ---- little-endian fixed-width helpers ----

inline void Store32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void Store64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t Bits(double d) { return std::bit_cast<uint64_t>(d); }
inline double FromBits(uint64_t b) { return std::bit_cast<double>(b); }
inline void PutFixed64(std::string* dst, uint64_t v) {
  char b[8];
  Store64(b, v);
  dst->append(b, 8);
}

void StorePoint(char* p, const Point& pt) {
  Store64(p, static_cast<uint64_t>(pt.step));
  Store64(p + 8, Bits(pt.wall_time));
  Store64(p + 16, Bits(pt.value));
}
Point LoadPoint(const char* p) {
  Point pt;
  pt.step = static_cast<int64_t>(Load64(p));
  pt.wall_time = FromBits(Load64(p + 8));
  pt.value = FromBits(Load64(p + 16));
  return pt;
}
bool SameBits(const Point& a, const Point& b) {
  return a.step == b.step && Bits(a.wall_time) == Bits(b.wall_time) &&
         Bits(a.value) == Bits(b.value);
}

inline int BitWidth(uint64_t range) { return range == 0 ? 0 : 64 - std::countl_zero(range); }

// ---- bit packing: fixed-width values, LSB first ----

// Appends len values of w bits (each < 2^w) to *dst.
void PackBits(const uint64_t* u, size_t len, int w, std::string* dst) {
  if (w == 0) return;
  size_t nbytes = (len * w + 7) / 8;
  size_t off = dst->size();
  dst->resize(off + nbytes + 9);  // zero-filled, with slack for the 8-byte stores below
  char* p = dst->data() + off;
  for (size_t i = 0; i < len; ++i) {
    size_t bit = i * w;
    size_t byte = bit >> 3;
    int sh = static_cast<int>(bit & 7);
    uint64_t word = Load64(p + byte) | (u[i] << sh);
    Store64(p + byte, word);
    if (sh + w > 64) {
      p[byte + 8] = static_cast<char>(static_cast<uint8_t>(p[byte + 8]) | (u[i] >> (64 - sh)));
    }
  }
  dst->resize(off + nbytes);
}

// Unpacking, specialised per width: values come in groups of 8, which span exactly w bytes, so
// every shift is a compile-time constant. Reading `groups` groups touches groups*w + 9 bytes.
// Writes groups*8 values v[i] = base + x[i] (direct) or v[i] = v[i-1] + base + x[i] (delta,
// starting from prev); values past the frame's length are garbage the caller ignores.
template <int W, int J>
inline uint64_t Extract(const char* p) {
  constexpr int kBit = J * W;
  constexpr int kByte = kBit / 8;
  constexpr int kShift = kBit % 8;
  constexpr uint64_t kMask = W == 64 ? ~uint64_t{0} : (uint64_t{1} << W) - 1;
  if constexpr (W == 0) {
    return 0;
  } else {
    uint64_t v = Load64(p + kByte) >> kShift;
    if constexpr (kShift + W > 64) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(p[kByte + 8])) << (64 - kShift);
    }
    return v & kMask;
  }
}

template <int W, bool kDelta>
void UnpackGroups(const char* p, size_t groups, uint64_t base, uint64_t prev, int64_t* v) {
  for (size_t g = 0; g < groups; ++g, p += W, v += 8) {
    [&]<int... J>(std::integer_sequence<int, J...>) {
      if constexpr (kDelta) {
        ((prev += base + Extract<W, J>(p), v[J] = static_cast<int64_t>(prev)), ...);
      } else {
        ((v[J] = static_cast<int64_t>(base + Extract<W, J>(p))), ...);
      }
    }
    (std::make_integer_sequence<int, 8>{});
  }
}

using UnpackFn = void (*)(const char*, size_t, uint64_t, uint64_t, int64_t*);
template <bool kDelta>
constexpr auto kUnpack = []<int... W>(std::integer_sequence<int, W...>) {
  return std::array<UnpackFn, sizeof...(W)>{&UnpackGroups<W, kDelta>...};
}
(std::make_integer_sequence<int, 65>{});

// Bytes that unpacking len values of w bits may touch.
inline size_t UnpackReach(size_t len, int w) { return (len + 7) / 8 * w + 9; }

// ---- integer sequences: anchor + frames of 128, each frame-of-reference bit-packed either as
// values or as deltas, whichever is narrower ----

void PutInts(const int64_t* a, size_t n, std::string* dst) {
  if (n == 0) return;
  PutVarint(dst, ZigZag(a[0]));
  uint64_t u[kFrame];
  for (size_t start = 1; start < n; start += kFrame) {
    size_t len = std::min(kFrame, n - start);
    int64_t vmin = a[start], vmax = a[start];
    int64_t dmin = 0, dmax = 0;
    for (size_t i = 0; i < len; ++i) {
      int64_t v = a[start + i];
      int64_t d =
          static_cast<int64_t>(static_cast<uint64_t>(v) - static_cast<uint64_t>(a[start + i - 1]));
      vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
      if (i == 0) dmin = dmax = d;
      dmin = std::min(dmin, d);
      dmax = std::max(dmax, d);
    }
    int wv = BitWidth(static_cast<uint64_t>(vmax) - static_cast<uint64_t>(vmin));
    int wd = BitWidth(static_cast<uint64_t>(dmax) - static_cast<uint64_t>(dmin));
    bool delta = wd < wv;
    int w = delta ? wd : wv;
    int64_t base = delta ? dmin : vmin;
    for (size_t i = 0; i < len; ++i) {
      uint64_t v =
          delta ? static_cast<uint64_t>(a[start + i]) - static_cast<uint64_t>(a[start + i - 1])
                : static_cast<uint64_t>(a[start + i]);
      u[i] = v - static_cast<uint64_t>(base);
    }
    dst->push_back(static_cast<char>((delta ? 0x80 : 0) | w));
    PutVarint(dst, ZigZag(base));
    PackBits(u, len, w, dst);
  }
}

// Decodes n integers from [*p, end) into out[0, n); out must have room for n + 8 values (the
// last frame may write up to 7 more). Returns false on truncated or malformed input.
bool GetInts(const char** p, const char* end, size_t n, int64_t* out) {
  if (n == 0) return true;
  uint64_t z;
  if (!GetVarint(p, end, &z)) return false;
  out[0] = UnZigZag(z);
  uint64_t prev = static_cast<uint64_t>(out[0]);
  char padded[kFrame * 8 + 16];  // >= UnpackReach(kFrame, 64)
  for (size_t start = 1; start < n; start += kFrame) {
    size_t len = std::min(kFrame, n - start);
    if (*p >= end) return false;
    uint8_t head = static_cast<uint8_t>(**p);
    ++*p;
    bool delta = (head & 0x80) != 0;
    int w = head & 0x7f;
    if (w > 64) return false;
    if (!GetVarint(p, end, &z)) return false;
    uint64_t base = static_cast<uint64_t>(UnZigZag(z));
    size_t nbytes = (len * w + 7) / 8;
    if (static_cast<size_t>(end - *p) < nbytes) return false;
    const char* src = *p;
    if (static_cast<size_t>(end - *p) < UnpackReach(len, w)) {
      std::memcpy(padded, *p, nbytes);
      std::memset(padded + nbytes, 0, UnpackReach(len, w) - nbytes);
      src = padded;
    }
    (delta ? kUnpack<true> : kUnpack<false>)[w](src, (len + 7) / 8, base, prev, out + start);
    prev = static_cast<uint64_t>(out[start + len - 1]);
    *p += nbytes;
  }
  return true;
}

// ---- scaled decimals ----

// d[i] = v[i] / 10^e (e >= 0) or v[i] * 10^-e (e < 0), exact or correctly rounded, for
// |v[i]| < 2^51 (what the encoder guarantees; larger values, which only corrupt input can hold,
// give wrong numbers but no undefined behaviour). Division is correctly rounded in every lane
// width, so all paths give the same bits. int64 -> double uses the 0x1.8p52 trick, exact for
// |v| < 2^51, because SSE2/AVX2 have no such conversion.
constexpr uint64_t kRoundBits = 0x4338000000000000;  // bits of 0x1.8p52
constexpr double kRound = 6755399441055744.0;        // 0x1.8p52

template <bool kMultiply>
void ScaleScalar(const int64_t* v, size_t len, double s, double* d) {
  for (size_t i = 0; i < len; ++i) {
    double x = FromBits(static_cast<uint64_t>(v[i]) + kRoundBits) - kRound;
    d[i] = kMultiply ? x * s : x / s;
  }
}

#if defined(__x86_64__)
template <bool kMultiply>
__attribute__((target("avx2"))) void ScaleAvx2(const int64_t* v, size_t len, double scale,
                                               double* d) {
  const __m256i magic_bits = _mm256_set1_epi64x(static_cast<int64_t>(kRoundBits));
  const __m256d magic = _mm256_set1_pd(kRound);
  const __m256d s = _mm256_set1_pd(scale);
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i));
    __m256d f = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(x, magic_bits)), magic);
    _mm256_storeu_pd(d + i, kMultiply ? _mm256_mul_pd(f, s) : _mm256_div_pd(f, s));
  }
  ScaleScalar<kMultiply>(v + i, len - i, scale, d + i);
}

template <bool kMultiply>
void ScaleSse2(const int64_t* v, size_t len, double scale, double* d) {
  const __m128i magic_bits = _mm_set1_epi64x(static_cast<int64_t>(kRoundBits));
  const __m128d magic = _mm_set1_pd(kRound);
  const __m128d s = _mm_set1_pd(scale);
  size_t i = 0;
  for (; i + 2 <= len; i += 2) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i));
    __m128d f = _mm_sub_pd(_mm_castsi128_pd(_mm_add_epi64(x, magic_bits)), magic);
    _mm_storeu_pd(d + i, kMultiply ? _mm_mul_pd(f, s) : _mm_div_pd(f, s));
  }
  ScaleScalar<kMultiply>(v + i, len - i, scale, d + i);
}

const bool kHasAvx2 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}();

template <bool kMultiply>
void Scale(const int64_t* v, size_t len, double s, double* d) {
  if (kHasAvx2) {
    ScaleAvx2<kMultiply>(v, len, s, d);
  } else {
    ScaleSse2<kMultiply>(v, len, s, d);
  }
}
#else
template <bool kMultiply>
void Scale(const int64_t* v, size_t len, double s, double* d) {
  ScaleScalar<kMultiply>(v, len, s, d);
}
#endif

void ScaleDown(const int64_t* v, size_t len, int e, double* d) {
  if (e >= 0) {
    Scale<false>(v, len, kPow10[e], d);
  } else {
    Scale<true>(v, len, kPow10[-e], d);
  }
}

// True when x == n / 10^e exactly for the integer n nearest x*10^e, with |x*10^e| < 2^51.
inline bool ScaledInt(double x, int e, int64_t* n) {
  double y = x * kPow10[e];
  if (!(std::fabs(y) < kTwo51)) return false;
  int64_t r = static_cast<int64_t>(y >= 0 ? y + 0.5 : y - 0.5);
  *n = r;
  return static_cast<double>(r) / kPow10[e] == x;
}

// A value the decimal path stores verbatim: NaN, +-Inf, and -0.0 (whose sign n/10^e loses).
inline bool DecimalException(double x) { return !std::isfinite(x) || (x == 0 && std::signbit(x)); }

// Encodes the column as scaled decimals: every finite x is n / 10^e (e in 0..18) or n * 10^-e
// (e in -18..-1) for an integer |n| < 2^51. Returns false when some finite value has no such
// form.
bool EncodeDecimal(std::span<const Point> pts, double Point::*field, std::string* dst,
                   int* exponent) {
  thread_local std::vector<int64_t> ints;
  size_t n = pts.size();
  ints.resize(n);
  int e = 0;
  size_t exceptions = 0;
  // One pass at the current exponent; restart with a larger one when a value does not fit.
  for (bool restart = true; restart;) {
    restart = false;
    exceptions = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n; ++i) {
      double x = pts[i].*field;
      if (DecimalException(x)) {
        ++exceptions;
        ints[i] = prev;
        continue;
      }
      int64_t v;
      while (!ScaledInt(x, e, &v)) {
        if (++e > kMaxExponent) return false;
        restart = true;
      }
      if (restart) break;
      ints[i] = prev = v;
    }
  }
  // Integers with trailing zeros (123400 printed as 1.234e+05): store them divided by 10^f,
  // as the negative exponent -f.
  if (e == 0) {
    int f = kMaxExponent;
    for (size_t i = 0; i < n && f > 0; ++i) {
      while (f > 0 && ints[i] % kPow10Int[f] != 0) --f;
    }
    if (f > 0) {
      for (size_t i = 0; i < n; ++i) ints[i] /= kPow10Int[f];
      e = -f;
    }
  }
  PutVarint(dst, exceptions);
  size_t last = 0;
  for (size_t i = 0; i < n && exceptions > 0; ++i) {
    double x = pts[i].*field;
    if (!DecimalException(x)) continue;
    PutVarint(dst, i - last);
    PutFixed64(dst, Bits(x));
    last = i;
    --exceptions;
  }
  PutInts(ints.data(), n, dst);
  *exponent = e;
  return true;
}

// Decodes n values scaled by 10^-e into out[0, n) (room for n + 8).
bool DecodeDecimal(const char* p, const char* end, int e, double* out, size_t n) {
  uint64_t exceptions;
  if (!GetVarint(&p, end, &exceptions) || exceptions > n) return false;
  const char* list = p;
  size_t pos = 0;
  for (uint64_t k = 0; k < exceptions; ++k) {
    uint64_t gap;
    if (!GetVarint(&p, end, &gap) || gap >= n - pos || (k > 0 && gap == 0)) return false;
    pos += gap;
    if (end - p < 8) return false;
    p += 8;
  }
  thread_local std::vector<int64_t> ints;
  if (ints.size() < n + 8) ints.resize(n + 8);
  if (!GetInts(&p, end, n, ints.data()) || p != end) return false;
  ScaleDown(ints.data(), n, e, out);
  pos = 0;
  for (uint64_t k = 0; k < exceptions; ++k) {
    uint64_t gap = 0;
    GetVarint(&list, end, &gap);
    pos += gap;
    out[pos] = FromBits(Load64(list));
    list += 8;
  }
  return true;
}

// ---- Gorilla XOR ----

class BitWriter {
 public:
  explicit BitWriter(std::string* dst) : dst_(dst) {}
  // Appends the low n bits of v (1 <= n <= 64; v < 2^n).
  void Put(uint64_t v, int n) {
    acc_ |= v << fill_;
    int room = 64 - fill_;
    if (n >= room) {
      PutFixed64(dst_, acc_);
      acc_ = room == 64 ? 0 : v >> room;
      fill_ = n - room;
    } else {
      fill_ += n;
    }
  }
  void Finish() {
    char b[8];
    Store64(b, acc_);
    dst_->append(b, (fill_ + 7) / 8);
    acc_ = 0;
    fill_ = 0;
  }

 private:
  std::string* dst_;
  uint64_t acc_ = 0;
  int fill_ = 0;
};

class BitReader {
 public:
  BitReader(const char* p, size_t size) : p_(p), size_(size) {}
  // Reads n bits (1 <= n <= 64); past the end reads zeros and marks the reader overrun.
  uint64_t Get(int n) {
    if (n > 56) {
      uint64_t lo = Get(32);
      return lo | (Get(n - 32) << 32);
    }
    if (pos_ + n > size_ * 8) {
      overrun_ = true;
      return 0;
    }
    size_t byte = pos_ >> 3;
    uint64_t word = 0;
    if (byte + 8 <= size_) {
      word = Load64(p_ + byte);
    } else {
      std::memcpy(&word, p_ + byte, size_ - byte);
    }
    uint64_t v = (word >> (pos_ & 7)) & ((uint64_t{1} << n) - 1);
    pos_ += n;
    return v;
  }
  bool overrun() const { return overrun_; }
  // True when every byte was consumed (only padding bits of the last byte left).
  bool AtEnd() const { return !overrun_ && (pos_ + 7) / 8 == size_; }

 private:
  const char* p_;
  size_t size_;
  size_t pos_ = 0;
  bool overrun_ = false;
};

void EncodeGorilla(std::span<const Point> pts, double Point::*field, std::string* dst) {
  BitWriter w(dst);
  uint64_t prev = Bits(pts[0].*field);
  w.Put(prev, 64);
  int lead = -1, trail = 0;
  for (size_t i = 1; i < pts.size(); ++i) {
    uint64_t cur = Bits(pts[i].*field);
    uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      w.Put(0, 1);
      continue;
    }
    int l = std::countl_zero(x), t = std::countr_zero(x);
    if (lead >= 0 && l >= lead && t >= trail) {
      w.Put(0b01, 2);
      w.Put(x >> trail, 64 - lead - trail);
    } else {
      lead = l;
      trail = t;
      int len = 64 - l - t;
      w.Put(0b11, 2);
      w.Put(static_cast<uint64_t>(l), 6);
      w.Put(static_cast<uint64_t>(len - 1), 6);
      w.Put(x >> t, len);
    }
  }
  w.Finish();
}

bool DecodeGorilla(const char* p, size_t size, double* out, size_t n) {
  BitReader r(p, size);
  uint64_t v = r.Get(64);
  out[0] = FromBits(v);
  int lead = -1, trail = 0;
  for (size_t i = 1; i < n; ++i) {
    if (r.Get(1) != 0) {
      if (r.Get(1) != 0) {
        lead = static_cast<int>(r.Get(6));
        int len = static_cast<int>(r.Get(6)) + 1;
        if (lead + len > 64) return false;
        trail = 64 - lead - len;
      } else if (lead < 0) {
        return false;
      }
      v ^= r.Get(64 - lead - trail) << trail;
    }
    if (r.overrun()) return false;
    out[i] = FromBits(v);
  }
  return r.AtEnd();
}

// ---- columns ----

struct ColumnBlock {
  uint8_t codec = kRaw;
  uint8_t param = 0;
  uint32_t raw_size = 0;
  std::string bytes;  // as stored (zstd-compressed when codec has kZstdBit)
};

void MaybeCompress(ColumnBlock* b) {
  b->raw_size = static_cast<uint32_t>(b->bytes.size());
  if (b->bytes.size() < 32) return;  // a zstd frame costs more than it could save
  thread_local std::string z;
  z.resize(ZSTD_compressBound(b->bytes.size()));
  size_t n =
      ZSTD_compressCCtx(CompressContext(), z.data(), z.size(), b->bytes.data(), b->bytes.size(), 3);
  if (ZSTD_isError(n) || n >= b->bytes.size()) return;
  b->bytes.assign(z.data(), n);
  b->codec |= kZstdBit;
}

ColumnBlock EncodeSteps(std::span<const Point> pts) {
  thread_local std::vector<int64_t> steps;
  steps.resize(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) steps[i] = pts[i].step;
  ColumnBlock b;
  b.codec = kInts;
  PutInts(steps.data(), steps.size(), &b.bytes);
  MaybeCompress(&b);
  return b;
}

// Raw values stored as 8 byte planes (all low bytes first, ..., all high bytes last), so that
// zstd finds the sign/exponent bytes that repeat even when the mantissas are noise.
ColumnBlock EncodeRaw(std::span<const Point> pts, double Point::*field) {
  const size_t n = pts.size();
  ColumnBlock b;
  b.codec = kRaw;
  b.bytes.resize(8 * n);
  char* p = b.bytes.data();
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = Bits(pts[i].*field);
    for (size_t k = 0; k < 8; ++k) p[k * n + i] = static_cast<char>(v >> (8 * k));
  }
  MaybeCompress(&b);
  return b;
}

void DecodeRaw(const char* p, size_t n, double* out) {
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = 0;
    for (size_t k = 0; k < 8; ++k) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(p[k * n + i])) << (8 * k);
    }
    out[i] = FromBits(v);
  }
}

ColumnBlock EncodeDoubles(std::span<const Point> pts, double Point::*field) {
  const size_t n = pts.size();
  ColumnBlock best;
  size_t best_size = n * 8;  // raw
  std::string dec;
  int e = 0;
  if (EncodeDecimal(pts, field, &dec, &e) && dec.size() < best_size) {
    best_size = dec.size();
    best.codec = kDecimal;
    best.param = static_cast<uint8_t>(e);
    best.bytes = std::move(dec);
  }
  // Gorilla spends at least one bit per value after the first: skip it when it cannot win.
  if (best_size > 8 + n / 8) {
    std::string gor;
    EncodeGorilla(pts, field, &gor);
    if (gor.size() < best_size) {
      best_size = gor.size();
      best.codec = kGorilla;
      best.param = 0;
      best.bytes = std::move(gor);
    }
  }
  if (best.bytes.empty()) return EncodeRaw(pts, field);
  MaybeCompress(&best);
  if (best.codec == kGorilla) {
    // Byte planes compress better than Gorilla bits when only the high bytes repeat.
    ColumnBlock raw = EncodeRaw(pts, field);
    if (raw.bytes.size() < best.bytes.size()) return raw;
  }
  return best;
}

// ---- header ----

struct ColumnDesc {
  uint8_t codec = 0;
  uint8_t param = 0;
  uint32_t stored = 0;
  uint32_t raw = 0;
};

// The fewest bytes a column of n values can take before zstd, so that a corrupt count cannot
// make the decoder allocate far more than the chunk could describe.
uint64_t MinRawSize(uint8_t kind, uint64_t n) {
  if (n == 0) return 0;
  uint64_t ints = 1 + 2 * ((n - 1 + kFrame - 1) / kFrame);
  switch (kind) {
    case kInts:
      return ints;
    case kDecimal:
      return 1 + ints;
    case kGorilla:
      return (64 + (n - 1) + 7) / 8;
    default:
      return 8 * n;
  }
}

struct Header {
  ChunkSummary summary;
  ColumnDesc cols[3];
  uint32_t body_crc = 0;
};

Status ParseHeader(std::string_view bytes, Header* h) {
  if (bytes.size() < kHeaderSize) {
    return Status::Corrupt(
        fmt::format("chunk truncated: {} bytes, header needs {}", bytes.size(), kHeaderSize));
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kMagic, 4) != 0) return Status::Corrupt("chunk: bad magic (not a chunk)");
  uint32_t want = crc32c::Unmask(Load32(p + kOffHeaderCrc));
  uint32_t got = crc32c::Value(p, kOffHeaderCrc);
  if (want != got) {
    return Status::Corrupt(
        fmt::format("chunk header CRC mismatch (stored {:08x}, computed {:08x})", want, got));
  }
  uint8_t version = static_cast<uint8_t>(p[kOffVersion]);
  if (version != kVersion) {
    return Status::Incompatible(
        fmt::format("chunk format version {} (this build reads version {})", version, kVersion));
  }
  uint8_t flags = static_cast<uint8_t>(p[kOffFlags]);
  if (flags & ~kFlagHasNonfinite) {
    return Status::Corrupt(fmt::format("chunk: unknown flags {:#x}", flags));
  }
  ChunkSummary& s = h->summary;
  s.count = Load32(p + kOffCount);
  s.nonfinite = Load32(p + kOffNonfinite);
  s.first = LoadPoint(p + kOffFirst);
  s.last = LoadPoint(p + kOffLast);
  s.min = LoadPoint(p + kOffMin);
  s.max = LoadPoint(p + kOffMax);
  s.first_nonfinite = LoadPoint(p + kOffFirstNonfinite);
  s.min_index = Load32(p + kOffMinIndex);
  s.max_index = Load32(p + kOffMaxIndex);
  s.first_nonfinite_index = Load32(p + kOffFirstNonfiniteIndex);
  s.sum = FromBits(Load64(p + kOffSum));
  s.has_nonfinite_point = (flags & kFlagHasNonfinite) != 0;
  h->body_crc = crc32c::Unmask(Load32(p + kOffBodyCrc));
  if (s.count > kMaxCount) {
    return Status::Corrupt(fmt::format("chunk: count {} too large", s.count));
  }
  if (s.nonfinite > s.count || s.has_nonfinite_point != (s.nonfinite > 0)) {
    return Status::Corrupt(
        fmt::format("chunk: nonfinite count {} inconsistent (count {})", s.nonfinite, s.count));
  }
  if (s.count > 0 &&
      (s.min_index >= s.count || s.max_index >= s.count || s.first_nonfinite_index >= s.count)) {
    return Status::Corrupt("chunk: summary index out of range");
  }
  for (int c = 0; c < 3; ++c) {
    const char* d = p + kOffColumns + c * kColumnDescSize;
    ColumnDesc& cd = h->cols[c];
    cd.codec = static_cast<uint8_t>(d[0]);
    cd.param = static_cast<uint8_t>(d[1]);
    cd.stored = Load32(d + 2);
    cd.raw = Load32(d + 6);
    uint8_t kind = cd.codec & ~kZstdBit;
    bool ok = c == 0 ? kind == kInts : (kind == kDecimal || kind == kGorilla || kind == kRaw);
    const int exponent = static_cast<int8_t>(cd.param);
    ok = ok && (kind == kDecimal ? std::abs(exponent) <= kMaxExponent : cd.param == 0);
    ok = ok && cd.raw <= 16 * static_cast<uint64_t>(s.count) + 1024 &&
         cd.raw >= MinRawSize(kind, s.count);
    ok = ok && ((cd.codec & kZstdBit) ? cd.stored < cd.raw : cd.stored == cd.raw);
    if (!ok) {
      return Status::Corrupt(
          fmt::format("chunk: bad {} column descriptor (codec {:#x}, param {}, "
                      "{} of {} bytes)",
                      kColumnName[c], cd.codec, cd.param, cd.stored, cd.raw));
    }
  }
  return Status::OK();
}

// The decoded columns of a chunk; each array has room for count + 8 values.
struct Columns {
  std::vector<int64_t> steps;
  std::vector<double> wall, value;
  void Reserve(size_t n) {
    if (steps.size() < n + 8) {
      steps.resize(n + 8);
      wall.resize(n + 8);
      value.resize(n + 8);
    }
  }
};

Status DecodeColumn(int c, const ColumnDesc& cd, const char* p, size_t n, Columns* cols) {
  thread_local std::string buf;
  if (cd.codec & kZstdBit) {
    buf.resize(cd.raw);
    size_t got = ZSTD_decompressDCtx(DecompressContext(), buf.data(), buf.size(), p, cd.stored);
    if (ZSTD_isError(got) || got != cd.raw) {
      return Status::Corrupt(fmt::format("chunk: {} column does not decompress: {}", kColumnName[c],
                                         ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short"));
    }
    p = buf.data();
  }
  const char* end = p + cd.raw;
  bool ok = true;
  double* out = c == 1 ? cols->wall.data() : cols->value.data();
  switch (cd.codec & ~kZstdBit) {
    case kInts:
      ok = GetInts(&p, end, n, cols->steps.data()) && p == end;
      break;
    case kDecimal:
      ok = DecodeDecimal(p, end, static_cast<int8_t>(cd.param), out, n);
      break;
    case kGorilla:
      ok = DecodeGorilla(p, cd.raw, out, n);
      break;
    case kRaw:
      ok = cd.raw == 8 * n;
      if (ok) DecodeRaw(p, n, out);
      break;
  }
  if (!ok) return Status::Corrupt(fmt::format("chunk: {} column is malformed", kColumnName[c]));
  return Status::OK();
}

}  // namespace

ChunkSummary Summarize(std::span<const Point> pts) {
  ChunkSummary s;
  s.count = static_cast<uint32_t>(pts.size());
  if (pts.empty()) return s;
  s.first = pts.front();
  s.last = pts.back();
  bool has_finite = false;
  for (size_t i = 0; i < pts.size(); ++i) {
    double v = pts[i].value;
    if (std::isfinite(v)) {
      s.sum += v;
      if (!has_finite || v < s.min.value) {
        s.min = pts[i];
        s.min_index = static_cast<uint32_t>(i);
      }
      if (!has_finite || v > s.max.value) {
        s.max = pts[i];
        s.max_index = static_cast<uint32_t>(i);
      }
      has_finite = true;
    } else {
      if (!s.has_nonfinite_point) {
        s.has_nonfinite_point = true;
        s.first_nonfinite = pts[i];
        s.first_nonfinite_index = static_cast<uint32_t>(i);
      }
      ++s.nonfinite;
    }
  }
  if (!has_finite) {
    s.min = s.max = pts.front();
    s.min_index = s.max_index = 0;
  }
  return s;
}

std::string EncodeChunk(std::span<const Point> pts) {
  ChunkSummary s = Summarize(pts);
  ColumnBlock cols[3];
  cols[0] = EncodeSteps(pts);
  if (!pts.empty()) {
    cols[1] = EncodeDoubles(pts, &Point::wall_time);
    cols[2] = EncodeDoubles(pts, &Point::value);
  }
  std::string out(kHeaderSize, '\0');
  char* h = out.data();
  std::memcpy(h, kMagic, 4);
  h[kOffVersion] = static_cast<char>(kVersion);
  h[kOffFlags] = static_cast<char>(s.has_nonfinite_point ? kFlagHasNonfinite : 0);
  for (int c = 0; c < 3; ++c) {
    char* d = h + kOffColumns + c * kColumnDescSize;
    d[0] = static_cast<char>(cols[c].codec);
    d[1] = static_cast<char>(cols[c].param);
    Store32(d + 2, static_cast<uint32_t>(cols[c].bytes.size()));
    Store32(d + 6, cols[c].raw_size);
  }
  Store32(h + kOffCount, s.count);
  Store32(h + kOffNonfinite, s.nonfinite);
  StorePoint(h + kOffFirst, s.first);
  StorePoint(h + kOffLast, s.last);
  StorePoint(h + kOffMin, s.min);
  StorePoint(h + kOffMax, s.max);
  StorePoint(h + kOffFirstNonfinite, s.first_nonfinite);
  Store32(h + kOffMinIndex, s.min_index);
  Store32(h + kOffMaxIndex, s.max_index);
  Store32(h + kOffFirstNonfiniteIndex, s.first_nonfinite_index);
  Store64(h + kOffSum, Bits(s.sum));
  for (const ColumnBlock& b : cols) out += b.bytes;
  uint32_t body_crc = crc32c::Value(out.data() + kHeaderSize, out.size() - kHeaderSize);
  h = out.data();
  Store32(h + kOffBodyCrc, crc32c::Mask(body_crc));
  Store32(h + kOffHeaderCrc, crc32c::Mask(crc32c::Value(h, kOffHeaderCrc)));
  return out;
}

Status DecodeChunk(std::string_view bytes, std::vector<Point>* out) {
  Header h;
  INLOOP_RETURN_IF_ERROR(ParseHeader(bytes, &h));
  uint64_t body = 0;
  for (const ColumnDesc& cd : h.cols) body += cd.stored;
  if (bytes.size() != kHeaderSize + body) {
    return Status::Corrupt(fmt::format("chunk {}: {} bytes, header says {}",
                                       bytes.size() < kHeaderSize + body ? "truncated" : "too long",
                                       bytes.size(), kHeaderSize + body));
  }
  uint32_t crc = crc32c::Value(bytes.data() + kHeaderSize, body);
  if (crc != h.body_crc) {
    return Status::Corrupt(
        fmt::format("chunk body CRC mismatch (stored {:08x}, computed {:08x})", h.body_crc, crc));
  }
  const size_t n = h.summary.count;
  if (n == 0) {
    for (const ColumnDesc& cd : h.cols) {
      if (cd.stored != 0) return Status::Corrupt("chunk: empty chunk with column bytes");
    }
    return Status::OK();
  }
  thread_local Columns cols;
  cols.Reserve(n);
  const char* p = bytes.data() + kHeaderSize;
  for (int c = 0; c < 3; ++c) {
    INLOOP_RETURN_IF_ERROR(DecodeColumn(c, h.cols[c], p, n, &cols));
    p += h.cols[c].stored;
  }
  const int64_t* steps = cols.steps.data();
  const double* wall = cols.wall.data();
  const double* value = cols.value.data();
  if (!SameBits({steps[0], wall[0], value[0]}, h.summary.first) ||
      !SameBits({steps[n - 1], wall[n - 1], value[n - 1]}, h.summary.last)) {
    return Status::Corrupt("chunk: decoded points disagree with the summary");
  }
  const size_t old = out->size();
  out->resize(old + n);
  Point* pts = out->data() + old;
  for (size_t i = 0; i < n; ++i) pts[i] = {steps[i], wall[i], value[i]};
  return Status::OK();
}

Status ReadChunkSummary(std::string_view bytes, ChunkSummary* summary) {
  Header h;
  INLOOP_RETURN_IF_ERROR(ParseHeader(bytes, &h));
  *summary = h.summary;
  return Status::OK();
}

size_t ChunkHeaderSize() { return kHeaderSize; }

}  // namespace inloop::store
