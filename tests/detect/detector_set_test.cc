// The streaming detectors through DetectorSet on synthetic curves: no false alarm on a normal
// noisy decaying loss, spikes and NaNs on their step, merging, divergence, gradient explosion,
// plateau, throughput regression, memory growth, rewinds.
#include "detect/detector_set.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace inloop::detect {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double Digits(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

// A pre-training-like loss: 10.8 at step 0, ~6.3 at step 100 (the steep start), ~2.7 at 10,000
// steps, with multiplicative normal noise, printed with `digits` significant digits.
std::vector<Point> Decay(int steps, double noise, int digits, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1);
  std::vector<Point> v;
  for (int64_t s = 0; s < steps; ++s) {
    double loss = 2 + 8.8 * std::pow(1 + s / 20.0, -0.4);
    v.push_back({s, 1.7e9 + 0.3 * s, Digits(loss * (1 + noise * n(rng)), digits)});
  }
  return v;
}

std::vector<Finding> Feed(DetectorSet* set, const std::string& key, const std::vector<Point>& pts) {
  std::vector<Finding> out;
  for (const Point& p : pts) set->Observe(key, p, &out);
  return out;
}

std::vector<Finding> New(const std::vector<Finding>& all, FindingKind kind) {
  std::vector<Finding> out;
  for (const Finding& f : all) {
    if (f.kind == kind && !f.is_update) out.push_back(f);
  }
  return out;
}

std::string Describe(const std::vector<Finding>& all) {
  std::string s;
  for (const Finding& f : all) s += std::string(FindingKindName(f.kind)) + ": " + f.message + "\n";
  return s;
}

void ExpectFiniteEvidence(const std::vector<Finding>& all) {
  for (const Finding& f : all) {
    EXPECT_FALSE(f.message.empty());
    for (const Evidence& e : f.evidence) EXPECT_TRUE(std::isfinite(e.value)) << e.name;
  }
}

TEST(DetectorSetTest, NoFalseAlarmOnNoisyDecayingLoss) {
  for (int digits : {4, 5, 6}) {
    for (double noise : {0.002, 0.01, 0.03, 0.05}) {
      DetectorSet set{DetectConfig{}};
      auto found = Feed(&set, "train/loss", Decay(10000, noise, digits, digits * 100 + 7));
      EXPECT_TRUE(found.empty()) << "digits " << digits << " noise " << noise << "\n"
                                 << Describe(found);
    }
  }
}

TEST(DetectorSetTest, SpikeFiresOnItsStep) {
  for (double jump : {0.4, 1.0, 4.0}) {
    auto pts = Decay(10000, 0.02, 5, 11);
    pts[4000].value *= 1 + jump;
    DetectorSet set{DetectConfig{}};
    auto found = Feed(&set, "train/loss", pts);
    auto spikes = New(found, FindingKind::kLossSpike);
    ASSERT_EQ(spikes.size(), 1u) << Describe(found);
    EXPECT_EQ(spikes[0].step_lo, 4000);
    EXPECT_EQ(spikes[0].step_hi, 4000);
    EXPECT_EQ(spikes[0].series, "train/loss");
    EXPECT_EQ(spikes[0].severity, Severity::kWarning);
    EXPECT_GE(spikes[0].Get("robust_z"), 6);
    EXPECT_GE(spikes[0].Get("rel_jump"), 0.25);
    EXPECT_EQ(spikes[0].Get("window"), 128);
    EXPECT_NE(spikes[0].message.find("4000"), std::string::npos);
    EXPECT_TRUE(New(found, FindingKind::kDivergence).empty());
    ExpectFiniteEvidence(found);
  }
}

