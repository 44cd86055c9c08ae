// Normal and Student-t distribution functions against mpmath (40 digits) and Python's statistics.
#include "stats/distributions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace inloop::stats {
namespace {

// Relative closeness, for tail probabilities.
void ExpectRel(double got, double want, double rel) {
  EXPECT_NEAR(got, want, rel * std::fabs(want)) << "want " << want;
}

// import mpmath as mp; mp.mp.dps = 40; float(mp.ncdf(v)) for v in [-8, -3, -1, 0.3, 2]
TEST(DistributionsTest, NormalCdf) {
  ExpectRel(NormalCdf(-8.0), 6.220960574271784e-16, 1e-12);
  ExpectRel(NormalCdf(-3.0), 0.0013498980316300946, 1e-13);
  ExpectRel(NormalCdf(-1.0), 0.15865525393145705, 1e-14);
  ExpectRel(NormalCdf(0.3), 0.6179114221889527, 1e-14);
  ExpectRel(NormalCdf(2.0), 0.9772498680518208, 1e-14);
  ExpectRel(NormalSf(8.0), 6.220960574271784e-16, 1e-12);
}

// from statistics import NormalDist; NormalDist().inv_cdf(p)   (Wichura's AS241)
TEST(DistributionsTest, NormalQuantile) {
  ExpectRel(NormalQuantile(1e-12), -7.034483825301132, 1e-13);
  ExpectRel(NormalQuantile(1e-5), -4.2648907939228256, 1e-13);
  ExpectRel(NormalQuantile(0.025), -1.9599639845400538, 1e-13);
  ExpectRel(NormalQuantile(0.2), -0.8416212335729142, 1e-13);
  EXPECT_EQ(NormalQuantile(0.5), 0.0);
  ExpectRel(NormalQuantile(0.8), 0.8416212335729144, 1e-13);
  ExpectRel(NormalQuantile(0.975), 1.9599639845400536, 1e-13);
  ExpectRel(NormalQuantile(0.999999), 4.753424308817089, 1e-9);  // 1-p rounds at 1e-16
  EXPECT_EQ(NormalQuantile(0.0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1.0), INFINITY);
  EXPECT_TRUE(std::isnan(NormalQuantile(1.5)));
}

// mp.betainc(a, b, 0, x, regularized=True)
TEST(DistributionsTest, IncompleteBeta) {
  ExpectRel(IncompleteBetaRegularized(2.5, 0.5, 0.3), 0.018927124071945652, 1e-12);
  ExpectRel(IncompleteBetaRegularized(10, 3, 0.9), 0.88913002225500006, 1e-12);
  ExpectRel(IncompleteBetaRegularized(0.7, 4.2, 0.05), 0.33724264471292544, 1e-12);
  EXPECT_EQ(IncompleteBetaRegularized(2, 3, 0), 0.0);
  EXPECT_EQ(IncompleteBetaRegularized(2, 3, 1), 1.0);
  EXPECT_TRUE(std::isnan(IncompleteBetaRegularized(-1, 3, 0.5)));
}

// def tcdf(t, df):   # exact identity P(T < t) via the incomplete beta, 40 digits
//     t = mp.mpf(t); df = mp.mpf(df); x = df/(df+t*t)
//     tail = mp.betainc(df/2, mp.mpf(1)/2, 0, x, regularized=True)/2
//     return tail if t < 0 else 1 - tail
// Cross-checked by numerical integration of the density:
//   mp.quad(lambda s: tpdf(s, 3.7), [-mp.inf, 1.5]) -> 0.89320091539899323 (same digits).
TEST(DistributionsTest, StudentTCdf) {
  ExpectRel(StudentTCdf(-2.0, 5), 0.050969739414929178, 1e-12);
  ExpectRel(StudentTCdf(1.5, 3.7), 0.89320091539899323, 1e-12);
  ExpectRel(StudentTCdf(-40.0, 4), 1.1670081613006343e-6, 1e-11);
  ExpectRel(StudentTCdf(-6.0, 30), 6.9713843836023714e-7, 1e-11);
  ExpectRel(StudentTCdf(0.1, 1), 0.53172551743055357, 1e-12);
  ExpectRel(StudentTCdf(-1e5, 2.5), 2.2747519231756221e-13, 1e-11);
  ExpectRel(StudentTCdf(2.2, 1000), 0.98598248733665106, 1e-12);
  ExpectRel(StudentTCdf(-12.0, 12.3), 1.8726007368347615e-8, 1e-11);
  // Upper tails without cancellation, and the two-sided p.
  ExpectRel(StudentTSf(40.0, 4), 1.1670081613006343e-6, 1e-11);
  ExpectRel(StudentTTwoSidedP(-6.0, 30), 2 * 6.9713843836023714e-7, 1e-11);
  // df = 1 is Cauchy: 0.5 + atan(t)/pi (math module).
  ExpectRel(StudentTCdf(3.0, 1), 0.5 + std::atan(3.0) / std::numbers::pi, 1e-13);
  EXPECT_EQ(StudentTCdf(0.0, 7), 0.5);
  ExpectRel(StudentTCdf(1.0, INFINITY), NormalCdf(1.0), 1e-15);
}

// mp.findroot(lambda t: tcdf(t, df) - p, start)
TEST(DistributionsTest, StudentTQuantile) {
  ExpectRel(StudentTQuantile(0.975, 5), 2.5705818356363148, 1e-11);
  ExpectRel(StudentTQuantile(0.975, 29), 2.0452296421327039, 1e-11);
  ExpectRel(StudentTQuantile(0.995, 3.7), 4.8692522532278279, 1e-11);
  ExpectRel(StudentTQuantile(0.025, 12.3), -2.1729334817589625, 1e-11);
  ExpectRel(StudentTQuantile(1e-6, 7), -14.241469651981446, 1e-10);
  ExpectRel(StudentTQuantile(0.9, 2), 1.885618083164127, 1e-11);
  ExpectRel(StudentTQuantile(0.975, 1), 12.706204736174693, 1e-11);
  EXPECT_EQ(StudentTQuantile(0.5, 3), 0.0);
  EXPECT_TRUE(std::isnan(StudentTQuantile(0.5, 0)));
}

TEST(DistributionsTest, QuantileInvertsCdf) {
  for (double df : {1.5, 3.0, 9.7, 60.0, 5000.0}) {
    for (double p : {1e-9, 0.01, 0.3, 0.7, 0.999}) {
      double t = StudentTQuantile(p, df);
      double back = p < 0.5 ? StudentTCdf(t, df) : StudentTSf(t, df);
      ExpectRel(back, p < 0.5 ? p : 1 - p, 1e-9);
    }
  }
}

}  // namespace
}  // namespace inloop::stats
