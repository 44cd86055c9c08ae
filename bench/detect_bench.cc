// Detector benchmarks. Speed: points/s through a full DetectorSet on one core (target >= 10M/s)
// for a realistic mix of keys per step (loss, grad norm, lr, throughput, step time, memory, eval
// loss, an unwatched metric) and for the heaviest single series (loss). Quality: precision,
// recall and latency per synthetic family (src/detect/synthetic_curves.h), printed as a table
// before the benchmarks; `detect_bench --quality` prints only the table. Then the real fixtures
// (../shared/fixtures, or $INLOOP_FIXTURES): TensorBoard's train/loss spike and the BLOOM-176B
// Megatron-DeepSpeed logs, fed through LineParser, DetectorSet and HangDetector with the defaults.
#include "source_paths.h"
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "detect/detector_set.h"
#include "detect/hang_detector.h"
#include "detect/synthetic_curves.h"
#include "ingest/line_parser.h"
#include "support/megatron_replay.h"

namespace inloop {
namespace {

using detect::DetectConfig;
using detect::DetectorSet;
using detect::Finding;
using detect::FindingKind;

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

// ---- Real fixtures ------------------------------------------------------------------------

// $INLOOP_FIXTURES, else $INLOOP_SRC/../shared/fixtures, else ../shared/fixtures next to the
// source tree this binary was built from.
std::filesystem::path FixturesDir() {
  if (const char* e = std::getenv("INLOOP_FIXTURES"); e != nullptr && *e != '\0') return e;
  if (const char* s = std::getenv("INLOOP_SRC"); s != nullptr && *s != '\0') {
    return std::filesystem::path(s) / ".." / "shared" / "fixtures";
  }
  return std::filesystem::path(INLOOP_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

bool IsSpike(const Finding& f) {
  return !f.is_update && (f.kind == FindingKind::kLossSpike || f.kind == FindingKind::kNonFinite ||
                          f.kind == FindingKind::kGradExplosion);
}

std::string Describe(const std::vector<Finding>& found) {
  std::string s;
  for (const Finding& f : found) {
    if (!s.empty()) s += ", ";
    s += fmt::format("{}{} {}@{}", f.is_update ? "(update) " : "", detect::FindingKindName(f.kind),
                     f.series.empty() ? "-" : f.series, f.step_lo);
    if (f.step_hi != f.step_lo) s += fmt::format("..{}", f.step_hi);
  }
  return s.empty() ? "none" : s;
}

struct FixtureRow {
  std::string fixture, expected, found;
  int tp = 0, fp = 0, fn = 0;
  std::string latency;
};

// TensorBoard writer: train/loss, 2000 steps, spike to 9.5 at 1234.
bool TensorboardLoss(const std::filesystem::path& dir, FixtureRow* row, std::string* detail) {
  row->fixture = "tensorboard-writer train/loss";
  row->expected = "loss_spike/nonfinite at 1234..1235";
  std::vector<Point> points;
  if (!replay::ReadTensorboardLoss(dir / "tfevents/tensorboard-writer/expected.json", &points)) {
    return false;
  }
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> found;
  for (const Point& p : points) set.Observe("train/loss", p, &found);
  const size_t n = points.size();
  int64_t first_tp = -1;
  for (const Finding& f : found) {
    if (f.is_update) continue;
    if (f.kind != FindingKind::kLossSpike && f.kind != FindingKind::kNonFinite) continue;
    if (f.step_lo >= 1234 && f.step_lo <= 1235) {
      if (first_tp < 0) first_tp = f.step_lo;
    } else {
      ++row->fp;
    }
  }
  row->tp = first_tp >= 0 ? 1 : 0;
  row->fn = 1 - row->tp;
  row->latency = first_tp >= 0 ? fmt::format("{} steps", first_tp - 1234) : "-";
  row->found = Describe(found);
  *detail = fmt::format("  tensorboard-writer: {} train/loss points fed (wall time = step s)\n", n);
  return true;
}

using replay::Feed;
using replay::ParseLog;
using replay::ParsedPoint;
using replay::ReadLines;

bool BloomSpike(const std::filesystem::path& dir, FixtureRow* row, std::string* detail) {
  row->fixture = "bloom-176b spike.log";
  row->expected = "grad_explosion/loss_spike at 31216..31219";
  std::vector<std::string> lines = ReadLines(dir / "logs/bloom-176b/spike.log");
  if (lines.empty()) return false;
  std::vector<ParsedPoint> points = ParseLog(lines);
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> found = Feed(&set, points);
  int64_t first_tp = -1;
  for (const Finding& f : found) {
    if (!IsSpike(f)) continue;
    if (f.step_lo >= 31216 && f.step_lo <= 31219) {
      if (first_tp < 0) first_tp = f.step_lo;
    } else if (f.step_lo < 31216 || f.step_lo > 31251) {
      ++row->fp;
    }
  }
  row->tp = first_tp >= 0 ? 1 : 0;
  row->fn = 1 - row->tp;
  row->latency = first_tp >= 0 ? fmt::format("{} from 31216", first_tp - 31216) : "-";
  row->found = Describe(found);
  *detail = fmt::format("  spike.log: {} lines, {} metric values parsed\n", lines.size(),
                        points.size());
  return true;
}


bool BloomThroughput(const std::filesystem::path& dir, FixtureRow* row, std::string* detail) {
  row->fixture = "bloom-176b throughput-drop.log";
  row->expected = "throughput_regression 42783..42784";
  std::vector<std::string> lines = ReadLines(dir / "logs/bloom-176b/throughput-drop.log");
  if (lines.empty()) return false;
  const replay::WrappedRecords wrapped = replay::SplitWrappedRecords(lines);
  const auto& records = wrapped.by_step;
  const std::vector<int64_t>& step_of_line = wrapped.step_of_line;
  std::vector<ParsedPoint> points = ParseLog(lines);
  int invented = 0;
  std::map<int64_t, int> per_step;
  std::string bad;
  for (const ParsedPoint& p : points) {
    ++per_step[p.step];
    auto r = records.find(p.step);
    bool ok = p.step == step_of_line[p.line] && r != records.end();
    if (ok) {
      auto kv = r->second.find(p.key);
      ok = kv != r->second.end() && kv->second == p.value;
    }
    if (!ok) {
      ++invented;
      bad += fmt::format(" [line {} step {} {}={}]", p.line + 1, p.step, p.key, p.value);
    }
  }
  size_t expected_values = 0;
  for (const auto& [step, kv] : records) expected_values += kv.size();
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> found = Feed(&set, points);
  for (const Finding& f : found) {
    if (f.is_update) continue;
    if (f.kind == FindingKind::kThroughputRegression && f.step_lo >= 42783 && f.step_lo <= 42784) {
      row->tp = 1;
    } else {
      ++row->fp;
    }
  }
  row->fn = 1 - row->tp;
  row->latency = "-";
  row->found = Describe(found);
  DetectorSet shrunk(replay::ThroughputShrunkToFiveRecords());
  std::vector<Finding> shrunk_found = Feed(&shrunk, points);
  *detail = fmt::format(
      "  throughput-drop.log: {} physical lines = {} wrapped records; parsed {} metric values "
      "(of {} in the records; the rest were cut at an unclear break), {} per record; {} not "
      "matching their own record{}\n"
      "    defaults want throughput_min_points = 20 and throughput_sustain = 5: with 5 records a "
      "regression cannot be judged (FN expected; defaults not tuned for it). Windows shrunk to the "
      "fixture (min_points 3, short_window 1, sustain 2, drop 4%): {}\n",
      lines.size(), records.size(), points.size(), expected_values,
      per_step.empty() ? 0 : per_step.begin()->second, invented, bad, Describe(shrunk_found));
  return true;
}

bool BloomEvalHang(const std::filesystem::path& dir, FixtureRow* row, std::string* detail) {
  row->fixture = "bloom-176b eval-hang.log";
  row->expected = "hang after the last progress";
  std::vector<std::string> lines = ReadLines(dir / "logs/bloom-176b/eval-hang.log");
  if (lines.empty()) return false;
  // The training and validation lines carry no time: each gets the time of the next stamped
  // line, an upper bound on when it was written (the silence can only look shorter).
  const std::vector<double> t = replay::LineTimes(lines);
  std::unique_ptr<ingest::LineParser> parser;
  if (!ingest::LineParser::Create({}, &parser).ok() || t.front() < 0) return false;
  DetectConfig config;
  detect::HangDetector hang(config, t.front());
  ingest::ParsedLine parsed;
  double last_progress = -1, deadline = 0;
  int progress_lines = 0, checks = 0;
  std::vector<Finding> found;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (parser->Parse(lines[i], &parsed)) {  // a training or validation line: progress
      const int64_t step = parsed.has_step ? parsed.step : replay::IterationOf(lines[i]);
      if (step < 0) continue;
      hang.OnOutput(t[i]);
      hang.OnProgress(t[i], step);
      last_progress = t[i];
      deadline = hang.Deadline();
      ++progress_lines;
    } else if (lines[i].find("PULSE") != std::string::npos) {
      ++checks;
      Finding f;
      if (hang.Check(t[i], &f)) found.push_back(f);
    }
  }
  row->tp = found.empty() ? 0 : 1;
  row->fn = 1 - row->tp;
  row->fp = found.empty() ? 0 : static_cast<int>(found.size()) - 1;
  row->found = Describe(found);
  if (!found.empty()) {
    row->latency = fmt::format("{:.0f} s", found.front().wall_time - last_progress);
  } else {
    row->latency = "-";
  }
  *detail = fmt::format(
      "  eval-hang.log: {} progress lines (step {}), Check() at {} PULSE times; threshold {:.0f} "
      "s (Deadline = last progress + {:.0f} s); first Check past it fired {:.0f} s after the last "
      "progress (the hourly PULSE spacing; a supervisor's timer would fire at the deadline)\n",
      progress_lines, found.empty() ? 0 : found.front().step_lo, checks, hang.Threshold(),
      deadline - last_progress, found.empty() ? 0.0 : found.front().wall_time - last_progress);
  return true;
}

void PrintRealFixtures() {
  const std::filesystem::path dir = FixturesDir();
  if (!std::filesystem::is_directory(dir)) {
    fmt::print("Real fixtures: fixtures: not found ({})\n", dir.string());
    return;
  }
  fmt::print("Real fixtures ({}; default [detect] thresholds; latency in logged steps)\n",
             std::filesystem::weakly_canonical(dir).string());
  fmt::print("{:<32} {:<42} {:>3} {:>3} {:>3} {:<16} {}\n", "fixture", "expected", "TP", "FP",
             "FN", "latency", "findings (kind series@step)");
  std::string details;
  using Eval = bool (*)(const std::filesystem::path&, FixtureRow*, std::string*);
  for (Eval eval : {Eval{TensorboardLoss}, Eval{BloomSpike}, Eval{BloomThroughput},
                    Eval{BloomEvalHang}}) {
    FixtureRow row;
    std::string detail;
    if (!eval(dir, &row, &detail)) {
      fmt::print("{:<32} fixtures: not found (or unreadable)\n", row.fixture);
      continue;
    }
    fmt::print("{:<32} {:<42} {:>3} {:>3} {:>3} {:<16} {}\n", row.fixture, row.expected, row.tp,
               row.fp, row.fn, row.latency, row.found);
    details += detail;
  }
  fmt::print("{}", details);
}

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quality") == 0) {
      inloop::PrintQuality();
      inloop::PrintRealFixtures();
      return 0;
    }
  }
  inloop::PrintQuality();
  inloop::PrintRealFixtures();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
