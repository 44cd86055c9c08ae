// Goodput on hand-built runs: ETTR, lost steps and time, time to detect and MTTR, each derived by
// hand in the comments and, for ETTR, recomputed by a second method (per attempt: a point survives
// when no later attempt restarted at or before its step).
#include "report/goodput.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <map>

namespace inloop::report {
namespace {

// Productive time by attempts: each attempt's points in order; a point of attempt k survives when
// every later attempt starts at a step above it; its time is since the previous point of its
// attempt (or the attempt's start).
double ProductiveByAttempts(const std::vector<std::pair<double, std::vector<Point>>>& attempts) {
  double total = 0;
  for (size_t k = 0; k < attempts.size(); ++k) {
    int64_t first_later = INT64_MAX;
    for (size_t j = k + 1; j < attempts.size(); ++j)
      if (!attempts[j].second.empty()) first_later = std::min(first_later, attempts[j].second.front().step);
    double prev = attempts[k].first;
    for (const Point& p : attempts[k].second) {
      if (p.step < first_later) total += p.wall_time - prev;
      prev = p.wall_time;
    }
  }
  return total;
}

TEST(GoodputTest, RollbackAfterANaN) {
  // Attempt 1 starts at 1000 and logs steps 1..50 at 1000 + s; the loss is NaN from step 45
  // (1045); the supervisor acts at 1050.5 and restarts from the step-40 checkpoint. Attempt 2
  // starts at 1060 and logs steps 41..80 at 1060 + (s - 40); the run ends at 1100.
  std::vector<Point> a1, a2;
  for (int s = 1; s <= 50; ++s) a1.push_back({s, 1000.0 + s, s >= 45 ? NAN : 3.0});
  for (int s = 41; s <= 80; ++s) a2.push_back({s, 1060.0 + (s - 40), 2.0});
  GoodputInput in;
  in.started_at = 1000;
  in.ended_at = 1100;
  in.attempt_starts = {1000, 1060};
  in.points = a1;
  in.points.insert(in.points.end(), a2.begin(), a2.end());
  in.faults.push_back({"nonfinite", 45, 1050.5, 41, 1060});
  Goodput g = ComputeGoodput(in);
  // Survivors: steps 1..40 of attempt 1 (40 s) and 41..80 of attempt 2 (40 s): 80 of 100 s.
  EXPECT_DOUBLE_EQ(g.wall_seconds, 100);
  EXPECT_DOUBLE_EQ(g.productive_seconds, 80);
  EXPECT_DOUBLE_EQ(g.productive_seconds, ProductiveByAttempts({{1000, a1}, {1060, a2}}));
  EXPECT_DOUBLE_EQ(g.ettr, 0.8);
  EXPECT_EQ(g.steps_survived, 80);
  ASSERT_EQ(g.faults.size(), 1u);
  const FaultCost& c = g.faults[0];
  EXPECT_DOUBLE_EQ(c.fault_at, 1045);       // the first point at step 45
  EXPECT_DOUBLE_EQ(c.time_to_detect, 5.5);  // 1050.5 - 1045
  EXPECT_EQ(c.lost_steps, 10);              // 41..50 run twice
  EXPECT_DOUBLE_EQ(c.lost_seconds, 20);     // step 41 first at 1041, again at 1061
  ASSERT_TRUE(c.mttr.has_value());
  EXPECT_DOUBLE_EQ(*c.mttr, 20);            // step 45 again at 1065: 1065 - 1045
  EXPECT_EQ(g.lost_steps, 10);
  EXPECT_DOUBLE_EQ(*g.mttr, 20);
  EXPECT_DOUBLE_EQ(*g.mean_time_to_detect, 5.5);
  std::string text = GoodputText(g);
  EXPECT_NE(text.find("ETTR 80.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("1 fault: 10 steps"), std::string::npos) << text;

  JsonWriter w;
  WriteGoodputJson(g, &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc));
  double ettr = 0;
  ASSERT_FALSE(doc["ettr"].get(ettr));
  EXPECT_DOUBLE_EQ(ettr, 0.8);
  int64_t lost = 0;
  ASSERT_FALSE(doc["faults"].at(0)["lost_steps"].get(lost));
  EXPECT_EQ(lost, 10);
}

TEST(GoodputTest, CrashResumedFromTheLastCheckpoint) {
  // Attempt 1 (from 0) logs steps 1..30 every 2 s (step s at 2s), crashes after step 30; the
  // supervisor acts at 61, resumes from the step-30 checkpoint; attempt 2 starts at 65 and logs
  // 31..40 at 65 + 2 (s - 30); the run ends at 85.
  std::vector<Point> a1, a2;
  for (int s = 1; s <= 30; ++s) a1.push_back({s, 2.0 * s, 1.0});
  for (int s = 31; s <= 40; ++s) a2.push_back({s, 65.0 + 2 * (s - 30), 1.0});
  GoodputInput in;
  in.started_at = 0;
  in.ended_at = 85;
  in.attempt_starts = {0, 65};
  in.points = a1;
  in.points.insert(in.points.end(), a2.begin(), a2.end());
  in.faults.push_back({"segfault", 30, 61, 31, 65});
  Goodput g = ComputeGoodput(in);
  // Every point survives: 60 s + 20 s of 85 s.
  EXPECT_DOUBLE_EQ(g.productive_seconds, 80);
  EXPECT_DOUBLE_EQ(g.productive_seconds, ProductiveByAttempts({{0, a1}, {65, a2}}));
  EXPECT_DOUBLE_EQ(g.ettr, 80.0 / 85);
  ASSERT_EQ(g.faults.size(), 1u);
  const FaultCost& c = g.faults[0];
  EXPECT_DOUBLE_EQ(c.fault_at, 60);        // last seen healthy at step 30
  EXPECT_DOUBLE_EQ(c.time_to_detect, 1);   // 61 - 60
  EXPECT_EQ(c.lost_steps, 0);              // nothing past the checkpoint was abandoned
  EXPECT_DOUBLE_EQ(c.lost_seconds, 6);     // the action at 61 to step 31 at 67
  ASSERT_TRUE(c.mttr.has_value());
  EXPECT_DOUBLE_EQ(*c.mttr, 7);            // step 31 (>= 30) at 67: 67 - 60
}

TEST(GoodputTest, CleanRunAndEmptyInput) {
  GoodputInput in;
  in.started_at = 10;
  in.ended_at = 20;
  in.attempt_starts = {10};
  for (int s = 0; s < 8; ++s) in.points.push_back({s, 11.0 + s, 1.0});
  Goodput g = ComputeGoodput(in);
  EXPECT_DOUBLE_EQ(g.productive_seconds, 8);  // 10 -> 18
  EXPECT_DOUBLE_EQ(g.ettr, 0.8);
  EXPECT_TRUE(g.faults.empty());
  EXPECT_FALSE(g.mttr.has_value());
  EXPECT_NE(GoodputText(g).find("no fault cost any step"), std::string::npos);
  Goodput none = ComputeGoodput(GoodputInput{});
  EXPECT_EQ(none.ettr, 0);
  EXPECT_EQ(none.steps_survived, 0);
}

}  // namespace
}  // namespace inloop::report
