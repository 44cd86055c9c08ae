// Tests of the chunk codec: bit-exact round trips (NaN payloads, -0.0, extremes), the encoding
// chosen for typical curves, the summary, and that every truncation or corruption of a chunk is
// reported as Status::Corrupt without crashing (run under ASan+UBSan too).
#include "store/chunk_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <set>

#include "common/crc32c.h"

namespace inloop::store {
namespace {

uint64_t Bits(double d) { return std::bit_cast<uint64_t>(d); }

// Bitwise equality, so NaN payloads and the sign of zero count.
void ExpectSameBits(const std::vector<Point>& want, const std::vector<Point>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].step, got[i].step) << "point " << i;
    ASSERT_EQ(Bits(want[i].wall_time), Bits(got[i].wall_time)) << "point " << i;
    ASSERT_EQ(Bits(want[i].value), Bits(got[i].value)) << "point " << i;
  }
}

// Decodes from a heap buffer of exactly the chunk's size, so that ASan flags any read past it.
Status DecodeExact(std::string_view bytes, std::vector<Point>* out) {
  auto copy = std::make_unique<char[]>(std::max<size_t>(bytes.size(), 1));
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  return DecodeChunk(std::string_view(copy.get(), bytes.size()), out);
}
Status ReadSummaryExact(std::string_view bytes, ChunkSummary* s) {
  auto copy = std::make_unique<char[]>(std::max<size_t>(bytes.size(), 1));
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  return ReadChunkSummary(std::string_view(copy.get(), bytes.size()), s);
}

