// The loop's pace and cost (loop/throughput.h) from hand-made rounds.
#include "loop/throughput.h"

#include "loop/loop_state.h"

#include <gtest/gtest.h>

namespace inloop::loop {
namespace {

RoundRecord R(int64_t n, const char* verdict, double start, double end, double cpu = 0,
              const char* device = "") {
  RoundRecord r;
  r.round = n;
  r.verdict = verdict;
  r.started_at = start;
  r.ended_at = end;
  r.cpu_s = cpu;
  r.device = device;
  return r;
}

TEST(Throughput, OverlappingRoundsCountTheirWallTimeOnce) {
  // Baseline 1000-1600 s, then two slots: rounds 1 and 2 overlap (1600-3400, 1900-3700), round 3
  // after a pause between two `loop run`s (11000-11900). Covered: 2700 + 900 = 3600 s = 1 h.
  std::vector<RoundRecord> rs = {R(0, kBaseline, 1000, 1600, 100),
                                 R(1, kKept, 1600, 3400, 1800),
                                 R(2, kDiscarded, 1900, 3700, 1800),
                                 R(3, kKept, 11000, 11900, 900)};
  Throughput t = ComputeThroughput(rs);
  EXPECT_EQ(t.experiments, 3);
  EXPECT_EQ(t.kept, 2);
  EXPECT_DOUBLE_EQ(t.hours, 1.0);
  EXPECT_DOUBLE_EQ(t.experiments_per_hour, 3.0);
  EXPECT_DOUBLE_EQ(t.kept_per_hour, 2.0);
  EXPECT_DOUBLE_EQ(t.cpu_hours, 4600.0 / 3600.0);
  ASSERT_TRUE(t.cpu_hours_per_kept.has_value());
  EXPECT_DOUBLE_EQ(*t.cpu_hours_per_kept, 4600.0 / 3600.0 / 2);
  EXPECT_FALSE(t.gpu_hours_per_kept.has_value());
}

TEST(Throughput, DevicesGiveGpuHoursAndInterruptedRoundsAreNoExperiments) {
  std::vector<RoundRecord> rs = {R(0, kBaseline, 1000, 1100), R(1, kKept, 1100, 2900, 0, "0"),
                                 R(2, kInterruptedRound, 1100, 1200, 0, "1"),
                                 R(3, kConflict, 1200, 2000, 0, "1")};
  Throughput t = ComputeThroughput(rs);
  EXPECT_EQ(t.experiments, 2);
  EXPECT_DOUBLE_EQ(t.gpu_hours, (1800.0 + 100 + 800) / 3600.0);
  ASSERT_TRUE(t.gpu_hours_per_kept.has_value());
  EXPECT_DOUBLE_EQ(*t.gpu_hours_per_kept, t.gpu_hours);
}

TEST(Throughput, ReChecksCostButAreNoExperimentsAndADemotionTakesAKeepBack) {
  std::vector<RoundRecord> rs = {R(0, kBaseline, 0, 100, 10), R(1, kKept, 100, 200, 10),
                                 R(2, kRechecked, 200, 300, 20), R(3, kKept, 300, 400, 10),
                                 R(4, kDemoted, 400, 500, 20), R(5, kTampered, 500, 600, 10)};
  Throughput t = ComputeThroughput(rs);
  EXPECT_EQ(t.experiments, 3);  // rounds 1, 3 and 5
  EXPECT_EQ(t.kept, 1);         // round 3's keep was demoted
  EXPECT_DOUBLE_EQ(t.cpu_hours, 80.0 / 3600.0);
}

TEST(Throughput, NothingYetIsZeroAndANewBaselineStartsOver) {
  Throughput none = ComputeThroughput({});
  EXPECT_EQ(none.experiments, 0);
  EXPECT_EQ(none.experiments_per_hour, 0);
  EXPECT_FALSE(none.cpu_hours_per_kept.has_value());
  Throughput t = ComputeThroughput({R(0, kBaseline, 1000, 1010), R(1, kKept, 1010, 1020),
                                    R(0, kBaseline, 2000, 5600)});
  EXPECT_EQ(t.experiments, 0);
  EXPECT_EQ(t.kept, 0);
  EXPECT_DOUBLE_EQ(t.hours, 1.0);
  JsonWriter w;
  WriteThroughputJson(t, &w);
  EXPECT_NE(w.str().find("\"cpu_hours_per_kept\":null"), std::string::npos) << w.str();
}

}  // namespace
}  // namespace inloop::loop
