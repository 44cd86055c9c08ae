// Scaling fit: points from a known power law, exact and with small noise; the estimates, their
// Jacobian standard errors, the t quantile and the prediction at the next scale checked against
// reference.py (stdlib Python: Levenberg-Marquardt in C's own units, bisection on the t CDF).
#include "insights/scaling_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "insights/reference.h"

namespace inloop::insights {
namespace {

using testing::Gaussian;
using testing::JsonArray;
using testing::Reference;

// Chinchilla-like: L(C) = 1.69 + 400 * C^-0.15 over C from 1e17 to 1e21 FLOPs.
constexpr double kA = 400, kB = 0.15, kC = 1.69;
double Law(double c) { return kC + kA * std::pow(c, -kB); }

std::vector<double> Compute(int n) {
  std::vector<double> x;
  for (int i = 0; i < n; ++i) x.push_back(1e17 * std::pow(1e4, i / (n - 1.0)));
  return x;
}

TEST(ScalingFitTest, RecoversAnExactPowerLaw) {
  std::vector<double> x = Compute(8), y;
  for (double c : x) y.push_back(Law(c));
  ScalingFitResult r;
  ASSERT_TRUE(FitScaling(x, y, ScalingOptions(), &r).ok());
  EXPECT_NEAR(r.fit.b, kB, 1e-6);
  EXPECT_NEAR(r.fit.a, kA, 1e-4 * kA);
  EXPECT_NEAR(r.fit.c, kC, 1e-6);
  EXPECT_DOUBLE_EQ(r.at, 1e22);
  EXPECT_TRUE(r.at_default);
  EXPECT_NEAR(r.predicted, Law(1e22), 1e-7);
  EXPECT_NEAR(r.r2, 1, 1e-12);
}

TEST(ScalingFitTest, NoisyPointsMatchTheReferenceAndCoverTheTruth) {
  stats::Rng rng(7);
  std::vector<double> x = Compute(12), y;
  for (double c : x) y.push_back(Law(c) + 0.01 * Gaussian(rng));
  ScalingOptions o;
  o.at = 5e21;
  ScalingFitResult r;
  ASSERT_TRUE(FitScaling(x, y, o, &r).ok());
  EXPECT_EQ(r.n, 12);
  EXPECT_EQ(r.df, 9);
  EXPECT_FALSE(r.at_default);
  // The generating exponent lies in its 95% interval, and the interval is not vacuous.
  EXPECT_LE(r.b.lo, kB);
  EXPECT_GE(r.b.hi, kB);
  EXPECT_LT(r.b.hi - r.b.lo, 0.2);

  auto ref = Reference("fit pow", fmt::format(R"({{"x": {}, "y": {}, "at": 5e21}})", JsonArray(x),
                                              JsonArray(y)));
  ASSERT_EQ(ref.size(), 8u) << "reference.py failed";
  EXPECT_NEAR(r.fit.a, ref[0], 1e-3 * ref[0]);
  EXPECT_NEAR(r.fit.b, ref[1], 1e-4 * ref[1]);
  EXPECT_NEAR(r.fit.c, ref[2], 1e-4 * ref[2]);
  EXPECT_NEAR(r.fit.se_a, ref[3], 1e-2 * ref[3]);
  EXPECT_NEAR(r.fit.se_b, ref[4], 1e-3 * ref[4]);
  EXPECT_NEAR(r.fit.se_c, ref[5], 1e-3 * ref[5]);
  EXPECT_NEAR(r.predicted, ref[7], 1e-6);
  auto tq = Reference("tquantile", R"({"p": 0.975, "df": 9})");
  ASSERT_EQ(tq.size(), 1u);
  EXPECT_NEAR(r.t_quantile, tq[0], 1e-6);
  EXPECT_NEAR(r.b.hi - r.fit.b, tq[0] * ref[4], 1e-3 * tq[0] * ref[4]);
  // The curve interval sits inside the prediction interval for one new run.
  EXPECT_LT(r.predicted_pi.lo, r.predicted_ci.lo);
  EXPECT_GT(r.predicted_pi.hi, r.predicted_ci.hi);
  EXPECT_LT(r.predicted_ci.lo, r.predicted);
  EXPECT_GT(r.predicted_ci.hi, r.predicted);
}

TEST(ScalingFitTest, NeedsFourRunsAndPositiveScales) {
  std::vector<double> x = {1e18, 1e19, 1e20}, y = {3, 2.5, 2.2};
  ScalingFitResult r;
  EXPECT_EQ(FitScaling(x, y, ScalingOptions(), &r).code(), Status::Code::kInvalid);
  x.push_back(-1);
  y.push_back(2.1);
  EXPECT_EQ(FitScaling(x, y, ScalingOptions(), &r).code(), Status::Code::kInvalid);
  x.back() = 1e21;
  ScalingOptions o;
  o.at = 0;
  EXPECT_EQ(FitScaling(x, y, o, &r).code(), Status::Code::kInvalid);
}

}  // namespace
}  // namespace inloop::insights