TEST(DetectorSetTest, ConsecutiveSpikePointsMergeIntoOneFinding) {
  auto pts = Decay(8000, 0.01, 5, 12);
  const double bump[] = {2.0, 1.8, 1.6, 1.5, 1.4, 1.3};
  for (int i = 0; i < 6; ++i) pts[5000 + i].value *= bump[i];
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/loss", pts);
  ASSERT_EQ(found.size(), 2u) << Describe(found);
  EXPECT_FALSE(found[0].is_update);
  EXPECT_EQ(found[0].step_lo, 5000);
  EXPECT_TRUE(found[1].is_update);
  EXPECT_EQ(found[1].kind, FindingKind::kLossSpike);
  EXPECT_EQ(found[1].step_lo, 5000);
  EXPECT_EQ(found[1].step_hi, 5005);
  EXPECT_EQ(found[1].Get("points"), 6);
  EXPECT_NEAR(found[1].Get("peak"), pts[5000].value, 1e-12);
}

TEST(DetectorSetTest, BeforeMinPointsOnlyTheColdStartRatioFires) {
  // 20 points of history < spike_min_points = 32: the robust rule is not trusted yet.
  auto pts = Decay(200, 0.01, 5, 13);
  std::vector<double> before;
  for (int i = 0; i < 20; ++i) before.push_back(pts[i].value);
  std::nth_element(before.begin(), before.begin() + 10, before.end());
  const double median = before[10];
  pts[20].value = 1.6 * median;  // a clear robust outlier, but under spike_cold_ratio (2x)
  DetectorSet set{DetectConfig{}};
  EXPECT_TRUE(New(Feed(&set, "loss", pts), FindingKind::kLossSpike).empty());

  DetectConfig c;
  c.spike_min_points = 8;  // lowered, the robust rule sees it
  DetectorSet early(c);
  auto spikes = New(Feed(&early, "loss", pts), FindingKind::kLossSpike);
  ASSERT_EQ(spikes.size(), 1u);
  EXPECT_EQ(spikes[0].step_lo, 20);

  auto big = Decay(200, 0.01, 5, 13);
  big[20].value = 3 * median;  // a real bad update early in training: the cold-start ratio fires
  DetectorSet cold{DetectConfig{}};
  auto cold_spikes = New(Feed(&cold, "loss", big), FindingKind::kLossSpike);
  ASSERT_EQ(cold_spikes.size(), 1u);
  EXPECT_EQ(cold_spikes[0].step_lo, 20);
  big[5].value *= 3;  // fewer than spike_cold_min_points values: nothing fires at step 5
  DetectorSet very_early{DetectConfig{}};
  auto first = New(Feed(&very_early, "loss", big), FindingKind::kLossSpike);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0].step_lo, 20);
}

TEST(DetectorSetTest, NonFiniteFiresOnItsStepOncePerRun) {
  auto pts = Decay(9000, 0.02, 5, 14);
  pts[3000].value = kNaN;
  for (int s = 6000; s <= 6010; ++s) pts[s].value = s % 2 ? kInf : kNaN;
  pts[7000].value = -kInf;
  pts[8000].value *= 2.5;  // the spike detector still works after non-finite values
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/loss", pts);
  auto nf = New(found, FindingKind::kNonFinite);
  ASSERT_EQ(nf.size(), 3u) << Describe(found);
  EXPECT_EQ(nf[0].step_lo, 3000);
  EXPECT_EQ(nf[0].severity, Severity::kError);
  EXPECT_EQ(nf[0].Get("nan"), 1);
  EXPECT_NE(nf[0].message.find("nan at step 3000"), std::string::npos) << nf[0].message;
  EXPECT_EQ(nf[1].step_lo, 6000);
  EXPECT_EQ(nf[2].step_lo, 7000);
  EXPECT_EQ(nf[2].Get("inf"), -1);
  int updates = 0;
  for (const Finding& f : found) {
    if (f.kind == FindingKind::kNonFinite && f.is_update) {
      ++updates;
      EXPECT_EQ(f.step_lo, 6000);
      EXPECT_EQ(f.step_hi, 6010);
      EXPECT_EQ(f.Get("points"), 11);
    }
  }
  EXPECT_EQ(updates, 1);
  auto spikes = New(found, FindingKind::kLossSpike);
  ASSERT_EQ(spikes.size(), 1u) << Describe(found);
  EXPECT_EQ(spikes[0].step_lo, 8000);
  // The baseline never saw nan/inf: the median is a loss value.
  EXPECT_NEAR(spikes[0].Get("median"), 2 + 8.8 * std::pow(1 + 8000 / 20.0, -0.4), 0.05);
  ExpectFiniteEvidence(found);
}

