// Detector benchmarks. Speed: points/s through a full DetectorSet on one core (target >= 10M/s)
// for a realistic mix of keys per step (loss, grad norm, lr, throughput, step time, memory, eval
// loss, an unwatched metric) and for the heaviest single series (loss). Quality: precision,
// recall and latency per synthetic family (src/detect/synthetic_curves.h), printed as a table
// before the benchmarks; `detect_bench --quality` prints only the table.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "detect/detector_set.h"
#include "detect/synthetic_curves.h"

namespace inloop {
namespace {

using detect::DetectConfig;
using detect::DetectorSet;
using detect::Finding;

struct KeyedPoint {
  std::string_view key;
  Point p;
};

// 200,000 steps of a run logging seven metrics per step and an eval loss every 500 steps.
std::vector<KeyedPoint> BuildMix() {
  std::vector<KeyedPoint> v;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n(0, 1);
  constexpr int kSteps = 200000;
  v.reserve(kSteps * 7 + kSteps / 500);
  double t = 1.7e9;
  double mem = 20e9;
  for (int64_t s = 0; s < kSteps; ++s) {
    t += 0.25 * (1 + 0.02 * n(rng));
    double loss = 2 + 8 * std::pow(1 + s / 20.0, -0.6);
    v.push_back({"train/loss", {s, t, loss * (1 + 0.02 * n(rng))}});
    v.push_back({"train/grad_norm", {s, t, 0.5 * std::exp(0.2 * n(rng))}});
    v.push_back({"train/lr", {s, t, 3e-4}});
    v.push_back({"perf/tokens_per_s", {s, t, 1.2e6 * (1 + 0.01 * n(rng))}});
    v.push_back({"perf/step_time_ms", {s, t, 250 * (1 + 0.01 * n(rng))}});
    mem += 1e6 * n(rng);
    v.push_back({"sys/gpu_mem", {s, t, mem}});
    v.push_back({"train/epoch", {s, t, s / 10000.0}});
    if (s % 500 == 499) v.push_back({"eval/loss", {s, t, loss * 1.05}});
  }
  return v;
}

void BM_DetectorSetMix(benchmark::State& state) {
  static const std::vector<KeyedPoint> mix = BuildMix();
  std::vector<Finding> out;
  out.reserve(1024);
  int64_t findings = 0;
  for (auto _ : state) {
    state.PauseTiming();
    DetectorSet set{DetectConfig{}};
    state.ResumeTiming();
    for (const KeyedPoint& kp : mix) set.Observe(kp.key, kp.p, &out);
    findings += static_cast<int64_t>(out.size());
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(mix.size()));
  state.counters["findings_per_pass"] =
      static_cast<double>(findings) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DetectorSetMix)->Unit(benchmark::kMillisecond);

void BM_LossSeriesOnly(benchmark::State& state) {
  static const std::vector<KeyedPoint> loss = [] {
    std::vector<KeyedPoint> v;
    for (const KeyedPoint& kp : BuildMix()) {
      if (kp.key == "train/loss") v.push_back(kp);
    }
    return v;
  }();
  std::vector<Finding> out;
  for (auto _ : state) {
    state.PauseTiming();
    DetectorSet set{DetectConfig{}};
    state.ResumeTiming();
    for (const KeyedPoint& kp : loss) set.Observe(kp.key, kp.p, &out);
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(loss.size()));
}
BENCHMARK(BM_LossSeriesOnly)->Unit(benchmark::kMillisecond);

void PrintQuality() {
  using namespace detect::synthetic;
  DetectConfig config;
  std::vector<FamilyScore> rows;
  FamilyScore in_scope, everything;
  in_scope.family = "ALL within defaults";
  everything.family = "ALL incl. *";
  std::vector<FamilySpec> beyond;
  for (const FamilySpec& f : StandardCorpus()) {
    rows.push_back(Evaluate(f, config));
    everything.Add(rows.back());
    if (f.beyond_defaults) {
      beyond.push_back(f);
    } else {
      in_scope.Add(rows.back());
    }
  }
  rows.push_back(in_scope);
  rows.push_back(everything);
  fmt::print(
      "Detector quality on the synthetic corpus (default [detect] thresholds; {} curves, {} "
      "points; latency in logged steps; * = noise beyond what the defaults are tuned "
      "for)\n{}\n",
      everything.curves, everything.points, FormatTable(rows));
  // The families marked *, with the setting docs/detect.md recommends for noisy small-batch runs.
  DetectConfig noisy;
  noisy.spike_z = 10;
  std::vector<FamilyScore> alt;
  for (const FamilySpec& f : beyond) alt.push_back(Evaluate(f, noisy));
  fmt::print("The * families with spike_z = 10\n{}\n", FormatTable(alt));
}

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quality") == 0) {
      inloop::PrintQuality();
      return 0;
    }
  }
  inloop::PrintQuality();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
