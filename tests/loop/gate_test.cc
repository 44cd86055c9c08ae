// The noise-aware gate: keeps a clear gain, asks for more seeds within the noise, discards no
// gain, respects the goal's direction and the margin; its false-keep rate under the null stays
// at or under alpha over many simulated rounds with a known noise.
#include "loop/gate.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace inloop::loop {
namespace {

TEST(Gate, KeepsAGainWellAboveTheNoise) {
  GateConfig c;
  GateDecision d = JudgeCandidate(c, {1.00, 1.01, 0.99}, {0.80});
  EXPECT_EQ(d.verdict, GateVerdict::kKeep) << d.reason;
  EXPECT_NEAR(d.gain, 0.20, 1e-12);
  EXPECT_NEAR(d.noise_sd, std::sqrt(0.0002 / 2), 1e-12);
  EXPECT_EQ(d.df, 2);
  EXPECT_GT(d.threshold, 0);
  EXPECT_LT(d.threshold, 0.2);
}

TEST(Gate, AsksForMoreSeedsWithinTheNoiseThenDecides) {
  GateConfig c;
  c.max_seeds = 3;
  std::vector<double> champ = {1.00, 1.02, 0.98};
  GateDecision d = JudgeCandidate(c, champ, {0.99});
  EXPECT_EQ(d.verdict, GateVerdict::kMoreSeeds) << d.reason;
  d = JudgeCandidate(c, champ, {0.99, 1.00, 0.995});
  EXPECT_EQ(d.verdict, GateVerdict::kDiscard) << d.reason;  // the bound is reached
}

TEST(Gate, DiscardsNoGainAndHonoursTheGoal) {
  GateConfig c;
  EXPECT_EQ(JudgeCandidate(c, {1.0, 1.1}, {1.2}).verdict, GateVerdict::kDiscard);
  c.minimize = false;  // accuracy: higher is better
  GateDecision d = JudgeCandidate(c, {0.50, 0.51, 0.49}, {0.70});
  EXPECT_EQ(d.verdict, GateVerdict::kKeep);
  EXPECT_NEAR(d.gain, 0.20, 1e-12);
}

TEST(Gate, WithoutANoiseEstimateOnlyTheMarginCounts) {
  GateConfig c;
  c.min_gain = 0.05;
  GateDecision d = JudgeCandidate(c, {1.0}, {0.97});
  EXPECT_FALSE(d.noise_known);
  EXPECT_EQ(d.verdict, GateVerdict::kDiscard);
  EXPECT_EQ(JudgeCandidate(c, {1.0}, {0.9}).verdict, GateVerdict::kKeep);
}

TEST(Gate, MarginAddsToTheNoiseBand) {
  GateConfig c;
  GateDecision plain = JudgeCandidate(c, {1.0, 1.01, 0.99}, {0.9});
  c.min_gain = 0.5;
  GateDecision strict = JudgeCandidate(c, {1.0, 1.01, 0.99}, {0.9});
  EXPECT_NEAR(strict.threshold - plain.threshold, 0.5, 1e-12);
  EXPECT_EQ(strict.verdict, GateVerdict::kMoreSeeds);
}

// The sequential procedure (up to max_seeds looks) under the null: false keeps <= alpha.
double FalseKeepRate(int rounds, int noise_seeds, int max_seeds, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.05);
  GateConfig c;
  c.max_seeds = max_seeds;
  int keeps = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> champ, cand;
    for (int i = 0; i < noise_seeds; ++i) champ.push_back(2.0 + noise(rng));
    for (;;) {
      cand.push_back(2.0 + noise(rng));  // the same true value: any keep is false
      GateDecision d = JudgeCandidate(c, champ, cand);
      if (d.verdict == GateVerdict::kMoreSeeds) continue;
      keeps += d.verdict == GateVerdict::kKeep;
      break;
    }
  }
  return static_cast<double>(keeps) / rounds;
}

TEST(Gate, FalseKeepRateUnderAlpha) {
  EXPECT_LE(FalseKeepRate(4000, 3, 3, 1), 0.05);
  EXPECT_LE(FalseKeepRate(4000, 2, 2, 2), 0.05);
  EXPECT_LE(FalseKeepRate(4000, 5, 1, 3), 0.05);
}

TEST(Gate, FindsARealGainOfThreeSigma) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  GateConfig c;
  int keeps = 0;
  for (int r = 0; r < 1000; ++r) {
    std::vector<double> champ, cand;
    for (int i = 0; i < 3; ++i) champ.push_back(2.0 + noise(rng));
    for (;;) {
      cand.push_back(2.0 - 0.25 + noise(rng));  // 5 sd better
      GateDecision d = JudgeCandidate(c, champ, cand);
      if (d.verdict == GateVerdict::kMoreSeeds) continue;
      keeps += d.verdict == GateVerdict::kKeep;
      break;
    }
  }
  EXPECT_GT(keeps, 500);
}

}  // namespace
}  // namespace inloop::loop