std::vector<Point> RoundTrip(const std::vector<Point>& pts, size_t* encoded_size = nullptr) {
  std::string bytes = EncodeChunk(pts);
  if (encoded_size) *encoded_size = bytes.size();
  std::vector<Point> out;
  Status s = DecodeExact(bytes, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  ExpectSameBits(pts, out);
  return out;
}

double Decimal(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

// A loss curve as a training script prints it: 5 significant digits, ms wall times.
std::vector<Point> LossCurve(size_t n, uint64_t seed, int64_t first_step = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<Point> pts(n);
  double t = 1712345678.0;
  for (size_t i = 0; i < n; ++i) {
    int64_t step = first_step + static_cast<int64_t>(i);
    double loss = 3.0 * std::pow(step + 10.0, -0.3) + 0.6;
    pts[i].step = step;
    t += 0.2 + 0.004 * noise(rng);
    pts[i].wall_time = std::round(t * 1000) / 1000;
    pts[i].value = Decimal(loss * (1 + 0.02 * noise(rng)), 5);
  }
  return pts;
}

TEST(ChunkCodecTest, RoundTripsTypicalCurveCompactly) {
  std::vector<Point> pts = LossCurve(4096, 1, 1000);
  size_t size = 0;
  RoundTrip(pts, &size);
  EXPECT_LT(static_cast<double>(size) / pts.size(), 3.0);
}

// Column descriptors sit at header offset 6 + 10 * column: codec byte, then param byte.
uint8_t CodecOf(const std::string& chunk, int column) {
  return static_cast<uint8_t>(chunk[6 + 10 * column]);
}
int ParamOf(const std::string& chunk, int column) {
  return static_cast<int8_t>(chunk[7 + 10 * column]);
}

TEST(ChunkCodecTest, IntegersWithTrailingZerosUseANegativeExponent) {
  // Tokens/s printed with 4 significant digits: 123400, 125100, ...
  std::mt19937_64 rng(6);
  std::vector<Point> pts(4096);
  for (size_t i = 0; i < pts.size(); ++i) {
    double v = Decimal(1.234e5 * (1 + 0.02 * std::normal_distribution<double>(0, 1)(rng)), 4);
    pts[i] = {static_cast<int64_t>(i), 1e9 + static_cast<double>(i), v};
  }
  std::string bytes = EncodeChunk(pts);
  EXPECT_EQ(CodecOf(bytes, 2) & 0x7f, 1);  // decimal
  EXPECT_EQ(ParamOf(bytes, 2), -2);        // n * 10^2
  EXPECT_LT(static_cast<double>(bytes.size()) / pts.size(), 1.2);
  RoundTrip(pts);
  // Huge integers and negative ones.
  pts = {{0, 0, 1e17}, {1, 0, -3e18}, {2, 0, 5e15}, {3, 0, -0.0}, {4, 0, 0}};
  RoundTrip(pts);
}

TEST(ChunkCodecTest, RandomDoublesStayNearEightBytes) {
  std::mt19937_64 rng(8);
  std::vector<Point> pts(4096);
  for (size_t i = 0; i < pts.size(); ++i) {
    pts[i] = {static_cast<int64_t>(i), 1.7e9 + static_cast<double>(i),
              std::uniform_real_distribution<double>(0, 1)(rng)};
  }
  std::string bytes = EncodeChunk(pts);
  EXPECT_EQ(CodecOf(bytes, 2), 0x83);  // raw byte planes, zstd-compressed
  EXPECT_LT(static_cast<double>(bytes.size()) / pts.size(), 7.5);
  RoundTrip(pts);
}

TEST(ChunkCodecTest, RoundTripsSpecialValuesBitExactly) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> specials = {0.0,
                                  -0.0,
                                  inf,
                                  -inf,
                                  std::bit_cast<double>(uint64_t{0x7ff8000000000001}),
                                  std::bit_cast<double>(uint64_t{0xfff0000000000abc}),
                                  std::numeric_limits<double>::quiet_NaN(),
                                  std::numeric_limits<double>::denorm_min(),
                                  std::numeric_limits<double>::max(),
                                  std::numeric_limits<double>::lowest(),
                                  std::numeric_limits<double>::min(),
                                  1e-300,
                                  0.1,
                                  -2.5,
                                  4503599627370495.0,
                                  4503599627370497.0};
  // Specials alone, and sprinkled into decimal data (which must keep them as exceptions).
  std::vector<Point> pts;
  for (size_t i = 0; i < specials.size(); ++i) {
    pts.push_back({static_cast<int64_t>(i), specials[specials.size() - 1 - i], specials[i]});
  }
  RoundTrip(pts);
  std::vector<Point> mixed = LossCurve(1000, 2);
  for (size_t i = 0; i < specials.size(); ++i) {
    mixed[i * 37 + 3].value = specials[i];
    if (!std::isnan(specials[i]) && !std::isinf(specials[i])) continue;
    mixed[i * 37 + 5].wall_time = specials[i];
  }
  mixed[999].value = -0.0;
  RoundTrip(mixed);
  // Only -0.0 and zeros: the decimal path must keep the sign.
  std::vector<Point> zeros(300);
  for (size_t i = 0; i < zeros.size(); ++i) zeros[i] = {1, 0.0, (i % 3) ? 0.0 : -0.0};
  RoundTrip(zeros);
}

TEST(ChunkCodecTest, RoundTripsExtremeSteps) {
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  RoundTrip(
      {{lo, 0, 0}, {lo, 0, 1}, {-1, 1, 2}, {0, 2, 3}, {hi - 1, 3, 4}, {hi, 4, 5}, {hi, 5, 6}});
  RoundTrip({{hi, 1, 1}});
  RoundTrip({{lo, 1, 1}});
  // Duplicated steps, irregular strides, and 300-point runs that span frames.
  std::mt19937_64 rng(7);
  std::vector<Point> pts;
  int64_t step = -5000;
  for (int i = 0; i < 3000; ++i) {
    step += static_cast<int64_t>(rng() % 4 == 0 ? 0 : rng() % 1000);
    pts.push_back({step, 1e9 + i, static_cast<double>(i)});
  }
  RoundTrip(pts);
}

TEST(ChunkCodecTest, RoundTripsRandomDoublesAndSizes) {
  std::mt19937_64 rng(3);
  for (size_t n : {1, 2, 3, 127, 128, 129, 130, 255, 256, 257, 1000, 4096, 65536}) {
    std::vector<Point> pts(n);
    for (size_t i = 0; i < n; ++i) {
      pts[i].step = static_cast<int64_t>(i) * 3;
      pts[i].wall_time = std::bit_cast<double>(rng());  // any bit pattern, NaNs included
      pts[i].value = std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
    }
    size_t size = 0;
    RoundTrip(pts, &size);
    EXPECT_LE(size, ChunkHeaderSize() + 16.5 * n + 64) << n;
  }
}

TEST(ChunkCodecTest, RoundTripsManyShapes) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    size_t n = 1 + rng() % 700;
    std::vector<Point> pts(n);
    int64_t step = static_cast<int64_t>(rng() % 100000) - 50000;
    int digits = 1 + static_cast<int>(rng() % 17);
    double scale = std::pow(10.0, static_cast<int>(rng() % 30) - 15);
    for (size_t i = 0; i < n; ++i) {
      step += static_cast<int64_t>(rng() % 3);
      pts[i].step = step;
      pts[i].wall_time = 1.7e9 + static_cast<double>(i) * 0.25;
      double v = Decimal(scale * std::normal_distribution<double>(1, 0.3)(rng), digits);
      switch (rng() % 50) {
        case 0:
          v = std::nan("");
          break;
        case 1:
          v = -std::numeric_limits<double>::infinity();
          break;
        case 2:
          v = -0.0;
          break;
        default:
          break;
      }
      pts[i].value = v;
    }
    RoundTrip(pts);
  }
}