TEST(DetectorSetTest, NonFiniteWatchedSeriesOnly) {
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  set.Observe("lr", {1, 0, kNaN}, &out);
  set.Observe("grad_norm", {1, 0, kInf}, &out);
  set.Observe("eval/loss", {1, 0, kNaN}, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].series, "grad_norm");
  EXPECT_EQ(out[0].severity, Severity::kWarning);  // fp16 overflow steps report inf grad norms
  EXPECT_EQ(out[1].series, "eval/loss");
  EXPECT_EQ(out[1].severity, Severity::kError);
}

TEST(DetectorSetTest, DivergenceWhenSpikeDoesNotRecover) {
  auto pts = Decay(8000, 0.02, 5, 15);
  for (int s = 5000; s < 8000; ++s) pts[s].value *= 2;
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/loss", pts);
  auto spikes = New(found, FindingKind::kLossSpike);
  auto div = New(found, FindingKind::kDivergence);
  ASSERT_EQ(spikes.size(), 1u) << Describe(found);
  EXPECT_EQ(spikes[0].step_lo, 5000);
  ASSERT_EQ(div.size(), 1u) << Describe(found);
  EXPECT_EQ(div[0].severity, Severity::kError);
  EXPECT_EQ(div[0].step_lo, 5000);
  EXPECT_EQ(div[0].step_hi, 5100);  // divergence_recover_steps = 100
  EXPECT_GT(div[0].Get("value"), div[0].Get("recover_threshold"));
}

TEST(DetectorSetTest, DivergenceOnSustainedRise) {
  auto pts = Decay(9000, 0.02, 5, 16);
  for (int s = 5000; s < 9000; ++s) pts[s].value *= 1 + 0.5 * (s - 5000) / 1000.0;
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/loss", pts);
  EXPECT_TRUE(New(found, FindingKind::kLossSpike).empty()) << Describe(found);
  auto div = New(found, FindingKind::kDivergence);
  ASSERT_EQ(div.size(), 1u) << Describe(found);
  EXPECT_GT(div[0].step_hi, 5000);
  EXPECT_LT(div[0].step_hi, 5700);
  EXPECT_GE(div[0].Get("rise"), 0.15);
  EXPECT_GT(div[0].Get("mean_new"), div[0].Get("mean_mid"));
}

TEST(DetectorSetTest, EvalLossRisingIsAWarning) {
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  const double vals[] = {3.0, 2.8, 2.7, 2.65, 2.7, 2.9, 3.1, 3.3, 3.5, 3.7};
  for (int i = 0; i < 10; ++i) set.Observe("val/loss", {i * 1000, 0, vals[i]}, &out);
  auto div = New(out, FindingKind::kDivergence);
  ASSERT_EQ(div.size(), 1u) << Describe(out);
  EXPECT_EQ(div[0].severity, Severity::kWarning);
  EXPECT_TRUE(New(out, FindingKind::kLossSpike).empty());
}

std::vector<Point> GradNorms(int steps, double log_sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1);
  std::vector<Point> v;
  for (int64_t s = 0; s < steps; ++s) {
    double level = 0.8 * (1 + 4 * std::exp(-s / 30.0));
    v.push_back({s, 0, Digits(level * std::exp(log_sigma * n(rng)), 4)});
  }
  return v;
}

