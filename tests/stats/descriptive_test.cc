// Descriptive statistics against numpy on fixed data.
#include "stats/descriptive.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace inloop::stats {
namespace {

// import numpy as np, math
// x = np.array([2.5, 3.1, 4.7, 1.2, 5.5, 3.3, 2.8, 4.1])
// x.mean(), x.var(ddof=1), x.std(ddof=1), x.std(ddof=1)/math.sqrt(len(x))
//   -> 3.4 1.8142857142857143 1.3469542361512192 0.4762202371652367
const std::vector<double> kX = {2.5, 3.1, 4.7, 1.2, 5.5, 3.3, 2.8, 4.1};

TEST(DescriptiveTest, MatchesNumpy) {
  EXPECT_NEAR(Mean(kX), 3.4, 1e-14);
  EXPECT_NEAR(SampleVariance(kX), 1.8142857142857143, 1e-14);
  EXPECT_NEAR(SampleSd(kX), 1.3469542361512192, 1e-14);
  EXPECT_NEAR(StdError(kX), 0.4762202371652367, 1e-14);
}

TEST(DescriptiveTest, TooFewObservationsAreNaN) {
  std::vector<double> one = {1.0};
  EXPECT_TRUE(std::isnan(Mean(std::vector<double>{})));
  EXPECT_TRUE(std::isnan(SampleVariance(one)));
  EXPECT_TRUE(std::isnan(StdError(one)));
  EXPECT_EQ(Mean(one), 1.0);
}

TEST(DescriptiveTest, VarianceIsStableForLargeOffsets) {
  std::vector<double> y;
  for (double v : kX) y.push_back(v + 1e9);
  EXPECT_NEAR(SampleVariance(y), 1.8142857142857143, 1e-6);
}

// cl = np.array([0,0,1,1,1,2,3,3]); e = x - x.mean(); G = 4
// s = np.array([e[cl==g].sum() for g in range(4)])
// math.sqrt(G/(G-1)*(s**2).sum())/len(x)  -> 0.24579802006254375
TEST(DescriptiveTest, ClusterRobustSeMatchesCr1Formula) {
  std::vector<int64_t> cl = {0, 0, 1, 1, 1, 2, 3, 3};
  EXPECT_NEAR(ClusterRobustSeOfMean(kX, cl), 0.24579802006254375, 1e-14);
  EXPECT_EQ(CountClusters(cl), 4);
  // Labels need not be dense or sorted.
  std::vector<int64_t> relabeled = {70, 70, -3, -3, -3, 9, 1000, 1000};
  EXPECT_NEAR(ClusterRobustSeOfMean(kX, relabeled), 0.24579802006254375, 1e-14);
}

TEST(DescriptiveTest, SingletonClustersGiveTheOrdinarySe) {
  std::vector<int64_t> cl = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_NEAR(ClusterRobustSeOfMean(kX, cl), 0.4762202371652367, 1e-14);
}

TEST(DescriptiveTest, OneClusterIsNaN) {
  std::vector<int64_t> cl(kX.size(), 5);
  EXPECT_TRUE(std::isnan(ClusterRobustSeOfMean(kX, cl)));
  EXPECT_TRUE(std::isnan(ClusterRobustSeOfMean(kX, std::vector<int64_t>{1, 2})));
}

}  // namespace
}  // namespace inloop::stats
