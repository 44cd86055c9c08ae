// HangDetector with a fake clock: floor, k x median step interval, start-up allowance, re-arming,
// CPU idle vs busy, and the BLOOM-176B eval hang (fixtures/logs/bloom-176b/eval-hang.log).
#include "source_paths.h"
#include "detect/hang_detector.h"

#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace inloop::detect {
namespace {

TEST(HangDetectorTest, FloorUntilIntervalsAreKnown) {
  DetectConfig c;
  HangDetector h(c, 0);
  for (int i = 0; i < 3; ++i) h.OnProgress(10 + 10 * i, i);  // 2 intervals < hang_min_intervals
  EXPECT_DOUBLE_EQ(h.MedianInterval(), 0);
  EXPECT_DOUBLE_EQ(h.Threshold(), 300);
  Finding f;
  EXPECT_FALSE(h.Check(30 + 299, &f));
  EXPECT_TRUE(h.Check(30 + 300, &f));
  EXPECT_EQ(f.kind, FindingKind::kHang);
  EXPECT_EQ(f.severity, Severity::kError);
  EXPECT_EQ(f.step_lo, 2);
  EXPECT_DOUBLE_EQ(f.Get("threshold_seconds"), 300);
  EXPECT_DOUBLE_EQ(f.Get("cpu_known"), 0);
  EXPECT_FALSE(h.Check(1000, &f));  // once per silence
  h.OnOutput(1000);                 // activity re-arms
  EXPECT_FALSE(h.Check(1299, &f));
  EXPECT_TRUE(h.Check(1300, &f));
}

TEST(HangDetectorTest, FactorTimesMedianStepInterval) {
  DetectConfig c;
  HangDetector h(c, 0);
  double t = 0;
  for (int step = 0; step <= 20; ++step) {
    t += step % 7 == 3 ? 900 : 100;  // an occasional slow step (eval) does not move the median
    h.OnProgress(t, step * 10);
    h.OnProgress(t, step * 10);  // other series at the same step: not an interval
  }
  EXPECT_DOUBLE_EQ(h.MedianInterval(), 100);
  EXPECT_DOUBLE_EQ(h.Threshold(), 1000);  // 10 x 100 s > floor 300 s
  EXPECT_DOUBLE_EQ(h.Deadline(), t + 1000);
  Finding f;
  EXPECT_FALSE(h.Check(t + 999, &f));
  EXPECT_TRUE(h.Check(t + 1000, &f));
  EXPECT_DOUBLE_EQ(f.Get("median_interval"), 100);
  EXPECT_EQ(f.step_lo, 200);
}

TEST(HangDetectorTest, StartupAllowanceBeforeFirstStep) {
  DetectConfig c;
  HangDetector h(c, 1000);
  Finding f;
  EXPECT_DOUBLE_EQ(h.Threshold(), 1800);
  EXPECT_FALSE(h.Check(1000 + 1799, &f));
  EXPECT_TRUE(h.Check(1000 + 1800, &f));
  EXPECT_NE(f.message.find("no step yet"), std::string::npos) << f.message;
}

TEST(HangDetectorTest, OutputKeepsItAlive) {
  DetectConfig c;
  c.hang_floor_seconds = 2;  // configurable down to seconds for tests
  c.hang_startup_seconds = 0;
  HangDetector h(c, 0);
  Finding f;
  h.OnProgress(0.5, 1);
  for (double t = 1; t < 20; t += 1) {
    h.OnOutput(t);
    EXPECT_FALSE(h.Check(t + 1.5, &f));
  }
  EXPECT_TRUE(h.Check(19 + 2, &f));
}

TEST(HangDetectorTest, CpuIdleFiresAtThreshold) {
  DetectConfig c;
  HangDetector h(c, 0);
  h.OnProgress(10, 1);
  for (double t = 10; t <= 400; t += 10) h.OnCpuTime(t, 50.0);  // no CPU progress
  Finding f;
  ASSERT_TRUE(h.Check(310, &f));
  EXPECT_DOUBLE_EQ(f.Get("cpu_known"), 1);
  EXPECT_DOUBLE_EQ(f.Get("cpu_busy"), 0);
  EXPECT_NE(f.message.find("no CPU progress"), std::string::npos) << f.message;
}

TEST(HangDetectorTest, CpuBusyGetsLongerButStillFires) {
  DetectConfig c;
  HangDetector h(c, 0);
  h.OnProgress(10, 1);
  Finding f;
  double fired = -1;
  for (double t = 10; t <= 2000; t += 10) {
    h.OnCpuTime(t, 1.0 * t);  // one core busy: NCCL spinning in a deadlock, say
    if (h.Check(t, &f)) {
      fired = t;
      break;
    }
  }
  EXPECT_DOUBLE_EQ(fired, 10 + 3 * 300);  // hang_cpu_busy_factor x threshold
  EXPECT_DOUBLE_EQ(f.Get("cpu_busy"), 1);
  EXPECT_NEAR(f.Get("cpu_cores"), 1.0, 1e-9);
  EXPECT_NE(f.message.find("CPU busy"), std::string::npos) << f.message;
}

TEST(HangDetectorTest, CpuBusyEarlierThenIdleCountsAsIdle) {
  DetectConfig c;
  HangDetector h(c, 0);
  h.OnProgress(0, 1);
  double cpu = 0;
  for (double t = 0; t <= 400; t += 10) {
    if (t < 200) cpu += 10;  // busy for the first 200 s of silence, then idle
    h.OnCpuTime(t, cpu);
  }
  Finding f;
  EXPECT_TRUE(h.Check(400, &f));
  EXPECT_DOUBLE_EQ(f.Get("cpu_busy"), 0);
}

TEST(HangDetectorTest, CpuIsJudgedOverTheSilenceNotTheTrainingBeforeIt) {
  DetectConfig c;
  c.hang_floor_seconds = 6;
  HangDetector h(c, 0);
  double cpu = 0;
  for (int i = 0; i <= 100; ++i) {  // 10 s of training, one core busy, a step every 0.1 s
    const double t = 0.1 * i;
    h.OnProgress(t, i);
    cpu += 0.1;
    h.OnCpuTime(t, cpu);
  }
  Finding f;
  double fired = -1;
  for (double t = 10.5; t <= 60 && fired < 0; t += 0.5) {  // then asleep: no CPU at all
    h.OnCpuTime(t, cpu);
    if (h.Check(t, &f)) fired = t;
  }
  // At the 6 s floor, not 3x later: the trailing 60 s were mostly busy, the silence was not.
  EXPECT_DOUBLE_EQ(fired, 16);
  EXPECT_DOUBLE_EQ(f.Get("cpu_busy"), 0);
  EXPECT_NEAR(f.Get("cpu_cores"), 0.0, 1e-9);
}

// Seconds since the epoch of "[2022-05-01 03:56:11]" at the start of a line, or -1.
double LineTime(const std::string& line) {
  static const std::regex re(R"(^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\])");
  std::smatch m;
  if (!std::regex_search(line, m, re)) return -1;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  return static_cast<double>(timegm(&tm));
}

TEST(HangDetectorTest, Bloom176bEvalHang) {
  std::ifstream in(std::string(INLOOP_SHARED_FIXTURES) + "/logs/bloom-176b/eval-hang.log");
  ASSERT_TRUE(in) << "missing fixture";
  struct Entry {
    std::string line;
    double t;
  };
  std::vector<Entry> lines;
  for (std::string line; std::getline(in, line);) lines.push_back({line, LineTime(line)});
  ASSERT_EQ(lines.size(), 10u);
  // The training lines carry no timestamp: give each the time of the next stamped line, an upper
  // bound on when it was written (it makes the silence look shorter, never longer).
  for (int i = static_cast<int>(lines.size()) - 2; i >= 0; --i) {
    if (lines[i].t < 0) lines[i].t = lines[i + 1].t;
  }
  const double t0 = lines.front().t;
  const double t_end = lines.back().t;
  ASSERT_GT(t_end - t0, 2 * 3600);

  // The scheduler's hourly PULSE lines are fed as output too: in a supervised run they would not
  // even be the child's output, so this is the harder case for the detector.
  static const std::regex iteration(R"(iteration\s+(\d+)/)");
  DetectConfig c;
  HangDetector h(c, t0 - 3600);
  std::vector<Finding> hangs;
  size_t next = 0;
  for (double now = t0; now <= t_end + 3600; now += 30) {
    for (; next < lines.size() && lines[next].t <= now; ++next) {
      std::smatch m;
      h.OnOutput(lines[next].t);
      if (std::regex_search(lines[next].line, m, iteration)) {
        h.OnProgress(lines[next].t, std::stoll(m[1]));
      }
    }
    Finding f;
    if (h.Check(now, &f)) hangs.push_back(f);
  }
  ASSERT_FALSE(hangs.empty());
  // One step seen, so no median interval: the 300 s floor applies from the last line at t0.
  EXPECT_NEAR(hangs[0].wall_time, t0 + 300, 30);
  EXPECT_EQ(hangs[0].step_lo, 45000);
  EXPECT_GE(hangs[0].Get("silent_seconds"), 300);
  // Each hourly pulse re-arms it and it fires again, once per silence: after the lines of 03:56,
  // 04:56 and 05:56.
  EXPECT_EQ(hangs.size(), 3u);
}

}  // namespace
}  // namespace inloop::detect
