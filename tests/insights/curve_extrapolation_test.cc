// Learning-curve extrapolation: family selection, exactness on noiseless curves, and calibration
// of the 90% interval over a fixed set of seeded synthetic curves with known Gaussian noise.
#include "insights/curve_extrapolation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "insights/reference.h"

namespace inloop::insights {
namespace {

using testing::Gaussian;
using testing::Uniform;

struct Synthetic {
  int family;  // 0 pow, 1 exp, 2 logpow
  double a, b, c;
  double operator()(double x) const {
    if (family == 0) return c + a * std::pow(x / 10.0, -b);
    if (family == 1) return c + a * std::exp(-b * x);
    return c + a * std::pow(std::log1p(x), -b);
  }
};

TEST(CurveExtrapolationTest, NoiselessCurveIsPredictedExactlyWithTheRightFamily) {
  Synthetic truth{1, 2.0, 0.01, 1.5};
  std::vector<double> x, y;
  for (int s = 1; s <= 200; ++s) {
    x.push_back(s);
    y.push_back(truth(s));
  }
  Extrapolation e;
  ASSERT_TRUE(ExtrapolateCurve(x, y, 600, ExtrapolationOptions(), &e).ok());
  EXPECT_EQ(e.fit.basis, Basis::kExp);
  EXPECT_NEAR(e.predicted, truth(600), 1e-6);
  EXPECT_LE(e.lo, e.predicted);
  EXPECT_GE(e.hi, e.predicted);
  EXPECT_LT(e.hi - e.lo, 1e-4);
  ASSERT_EQ(e.trials.size(), 3u);
  EXPECT_EQ(e.points_used, 200);
  EXPECT_EQ(e.holdout_points, 40);
}

TEST(CurveExtrapolationTest, IntervalWidensWithTheDistance) {
  stats::Rng rng(5);
  Synthetic truth{0, 1.0, 0.4, 2.0};
  std::vector<double> x, y;
  for (int s = 1; s <= 150; ++s) {
    x.push_back(s);
    y.push_back(truth(s) + 0.01 * Gaussian(rng));
  }
  Extrapolation near, far;
  ASSERT_TRUE(ExtrapolateCurve(x, y, 200, ExtrapolationOptions(), &near).ok());
  ASSERT_TRUE(ExtrapolateCurve(x, y, 2000, ExtrapolationOptions(), &far).ok());
  EXPECT_LT(near.hi - near.lo, far.hi - far.lo);
}

// Over 300 seeded curves (the family, parameters, noise level, observed length and horizon all
// drawn at random), the 90% interval must cover the value logged at the horizon between 80% and
// 98% of the time. A statistical property over a fixed seed set: deterministic.
TEST(CurveExtrapolationTest, NinetyPercentIntervalIsCalibrated) {
  int covered = 0, total = 0;
  int chosen_right = 0;
  for (int seed = 0; seed < 300; ++seed) {
    stats::Rng r(1000 + seed);
    Synthetic truth;
    truth.family = static_cast<int>(r.Below(3));
    int observed = 100 + static_cast<int>(r.Below(200));
    double horizon = observed * (2 + 2 * Uniform(r));
    truth.c = 1 + 2 * Uniform(r);
    truth.a = 0.5 + 2 * Uniform(r);
    double sigma = 0.005 + 0.02 * Uniform(r);
    if (truth.family == 0) truth.b = 0.2 + 0.8 * Uniform(r);
    else if (truth.family == 1) truth.b = (1 + 3 * Uniform(r)) / observed;
    else truth.b = 0.5 + 2 * Uniform(r);
    std::vector<double> x, y;
    for (int s = 1; s <= observed; ++s) {
      x.push_back(s);
      y.push_back(truth(s) + sigma * Gaussian(r));
    }
    double logged = truth(horizon) + sigma * Gaussian(r);
    Extrapolation e;
    ASSERT_TRUE(ExtrapolateCurve(x, y, horizon, ExtrapolationOptions(), &e).ok()) << seed;
    EXPECT_EQ(e.level, 0.9);
    total++;
    covered += logged >= e.lo && logged <= e.hi;
    chosen_right += static_cast<int>(e.fit.basis) == truth.family;
  }
  double coverage = static_cast<double>(covered) / total;
  EXPECT_GE(coverage, 0.80) << covered << "/" << total;
  EXPECT_LE(coverage, 0.98) << covered << "/" << total;
  EXPECT_GE(chosen_right, 240) << "the held-out error should usually pick the generating family";
}

TEST(CurveExtrapolationTest, ThinsLongCurvesKeepingTheLastPoint) {
  std::vector<double> x, y;
  for (int s = 1; s <= 5000; ++s) {
    x.push_back(s);
    y.push_back(1 + 3 * std::pow(s, -0.3));
  }
  Extrapolation e;
  ExtrapolationOptions o;
  o.max_points = 100;
  ASSERT_TRUE(ExtrapolateCurve(x, y, 20000, o, &e).ok());
  EXPECT_EQ(e.points_used, 100);
  EXPECT_EQ(e.last_x, 5000);
  EXPECT_NEAR(e.predicted, 1 + 3 * std::pow(20000, -0.3), 1e-6);
}

TEST(CurveExtrapolationTest, RejectsWhatItCannotUse) {
  std::vector<double> x = {1, 2, 3, 4, 5}, y = {5, 4, 3.5, 3.2, 3};
  Extrapolation e;
  EXPECT_EQ(ExtrapolateCurve(x, y, 10, ExtrapolationOptions(), &e).code(), Status::Code::kInvalid);
  std::vector<double> x2, y2;
  for (int s = 1; s <= 20; ++s) {
    x2.push_back(s);
    y2.push_back(1.0 / s);
  }
  EXPECT_EQ(ExtrapolateCurve(x2, y2, 20, ExtrapolationOptions(), &e).code(), Status::Code::kInvalid);
  y2[3] = NAN;
  EXPECT_EQ(ExtrapolateCurve(x2, y2, 40, ExtrapolationOptions(), &e).code(), Status::Code::kInvalid);
  y2[3] = 0.25;
  x2[0] = 0;
  EXPECT_EQ(ExtrapolateCurve(x2, y2, 40, ExtrapolationOptions(), &e).code(), Status::Code::kInvalid);
}

}  // namespace
}  // namespace inloop::insights
