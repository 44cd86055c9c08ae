// Tests of M4 downsampling: over encoded chunks it equals the reference M4Points over the same
// points (random steps with duplicates, NaN/Inf, many widths and ranges), zoomed-out views are
// answered from summaries, spikes and non-finite points are never lost, extreme ranges work.
#include "query/m4.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

namespace inloop::query {
namespace {

uint64_t Bits(double d) { return std::bit_cast<uint64_t>(d); }

void ExpectSameBits(const std::vector<Point>& want, const std::vector<Point>& got,
                    const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].step, got[i].step) << what << " point " << i;
    ASSERT_EQ(Bits(want[i].wall_time), Bits(got[i].wall_time)) << what << " point " << i;
    ASSERT_EQ(Bits(want[i].value), Bits(got[i].value)) << what << " point " << i;
  }
}

// Chunks encoded with the codec; the summary is read back from the header. When `tail` > 0 the
// last `tail` points form a loose tail view built with Summarize, as the series query does.
struct Series {
  std::vector<Point> points;
  std::vector<std::shared_ptr<std::string>> encoded;
  std::vector<ChunkView> views;
};

Series MakeSeries(std::vector<Point> pts, const std::vector<size_t>& sizes, size_t tail) {
  Series s;
  s.points = std::move(pts);
  size_t i = 0;
  for (size_t k = 0; i < s.points.size() - tail; ++k) {
    size_t n = std::min(sizes[k % sizes.size()], s.points.size() - tail - i);
    auto bytes = std::make_shared<std::string>(
        store::EncodeChunk(std::span<const Point>(s.points.data() + i, n)));
    ChunkView v;
    EXPECT_TRUE(store::ReadChunkSummary(*bytes, &v.summary).ok());
    v.load = [bytes](std::vector<Point>* out) { return store::DecodeChunk(*bytes, out); };
    s.encoded.push_back(bytes);
    s.views.push_back(std::move(v));
    i += n;
  }
  if (tail > 0) {
    std::vector<Point> loose(s.points.end() - static_cast<ptrdiff_t>(tail), s.points.end());
    ChunkView v;
    v.summary = store::Summarize(loose);
    v.load = [loose](std::vector<Point>* out) {
      out->insert(out->end(), loose.begin(), loose.end());
      return Status::OK();
    };
    s.views.push_back(std::move(v));
  }
  return s;
}

std::vector<Point> RandomPoints(std::mt19937_64& rng, size_t n) {
  std::vector<Point> pts(n);
  int64_t step = static_cast<int64_t>(rng() % 1000) - 500;
  double level = 1;
  for (size_t i = 0; i < n; ++i) {
    switch (rng() % 8) {  // duplicates, unit strides, gaps
      case 0:
        break;
      case 1:
        step += static_cast<int64_t>(rng() % 50);
        break;
      default:
        step += 1;
    }
    level += std::normal_distribution<double>(0, 0.1)(rng);
    double v = std::round(level * 1000) / 1000;
    switch (rng() % 60) {
      case 0:
        v = std::nan("");
        break;
      case 1:
        v = std::numeric_limits<double>::infinity();
        break;
      case 2:
        v = -std::numeric_limits<double>::infinity();
        break;
      case 3:
        v = level + 100;  // spike
        break;
      case 4:
        v = std::round(level);  // ties for min/max
        break;
      default:
        break;
    }
    pts[i] = {step, 1.7e9 + static_cast<double>(i) * 0.1, v};
  }
  return pts;
}

TEST(M4Test, OverChunksEqualsReferenceRandomised) {
  std::mt19937_64 rng(42);
  int summarized = 0;
  for (int trial = 0; trial < 60; ++trial) {
    size_t n = 1 + rng() % 20000;
    std::vector<size_t> sizes = {1 + rng() % 600, 1 + rng() % 64, 1 + rng() % 3000};
    size_t tail = rng() % 3 == 0 ? std::min(n - 1, rng() % 300) : 0;
    Series s = MakeSeries(RandomPoints(rng, n), sizes, tail);
    int64_t first = s.points.front().step, last = s.points.back().step;
    for (int q = 0; q < 25; ++q) {
      int64_t lo, hi;
      switch (q % 4) {
        case 0:  // full range
          lo = first;
          hi = last;
          break;
        case 1:  // wider than the data
          lo = first - static_cast<int64_t>(rng() % 1000);
          hi = last + static_cast<int64_t>(rng() % 1000);
          break;
        default: {  // a random sub-range
          int64_t span = last - first + 1;
          lo = first + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
          hi = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
        }
      }
      int widths[] = {1, 2, 3, 7, 50, 333, 1000, 5000};
      int width = widths[rng() % 8];
      std::vector<Point> got;
      M4Stats stats;
      Status st = M4(s.views, lo, hi, width, &got, &stats);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::string what = fmt::format("trial {} n {} lo {} hi {} width {}", trial, n, lo, hi, width);
      ExpectSameBits(M4Points(s.points, lo, hi, width), got, what);
      summarized += static_cast<int>(stats.chunks_summarized);
      // Bounded size: at most 4 per column plus one non-finite point per column.
      ASSERT_LE(got.size(), 5u * static_cast<size_t>(width)) << what;
      for (size_t i = 1; i < got.size(); ++i) ASSERT_LE(got[i - 1].step, got[i].step) << what;
    }
  }
  EXPECT_GT(summarized, 100);  // the summary path was exercised
}

TEST(M4Test, ReturnsAllPointsWhenFew) {
  std::mt19937_64 rng(1);
  Series s = MakeSeries(RandomPoints(rng, 399), {100}, 0);
  std::vector<Point> got;
  ASSERT_TRUE(M4(s.views, -1000000, 1000000, 100, &got).ok());
  ExpectSameBits(s.points, got, "all");
}

