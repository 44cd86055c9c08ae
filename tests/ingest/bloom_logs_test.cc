// LineParser on the real BLOOM-176B Megatron-DeepSpeed lines in ../shared/fixtures/logs/:
// the spike, the wrapped throughput-drop records, and the eval hang.
#include "source_paths.h"
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ingest/line_parser.h"

namespace inloop::ingest {
namespace {

struct Point {
  int64_t step;
  std::map<std::string, double> metrics;
};

// Parses a fixture with one parser; one Point per line that yielded metrics.
std::vector<Point> ParseFixture(const std::string& name) {
  std::ifstream in(std::string(INLOOP_SHARED_FIXTURES) + "/logs/bloom-176b/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::unique_ptr<LineParser> parser;
  EXPECT_TRUE(LineParser::Create({}, &parser).ok());
  std::vector<Point> points;
  std::string line;
  ParsedLine out;
  while (std::getline(in, line)) {
    if (!parser->Parse(line, &out)) continue;
    EXPECT_TRUE(out.has_step) << line;
    Point p{out.step, {}};
    for (const Metric& m : out.metrics) p.metrics[m.key] = m.value;
    points.push_back(std::move(p));
  }
  return points;
}

TEST(BloomLogsTest, SpikeAtIteration31219) {
  std::vector<Point> points = ParseFixture("spike.log");
  ASSERT_EQ(points.size(), 11u);  // 31214..31222, then 31250, 31251; "[...]" yields nothing
  EXPECT_EQ(points.front().step, 31214);
  EXPECT_EQ(points.back().step, 31251);
  const Point& spike = points[5];
  ASSERT_EQ(spike.step, 31219);
  EXPECT_DOUBLE_EQ(spike.metrics.at("grad_norm"), 960.351);
  EXPECT_DOUBLE_EQ(spike.metrics.at("lm_loss"), 5.098124);
  EXPECT_DOUBLE_EQ(spike.metrics.at("elapsed_time_per_iteration_s"), 106.36);
  EXPECT_DOUBLE_EQ(spike.metrics.at("learning_rate"), 5.279e-05);
  EXPECT_DOUBLE_EQ(spike.metrics.at("consumed_tokens"), 97850851328.0);
  EXPECT_DOUBLE_EQ(spike.metrics.at("samples_per_second"), 19.256);
  EXPECT_DOUBLE_EQ(spike.metrics.at("tflops"), 147.43);
  EXPECT_EQ(spike.metrics.size(), 12u);
  // Grad norm rises first: 0.242 -> 0.947 -> 2.390 -> 15.886 -> 145.119 -> 960.351.
  const double grad_norms[] = {0.242, 0.947, 2.390, 15.886, 145.119, 960.351};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(points[i].metrics.at("grad_norm"), grad_norms[i]);
  EXPECT_DOUBLE_EQ(points[0].metrics.at("lm_loss"), 2.198845);
}

TEST(BloomLogsTest, WrappedThroughputDropRecordsInventNothing) {
  std::vector<Point> points = ParseFixture("throughput-drop.log");
  // Five records of three physical lines each.
  ASSERT_EQ(points.size(), 15u);
  const double seconds[] = {105.16, 105.17, 106.25, 110.17, 111.14};
  const double tflops[] = {149.10, 149.09, 147.58, 142.32, 141.09};
  for (int r = 0; r < 5; ++r) {
    const Point& head = points[3 * r];
    const Point& middle = points[3 * r + 1];
    const Point& tail = points[3 * r + 2];
    const int64_t step = 42780 + r;
    EXPECT_EQ(head.step, step);
    EXPECT_EQ(middle.step, step);
    EXPECT_EQ(tail.step, step);
    EXPECT_DOUBLE_EQ(head.metrics.at("elapsed_time_per_iteration_s"), seconds[r]);
    EXPECT_DOUBLE_EQ(middle.metrics.at("learning_rate"), 4.475e-05);  // "learning| rate"
    EXPECT_DOUBLE_EQ(middle.metrics.at("global_batch_size"), 2048);
    EXPECT_DOUBLE_EQ(tail.metrics.at("tflops"), tflops[r]);
    EXPECT_EQ(tail.metrics.count("samples_per_second"), 1u);
    for (const Point* p : {&head, &middle, &tail}) {
      for (const auto& [key, value] : p->metrics) {
        // Fragments of keys must never become keys of their own.
        EXPECT_NE(key, "rate");
        EXPECT_NE(key, "learning");
        EXPECT_NE(key, "iterations");
        EXPECT_EQ(key.find("number_of_nan"), std::string::npos) << "joined across an unclear break";
      }
    }
  }
  EXPECT_DOUBLE_EQ(points[4].metrics.at("lm_loss"), 2.116946);
  EXPECT_DOUBLE_EQ(points[4].metrics.at("grad_norm"), 0.140);
}

TEST(BloomLogsTest, EvalHangHasTwoRecordsThenSilence) {
  std::vector<Point> points = ParseFixture("eval-hang.log");
  ASSERT_EQ(points.size(), 2u);  // the separators and the hourly PULSE lines yield nothing
  EXPECT_EQ(points[0].step, 45000);
  EXPECT_DOUBLE_EQ(points[0].metrics.at("lm_loss"), 2.113567);
  EXPECT_DOUBLE_EQ(points[0].metrics.at("elapsed_time_per_iteration_s"), 111.00);
  EXPECT_EQ(points[1].step, 45000);
  EXPECT_DOUBLE_EQ(points[1].metrics.at("lm_loss_value"), 2.327091);
  EXPECT_DOUBLE_EQ(points[1].metrics.at("lm_loss_ppl"), 10.24808);
}

}  // namespace
}  // namespace inloop::ingest