TEST(DetectorSetTest, GradExplosion) {
  auto pts = GradNorms(6000, 0.15, 17);
  pts[3000].value *= 20;
  pts[3001].value *= 8;
  pts[4500].value *= 1.8;  // not an explosion
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/grad_norm", pts);
  auto g = New(found, FindingKind::kGradExplosion);
  ASSERT_EQ(g.size(), 1u) << Describe(found);
  EXPECT_EQ(g[0].step_lo, 3000);
  EXPECT_GE(g[0].Get("ratio"), 10);
  EXPECT_GE(g[0].Get("robust_z"), 12);
  EXPECT_TRUE(New(found, FindingKind::kLossSpike).empty());
  EXPECT_TRUE(New(found, FindingKind::kDivergence).empty());
}

TEST(DetectorSetTest, GradExplosionColdStartByRatio) {
  // A detector started mid-run (a resumed attempt) has three values of history: a 10x jump over
  // their median is an explosion without a noise estimate.
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  const double vals[] = {0.30, 0.25, 0.28, 4.0};
  for (int i = 0; i < 4; ++i) set.Observe("grad_norm", {100 + i, 0, vals[i]}, &out);
  auto g = New(out, FindingKind::kGradExplosion);
  ASSERT_EQ(g.size(), 1u) << Describe(out);
  EXPECT_EQ(g[0].step_lo, 103);
  DetectorSet two{DetectConfig{}};
  out.clear();
  two.Observe("grad_norm", {1, 0, 0.3}, &out);
  two.Observe("grad_norm", {2, 0, 0.3}, &out);
  two.Observe("grad_norm", {3, 0, 30}, &out);  // two values of history: too few
  EXPECT_TRUE(out.empty());
}

TEST(DetectorSetTest, PlateauIsInformational) {
  auto pts = Decay(9000, 0.02, 5, 18);
  for (int s = 3000; s < 9000; ++s) {
    pts[s].value *=
        (2 + 8.8 * std::pow(1 + 3000 / 20.0, -0.4)) / (2 + 8.8 * std::pow(1 + s / 20.0, -0.4));
  }
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "train/loss", pts);
  auto pl = New(found, FindingKind::kPlateau);
  ASSERT_EQ(pl.size(), 1u) << Describe(found);
  EXPECT_EQ(pl[0].severity, Severity::kInfo);
  EXPECT_GT(pl[0].step_hi, 4000);
  EXPECT_LT(pl[0].step_hi, 5600);
  EXPECT_LT(std::fabs(pl[0].Get("improvement")), 0.005);
  EXPECT_EQ(found.size(), 1u) << Describe(found);
}

std::vector<Point> Throughput(int steps, double level, double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0, 1);
  std::vector<Point> v;
  for (int64_t s = 0; s < steps; ++s) v.push_back({s, 0, level * (1 + noise * n(rng))});
  return v;
}

TEST(DetectorSetTest, ThroughputRegressionSustained) {
  auto pts = Throughput(1000, 1.2e5, 0.01, 19);
  for (int s = 500; s < 700; ++s) pts[s].value *= 0.9;
  pts[300].value *= 0.5;  // one slow step is not a regression
  pts[301].value *= 0.5;
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "tokens_per_s", pts);
  auto tr = New(found, FindingKind::kThroughputRegression);
  ASSERT_EQ(tr.size(), 1u) << Describe(found);
  EXPECT_EQ(tr[0].severity, Severity::kWarning);
  EXPECT_GE(tr[0].step_hi, 504);
  EXPECT_LE(tr[0].step_hi, 510);
  EXPECT_NEAR(tr[0].Get("drop"), 0.1, 0.03);
  bool closed = false;
  for (const Finding& f : found) {
    if (f.kind == FindingKind::kThroughputRegression && f.is_update) closed = f.step_hi >= 699;
  }
  EXPECT_TRUE(closed) << Describe(found);
}

