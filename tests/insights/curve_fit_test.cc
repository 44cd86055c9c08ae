// curve_fit: exact recovery from noiseless curves, and on noisy ones the same least-squares
// optimum, standard errors and prediction as reference.py's Levenberg-Marquardt (stdlib Python).
#include "insights/curve_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "insights/reference.h"

namespace inloop::insights {
namespace {

using testing::Gaussian;
using testing::JsonArray;
using testing::Reference;

double Truth(Basis b, double x, double a, double bb, double c) {
  switch (b) {
    case Basis::kPower: return c + a * std::pow(x, -bb);
    case Basis::kExp: return c + a * std::exp(-bb * x);
    case Basis::kLogPower: return c + a * std::pow(std::log1p(x), -bb);
  }
  return 0;
}

struct Case {
  Basis basis;
  const char* py;
  double a, b, c;
  double x0, x1;
};
const Case kCases[] = {
    {Basis::kPower, "pow", 2.0, 0.5, 1.0, 1, 200},
    {Basis::kExp, "exp", 1.5, 0.03, 0.8, 0, 150},
    {Basis::kLogPower, "logpow", 3.0, 1.2, 0.5, 1, 300},
};

TEST(CurveFitTest, RecoversNoiselessParameters) {
  for (const Case& k : kCases) {
    std::vector<double> x, y;
    for (int i = 0; i < 60; ++i) {
      double xi = k.x0 + (k.x1 - k.x0) * i / 59.0;
      x.push_back(xi);
      y.push_back(Truth(k.basis, xi, k.a, k.b, k.c));
    }
    SeparableFit f;
    ASSERT_TRUE(FitSeparable(k.basis, x, y, &f).ok()) << BasisName(k.basis);
    EXPECT_NEAR(f.a, k.a, 1e-6 * k.a) << BasisName(k.basis);
    EXPECT_NEAR(f.b, k.b, 1e-6 * k.b) << BasisName(k.basis);
    EXPECT_NEAR(f.c, k.c, 1e-6) << BasisName(k.basis);
    EXPECT_LT(f.sse, 1e-18) << BasisName(k.basis);
    EXPECT_NEAR(Evaluate(f, 5 * k.x1), Truth(k.basis, 5 * k.x1, k.a, k.b, k.c), 1e-6);
    EXPECT_FALSE(f.b_at_bound);
  }
}

TEST(CurveFitTest, NoisyFitMatchesIndependentReference) {
  stats::Rng rng(11);
  for (const Case& k : kCases) {
    std::vector<double> x, y;
    for (int i = 0; i < 80; ++i) {
      double xi = k.x0 + (k.x1 - k.x0) * i / 79.0;
      x.push_back(xi);
      y.push_back(Truth(k.basis, xi, k.a, k.b, k.c) + 0.02 * Gaussian(rng));
    }
    double at = 4 * k.x1;
    SeparableFit f;
    ASSERT_TRUE(FitSeparable(k.basis, x, y, &f).ok());
    auto ref = Reference(std::string("fit ") + k.py,
                         fmt::format(R"({{"x": {}, "y": {}, "at": {}}})", JsonArray(x), JsonArray(y), at));
    ASSERT_EQ(ref.size(), 8u) << "reference.py failed for " << k.py;
    const char* name = BasisName(k.basis);
    EXPECT_NEAR(f.a, ref[0], 1e-4 * std::fabs(ref[0])) << name;
    EXPECT_NEAR(f.b, ref[1], 1e-4 * std::fabs(ref[1])) << name;
    EXPECT_NEAR(f.c, ref[2], 1e-4 * std::fabs(ref[2]) + 1e-6) << name;
    EXPECT_NEAR(f.se_a, ref[3], 1e-3 * ref[3]) << name;
    EXPECT_NEAR(f.se_b, ref[4], 1e-3 * ref[4]) << name;
    EXPECT_NEAR(f.se_c, ref[5], 1e-3 * ref[5]) << name;
    EXPECT_NEAR(f.sigma, ref[6], 1e-6) << name;
    EXPECT_NEAR(Evaluate(f, at), ref[7], 1e-5) << name;
    // The truth is within a few standard errors (a sanity check of the errors' scale).
    EXPECT_LT(std::fabs(f.b - k.b), 5 * f.se_b) << name;
  }
}

TEST(CurveFitTest, CurveVarianceGrowsAwayFromTheData) {
  stats::Rng rng(3);
  std::vector<double> x, y;
  for (int i = 1; i <= 100; ++i) {
    x.push_back(i);
    y.push_back(1 + 2 * std::pow(i, -0.5) + 0.01 * Gaussian(rng));
  }
  SeparableFit f;
  ASSERT_TRUE(FitSeparable(Basis::kPower, x, y, &f).ok());
  ASSERT_TRUE(f.cov_ok);
  EXPECT_LT(CurveVariance(f, 100), CurveVariance(f, 300));
  EXPECT_LT(CurveVariance(f, 300), CurveVariance(f, 3000));
}

TEST(CurveFitTest, RejectsBadInput) {
  SeparableFit f;
  std::vector<double> x = {0, 1, 2, 3}, y = {1, 2, 3, 4};
  EXPECT_EQ(FitSeparable(Basis::kPower, x, y, &f).code(), Status::Code::kInvalid);  // x = 0
  EXPECT_TRUE(FitSeparable(Basis::kExp, x, y, &f).ok());                            // x = 0 is fine
  std::vector<double> two = {1, 2}, two_y = {1, 2};
  EXPECT_EQ(FitSeparable(Basis::kExp, two, two_y, &f).code(), Status::Code::kInvalid);
  std::vector<double> same = {2, 2, 2, 2};
  EXPECT_EQ(FitSeparable(Basis::kPower, same, y, &f).code(), Status::Code::kInvalid);
  std::vector<double> nan_y = {1, NAN, 3, 4}, pos = {1, 2, 3, 4};
  EXPECT_EQ(FitSeparable(Basis::kPower, pos, nan_y, &f).code(), Status::Code::kInvalid);
  std::vector<double> short_y = {1, 2, 3};
  EXPECT_EQ(FitSeparable(Basis::kPower, pos, short_y, &f).code(), Status::Code::kInvalid);
}

TEST(CurveFitTest, FlatDataGivesAFlatCurve) {
  std::vector<double> x, y;
  for (int i = 1; i <= 20; ++i) {
    x.push_back(i);
    y.push_back(2.5);
  }
  SeparableFit f;
  ASSERT_TRUE(FitSeparable(Basis::kPower, x, y, &f).ok());
  EXPECT_NEAR(Evaluate(f, 1000), 2.5, 1e-9);
  EXPECT_FALSE(f.cov_ok);  // b is undetermined when a = 0
}

TEST(CurveFitTest, InvertsSmallMatrices) {
  // A 4x4 with a zero on the diagonal (needs pivoting); M * M^-1 = I.
  double m[16] = {0, 2, 1, 3, 4, 1, 0, 2, 1, 5, 3, 0, 2, 0, 1, 1};
  double inv[16];
  std::copy(m, m + 16, inv);
  ASSERT_TRUE(InvertInPlace(inv, 4));
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += m[r * 4 + k] * inv[k * 4 + c];
      EXPECT_NEAR(s, r == c ? 1 : 0, 1e-12);
    }
  double singular[9] = {1, 2, 3, 2, 4, 6, 1, 0, 1};
  EXPECT_FALSE(InvertInPlace(singular, 3));
}

}  // namespace
}  // namespace inloop::insights
