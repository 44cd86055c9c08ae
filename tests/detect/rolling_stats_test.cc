// SortedWindow and BlockHistory against naive recomputation over random streams with ties.
#include "detect/rolling_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <vector>

namespace inloop::detect {
namespace {

double NaiveMedian(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double NaiveMad(const std::vector<double>& v) {
  double m = NaiveMedian(v);
  std::vector<double> d;
  for (double x : v) d.push_back(std::fabs(x - m));
  return NaiveMedian(d);
}

TEST(SortedWindowTest, MatchesNaiveWithTiesAndEviction) {
  for (int cap : {1, 2, 3, 7, 128, 131}) {
    SortedWindow w(cap);
    std::deque<double> ref;
    std::mt19937_64 rng(cap);
    std::uniform_int_distribution<int> small(0, 9);  // many ties
    std::normal_distribution<double> normal(0, 1);
    for (int i = 0; i < 3000; ++i) {
      double v = i % 3 == 0 ? small(rng) : normal(rng) * 5;
      w.Push(v);
      ref.push_back(v);
      if (static_cast<int>(ref.size()) > cap) ref.pop_front();
      std::vector<double> r(ref.begin(), ref.end());
      ASSERT_EQ(w.size(), static_cast<int>(r.size()));
      ASSERT_DOUBLE_EQ(w.Median(), NaiveMedian(r)) << "cap " << cap << " i " << i;
      ASSERT_DOUBLE_EQ(w.Mad(), NaiveMad(r)) << "cap " << cap << " i " << i;
      ASSERT_EQ(w.Newest(), v);
      std::sort(r.begin(), r.end());
      for (int k = 0; k < w.size(); ++k) ASSERT_EQ(w.Sorted(k), r[k]);
    }
  }
}

TEST(SortedWindowTest, ClearStartsOver) {
  SortedWindow w(4);
  for (double v : {5.0, 6.0, 7.0, 8.0, 9.0}) w.Push(v);
  EXPECT_TRUE(w.full());
  w.Clear();
  EXPECT_EQ(w.size(), 0);
  w.Push(1);
  w.Push(3);
  EXPECT_DOUBLE_EQ(w.Median(), 2);
  EXPECT_DOUBLE_EQ(w.Mad(), 1);
}

TEST(BlockHistoryTest, BlockMeansMatchNaive) {
  BlockHistory h(50);
  std::vector<double> all;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(10, 3);
  for (int i = 0; i < 500; ++i) {
    double v = normal(rng);
    h.Push(1000 + i, v);
    all.push_back(v);
    ASSERT_EQ(h.size(), std::min(i + 1, 50));
    for (int lag = 0; lag < h.size(); lag += 7) {
      for (int len = 1; lag + len <= h.size(); len += 5) {
        double sum = 0;
        for (int k = 0; k < len; ++k) sum += all[all.size() - 1 - lag - k];
        ASSERT_NEAR(h.Mean(lag, len), sum / len, 1e-9);
      }
      ASSERT_EQ(h.StepAt(lag), 1000 + i - lag);
    }
  }
  h.Clear();
  EXPECT_EQ(h.size(), 0);
  h.Push(1, 4);
  h.Push(2, 6);
  EXPECT_DOUBLE_EQ(h.Mean(0, 2), 5);
}

}  // namespace
}  // namespace inloop::detect
