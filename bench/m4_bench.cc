// Benchmark of M4 downsampling over encoded chunks: a 10,000,000-point training curve in
// 4096-point chunks (encoded with the chunk codec, held in memory) drawn into 1,000 columns over
// the full range (target < 20 ms) and over a 1% zoomed range. Reports ms and chunks summarized
// vs decoded. `m4_bench --report` prints one line per case instead of running Google Benchmark.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "query/m4.h"
#include "store/chunk_codec.h"

namespace inloop {
namespace {

constexpr size_t kPoints = 10'000'000;
constexpr size_t kChunk = 4096;
constexpr int kWidth = 1000;

double Decimal(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

struct EncodedSeries {
  std::vector<std::string> chunks;
  std::vector<query::ChunkView> views;
  size_t bytes = 0;
};

// A loss curve: 5 significant digits, wall times at ~200 ms with jitter, ms resolution.
EncodedSeries Build() {
  EncodedSeries s;
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 1);
  std::vector<Point> pts(kChunk);
  double t = 1712345678.123;
  for (size_t base = 0; base < kPoints; base += kChunk) {
    size_t n = std::min(kChunk, kPoints - base);
    pts.resize(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t step = static_cast<int64_t>(base + i);
      t += 0.2 + 0.004 * noise(rng);
      double loss = 4.0 * std::pow(step + 100.0, -0.3) + 0.7;
      pts[i] = {step, std::round(t * 1000) / 1000, Decimal(loss * (1 + 0.02 * noise(rng)), 5)};
    }
    s.chunks.push_back(store::EncodeChunk(pts));
    s.bytes += s.chunks.back().size();
  }
  for (const std::string& c : s.chunks) {
    query::ChunkView v;
    if (!store::ReadChunkSummary(c, &v.summary).ok()) std::abort();
    const std::string* bytes = &c;
    v.load = [bytes](std::vector<Point>* out) { return store::DecodeChunk(*bytes, out); };
    s.views.push_back(std::move(v));
  }
  return s;  // moving the vector keeps its strings where the views point
}

const EncodedSeries& Series() {
  static const EncodedSeries series = Build();
  return series;
}

struct Range {
  const char* name;
  int64_t lo, hi;
};
const Range kRanges[] = {
    {"full range", 0, static_cast<int64_t>(kPoints) - 1},
    {"1% zoom", static_cast<int64_t>(kPoints / 2),
     static_cast<int64_t>(kPoints / 2 + kPoints / 100) - 1},
};

void BM_M4(benchmark::State& state) {
  const EncodedSeries& s = Series();
  const Range& r = kRanges[state.range(0)];
  query::M4Stats stats;
  size_t out_points = 0;
  double total_ms = 0;
  for (auto _ : state) {
    std::vector<Point> out;
    stats = {};
    auto t0 = std::chrono::steady_clock::now();
    if (!query::M4(s.views, r.lo, r.hi, kWidth, &out, &stats).ok()) std::abort();
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    out_points = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(r.name);
  state.counters["ms"] = total_ms / static_cast<double>(state.iterations());
  state.counters["chunks_summarized"] = static_cast<double>(stats.chunks_summarized);
  state.counters["chunks_decoded"] = static_cast<double>(stats.chunks_decoded);
  state.counters["out_points"] = static_cast<double>(out_points);
}
BENCHMARK(BM_M4)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void Report() {
  const EncodedSeries& s = Series();
  fmt::print("series: {} points in {} chunks of {}, {:.3f} bytes/point encoded\n", kPoints,
             s.chunks.size(), kChunk, static_cast<double>(s.bytes) / kPoints);
  for (const Range& r : kRanges) {
    double best = 1e18;
    query::M4Stats stats;
    size_t out_points = 0;
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<Point> out;
      stats = {};
      auto t0 = std::chrono::steady_clock::now();
      if (!query::M4(s.views, r.lo, r.hi, kWidth, &out, &stats).ok()) std::abort();
      auto t1 = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
      out_points = out.size();
    }
    fmt::print(
        "M4 {:>10} [{}, {}] width {}: {:.2f} ms (best of 20), {} chunks summarized, {} "
        "decoded, {} points out\n",
        r.name, r.lo, r.hi, kWidth, best, stats.chunks_summarized, stats.chunks_decoded,
        out_points);
  }
}

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--report") == 0) {
      inloop::Report();
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