TEST(DetectorSetTest, StepTimeRegressionIsInverse) {
  auto pts = Throughput(600, 250, 0.01, 20);
  for (int s = 400; s < 600; ++s) pts[s].value *= 1.08;  // 8% slower steps
  DetectorSet set{DetectConfig{}};
  auto found = Feed(&set, "step_time_ms", pts);
  auto tr = New(found, FindingKind::kThroughputRegression);
  ASSERT_EQ(tr.size(), 1u) << Describe(found);
  EXPECT_NEAR(tr[0].Get("short_median"), 270, 5);  // reported in the series' units
  EXPECT_NEAR(tr[0].Get("long_median"), 250, 3);

  auto small = Throughput(600, 250, 0.01, 21);
  for (int s = 400; s < 600; ++s) small[s].value *= 1.02;  // within the 4% tolerance
  DetectorSet quiet{DetectConfig{}};
  EXPECT_TRUE(Feed(&quiet, "step_time_ms", small).empty());
}

TEST(DetectorSetTest, MemoryGrowth) {
  std::mt19937_64 rng(22);
  std::normal_distribution<double> n(0, 1);
  std::vector<Point> leak, flat;
  for (int64_t s = 0; s < 600; ++s) {
    double startup = s < 5 ? 0.2 * (s + 1) : 1.0;  // allocation at start-up, then steady
    flat.push_back({s, 0, 40e9 * startup + 1e7 * n(rng)});
    leak.push_back(
        {s, 0, 40e9 * startup * (1 + 0.001 * std::max<int64_t>(0, s - 100)) + 1e7 * n(rng)});
  }
  DetectorSet a{DetectConfig{}};
  auto f_flat = Feed(&a, "gpu_mem", flat);
  EXPECT_TRUE(f_flat.empty()) << Describe(f_flat);
  DetectorSet b{DetectConfig{}};
  auto found = Feed(&b, "gpu_mem", leak);
  auto m = New(found, FindingKind::kMemoryGrowth);
  ASSERT_EQ(m.size(), 1u) << Describe(found);
  EXPECT_GT(m[0].Get("slope_per_step"), 2e7);  // a window average; the leak is 4e7 per step
  EXPECT_LT(m[0].Get("slope_per_step"), 5e7);
  EXPECT_GE(m[0].Get("growth"), 0.1);
}

TEST(DetectorSetTest, RewindForgetsOpenEpisodes) {
  auto pts = Decay(3000, 0.01, 5, 23);
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  for (int s = 0; s < 2000; ++s) set.Observe("loss", pts[s], &out);
  set.Observe("loss", {2000, 0, pts[2000].value * 3}, &out);  // spike, episode open
  set.Observe("loss", {2001, 0, kNaN}, &out);                 // nan run open
  ASSERT_EQ(out.size(), 2u);
  // The attempt is restarted from a checkpoint at step 1900: no closing reports for what the
  // restart abandoned, and detection goes on with the learned baseline.
  for (int s = 1900; s < 2500; ++s) set.Observe("loss", pts[s], &out);
  EXPECT_EQ(out.size(), 2u) << Describe(out);
  set.Observe("loss", {2500, 0, pts[2500].value * 3}, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].step_lo, 2500);

  set.Observe("loss", {2501, 0, pts[2501].value * 3}, &out);
  set.OnRestart();
  set.Observe("loss", {2502, 0, pts[2502].value}, &out);
  EXPECT_EQ(out.size(), 3u) << Describe(out);
}

