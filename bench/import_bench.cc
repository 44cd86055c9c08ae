// import_bench: TensorBoard event-file import throughput on one core. It writes realistic event
// files into a temp dir with the generated protobuf classes, then measures for the same bytes:
//   ReadFile        reading the file into memory (the baseline; from the page cache, as just written)
//   Parse           ParseTfEvents on the bytes in memory (framing, CRCs, protobuf, series)
//   ReadAndParse    ReadTfEventsFile, both together
// on "mixed" (PyTorch/TF1-style simple_value scalars, TF2 rank-0 tensor scalars in tensor_content
// and float_val, and every 500 steps an image and a histogram to skip), "scalars" (the same without
// images and histograms: the worst case, ~60 bytes a record) and the real fixture file repeated.
// Reports bytes/s and records/s (items_per_second), then a summary in MB/s (10^6) from the
// thread's CPU time per pass (median and best), with the parse/read ratio. Usage: import_bench [--benchmark_filter=...] (INLOOP_FIXTURES: fixtures dir).
#include "source_paths.h"
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "importers/tfevents.h"
#include "support/tfevents_writer.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;
using namespace tfevents_testing;  // NOLINT
using Event = tensorboard::Event;

struct Input {
  std::string path;
  std::string bytes;
  int64_t records = 0;
};

fs::path BenchDir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / fmt::format("inloop-import-bench-{}", ::getpid());
    fs::create_directories(d / "mixed");
    fs::create_directories(d / "scalars");
    fs::create_directories(d / "fixture");
    return d;
  }();
  return dir;
}

// A training run of `steps` steps; with `media`, an image and a histogram every 500 steps.
std::string Generate(int64_t steps, bool media) {
  std::string f;
  f.reserve(static_cast<size_t>(steps) * 400);
  AppendEvent(&f, FileVersionEvent(1.7e9));
  const char* simple_tags[] = {"train/loss", "train/grad_norm", "train/learning_rate",
                               "train/tokens_per_second", "train/epoch"};
  std::string image(24 * 1024, '\0');  // a small PNG's worth of bytes
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i * 131 + 7);
  uint32_t x = 12345;
  auto noise = [&x] {
    x = x * 1664525u + 1013904223u;
    return static_cast<float>(x >> 8) / static_cast<float>(1 << 24);
  };
  for (int64_t step = 0; step < steps; ++step) {
    const double wall = 1.7e9 + 0.25 * static_cast<double>(step);
    // One value per event, as PyTorch's SummaryWriter and tf.summary write them.
    for (const char* tag : simple_tags) {
      Event e = StepEvent(step, wall);
      AddValue(&e, tag)->set_simple_value(2.0f / (1.0f + 0.001f * static_cast<float>(step)) +
                                          0.05f * noise());
      AppendEvent(&f, e);
    }
    {
      Event e = StepEvent(step, wall);  // TF2 tf.summary.scalar: tensor_content, plugin once
      SetRawScalar(AddValue(&e, "tf2/loss", step == 0 ? "scalars" : nullptr)->mutable_tensor(),
                   tensorboard::DT_FLOAT, 1.5f * noise());
      AppendEvent(&f, e);
    }
    if (step % 10 == 0) {
      Event e = StepEvent(step, wall);
      auto* t = AddValue(&e, "tf2/lr", step == 0 ? "scalars" : nullptr)->mutable_tensor();
      t->set_dtype(tensorboard::DT_FLOAT);
      t->mutable_tensor_shape();
      t->add_float_val(3e-4f * noise());
      AppendEvent(&f, e);
    }
    if (step % 100 == 0) {
      Event e = StepEvent(step, wall);
      SetRawScalar(AddValue(&e, "eval/accuracy", step == 0 ? "scalars" : nullptr)->mutable_tensor(),
                   tensorboard::DT_DOUBLE, static_cast<double>(noise()));
      AppendEvent(&f, e);
    }
    if (media && step % 500 == 0) {
      AppendMediaEvents(&f, step, wall, image);
    }
  }
  return f;
}

int64_t CountRecords(const std::string& bytes) {
  ImportBatch batch;
  ImportedRun run;
  ParseTfEvents(bytes, "count", &run, &batch);
  return batch.records;
}

Input MakeInput(const std::string& which) {
  Input in;
  in.path = (BenchDir() / which / "events.out.tfevents.1700000000.bench.1.0").string();
  if (which == "mixed") {
    in.bytes = Generate(200000, true);
  } else if (which == "scalars") {
    in.bytes = Generate(200000, false);
  } else {
    const char* env = std::getenv("INLOOP_FIXTURES");
    fs::path dir = env != nullptr && *env != '\0' ? fs::path(env)
                                                  : fs::path(INLOOP_SOURCE_DIR) / ".." / "shared" /
                                                        "fixtures";
    std::string one;
    if (!ReadFile((dir / "tfevents/tensorboard-writer/events.out.tfevents.1700000000.writer.1.0")
                      .string(),
                  &one)
             .ok() ||
        one.empty()) {
      return in;  // no fixture: the benchmarks skip
    }
    while (in.bytes.size() < 64u << 20) in.bytes += one;  // whole files back to back
  }
  if (!WriteFileAtomically(in.path, in.bytes).ok()) in.bytes.clear();
  in.records = CountRecords(in.bytes);
  return in;
}

const Input& GetInput(const std::string& which) {
  static std::map<std::string, Input> inputs;
  auto it = inputs.find(which);
  if (it == inputs.end()) it = inputs.emplace(which, MakeInput(which)).first;
  return it->second;
}

