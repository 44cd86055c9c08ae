// Benchmarks of the chunk codec: bytes per point over a corpus of realistic training curves
// (target <= 2.5) and over random doubles (target <= 9), encode and decode points/s (target
// >= 10,000,000 per core), against an MLflow-style SQLite table (one row per point) as the
// baseline. `codec_bench --bytes-report` prints the size table; otherwise Google Benchmark runs
// and reports bytes_per_point and points/s as counters.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "store/chunk_codec.h"

namespace inloop {
namespace {

constexpr size_t kChunk = 4096;
constexpr size_t kSeriesPoints = 16 * kChunk;
constexpr int kRuns = 4;

// Prints x with `digits` significant digits and parses it back, as a training log does.
double Printed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

enum class Metric { kLoss, kLearningRate, kGradNorm, kAccuracy, kTokensPerSecond };
constexpr Metric kMetrics[] = {Metric::kLoss, Metric::kLearningRate, Metric::kGradNorm,
                               Metric::kAccuracy, Metric::kTokensPerSecond};
const char* Name(Metric m) {
  switch (m) {
    case Metric::kLoss:
      return "train/loss";
    case Metric::kLearningRate:
      return "train/lr";
    case Metric::kGradNorm:
      return "train/grad_norm";
    case Metric::kAccuracy:
      return "eval/accuracy";
    case Metric::kTokensPerSecond:
      return "perf/tokens_per_s";
  }
  return "?";
}

struct Series {
  std::string key;
  std::vector<Point> points;
};

// Wall times of one run: consecutive steps every 50-500 ms with 2% jitter, a pause of 5-60 s
// every ~2000 steps (evaluation, checkpoint), recorded at millisecond resolution.
std::vector<double> WallTimes(std::mt19937_64& rng, size_t n) {
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 1);
  const double interval = 0.05 + 0.45 * u(rng);
  std::vector<double> t(n);
  double now = 1.7e9 + std::floor(u(rng) * 1e7);
  for (size_t i = 0; i < n; ++i) {
    now += std::max(0.001, interval * (1 + 0.02 * noise(rng)));
    if (u(rng) < 1.0 / 2000) now += 5 + 55 * u(rng);
    t[i] = std::round(now * 1000) / 1000;
  }
  return t;
}

// The realistic corpus: kRuns runs, each logging every metric at every step.
const std::vector<Series>& Corpus() {
  static const std::vector<Series> corpus = [] {
    std::vector<Series> out;
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> noise(0, 1);
    for (int run = 0; run < kRuns; ++run) {
      const int64_t first_step = run == 0 ? 0 : static_cast<int64_t>(rng() % 100000);
      std::vector<double> wall = WallTimes(rng, kSeriesPoints);
      const double total = static_cast<double>(kSeriesPoints);
      for (Metric m : kMetrics) {
        const int digits = 4 + static_cast<int>(rng() % 3);
        const double a = 2 + 4 * u(rng), b = 0.2 + 0.3 * u(rng), c = 0.5 + 1.5 * u(rng);
        const double peak = 1e-4 + 9e-4 * u(rng), warmup = 500 + 3500 * u(rng);
        const double throughput = 2e4 + 1.8e5 * u(rng);
        Series s;
        s.key = fmt::format("run{}/{}", run, Name(m));
        s.points.resize(kSeriesPoints);
        for (size_t i = 0; i < kSeriesPoints; ++i) {
          const double step = static_cast<double>(i);
          double v = 0;
          switch (m) {
            case Metric::kLoss:
              v = (a * std::pow(step + 10, -b) + c) * (1 + 0.02 * noise(rng));
              break;
            case Metric::kLearningRate:
              v = step < warmup
                      ? peak * (step + 1) / warmup
                      : peak * 0.5 *
                            (1 + std::cos(std::numbers::pi * (step - warmup) / (total - warmup)));
              break;
            case Metric::kGradNorm:
              v = (1.5 * std::exp(-step / total) + 0.3) * std::exp(0.25 * noise(rng));
              break;
            case Metric::kAccuracy:
              v = std::clamp(0.95 - 0.85 * std::exp(-5 * step / total) + 0.01 * noise(rng), 0.0,
                             1.0);
              break;
            case Metric::kTokensPerSecond:
              v = throughput * (1 + 0.02 * noise(rng));
              break;
          }
          s.points[i] = {first_step + static_cast<int64_t>(i), wall[i], Printed(v, digits)};
        }
        out.push_back(std::move(s));
      }
    }
    return out;
  }();
  return corpus;
}

// Random doubles with random wall times: steps consecutive, wall times at random 1-1000 ms
// intervals (ms resolution, as the supervisor records them), values as given.
std::vector<Point> RandomSeries(uint64_t seed, bool any_bits) {
  std::mt19937_64 rng(seed);
  std::vector<Point> pts(kSeriesPoints);
  double now = 1.7e9;
  for (size_t i = 0; i < pts.size(); ++i) {
    now += static_cast<double>(1 + rng() % 1000) / 1000;
    double v =
        any_bits ? std::bit_cast<double>(rng()) : std::uniform_real_distribution<double>(0, 1)(rng);
    pts[i] = {static_cast<int64_t>(i), std::round(now * 1000) / 1000, v};
  }
  return pts;
}

struct Encoded {
  size_t points = 0;
  size_t bytes = 0;
  size_t column_bytes[3] = {0, 0, 0};  // step, wall_time, value blocks as stored
  std::vector<std::string> chunks;
};

Encoded EncodeAll(std::span<const Point> pts) {
  Encoded e;
  for (size_t i = 0; i < pts.size(); i += kChunk) {
    e.chunks.push_back(store::EncodeChunk(pts.subspan(i, std::min(kChunk, pts.size() - i))));
    e.bytes += e.chunks.back().size();
    for (int c = 0; c < 3; ++c) {  // stored sizes at header offsets 8, 18, 28
      uint32_t size;
      std::memcpy(&size, e.chunks.back().data() + 8 + 10 * c, 4);
      e.column_bytes[c] += size;
    }
  }
  e.points = pts.size();
  return e;
}

// MLflow's metrics table (minus run_uuid/is_nan, as asked), its primary-key index, one
// transaction, a prepared statement. Returns the database file size in bytes.
size_t SqliteBytes(const std::vector<Series>& series) {
  std::string path = fmt::format("/tmp/inloop_codec_bench_{}.db", ::getpid());
  std::remove(path.c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::abort();
  auto exec = [&](const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      fmt::print(stderr, "sqlite: {}\n", sqlite3_errmsg(db));
      std::abort();
    }
  };
  exec("CREATE TABLE metrics(key TEXT, value REAL, timestamp INTEGER, step INTEGER)");
  exec("CREATE UNIQUE INDEX metric_pk ON metrics(key, timestamp, step, value)");
  exec("BEGIN");
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES(?,?,?,?)", -1, &st, nullptr);
  for (const Series& s : series) {
    for (const Point& p : s.points) {
      sqlite3_bind_text(st, 1, s.key.data(), static_cast<int>(s.key.size()), SQLITE_STATIC);
      sqlite3_bind_double(st, 2, p.value);
      sqlite3_bind_int64(st, 3, std::llround(p.wall_time * 1000));
      sqlite3_bind_int64(st, 4, p.step);
      if (sqlite3_step(st) != SQLITE_DONE) std::abort();
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);
  exec("COMMIT");
  sqlite3_close(db);
  FILE* f = std::fopen(path.c_str(), "rb");
  std::fseek(f, 0, SEEK_END);
  size_t size = static_cast<size_t>(std::ftell(f));
  std::fclose(f);
  std::remove(path.c_str());
  return size;
}

std::string Row(const char* name, const Encoded& e) {
  const double n = static_cast<double>(e.points);
  const double header = static_cast<double>(e.chunks.size() * store::ChunkHeaderSize());
  return fmt::format("{:<24} {:>9} {:>11.3f} {:>8.3f} {:>8.3f} {:>8.3f} {:>8.3f}", name, e.points,
                     e.bytes / n, e.column_bytes[0] / n, e.column_bytes[1] / n,
                     e.column_bytes[2] / n, header / n);
}

void Add(const Encoded& from, Encoded* to) {
  to->points += from.points;
  to->bytes += from.bytes;
  for (int c = 0; c < 3; ++c) to->column_bytes[c] += from.column_bytes[c];
  to->chunks.insert(to->chunks.end(), from.chunks.begin(), from.chunks.end());
}

void BytesReport() {
  fmt::print("Chunk codec, {}-point chunks, bytes per point\n\n", kChunk);
  fmt::print("{:<24} {:>9} {:>11} {:>8} {:>8} {:>8} {:>8}\n", "series", "points", "bytes/point",
             "step", "wall", "value", "header");
  const std::vector<Series>& corpus = Corpus();
  std::vector<Encoded> per_metric(std::size(kMetrics));
  Encoded all;
  for (size_t k = 0; k < corpus.size(); ++k) {
    Encoded e = EncodeAll(corpus[k].points);
    Add(e, &per_metric[k % std::size(kMetrics)]);
    Add(e, &all);
  }
  for (size_t m = 0; m < std::size(kMetrics); ++m) {
    fmt::print("{}\n", Row(Name(kMetrics[m]), per_metric[m]));
  }
  const double ours = static_cast<double>(all.bytes) / all.points;
  fmt::print("{}   (target <= 2.5)\n\n", Row("realistic corpus, all", all));
  for (bool any_bits : {false, true}) {
    Encoded e = EncodeAll(RandomSeries(7, any_bits));
    fmt::print("{}   (target <= 9)\n",
               Row(any_bits ? "random 64-bit patterns" : "random uniform [0,1)", e));
  }
  size_t sqlite = SqliteBytes(corpus);
  const double base = static_cast<double>(sqlite) / all.points;
  fmt::print("\nSQLite, MLflow-style row per point + PK index: {:.3f} bytes/point ({} bytes)\n",
             base, sqlite);
  fmt::print("ratio SQLite / chunks: {:.1f}x\n", base / ours);
}

// ---- Google Benchmark cases ----

std::vector<Point> AllCorpusPoints() {
  std::vector<Point> all;
  for (const Series& s : Corpus()) all.insert(all.end(), s.points.begin(), s.points.end());
  return all;
}

const std::vector<Point>& Dataset(int which) {
  static const std::vector<Point> realistic = AllCorpusPoints();
  static const std::vector<Point> uniform = RandomSeries(7, false);
  static const std::vector<Point> bits = RandomSeries(7, true);
  return which == 0 ? realistic : which == 1 ? uniform : bits;
}
const char* kDatasetName[] = {"realistic corpus", "random uniform [0,1)", "random 64-bit"};

void BM_Encode(benchmark::State& state) {
  const std::vector<Point>& pts = Dataset(static_cast<int>(state.range(0)));
  size_t bytes = 0, points = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < pts.size(); i += kChunk) {
      std::string c = store::EncodeChunk(
          std::span<const Point>(pts).subspan(i, std::min(kChunk, pts.size() - i)));
      bytes += c.size();
      benchmark::DoNotOptimize(c.data());
    }
    points += pts.size();
  }
  state.SetLabel(kDatasetName[state.range(0)]);
  state.counters["bytes_per_point"] = static_cast<double>(bytes) / static_cast<double>(points);
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Encode)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const std::vector<Point>& pts = Dataset(static_cast<int>(state.range(0)));
  Encoded e = EncodeAll(pts);
  std::vector<Point> out;
  out.reserve(kChunk);
  size_t points = 0;
  for (auto _ : state) {
    for (const std::string& c : e.chunks) {
      out.clear();
      if (!store::DecodeChunk(c, &out).ok()) std::abort();
      benchmark::DoNotOptimize(out.data());
    }
    points += e.points;
  }
  state.SetLabel(kDatasetName[state.range(0)]);
  state.counters["bytes_per_point"] = static_cast<double>(e.bytes) / static_cast<double>(e.points);
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Decode)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_ReadSummary(benchmark::State& state) {
  Encoded e = EncodeAll(Dataset(0));
  size_t chunks = 0;
  for (auto _ : state) {
    for (const std::string& c : e.chunks) {
      store::ChunkSummary s;
      if (!store::ReadChunkSummary(std::string_view(c).substr(0, store::ChunkHeaderSize()), &s)
               .ok()) {
        std::abort();
      }
      benchmark::DoNotOptimize(s);
    }
    chunks += e.chunks.size();
  }
  state.counters["chunks/s"] =
      benchmark::Counter(static_cast<double>(chunks), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadSummary);

// The baseline, once: SQLite bytes per point for the realistic corpus.
void BM_SqliteBaseline(benchmark::State& state) {
  const std::vector<Series>& corpus = Corpus();
  size_t points = 0, bytes = 0, chunk_bytes = 0;
  for (const Series& s : corpus) chunk_bytes += EncodeAll(s.points).bytes;
  for (auto _ : state) {
    bytes = SqliteBytes(corpus);
    points = 0;
    for (const Series& s : corpus) points += s.points.size();
  }
  state.counters["bytes_per_point"] = static_cast<double>(bytes) / static_cast<double>(points);
  state.counters["ratio_vs_chunks"] = static_cast<double>(bytes) / static_cast<double>(chunk_bytes);
  state.counters["points/s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SqliteBaseline)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bytes-report") == 0) {
      inloop::BytesReport();
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
