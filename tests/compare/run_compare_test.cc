// Run-vs-run comparison on curves with known answers (hand-derived; the Welch p-value from a
// numerical integration of Student's t density in Python, shown beside it).
#include "compare/run_compare.h"

#include <gtest/gtest.h>

#include <cmath>

namespace inloop::compare {
namespace {

Curve Line(const std::string& name, int n, const std::function<double(double)>& f) {
  Curve c;
  c.run_id = name;
  c.name = name;
  for (int i = 0; i < n; ++i) {
    c.x.push_back(i);
    c.y.push_back(f(i));
  }
  return c;
}

TEST(RunCompare, PairDifferenceAreaCrossingAndFinal) {
  // B is 0.5 above A until x=49, 0.5 below from x=50: one crossing, B leads (lower) from 50.
  Curve a = Line("a", 101, [](double x) { return 2 - x / 100; });
  Curve b = Line("b", 101, [](double x) { return 2 - x / 100 + (x < 50 ? 0.5 : -0.5); });
  CompareOptions o;
  o.grid = 101;
  CompareResult r;
  ASSERT_TRUE(Compare({a}, {b}, "loss", o, &r).ok());
  EXPECT_EQ(r.goal, Goal::kMin);
  EXPECT_EQ(r.matched, 101);
  EXPECT_NEAR(r.mean_diff, (50 * 0.5 - 51 * 0.5) / 101, 1e-12);
  EXPECT_NEAR(r.mean_abs_diff, 0.5, 1e-12);
  // Trapezoids: 49 intervals at +0.5, one from +0.5 to -0.5, 50 at -0.5.
  EXPECT_NEAR(r.area, 49 * 0.5 - 50 * 0.5, 1e-9);
  EXPECT_NEAR(r.area_abs, 49 * 0.5 + 0.5 + 50 * 0.5, 1e-9);
  EXPECT_NEAR(r.mean_gap, -0.5 / 100, 1e-9);
  EXPECT_EQ(r.leader, "b");
  EXPECT_EQ(r.crossings, 1);
  ASSERT_TRUE(r.leads_since.has_value());
  EXPECT_GE(*r.leads_since, 50);
  EXPECT_LE(*r.leads_since, 56);  // the smoothed difference crosses a few points later
  EXPECT_NEAR(r.final_diff, -0.5, 1e-12);  // mean over x in [95, 100]
  EXPECT_FALSE(r.p_value.has_value());     // one run a side: no seed variance, no test
  EXPECT_NE(r.why_no_test.find("no seed variance"), std::string::npos);
}

TEST(RunCompare, MaxGoalFlipsTheLeader) {
  Curve a = Line("a", 50, [](double x) { return x / 50; });
  Curve b = Line("b", 50, [](double x) { return x / 50 + 0.1; });
  CompareResult r;
  ASSERT_TRUE(Compare({a}, {b}, "eval/accuracy", CompareOptions{}, &r).ok());
  EXPECT_EQ(r.goal, Goal::kMax);
  EXPECT_EQ(r.leader, "b");
  EXPECT_FALSE(r.leads_since.has_value());
  CompareOptions o;
  o.goal = Goal::kMin;
  ASSERT_TRUE(Compare({a}, {b}, "eval/accuracy", o, &r).ok());
  EXPECT_EQ(r.leader, "a");
}

TEST(RunCompare, InterpolatesBAtAsPoints) {
  Curve a = Line("a", 11, [](double x) { return x; });  // x = 0..10
  Curve b;
  b.run_id = b.name = "b";
  b.x = {0, 10};
  b.y = {1, 11};  // the line y = x + 1, known only at its ends
  CompareResult r;
  ASSERT_TRUE(Compare({a}, {b}, "loss", CompareOptions{}, &r).ok());
  EXPECT_EQ(r.matched, 11);
  EXPECT_NEAR(r.mean_diff, 1, 1e-12);
  EXPECT_NEAR(r.max_abs_diff, 1, 1e-12);
}

TEST(RunCompare, GroupsGiveBandsAndAWelchTest) {
  std::vector<Curve> a, b;
  for (int k = 0; k < 3; ++k) {
    a.push_back(Line("a" + std::to_string(k), 20, [k](double) { return 0.0 + k; }));
    b.push_back(Line("b" + std::to_string(k), 20, [k](double) { return 5.0 + k; }));
  }
  CompareOptions o;
  o.grid = 10;
  CompareResult r;
  ASSERT_TRUE(Compare(a, b, "loss", o, &r).ok());
  // Band: mean 1, sd 1, half width t(0.975, 2) / sqrt(3) = 4.302653 * 0.577350.
  ASSERT_EQ(r.grid_x.size(), 10u);
  EXPECT_NEAR(r.a_mean[3], 1, 1e-12);
  EXPECT_NEAR(r.a_hi[3] - r.a_mean[3], 4.302652729749464 / std::sqrt(3.0), 1e-6);
  EXPECT_NEAR(r.b_lo[3], 6 - 4.302652729749464 / std::sqrt(3.0), 1e-6);
  // Welch on finals {0,1,2} vs {5,6,7}: diff 5, se sqrt(2/3), df 4, t = 6.1237.
  // p: 2 * integral of the t(4) density beyond 6.1237 (Simpson in Python) = 0.0036022326.
  EXPECT_NEAR(r.final_diff, 5, 1e-12);
  ASSERT_TRUE(r.p_value.has_value());
  EXPECT_EQ(r.test, "welch_t");
  EXPECT_NEAR(*r.p_value, 0.0036022326, 1e-6);
  EXPECT_NEAR(*r.ci_low, 5 - 2.7764451051977987 * std::sqrt(2.0 / 3), 1e-6);
  EXPECT_NEAR(*r.ci_high, 5 + 2.7764451051977987 * std::sqrt(2.0 / 3), 1e-6);
  EXPECT_NEAR(r.a.sd, 1, 1e-12);
}

TEST(RunCompare, DisjointRangesAreAnError) {
  Curve a = Line("a", 10, [](double x) { return x; });
  Curve b = Line("b", 10, [](double x) { return x; });
  for (auto& x : b.x) x += 100;
  CompareResult r;
  Status s = Compare({a}, {b}, "loss", CompareOptions{}, &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("share no range"), std::string::npos);
}

TEST(RunCompare, GoalGuessedFromTheKey) {
  EXPECT_EQ(GuessGoal("val_loss"), Goal::kMin);
  EXPECT_EQ(GuessGoal("eval/perplexity"), Goal::kMin);
  EXPECT_EQ(GuessGoal("eval/accuracy"), Goal::kMax);
  EXPECT_EQ(GuessGoal("reward_mean"), Goal::kMax);
}

}  // namespace
}  // namespace inloop::compare
