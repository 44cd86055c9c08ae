// The real fixtures of ../shared/fixtures (its README.md says where each came from) end to end,
// with the default [detect] thresholds: TensorBoard's train/loss (spike to 9.5 at step 1234)
// through DetectorSet; the BLOOM-176B Megatron-DeepSpeed logs through LineParser and then
// DetectorSet / HangDetector, as the supervisor would feed them. The directory is
// $INLOOP_FIXTURES, else $INLOOP_SRC/../shared/fixtures, else the one next to the source tree;
// every test skips when it is absent. bench/detect_bench --quality prints the same numbers.
#include "source_paths.h"
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "detect/detector_set.h"
#include "detect/hang_detector.h"
#include "ingest/line_parser.h"
#include "support/megatron_replay.h"

namespace inloop::detect {
namespace {

namespace fs = std::filesystem;

fs::path FixturesDir() {
  if (const char* e = std::getenv("INLOOP_FIXTURES"); e != nullptr && *e != '\0') return e;
  if (const char* s = std::getenv("INLOOP_SRC"); s != nullptr && *s != '\0') {
    return fs::path(s) / ".." / "shared" / "fixtures";
  }
  return INLOOP_SHARED_FIXTURES;
}

// The fixture's path, or empty when it is not there (the caller skips).
fs::path Fixture(const std::string& relative) {
  fs::path p = FixturesDir() / relative;
  return fs::is_regular_file(p) ? p : fs::path();
}

#define FIXTURE_OR_SKIP(var, relative)                                                   \
  const fs::path var = Fixture(relative);                                                \
  if (var.empty()) {                                                                     \
    GTEST_SKIP() << "fixtures: not found: " << (FixturesDir() / relative).string()       \
                 << " (set INLOOP_FIXTURES to the shared fixtures directory)";           \
  }

using replay::Feed;
using replay::IterationOf;
using replay::ParseLog;
using replay::ParsedPoint;
using replay::ReadLines;

bool IsNewSpike(const Finding& f) {
  return !f.is_update && (f.kind == FindingKind::kLossSpike || f.kind == FindingKind::kNonFinite ||
                          f.kind == FindingKind::kGradExplosion);
}

TEST(RealFixturesTest, TensorboardLossSpikeAt1234WithoutFalsePositive) {
  FIXTURE_OR_SKIP(path, "tfevents/tensorboard-writer/expected.json");
  std::vector<Point> points;
  ASSERT_TRUE(replay::ReadTensorboardLoss(path, &points));
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> found;
  for (const Point& p : points) set.Observe("train/loss", p, &found);
  const size_t n = points.size();
  ASSERT_EQ(n, 2000u);
  std::vector<Finding> spikes;
  for (const Finding& f : found) {
    if (f.is_update) continue;
    if (f.kind == FindingKind::kLossSpike || f.kind == FindingKind::kNonFinite) spikes.push_back(f);
  }
  ASSERT_EQ(spikes.size(), 1u) << (spikes.empty() ? "" : spikes.back().message);
  EXPECT_EQ(spikes[0].kind, FindingKind::kLossSpike);
  EXPECT_GE(spikes[0].step_lo, 1234);
  EXPECT_LE(spikes[0].step_lo, 1235);
  EXPECT_EQ(spikes[0].step_lo, 1234) << spikes[0].message;  // latency 0 logged steps
  EXPECT_DOUBLE_EQ(spikes[0].Get("value"), 9.5);
  // It recovered the next step: nothing else at all (no divergence, no plateau).
  for (const Finding& f : found) EXPECT_EQ(f.kind, FindingKind::kLossSpike) << f.message;
}

TEST(RealFixturesTest, BloomSpikeThroughLineParserFlaggedAt31216To31219) {
  FIXTURE_OR_SKIP(path, "logs/bloom-176b/spike.log");
  std::vector<ParsedPoint> points = ParseLog(ReadLines(path));
  ASSERT_FALSE(points.empty());
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> found = Feed(&set, points);
  std::vector<Finding> spikes;
  for (const Finding& f : found) {
    if (!IsNewSpike(f)) continue;
    spikes.push_back(f);
    EXPECT_GE(f.step_lo, 31216) << "spike finding before the spike: " << f.message;
    EXPECT_LE(f.step_lo, 31251) << "spike finding after the episode: " << f.message;
  }
  ASSERT_FALSE(spikes.empty());
  // The grad norm goes first, inside 31216..31219 (15.886 at 31217 = 16.8x the median).
  EXPECT_EQ(spikes[0].kind, FindingKind::kGradExplosion) << spikes[0].message;
  EXPECT_EQ(spikes[0].series, "grad_norm");
  EXPECT_GE(spikes[0].step_lo, 31216);
  EXPECT_LE(spikes[0].step_lo, 31219);
  for (const Finding& f : found) {
    EXPECT_NE(f.kind, FindingKind::kDivergence) << f.message;  // it recovered by itself
    EXPECT_NE(f.kind, FindingKind::kThroughputRegression) << f.message;
  }
}

TEST(RealFixturesTest, BloomThroughputDropWrappedLinesInventNoMetric) {
  FIXTURE_OR_SKIP(path, "logs/bloom-176b/throughput-drop.log");
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 15u);
  // What each record really says: its physical lines joined with a space (a continuation does
  // not start with '['), split at '|' into "key: value".
  const replay::WrappedRecords wrapped = replay::SplitWrappedRecords(lines);
  ASSERT_EQ(wrapped.count, 5u);
  auto records = wrapped.by_step;
  const std::vector<int64_t>& step_of_line = wrapped.step_of_line;
  ASSERT_EQ(records.size(), 5u);
  ASSERT_EQ(records.begin()->first, 42780);
  ASSERT_EQ(records[42780].size(), 12u);
  EXPECT_DOUBLE_EQ(records[42780]["tflops"], 149.10);
  EXPECT_DOUBLE_EQ(records[42780]["learning_rate"], 4.475e-05);

