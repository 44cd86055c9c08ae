// The goodput gauges on /metrics: one HELP/TYPE per metric, one sample per run, labels escaped.
#include "http/goodput_metrics.h"

#include <gtest/gtest.h>

namespace inloop::http {
namespace {

TEST(GoodputMetricsTest, OneSamplePerRunAndMetric) {
  RunGoodputRow a{"20261206-1", "clean", {}};
  a.goodput.ettr = 0.98;
  RunGoodputRow b{"20261206-2", "quote\"d\nname", {}};
  b.goodput.ettr = 0.5;
  b.goodput.lost_steps = 40;
  b.goodput.lost_seconds = 12.5;
  b.goodput.faults.resize(2);
  std::string t = GoodputMetricsText({a, b});
  EXPECT_NE(t.find("# TYPE inloop_run_ettr gauge\n"), std::string::npos) << t;
  EXPECT_NE(t.find("inloop_run_ettr{run=\"20261206-1\",name=\"clean\"} 0.98\n"), std::string::npos) << t;
  EXPECT_NE(t.find("inloop_run_lost_steps{run=\"20261206-2\",name=\"quote\\\"d\\nname\"} 40\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("inloop_run_lost_seconds{run=\"20261206-2\",name=\"quote\\\"d\\nname\"} 12.5\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("inloop_run_faults{run=\"20261206-2\",name=\"quote\\\"d\\nname\"} 2\n"),
            std::string::npos)
      << t;
  size_t help = 0;
  for (size_t p = t.find("# HELP "); p != std::string::npos; p = t.find("# HELP ", p + 1)) ++help;
  EXPECT_EQ(help, 4u);
}

TEST(GoodputMetricsTest, NoRunsNoText) { EXPECT_EQ(GoodputMetricsText({}), ""); }

}  // namespace
}  // namespace inloop::http