TEST(ChunkCodecTest, EmptyChunkRoundTrips) {
  std::string bytes = EncodeChunk({});
  std::vector<Point> out;
  ASSERT_TRUE(DecodeExact(bytes, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(ChunkCodecTest, SummaryFromHeaderAlone) {
  std::vector<Point> pts = LossCurve(500, 4);
  pts[10].value = std::nan("");
  pts[20].value = std::numeric_limits<double>::infinity();
  pts[30].value = -100;  // min
  pts[40].value = -100;  // same value later: not the min point
  pts[50].value = 1e6;   // max
  std::string bytes = EncodeChunk(pts);
  ChunkSummary s;
  ASSERT_TRUE(ReadSummaryExact(std::string_view(bytes).substr(0, ChunkHeaderSize()), &s).ok());
  EXPECT_EQ(s.count, 500u);
  EXPECT_EQ(s.nonfinite, 2u);
  EXPECT_TRUE(s.first == pts.front());
  EXPECT_TRUE(s.last == pts.back());
  EXPECT_TRUE(s.min == pts[30]);
  EXPECT_EQ(s.min_index, 30u);
  EXPECT_TRUE(s.max == pts[50]);
  EXPECT_EQ(s.max_index, 50u);
  ASSERT_TRUE(s.has_nonfinite_point);
  EXPECT_TRUE(s.first_nonfinite == pts[10]);
  EXPECT_EQ(s.first_nonfinite_index, 10u);
  ChunkSummary direct = Summarize(pts);
  EXPECT_EQ(Bits(direct.sum), Bits(s.sum));
  EXPECT_TRUE(std::isfinite(s.sum));

  // All non-finite: min and max hold the first point.
  std::vector<Point> nan_only = {{5, 1, std::nan("")}, {6, 2, HUGE_VAL}};
  ChunkSummary ns = Summarize(nan_only);
  EXPECT_EQ(ns.nonfinite, 2u);
  EXPECT_TRUE(ns.min == nan_only[0]);
  EXPECT_TRUE(ns.max == nan_only[0]);
  EXPECT_EQ(ns.sum, 0);
}

// A small chunk that exercises every column codec and zstd.
std::string SmallChunk() {
  std::vector<Point> pts = LossCurve(300, 5);
  pts[7].value = std::nan("");
  pts[8].wall_time = -0.0;
  return EncodeChunk(pts);
}

TEST(ChunkCodecTest, EveryTruncationIsCorrupt) {
  std::string bytes = SmallChunk();
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<Point> out = {{1, 2, 3}};
    Status s = DecodeExact(std::string_view(bytes.data(), len), &out);
    ASSERT_EQ(s.code(), Status::Code::kCorrupt) << "length " << len;
    ASSERT_FALSE(s.message().empty());
    ASSERT_EQ(out.size(), 1u);
    ChunkSummary sum;
    Status hs = ReadSummaryExact(std::string_view(bytes.data(), len), &sum);
    if (len < ChunkHeaderSize()) {
      ASSERT_EQ(hs.code(), Status::Code::kCorrupt);
    }
  }
  std::vector<Point> out;
  EXPECT_EQ(DecodeExact(bytes + "x", &out).code(), Status::Code::kCorrupt);
}

TEST(ChunkCodecTest, EveryByteFlipIsCorrupt) {
  const std::string good = SmallChunk();
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      std::vector<Point> out;
      Status s = DecodeExact(bad, &out);
      ASSERT_EQ(s.code(), Status::Code::kCorrupt) << "byte " << i << " mask " << int{mask};
      ASSERT_TRUE(out.empty());
      ChunkSummary sum;
      Status hs = ReadSummaryExact(bad, &sum);
      if (i < ChunkHeaderSize()) {
        ASSERT_EQ(hs.code(), Status::Code::kCorrupt) << "byte " << i;
      }
    }
  }
}