// CPU seconds of this thread for every iteration of each case, for the summary: one core's
// throughput, robust to other processes on the machine (wall time is not, on a busy box).
std::map<std::string, std::vector<double>> g_samples;
std::map<std::string, const Input*> g_inputs;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <typename Body>
void Measure(benchmark::State& state, const std::string& which, const char* what, Body body) {
  const Input& in = GetInput(which);
  if (in.bytes.empty()) {
    state.SkipWithError("input not available (fixtures missing?)");
    return;
  }
  std::vector<double>& samples = g_samples[which + "/" + what];
  g_inputs[which] = &in;
  for (auto _ : state) {
    const double t0 = ThreadCpuSeconds();
    body(in);
    samples.push_back(ThreadCpuSeconds() - t0);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(in.bytes.size()));
  state.SetItemsProcessed(state.iterations() * in.records);
  state.counters["MB"] = static_cast<double>(in.bytes.size()) / 1e6;
  state.counters["records"] = static_cast<double>(in.records);
}

void BM_ReadFile(benchmark::State& state, std::string which) {
  Measure(state, which, "read", [](const Input& in) {
    std::string bytes;
    if (!ReadFile(in.path, &bytes).ok()) std::abort();
    benchmark::DoNotOptimize(bytes.data());
  });
}

// The fastest way to read the bytes: through one reused 1 MiB buffer, as ReadTfEventsFile does.
void BM_ReadPieces(benchmark::State& state, std::string which) {
  Measure(state, which, "read-pieces", [](const Input& in) {
    static std::vector<char> buf(size_t{1} << 20);
    int fd = ::open(in.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) std::abort();
    ssize_t r;
    int64_t total = 0;
    while ((r = ::read(fd, buf.data(), buf.size())) > 0) total += r;
    ::close(fd);
    if (total != static_cast<int64_t>(in.bytes.size())) std::abort();
    benchmark::DoNotOptimize(buf.data());
  });
}

void BM_Parse(benchmark::State& state, std::string which) {
  Measure(state, which, "parse", [](const Input& in) {
    ImportBatch batch;
    ImportedRun run;
    ParseTfEvents(in.bytes, in.path, &run, &batch);
    if (batch.records != in.records || !batch.issues.empty()) std::abort();
    benchmark::DoNotOptimize(run.series.data());
  });
}

void BM_ReadAndParse(benchmark::State& state, std::string which) {
  Measure(state, which, "read+parse", [](const Input& in) {
    ImportBatch batch;
    if (!ReadTfEventsFile(in.path, &batch).ok()) std::abort();
    benchmark::DoNotOptimize(batch.runs.data());
  });
}

BENCHMARK_CAPTURE(BM_ReadFile, mixed, std::string("mixed"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadPieces, mixed, std::string("mixed"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_Parse, mixed, std::string("mixed"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadAndParse, mixed, std::string("mixed"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadFile, scalars, std::string("scalars"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadPieces, scalars, std::string("scalars"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_Parse, scalars, std::string("scalars"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadAndParse, scalars, std::string("scalars"))
    ->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadFile, fixture, std::string("fixture"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadPieces, fixture, std::string("fixture"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_Parse, fixture, std::string("fixture"))->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK_CAPTURE(BM_ReadAndParse, fixture, std::string("fixture"))
    ->Unit(benchmark::kMillisecond)->MinTime(2);

// Median and best seconds per pass.
std::pair<double, double> MedianBest(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front()};
}

void PrintSummary() {
  if (g_inputs.empty()) return;
  fmt::print("\nMB/s (10^6) from the benchmark thread's CPU time per pass: median (best) of all "
             "passes.\n");
  fmt::print("{:<8} {:>6} {:>9}  {:>15} {:>15} {:>15} {:>15}  {:>13}  {:>10}\n", "input", "MB",
             "records", "read MB/s", "read-1MiB MB/s", "parse MB/s", "read+parse MB/s",
             "parse rec/s", "parse/read");
  auto rate = [&](const std::string& key, double mb) -> std::string {
    auto it = g_samples.find(key);
    if (it == g_samples.end() || it->second.empty()) return "-";
    auto [m, b] = MedianBest(it->second);
    return fmt::format("{:.0f} ({:.0f})", mb / m, mb / b);
  };
  for (auto& [name, in] : g_inputs) {
    auto read = g_samples.find(name + "/read");
    auto parse = g_samples.find(name + "/parse");
    if (read == g_samples.end() || parse == g_samples.end() || read->second.empty() ||
        parse->second.empty()) {
      continue;
    }
    const double mb = static_cast<double>(in->bytes.size()) / 1e6;
    const double rm = MedianBest(read->second).first;
    const double pm = MedianBest(parse->second).first;
    fmt::print("{:<8} {:>6.1f} {:>9}  {:>15} {:>15} {:>15} {:>15}  {:>13}  {:>10.2f}\n", name, mb,
               in->records, rate(name + "/read", mb), rate(name + "/read-pieces", mb),
               rate(name + "/parse", mb), rate(name + "/read+parse", mb),
               fmt::format("{:.2f}M", static_cast<double>(in->records) / pm / 1e6), rm / pm);
  }
}

}  // namespace
}  // namespace inloop::importers

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  inloop::importers::PrintSummary();
  std::error_code ec;
  std::filesystem::remove_all(inloop::importers::BenchDir(), ec);
  return 0;
}
