// StragglerDetector replayed over synthetic multi-rank step times: a steady straggler, noise that
// must not report, hysteresis (one finding per episode, a closing update, re-arming), a rank that
// speeds up, resets, hosts, the window = 0 switch, and the config's validation.
#include "detect/straggler_detector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "stats/rng.h"

namespace inloop::detect {
namespace {

double U(stats::Rng& rng) { return static_cast<double>(rng.Next() >> 11) * 0x1.0p-53; }

// Replays `steps` steps of `ranks` ranks in rank order per step; `time(rank, step)` gives the
// step time. Returns every finding.
std::vector<Finding> Replay(StragglerDetector* d, int ranks, int64_t first, int64_t steps,
                            const std::function<double(int, int64_t)>& time) {
  std::vector<Finding> out;
  for (int64_t s = first; s < first + steps; ++s) {
    for (int r = 0; r < ranks; ++r) d->Observe(r, s, time(r, s), static_cast<double>(s), &out);
  }
  return out;
}

TEST(StragglerDetectorTest, SteadyStragglerIsReportedOnceWithRankAndHost) {
  DetectConfig c;
  StragglerDetector d(c);
  d.SetHost(2, "node-07");
  auto f = Replay(&d, 4, 1, 200, [](int r, int64_t) { return r == 2 ? 0.15 : 0.10; });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, FindingKind::kStraggler);
  EXPECT_EQ(FindingKindName(f[0].kind), "straggler");
  EXPECT_FALSE(f[0].is_update);
  EXPECT_EQ(f[0].rank, 2);
  EXPECT_EQ(f[0].host, "node-07");
  EXPECT_EQ(f[0].series, "rank/2/step_time");
  // Reported after min_points steps plus the sustain (the first slow step opens the run).
  EXPECT_EQ(f[0].step_lo, c.straggler_min_points);
  EXPECT_EQ(f[0].step_hi, c.straggler_min_points + c.straggler_sustain - 1);
  EXPECT_NEAR(f[0].Get("ratio"), 1.5, 1e-9);
  EXPECT_NEAR(f[0].Get("median_step_time"), 0.15, 1e-12);
  EXPECT_NEAR(f[0].Get("others_median"), 0.10, 1e-12);
  EXPECT_EQ(f[0].Get("ranks_compared"), 3);
  EXPECT_NE(f[0].message.find("rank 2 (node-07)"), std::string::npos) << f[0].message;
}

TEST(StragglerDetectorTest, NoiseWithinTheThresholdNeverReports) {
  DetectConfig c;
  StragglerDetector d(c);
  stats::Rng rng(7);
  // +-10% uniform jitter on every rank, spikes of 2x on random single steps.
  auto f = Replay(&d, 8, 1, 2000, [&](int, int64_t) {
    double t = 0.1 * (0.9 + 0.2 * U(rng));
    return U(rng) < 0.03 ? 2 * t : t;
  });
  EXPECT_TRUE(f.empty()) << f[0].message;
}

TEST(StragglerDetectorTest, EpisodeClosesWithAnUpdateAndReArms) {
  DetectConfig c;
  StragglerDetector d(c);
  // Rank 1 is slow over steps 1..100, keeps pace over 101..300, slow again from 301.
  auto slow = [](int r, int64_t s) {
    bool lag = r == 1 && (s <= 100 || s > 300);
    return lag ? 0.2 : 0.1;
  };
  auto f = Replay(&d, 3, 1, 400, slow);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_FALSE(f[0].is_update);
  EXPECT_TRUE(f[1].is_update);
  EXPECT_EQ(f[1].rank, 1);
  EXPECT_EQ(f[1].step_lo, f[0].step_lo);
  EXPECT_GT(f[1].step_hi, 100);
  EXPECT_NEAR(f[1].Get("ratio"), 2.0, 1e-9);  // the worst of the episode
  EXPECT_FALSE(f[2].is_update);
  EXPECT_GT(f[2].step_lo, 300);
}

TEST(StragglerDetectorTest, HysteresisHoldsAnEpisodeOpenNearTheThreshold) {
  DetectConfig c;  // threshold 0.2: opens at >= 1.2x, closes below 1.1x
  StragglerDetector d(c);
  // 1.3x for 60 steps, then hovering at 1.15x (between the two thresholds): still one episode.
  auto f = Replay(&d, 4, 1, 400,
                  [](int r, int64_t s) { return r == 3 ? (s <= 60 ? 0.13 : 0.115) : 0.1; });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_FALSE(f[0].is_update);
}

TEST(StragglerDetectorTest, ShortSlowBurstsBelowTheSustainDoNotReport) {
  DetectConfig c;
  c.straggler_window = 3;
  c.straggler_min_points = 3;
  c.straggler_sustain = 5;
  StragglerDetector d(c);
  // Rank 0 is 3x slower for 4 steps out of every 20: the window's median follows it, but never
  // for straggler_sustain steps in a row.
  auto f = Replay(&d, 2, 1, 400, [](int r, int64_t s) {
    return r == 0 && s % 20 < 4 ? 0.3 : 0.1;
  });
  EXPECT_TRUE(f.empty());
}

TEST(StragglerDetectorTest, AbsoluteFloorIgnoresTinySteps) {
  DetectConfig c;  // straggler_min_seconds 0.002
  StragglerDetector d(c);
  auto f = Replay(&d, 2, 1, 100, [](int r, int64_t) { return r == 1 ? 0.0015 : 0.001; });
  EXPECT_TRUE(f.empty());
  c.straggler_min_seconds = 0;
  StragglerDetector d2(c);
  f = Replay(&d2, 2, 1, 100, [](int r, int64_t) { return r == 1 ? 0.0015 : 0.001; });
  EXPECT_EQ(f.size(), 1u);
}

TEST(StragglerDetectorTest, OneRankAloneIsNeverAStraggler) {
  DetectConfig c;
  StragglerDetector d(c);
  auto f = Replay(&d, 1, 1, 100, [](int, int64_t s) { return s > 50 ? 1.0 : 0.1; });
  EXPECT_TRUE(f.empty());
}

TEST(StragglerDetectorTest, ResetForgetsWindowsAndOpenEpisodes) {
  DetectConfig c;
  StragglerDetector d(c);
  d.SetHost(1, "h1");
  auto f = Replay(&d, 2, 1, 50, [](int r, int64_t) { return r == 1 ? 0.3 : 0.1; });
  ASSERT_EQ(f.size(), 1u);
  d.Reset();
  // After a restart the same straggler is a new episode (reported again, host kept).
  f = Replay(&d, 2, 20, 50, [](int r, int64_t) { return r == 1 ? 0.3 : 0.1; });
  ASSERT_EQ(f.size(), 1u);
  EXPECT_FALSE(f[0].is_update);
  EXPECT_EQ(f[0].host, "h1");
  EXPECT_GE(f[0].step_lo, 20);
}

TEST(StragglerDetectorTest, WindowZeroDisablesAndBadValuesAreIgnored) {
  DetectConfig c;
  c.straggler_window = 0;
  StragglerDetector d(c);
  auto f = Replay(&d, 3, 1, 100, [](int r, int64_t) { return r == 1 ? 1.0 : 0.1; });
  EXPECT_TRUE(f.empty());
  DetectConfig c2;
  StragglerDetector d2(c2);
  f = Replay(&d2, 3, 1, 100, [](int r, int64_t) {
    return r == 1 ? std::nan("") : (r == 2 ? -1.0 : 0.1);
  });
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(d2.ranks(), 1u);
}

TEST(StragglerDetectorTest, ConfigIsValidated) {
  DetectConfig c;
  EXPECT_TRUE(ValidateDetectConfig(c).ok());
  c.straggler_min_points = c.straggler_window + 1;
  EXPECT_FALSE(ValidateDetectConfig(c).ok());
  c = DetectConfig{};
  c.straggler_threshold = 0;
  Status s = ValidateDetectConfig(c);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("straggler_threshold"), std::string::npos);
  c = DetectConfig{};
  c.straggler_window = 0;  // disabled: min_points may exceed it
  EXPECT_TRUE(ValidateDetectConfig(c).ok());
}

}  // namespace
}  // namespace inloop::detect