// Issue 15 (2a): after a rollback the detectors are rebuilt from the points that survive it; the
// abandoned future is no baseline. Here the abandoned attempt went on to half the loss (a future
// that is thrown away); judged against it, the resumed attempt's normal loss would be a spike.
TEST(DetectorSetTest, RewindToRebuildsFromTheSurvivingPoints) {
  auto pts = Decay(2000, 0.01, 5, 29);
  std::vector<Finding> out;
  for (bool rewind : {true, false}) {
    DetectorSet set{DetectConfig{}};
    out.clear();
    for (int s = 0; s <= 1500; ++s) set.Observe("loss", pts[s], &out);
    for (int s = 1501; s < 1800; ++s) set.Observe("loss", {s, 0, pts[s].value * 0.5}, &out);
    ASSERT_TRUE(New(out, FindingKind::kLossSpike).empty()) << Describe(out);
    out.clear();
    if (rewind) {
      set.RewindTo(1500);
    } else {
      set.OnRestart();  // the old behaviour: the abandoned future stays the baseline
    }
    for (int s = 1501; s < 2000; ++s) set.Observe("loss", pts[s], &out);
    if (rewind) {
      EXPECT_TRUE(out.empty()) << Describe(out);
    } else {
      EXPECT_FALSE(New(out, FindingKind::kLossSpike).empty()) << Describe(out);
    }
  }
}

// A restart from the beginning is judged as a fresh start: the new attempt's early loss (10.8 at
// step 0) is not a spike against the old attempt's late baseline (~3.5).
TEST(DetectorSetTest, StartFreshForgetsTheAbandonedAttempt) {
  auto pts = Decay(1000, 0.01, 5, 31);
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  for (const Point& p : pts) set.Observe("train/loss", p, &out);
  ASSERT_TRUE(out.empty()) << Describe(out);
  set.StartFresh();
  for (int s = 0; s < 300; ++s) set.Observe("train/loss", pts[s], &out);
  EXPECT_TRUE(out.empty()) << Describe(out);

  // The same with only OnRestart: "a spike at step 0".
  DetectorSet old{DetectConfig{}};
  for (const Point& p : pts) old.Observe("train/loss", p, &out);
  old.OnRestart();
  for (int s = 0; s < 10; ++s) old.Observe("train/loss", pts[s], &out);
  EXPECT_FALSE(New(out, FindingKind::kLossSpike).empty());
}

// The replay reports nothing, and the ring is bounded: a rewind far back in a long series keeps
// only what the ring holds.
TEST(DetectorSetTest, RewindToReplaysSilently) {
  auto pts = Decay(6000, 0.01, 5, 37);
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  for (int s = 0; s < 6000; ++s) set.Observe("loss", pts[s], &out);
  set.Observe("loss", {6000, 0, kNaN}, &out);
  ASSERT_EQ(out.size(), 1u);
  set.RewindTo(5999);
  EXPECT_EQ(out.size(), 1u);
  set.Observe("loss", {6000, 0, pts[5999].value}, &out);
  EXPECT_EQ(out.size(), 1u) << Describe(out);  // no closing update for the abandoned NaN
  set.RewindTo(10);  // older than the ring: no point survives, a fresh start
  for (int s = 11; s < 200; ++s) set.Observe("loss", pts[s], &out);
  EXPECT_EQ(out.size(), 1u) << Describe(out);
}

TEST(DetectorSetTest, ClassifiesEachKeyOnce) {
  DetectorSet set{DetectConfig{}};
  EXPECT_EQ(set.ClassOf("train/loss"), SeriesClass::kLoss);
  EXPECT_EQ(set.ClassOf("lr"), SeriesClass::kOther);
  std::vector<Finding> out;
  set.Observe("train/loss", {1, 0, 1.0}, &out);
  set.Observe("lr", {1, 0, 1.0}, &out);
  EXPECT_EQ(set.series_count(), 2u);
  for (int i = 0; i < 300; ++i) set.Observe("key" + std::to_string(i), {1, 0, 1.0}, &out);
  EXPECT_EQ(set.series_count(), 302u);
  EXPECT_EQ(set.ClassOf("train/loss"), SeriesClass::kLoss);
  EXPECT_EQ(set.series_count(), 302u);
}

}  // namespace
}  // namespace inloop::detect
