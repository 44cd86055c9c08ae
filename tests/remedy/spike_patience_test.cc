// remedy/spike_patience: a spike that heals within the patience is let go, one that does not
// gets its remedy; the pre-spike level and band; points seen before the spike was held.
#include "remedy/spike_patience.h"

#include <gtest/gtest.h>

#include <cmath>

namespace inloop::remedy {
namespace {

// A slowly falling loss with a little noise: 2.5, 2.49, ... (+-0.01).
double Level(int64_t step) { return 2.5 - 0.001 * static_cast<double>(step) + 0.01 * (step % 2); }

void Feed(SpikePatience* p, int64_t from, int64_t to, std::vector<SpikeVerdict>* out) {
  for (int64_t s = from; s <= to; ++s) p->Observe("loss", s, Level(s), out);
}

TEST(SpikePatienceTest, SingleStepSpikeHealsOnTheNextPoint) {
  SpikePatience p(3);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 4 * Level(41), &v);  // x4 for one step
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(p.holding("loss"));
  p.Observe("loss", 42, Level(42), &v);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, SpikeVerdict::Kind::kHealed);
  EXPECT_EQ(v[0].onset, 41);
  EXPECT_EQ(v[0].step, 42);
  EXPECT_EQ(v[0].points, 1);
  EXPECT_NEAR(v[0].level, Level(36), 0.02);
  EXPECT_NEAR(v[0].peak, 4 * Level(41), 1e-12);
  // Band: the level plus max(3 x noise, 5%); the noise here is ~0.01, so 5% wins.
  EXPECT_NEAR(v[0].band, v[0].level * 1.05, 1e-9);
  EXPECT_FALSE(p.holding("loss"));
}

TEST(SpikePatienceTest, SpikeThatStaysUpPersistsAfterThePatience) {
  SpikePatience p(3);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 10.0, &v);
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  p.Observe("loss", 42, 5.0, &v);
  p.Observe("loss", 43, 4.0, &v);
  EXPECT_TRUE(v.empty());
  p.Observe("loss", 44, 3.5, &v);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, SpikeVerdict::Kind::kPersisted);
  EXPECT_EQ(v[0].onset, 41);
  EXPECT_EQ(v[0].step, 44);
  EXPECT_EQ(v[0].points, 3);
  EXPECT_DOUBLE_EQ(v[0].peak, 10.0);
}

TEST(SpikePatienceTest, NoisySeriesGetsAWiderBand) {
  SpikePatience p(2);
  std::vector<SpikeVerdict> v;
  // Alternating 2.0 / 2.4: level 2.2, noise 0.4, band 2.2 + 1.2 = 3.4 (> 5%).
  for (int64_t s = 1; s <= 20; ++s) p.Observe("loss", s, s % 2 ? 2.0 : 2.4, &v);
  p.Observe("loss", 21, 9.0, &v);
  ASSERT_TRUE(p.Hold("loss", 21, &v));
  p.Observe("loss", 22, 3.3, &v);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, SpikeVerdict::Kind::kHealed);
  EXPECT_NEAR(v[0].band, 3.4, 1e-9);
}

TEST(SpikePatienceTest, PointsBeforeTheHoldAreJudged) {
  SpikePatience p(3);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 10.0, &v);
  p.Observe("loss", 42, Level(42), &v);  // arrived in the same read as the spike
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, SpikeVerdict::Kind::kHealed);
  EXPECT_EQ(v[0].step, 42);
}

TEST(SpikePatienceTest, ZeroPatienceActsAtOnce) {
  SpikePatience p(0);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 10.0, &v);
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, SpikeVerdict::Kind::kPersisted);
  EXPECT_FALSE(p.holding_any());
}

TEST(SpikePatienceTest, OneHeldSpikePerSeriesAndForget) {
  SpikePatience p(3);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 10.0, &v);
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  EXPECT_FALSE(p.Hold("loss", 41, &v));
  EXPECT_TRUE(p.holding_any());
  p.Forget();
  EXPECT_FALSE(p.holding_any());
  p.Observe("loss", 42, 10.0, &v);
  p.Observe("loss", 43, 10.0, &v);
  p.Observe("loss", 44, 10.0, &v);
  EXPECT_TRUE(v.empty());
}

TEST(SpikePatienceTest, NonFiniteValuesAreNotJudgedAndRewindStartsOver) {
  SpikePatience p(2);
  std::vector<SpikeVerdict> v;
  Feed(&p, 1, 40, &v);
  p.Observe("loss", 41, 10.0, &v);
  ASSERT_TRUE(p.Hold("loss", 41, &v));
  p.Observe("loss", 42, std::nan(""), &v);  // the non-finite finding has its own remedy
  EXPECT_TRUE(v.empty());
  p.Observe("loss", 30, 2.0, &v);  // a restarted attempt rewound the steps
  EXPECT_FALSE(p.holding("loss"));
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace inloop::remedy