// Rewrites both CRCs so corruption reaches the column decoders (offsets: docs/chunk_format.md).
void FixCrcs(std::string* b) {
  const size_t h = ChunkHeaderSize();
  uint32_t body = crc32c::Mask(crc32c::Value(b->data() + h, b->size() - h));
  std::memcpy(b->data() + 184, &body, 4);
  uint32_t head = crc32c::Mask(crc32c::Value(b->data(), 188));
  std::memcpy(b->data() + 188, &head, 4);
}

TEST(ChunkCodecTest, CorruptionBehindValidCrcsNeverCrashes) {
  std::mt19937_64 rng(9);
  std::vector<std::string> chunks = {SmallChunk()};
  {
    std::vector<Point> pts(200);
    for (size_t i = 0; i < pts.size(); ++i) {
      pts[i] = {static_cast<int64_t>(i * i), std::bit_cast<double>(rng()), std::sin(i * 0.1)};
    }
    chunks.push_back(EncodeChunk(pts));  // raw and Gorilla columns
    // Repetitive values and a long constant stride: zstd-compressed blocks.
    pts.resize(3000);
    for (size_t i = 0; i < pts.size(); ++i) {
      pts[i] = {static_cast<int64_t>(10 * i), 1e9 + 0.5 * (i % 7), 1.0 / (1 + i % 5)};
    }
    chunks.push_back(EncodeChunk(pts));
  }
  // Every column codec and zstd are covered (codec bytes at offsets 6, 16, 26).
  std::set<int> codecs;
  for (const std::string& c : chunks) {
    for (size_t off : {6, 16, 26}) {
      codecs.insert(static_cast<uint8_t>(c[off]) & 0x7f);
      codecs.insert(static_cast<uint8_t>(c[off]) & 0x80);
    }
  }
  EXPECT_EQ(codecs, (std::set<int>{0, 1, 2, 3, 0x80}));
  int decoded_ok = 0, corrupt = 0;
  for (const std::string& good : chunks) {
    // Every single byte set to a few values, in the header fields and the body.
    for (size_t i = 4; i < good.size(); ++i) {
      if (i >= 184 && i < 192) continue;  // the CRCs themselves
      const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff, static_cast<uint8_t>(rng())};
      for (uint8_t v : values) {
        std::string bad = good;
        bad[i] = static_cast<char>(v);
        FixCrcs(&bad);
        std::vector<Point> out;
        Status s = DecodeExact(bad, &out);
        if (s.ok()) {
          ++decoded_ok;
        } else {
          ++corrupt;
          ASSERT_TRUE(s.code() == Status::Code::kCorrupt || s.code() == Status::Code::kIncompatible)
              << s.ToString();
          ASSERT_TRUE(out.empty());
        }
      }
    }
    // Random multi-byte damage to the body.
    for (int trial = 0; trial < 2000; ++trial) {
      std::string bad = good;
      int hits = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < hits; ++k) {
        size_t i = ChunkHeaderSize() + rng() % (good.size() - ChunkHeaderSize());
        bad[i] = static_cast<char>(rng());
      }
      FixCrcs(&bad);
      std::vector<Point> out;
      Status s = DecodeExact(bad, &out);
      if (!s.ok()) {
        ASSERT_TRUE(out.empty());
      }
    }
  }
  EXPECT_GT(corrupt, 0);
  EXPECT_GE(decoded_ok, 0);
}

}  // namespace
}  // namespace inloop::store
