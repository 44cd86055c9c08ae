// The real BLOOM-176B logs (fixtures/logs/bloom-176b, see its README): the lm-loss spike of
// 2022-04-12 (grad norm explodes first, 31216-31219) and the silent 5% slowdown of 2022-04-28.
// The lines are parsed here with a tiny regex, independent of ingest/'s parsers. (The eval hang
// of 2022-04-30 is in hang_detector_test.cc.)
#include "source_paths.h"
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "detect/detector_set.h"
#include "support/megatron_replay.h"

namespace inloop::detect {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(INLOOP_SHARED_FIXTURES) + "/logs/bloom-176b/" + name;
}

struct Iteration {
  int64_t step = 0;
  double lm_loss = 0, grad_norm = 0, seconds = 0, tflops = 0, samples_per_s = 0;
};

// One record per Megatron iteration line. `wrapped`: the chronicle wraps each line over three
// physical lines; they are joined first (a continuation does not start with "[").
std::vector<Iteration> ReadIterations(const std::string& path, bool wrapped) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (wrapped && !lines.empty() && !line.empty() && line[0] != '[') {
      lines.back() += line;
    } else {
      lines.push_back(line);
    }
  }
  static const std::regex it(R"(iteration\s+(\d+)/)");
  static const std::regex loss(R"(lm loss: ([0-9.E+-]+))");
  static const std::regex grad(R"(grad norm: ([0-9.]+))");
  static const std::regex secs(R"(elapsed time per iteration \(s\): ([0-9.]+))");
  static const std::regex tflops(R"(TFLOPs: ([0-9.]+))");
  static const std::regex sps(R"(samples per second: ([0-9.]+))");
  std::vector<Iteration> out;
  for (const std::string& l : lines) {
    std::smatch m;
    if (!std::regex_search(l, m, it)) continue;
    Iteration r;
    r.step = std::stoll(m[1]);
    if (std::regex_search(l, m, loss)) r.lm_loss = std::stod(m[1]);
    if (std::regex_search(l, m, grad)) r.grad_norm = std::stod(m[1]);
    if (std::regex_search(l, m, secs)) r.seconds = std::stod(m[1]);
    if (std::regex_search(l, m, tflops)) r.tflops = std::stod(m[1]);
    if (std::regex_search(l, m, sps)) r.samples_per_s = std::stod(m[1]);
    out.push_back(r);
  }
  return out;
}

std::vector<Finding> Feed(DetectorSet* set, const std::vector<Iteration>& its) {
  std::vector<Finding> out;
  for (const Iteration& r : its) {
    const double t = 1649700000 + 106.0 * static_cast<double>(r.step);
    set->Observe("lm loss", {r.step, t, r.lm_loss}, &out);
    set->Observe("grad norm", {r.step, t, r.grad_norm}, &out);
    set->Observe("elapsed time per iteration (s)", {r.step, t, r.seconds}, &out);
    set->Observe("samples per second", {r.step, t, r.samples_per_s}, &out);
    set->Observe("TFLOPs", {r.step, t, r.tflops}, &out);
  }
  return out;
}

TEST(Bloom176bTest, GradNormExplosionFlaggedAt31216To31219) {
  std::vector<Iteration> its = ReadIterations(Fixture("spike.log"), false);
  ASSERT_EQ(its.size(), 11u);
  ASSERT_EQ(its[5].step, 31219);
  ASSERT_DOUBLE_EQ(its[5].grad_norm, 960.351);
  DetectorSet set{DetectConfig{}};  // defaults: the ratio rule needs three values of history
  std::vector<Finding> found = Feed(&set, its);
  ASSERT_FALSE(found.empty());
  const Finding& first = found.front();
  EXPECT_EQ(first.kind, FindingKind::kGradExplosion) << first.message;
  EXPECT_EQ(first.series, "grad norm");
  EXPECT_GE(first.step_lo, 31216);
  EXPECT_LE(first.step_lo, 31219);
  EXPECT_EQ(first.step_lo, 31217) << first.message;  // 15.886 = 16.8x the median 0.947
  // One episode, closed when the grad norm is back (0.267 at 31250), with its full range.
  int opened = 0;
  for (const Finding& f : found) {
    if (f.kind != FindingKind::kGradExplosion) continue;
    if (!f.is_update) ++opened;
    if (f.is_update) {
      EXPECT_EQ(f.step_lo, 31217);
      EXPECT_EQ(f.step_hi, 31222);
      EXPECT_DOUBLE_EQ(f.Get("peak"), 960.351);
    }
  }
  EXPECT_EQ(opened, 1);
  // With the defaults the loss has too little history (spike_min_points = 32) to judge; no
  // divergence is claimed: it recovered.
  for (const Finding& f : found) {
    EXPECT_NE(f.kind, FindingKind::kDivergence) << f.message;
    EXPECT_NE(f.kind, FindingKind::kLossSpike) << f.message;
  }
}

TEST(Bloom176bTest, LossSpikeAt31219WithShortHistory) {
  // Live, the detector would have 31,000 steps of history; the chronicle quotes five lines
  // before the spike, so the minimum history is lowered to what the fixture has.
  DetectConfig c;
  c.spike_min_points = 5;
  DetectorSet set(c);
  std::vector<Finding> found = Feed(&set, ReadIterations(Fixture("spike.log"), false));
  std::vector<Finding> spikes;
  for (const Finding& f : found) {
    if (f.kind == FindingKind::kLossSpike && !f.is_update) spikes.push_back(f);
  }
  ASSERT_EQ(spikes.size(), 1u);
  EXPECT_EQ(spikes[0].step_lo, 31219);  // 5.098 vs median 2.242; 31216's 2.595 is +17% < 25%
  EXPECT_GT(spikes[0].Get("robust_z"), 6);
  // The grad norm went first.
  EXPECT_LT(found.front().step_lo, 31219);
  EXPECT_EQ(found.front().kind, FindingKind::kGradExplosion);
}

TEST(Bloom176bTest, ThroughputRegressionOnTflopsAndTimePerIteration) {
  std::vector<Iteration> its = ReadIterations(Fixture("throughput-drop.log"), true);
  ASSERT_EQ(its.size(), 5u);  // three physical lines each, joined
  EXPECT_DOUBLE_EQ(its[0].tflops, 149.10);
  EXPECT_DOUBLE_EQ(its[4].seconds, 111.14);
  // Five iterations: the windows shrunk to the fixture, the 4% drop kept.
  const DetectConfig c = replay::ThroughputShrunkToFiveRecords();
  DetectorSet set(c);
  std::vector<Finding> found = Feed(&set, its);
  std::vector<std::string> series;
  for (const Finding& f : found) {
    ASSERT_EQ(f.kind, FindingKind::kThroughputRegression) << f.message;
    EXPECT_EQ(f.step_lo, 42783);
    EXPECT_EQ(f.step_hi, 42784);
    EXPECT_GT(f.Get("drop"), 0.04);
    EXPECT_LT(f.Get("drop"), 0.06);
    series.push_back(f.series);
  }
  // Time per iteration, samples/s and TFLOPs measure one fact: one finding, on the first series
  // to see it (the others join its episode and are named on its closing update).
  EXPECT_EQ(series, (std::vector<std::string>{"elapsed time per iteration (s)"}));

  // With the default 4% drop the 1% wobble at 42782 is not a regression: the first three lines
  // alone give nothing.
  DetectorSet quiet(c);
  its.resize(3);
  EXPECT_TRUE(Feed(&quiet, its).empty());
}

}  // namespace
}  // namespace inloop::detect