  const std::vector<ParsedPoint> points = ParseLog(lines);
  std::map<int64_t, std::map<std::string, double>> parsed;
  for (const ParsedPoint& p : points) {
    SCOPED_TRACE("line " + std::to_string(p.line + 1) + ": " + p.key);
    // Each value belongs to the record its physical line is part of, under the same key and
    // with the same number: nothing taken from a fragment that names another metric.
    EXPECT_EQ(p.step, step_of_line[p.line]);
    auto r = records.find(p.step);
    ASSERT_NE(r, records.end());
    auto kv = r->second.find(p.key);
    ASSERT_NE(kv, r->second.end()) << "invented key";
    EXPECT_EQ(kv->second, p.value);
    EXPECT_TRUE(parsed[p.step].emplace(p.key, p.value).second) << "key twice in one record";
  }
  ASSERT_EQ(parsed.size(), 5u);
  const double tflops[] = {149.10, 149.09, 147.58, 142.32, 141.09};
  const double seconds[] = {105.16, 105.17, 106.25, 110.17, 111.14};
  int i = 0;
  for (const auto& [step, kv] : parsed) {
    EXPECT_EQ(step, 42780 + i);
    // 11 of the 12: "number of nan| iterations" is broken with no space on either side, so
    // the parser drops that segment rather than guess.
    EXPECT_EQ(kv.size(), 11u);
    EXPECT_EQ(kv.count("number_of_nan_iterations"), 0u);
    EXPECT_DOUBLE_EQ(kv.at("learning_rate"), 4.475e-05);  // joined across "learning| rate"
    EXPECT_DOUBLE_EQ(kv.at("tflops"), tflops[i]);
    EXPECT_DOUBLE_EQ(kv.at("elapsed_time_per_iteration_s"), seconds[i]);
    ++i;
  }

  // With the defaults five records are too few to judge a regression (throughput_min_points is
  // 20, throughput_sustain 5); whatever fires, nothing but a throughput regression may.
  DetectorSet set{DetectConfig{}};
  for (const Finding& f : Feed(&set, points)) {
    EXPECT_EQ(f.kind, FindingKind::kThroughputRegression) << f.message;
  }
}

TEST(RealFixturesTest, BloomEvalHangFiresOnPulseTimes) {
  FIXTURE_OR_SKIP(path, "logs/bloom-176b/eval-hang.log");
  const std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 10u);
  // Only the PULSE lines are stamped; a training or validation line gets the time of the next
  // stamped line, an upper bound on when it was written (the silence only looks shorter).
  const std::vector<double> t = replay::LineTimes(lines);
  ASSERT_GT(t.front(), 0);
  std::unique_ptr<ingest::LineParser> parser;
  ASSERT_TRUE(ingest::LineParser::Create({}, &parser).ok());
  const DetectConfig config;
  HangDetector hang(config, t.front());
  ingest::ParsedLine parsed;
  double last_progress = -1;
  int progress_lines = 0, pulses = 0;
  std::vector<Finding> hangs;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (parser->Parse(lines[i], &parsed)) {
      // Progress: the iteration 45000 line and the validation line at 45000.
      ASSERT_TRUE(parsed.has_step) << lines[i];
      EXPECT_EQ(parsed.step, 45000);
      hang.OnOutput(t[i]);
      hang.OnProgress(t[i], parsed.step);
      last_progress = t[i];
      ++progress_lines;
    } else if (lines[i].find("PULSE") != std::string::npos) {
      ++pulses;  // the scheduler's lines are not the run's output: only a clock tick
      Finding f;
      if (hang.Check(t[i], &f)) hangs.push_back(f);
    }
  }
  EXPECT_EQ(progress_lines, 2);
  EXPECT_EQ(pulses, 6);
  EXPECT_DOUBLE_EQ(hang.Threshold(), config.hang_floor_seconds);  // one step: the floor
  // Once, at the first pulse past the 300 s deadline (04:56:13, 3602 s after 03:56:11), and not
  // again: nothing re-armed it.
  ASSERT_EQ(hangs.size(), 1u);
  EXPECT_EQ(hangs[0].kind, FindingKind::kHang);
  EXPECT_EQ(hangs[0].step_lo, 45000);
  EXPECT_GE(hangs[0].wall_time - last_progress, config.hang_floor_seconds);
  EXPECT_DOUBLE_EQ(hangs[0].wall_time - last_progress, 3602);
  EXPECT_GE(hangs[0].Get("silent_seconds"), 300);
}

}  // namespace
}  // namespace inloop::detect
