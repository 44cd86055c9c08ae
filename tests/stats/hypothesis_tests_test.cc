// Paired t, Welch, McNemar, sign-flip permutation, bootstrap CI and MDE against references from
// numpy, mpmath (t distribution) and math.comb (exact binomial). Script: see each comment.
#include "stats/hypothesis_tests.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "stats/descriptive.h"

namespace inloop::stats {
namespace {

// old = np.array([0.61,0.72,0.55,0.80,0.67,0.59,0.74,0.70,0.63,0.77])
// new = np.array([0.66,0.75,0.54,0.86,0.71,0.65,0.73,0.79,0.70,0.80])
// d = new - old; m = d.mean(); se = d.std(ddof=1)/math.sqrt(10); t = m/se
// p = 2*tcdf(-abs(t), 9); q = tq(0.975, 9)     # tcdf/tq: mpmath, see distributions_test.cc
//   -> m 0.041 se 0.01026861453383291 t 3.9927489599413515 p 0.0031446527017775397
//      ci 0.01777078008027613 0.06422921991972387
const std::vector<double> kOld = {0.61, 0.72, 0.55, 0.80, 0.67, 0.59, 0.74, 0.70, 0.63, 0.77};
const std::vector<double> kNew = {0.66, 0.75, 0.54, 0.86, 0.71, 0.65, 0.73, 0.79, 0.70, 0.80};

TEST(HypothesisTest, PairedTTest) {
  TTestResult r = PairedTTest(kOld, kNew);
  EXPECT_NEAR(r.mean_diff, 0.041, 1e-14);
  EXPECT_NEAR(r.se, 0.01026861453383291, 1e-14);
  EXPECT_NEAR(r.t, 3.9927489599413515, 1e-11);
  EXPECT_EQ(r.df, 9);
  EXPECT_NEAR(r.p_value, 0.0031446527017775397, 1e-12);
  EXPECT_NEAR(r.ci_low, 0.01777078008027613, 1e-12);
  EXPECT_NEAR(r.ci_high, 0.06422921991972387, 1e-12);
  // Swapping the arms flips the sign, not the p.
  TTestResult s = PairedTTest(kNew, kOld);
  EXPECT_NEAR(s.mean_diff, -0.041, 1e-14);
  EXPECT_NEAR(s.p_value, r.p_value, 1e-15);
}

TEST(HypothesisTest, ZeroSpread) {
  std::vector<double> a = {1, 2, 3}, b = {1, 2, 3}, c = {2, 3, 4};
  EXPECT_EQ(PairedTTest(a, b).p_value, 1.0);
  EXPECT_EQ(PairedTTest(a, c).p_value, 0.0);
  EXPECT_TRUE(std::isnan(PairedTTest(std::vector<double>{1}, std::vector<double>{2}).p_value));
}

// a = np.array([3.1,2.9,3.4,3.0,3.3,2.8]); b = np.array([3.6,3.2,4.1,3.9,3.5,3.8,4.4,3.7])
// va = a.var(ddof=1)/6; vb = b.var(ddof=1)/8; se = math.sqrt(va+vb)
// df = (va+vb)**2/(va**2/5+vb**2/7); t = (b.mean()-a.mean())/se; p = 2*tcdf(-abs(t), df)
//   -> diff 0.6916666666666669 se 0.1612390023319912 df 11.745138197261687
//      t 4.289698253295594 p 0.0011025288064143066 ci 0.3395097123009164 1.0438236210324172
TEST(HypothesisTest, WelchTTest) {
  std::vector<double> a = {3.1, 2.9, 3.4, 3.0, 3.3, 2.8};
  std::vector<double> b = {3.6, 3.2, 4.1, 3.9, 3.5, 3.8, 4.4, 3.7};
  WelchResult r = WelchTTest(a, b);
  EXPECT_NEAR(r.mean_diff, 0.6916666666666669, 1e-13);
  EXPECT_NEAR(r.se, 0.1612390023319912, 1e-13);
  EXPECT_NEAR(r.df, 11.745138197261687, 1e-10);
  EXPECT_NEAR(r.t, 4.289698253295594, 1e-11);
  EXPECT_NEAR(r.p_value, 0.0011025288064143066, 1e-12);
  EXPECT_NEAR(r.ci_low, 0.3395097123009164, 1e-11);
  EXPECT_NEAR(r.ci_high, 1.0438236210324172, 1e-11);
  EXPECT_EQ(r.n_baseline, 6);
  EXPECT_EQ(r.n_treatment, 8);
}

// from fractions import Fraction
// def mcn(b, c):
//     n = b+c; k = min(b,c)
//     cdf = Fraction(sum(math.comb(n,i) for i in range(k+1)), 2**n)
//     pk = Fraction(math.comb(n,k), 2**n)
//     return float(min(1, 2*cdf)), float(min(1, 2*cdf - pk))
// chi2 = max(0, abs(b-c)-1)**2/(b+c); math.erfc(math.sqrt(chi2/2))  (correction clamped at 0)
TEST(HypothesisTest, McNemar) {
  struct Case { int64_t b, c; double exact, mid, chi2, chi2_p; };
  const Case cases[] = {
      {3, 12, 0.03515625, 0.021270751953125, 4.266666666666667, 0.03886710381241724},
      {0, 5, 0.0625, 0.03125, 3.2, 0.07363827012030266},
      {7, 7, 1.0, 1.0, 0.0, 1.0},
      {40, 62, 0.037066767438560536, 0.029682214631626732, 4.323529411764706,
       0.03758888126107441},
      {1, 0, 1.0, 0.5, 0.0, 1.0},
  };
  for (const Case& c : cases) {
    McNemarResult r = McNemar(c.b, c.c);
    EXPECT_NEAR(r.p_exact, c.exact, 1e-12 * c.exact) << c.b << " " << c.c;
    EXPECT_NEAR(r.p_mid, c.mid, 1e-12 * c.mid) << c.b << " " << c.c;
    EXPECT_NEAR(r.chi2, c.chi2, 1e-13) << c.b << " " << c.c;
    EXPECT_NEAR(r.chi2_p, c.chi2_p, 1e-13) << c.b << " " << c.c;
  }
  EXPECT_EQ(McNemar(0, 0).p_exact, 1.0);
}

// Exact enumeration in Python:
// d = new - old; obs = abs(sum(d))
// k = sum(1 for s in itertools.product([1,-1], repeat=10) if abs(sum(si*x for si,x in zip(s,d)))
//         >= obs - 1e-12)   -> 8 of 1024 = 0.0078125
// clusters [0,0,1,1,2,2,3,3,4,4]: flips of the 5 cluster sums -> 2 of 32 = 0.0625
TEST(HypothesisTest, PermutationExact) {
  std::vector<double> d(kOld.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = kNew[i] - kOld[i];
  PermutationResult r = PairedPermutationTest(d, 1);
  EXPECT_TRUE(r.exact);
  EXPECT_EQ(r.flips, 1024);
  EXPECT_DOUBLE_EQ(r.p_value, 0.0078125);
  std::vector<int64_t> cl = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};
  PermutationResult c = PairedPermutationTest(d, 1, 10000, 20, cl);
  EXPECT_EQ(c.flips, 32);
  EXPECT_DOUBLE_EQ(c.p_value, 0.0625);
}

TEST(HypothesisTest, PermutationMonteCarloAgreesWithExact) {
  // Force Monte Carlo on the same data: p = (k+1)/(N+1) must be near 8/1024 and deterministic.
  std::vector<double> d(kOld.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = kNew[i] - kOld[i];
  PermutationResult r = PairedPermutationTest(d, 7, 20000, 0);
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.flips, 20000);
  EXPECT_NEAR(r.p_value, 0.0078125, 0.003);  // binomial SD of the estimate is ~0.0006
  EXPECT_EQ(PairedPermutationTest(d, 7, 20000, 0).p_value, r.p_value);
  EXPECT_NE(PairedPermutationTest(d, 8, 20000, 0).p_value, r.p_value);
}

TEST(HypothesisTest, BootstrapCiNearNormalTheory) {
  // 400 differences from a fixed pattern; with n this large the percentile interval is close to
  // mean +- 1.96 * sd * sqrt((n-1)/n) / sqrt(n) (the bootstrap uses the plug-in variance).
  std::vector<double> d;
  for (int i = 0; i < 400; ++i) d.push_back(0.1 + 0.5 * std::sin(i * 1.7) + 0.3 * ((i * 7) % 5 - 2));
  double m = Mean(d), se = SampleSd(d) * std::sqrt(399.0 / 400.0) / std::sqrt(400.0);
  BootstrapResult r = PairedBootstrapCi(d, 42, 20000);
  EXPECT_NEAR(r.ci_low, m - 1.959963984540054 * se, 0.1 * se);
  EXPECT_NEAR(r.ci_high, m + 1.959963984540054 * se, 0.1 * se);
  EXPECT_NEAR(r.se, se, 0.05 * se);
  BootstrapResult again = PairedBootstrapCi(d, 42, 20000);
  EXPECT_EQ(again.ci_low, r.ci_low);
  EXPECT_EQ(again.ci_high, r.ci_high);
}

TEST(HypothesisTest, ClusterBootstrapWidensWithCorrelatedClusters) {
  // 40 clusters of 10 identical differences: the effective sample is 40, not 400, and the
  // cluster bootstrap SE must match the CR1 SE (within resampling noise), not the naive one.
  std::vector<double> d;
  std::vector<int64_t> cl;
  for (int g = 0; g < 40; ++g)
    for (int j = 0; j < 10; ++j) {
      d.push_back(std::sin(g * 2.3) + 0.2);
      cl.push_back(g);
    }
  double cr1 = ClusterRobustSeOfMean(d, cl);
  BootstrapResult r = PairedBootstrapCi(d, 3, 20000, 0.05, cl);
  EXPECT_NEAR(r.se, cr1 * std::sqrt(39.0 / 40.0), 0.06 * cr1);
  BootstrapResult naive = PairedBootstrapCi(d, 3, 20000);
  EXPECT_LT(naive.ci_high - naive.ci_low, 0.5 * (r.ci_high - r.ci_low));
}

// (z_{0.975} + z_{0.8}):  mp.sqrt(2)*mp.erfinv(0.95) + mp.sqrt(2)*mp.erfinv(0.6)
//   -> 2.801585218112968440703300551883799628581809
TEST(HypothesisTest, MinimumDetectableEffect) {
  EXPECT_NEAR(MinimumDetectableEffect(1.0), 2.8015852181129684, 1e-13);
  EXPECT_NEAR(MinimumDetectableEffect(0.02), 0.02 * 2.8015852181129684, 1e-15);
  EXPECT_NEAR(DiscordantPairsSe(200, 30), std::sqrt(30.0) / 200, 1e-16);
}

}  // namespace
}  // namespace inloop::stats