TEST(M4Test, ZoomedOutViewUsesSummaries) {
  std::vector<Point> pts(1000000);
  for (size_t i = 0; i < pts.size(); ++i) {
    pts[i] = {static_cast<int64_t>(i), 1.7e9 + i * 0.25, std::sin(i * 1e-3)};
  }
  Series s = MakeSeries(pts, {4096}, 0);
  std::vector<Point> got;
  M4Stats stats;
  const int width = 100;
  ASSERT_TRUE(M4(s.views, 0, 999999, width, &got, &stats).ok());
  ExpectSameBits(M4Points(s.points, 0, 999999, width), got, "zoomed out");
  // Only the chunks holding a column boundary are decoded.
  EXPECT_LE(stats.chunks_decoded, width);
  EXPECT_EQ(stats.chunks_summarized + stats.chunks_decoded, static_cast<int64_t>(s.views.size()));
  EXPECT_GT(stats.chunks_summarized, 100);
  // Zoomed into the middle of one chunk: only it is decoded.
  got.clear();
  stats = {};
  ASSERT_TRUE(M4(s.views, 500000, 501000, 10, &got, &stats).ok());
  EXPECT_EQ(stats.chunks_decoded, 1);
  EXPECT_EQ(stats.chunks_summarized, 0);
  ExpectSameBits(M4Points(s.points, 500000, 501000, 10), got, "zoomed in");
}

TEST(M4Test, SpikesAndNonFiniteAreNeverLost) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<Point> pts(200000);
    for (size_t i = 0; i < pts.size(); ++i) pts[i] = {static_cast<int64_t>(i), 1.0 * i, 1.0};
    size_t up = rng() % pts.size(), down = rng() % pts.size(), nan = rng() % pts.size();
    pts[up].value = 1e9;
    pts[down].value = -1e9;
    pts[nan].value = std::nan("");
    Series s = MakeSeries(pts, {4096}, 100);
    for (int width : {1, 10, 1000}) {
      std::vector<Point> got;
      M4Stats stats;
      ASSERT_TRUE(M4(s.views, 0, 199999, width, &got, &stats).ok());
      auto has = [&](size_t i) {
        for (const Point& p : got) {
          if (p.step == pts[i].step) return true;
        }
        return false;
      };
      EXPECT_TRUE(has(up)) << "width " << width;
      EXPECT_TRUE(has(down)) << "width " << width;
      EXPECT_TRUE(has(nan)) << "width " << width;
      EXPECT_TRUE(has(0));
      EXPECT_TRUE(has(pts.size() - 1));
    }
  }
}

TEST(M4Test, TiesKeepTheFirstPoint) {
  // Equal minima in different blocks and chunks, and 0.0 against -0.0: the first one wins, as
  // in the reference, whether a chunk is scanned or merged from its summary.
  std::vector<Point> pts(20000);
  for (size_t i = 0; i < pts.size(); ++i) {
    pts[i] = {static_cast<int64_t>(i), static_cast<double>(i), (i % 7 == 0) ? -0.0 : 0.0};
  }
  for (size_t i : {300, 700, 5000, 12000}) pts[i].value = -1;
  for (size_t i : {900, 1300, 9000}) pts[i].value = 2;
  Series s = MakeSeries(pts, {1000}, 0);
  for (int width : {1, 2, 3, 10, 30}) {
    std::vector<Point> got;
    ASSERT_TRUE(M4(s.views, 0, 19999, width, &got).ok());
    ExpectSameBits(M4Points(pts, 0, 19999, width), got, fmt::format("width {}", width));
  }
  std::vector<Point> got;
  ASSERT_TRUE(M4(s.views, 0, 19999, 1, &got).ok());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].step, 300);  // min
  EXPECT_EQ(got[2].step, 900);  // max
}

TEST(M4Test, ExtremeRangesDoNotOverflow) {
  const int64_t lo = std::numeric_limits<int64_t>::min();
  const int64_t hi = std::numeric_limits<int64_t>::max();
  std::vector<Point> pts;
  for (int i = 0; i < 2000; ++i) {
    uint64_t offset = static_cast<uint64_t>(i) * (UINT64_MAX / 2000);
    int64_t step = static_cast<int64_t>(static_cast<uint64_t>(lo) + offset);
    pts.push_back({step, 0, std::sin(i)});
  }
  pts.push_back({hi, 0, 5});
  Series s = MakeSeries(pts, {300}, 0);
  for (int width : {1, 3, 100, std::numeric_limits<int>::max()}) {
    std::vector<Point> got;
    ASSERT_TRUE(M4(s.views, lo, hi, width, &got).ok());
    ExpectSameBits(M4Points(pts, lo, hi, width), got, fmt::format("width {}", width));
  }
}

TEST(M4Test, RejectsBadArgumentsAndPropagatesLoadErrors) {
  std::vector<Point> got;
  EXPECT_EQ(M4({}, 0, 10, 0, &got).code(), Status::Code::kInvalid);
  EXPECT_TRUE(M4({}, 10, 0, 5, &got).ok());
  EXPECT_TRUE(got.empty());
  std::vector<Point> pts(10000);
  for (size_t i = 0; i < pts.size(); ++i) pts[i] = {static_cast<int64_t>(i), 0, 1.0 * i};
  Series s = MakeSeries(pts, {1000}, 0);
  s.views[3].load = [](std::vector<Point>*) { return Status::Corrupt("disk ate it"); };
  Status st = M4(s.views, 0, 9999, 3, &got);  // chunk 3 holds a column boundary
  EXPECT_EQ(st.code(), Status::Code::kCorrupt);
  EXPECT_EQ(st.message(), "disk ate it");
}

}  // namespace
}  // namespace inloop::query
