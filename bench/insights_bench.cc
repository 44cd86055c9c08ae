// insights over 1,000 runs: ComputeInsights end to end (importance over the finished runs,
// extrapolation of the running ones, the scaling fit), and the baseline measured in the same run:
// listing the runs, reading their params and their series summaries alone, which is the store
// access insights cannot avoid. Target: < 5 s end to end.
// The store: 1,000 runs of 5 params (lr, wd, seed, batch, tokens) and a val/loss curve of 1,000
// points; 50 of them still running at step 500 of max_steps 1000.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "insights/insights.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
constexpr int kRuns = 1000;
constexpr int kRunning = 50;
constexpr int kPoints = 1000;

const std::string& StoreDir() {
  static std::string dir = [] {
    std::string d = "/tmp/inloop-insights-bench-store";
    fs::remove_all(d);
    std::unique_ptr<inloop::store::Store> st;
    if (!inloop::store::Store::Open(d, true, &st).ok()) std::abort();
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> noise(0, 0.01);
    for (int i = 0; i < kRuns; ++i) {
      inloop::store::RunRecord r;
      r.name = fmt::format("run-{}", i);
      r.started_at = 1000 + i;
      if (!st->CreateRun(&r).ok()) std::abort();
      bool running = i < kRunning;
      r.status = running ? inloop::store::kRunning : inloop::store::kFinished;
      if (!running) r.ended_at = 5000 + i;
      st->UpdateRun(r);
      double log_lr = -4 + 2 * u(rng), wd = 0.1 * u(rng);
      double tokens = 1e9 * std::pow(10, 3 * u(rng));
      int batch = 16 << (i % 4);
      st->SetParams(r.id, {{"lr", fmt::format("{:.6g}", std::pow(10, log_lr)), "argv"},
                           {"wd", fmt::format("{:.6g}", wd), "argv"},
                           {"seed", std::to_string(i), "argv"},
                           {"batch", std::to_string(batch), "argv"},
                           {"tokens", fmt::format("{:.6g}", tokens), "argv"},
                           {"max_steps", "1000", "argv"}});
      double c = 1.7 + 80 * std::pow(tokens, -0.2) + 0.3 * (log_lr + 3) * (log_lr + 3) + wd;
      std::unique_ptr<inloop::store::RunWriter> w;
      if (!st->OpenWriter(r.id, &w).ok()) std::abort();
      int last = running ? kPoints / 2 : kPoints;
      for (int s = 1; s <= last; ++s)
        w->Append("val/loss", s, 1e9 + s, c + 2 * std::pow(s, -0.4) + noise(rng));
      if (!w->Close().ok()) std::abort();
    }
    return d;
  }();
  return dir;
}

void BM_Baseline_ListParamsStats(benchmark::State& state) {
  const std::string& dir = StoreDir();
  for (auto _ : state) {
    std::unique_ptr<inloop::store::Store> st;
    if (!inloop::store::Store::Open(dir, false, &st).ok()) state.SkipWithError("open");
    std::vector<inloop::store::RunRecord> runs;
    st->ListRuns(&runs);
    size_t n = 0;
    for (auto& r : runs) {
      std::vector<inloop::store::Param> params;
      std::vector<inloop::store::SeriesStats> stats;
      st->GetParams(r.id, &params);
      st->SeriesStatsFor(r.id, &stats);
      n += params.size() + stats.size();
    }
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_Baseline_ListParamsStats)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_ComputeInsights(benchmark::State& state) {
  const std::string& dir = StoreDir();
  inloop::insights::Insights in;
  for (auto _ : state) {
    std::unique_ptr<inloop::store::Store> st;
    if (!inloop::store::Store::Open(dir, false, &st).ok()) state.SkipWithError("open");
    inloop::Status s = inloop::insights::ComputeInsights(st.get(), {}, &in);
    if (!s.ok()) state.SkipWithError(s.message().c_str());
  }
  int extrapolated = 0;
  for (auto& r : in.extrapolation.runs) extrapolated += r.ok;
  state.counters["runs"] = in.runs_matched;
  state.counters["importance_runs"] = static_cast<double>(in.importance.run_ids.size());
  state.counters["extrapolated"] = extrapolated;
  state.counters["scaling_runs"] = in.scaling.fit.n;
}
BENCHMARK(BM_ComputeInsights)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
