// Data-driven detector cases: every tests/data/curves/NAME.csv fed through a DetectorSet with the
// default thresholds must yield exactly the findings listed in NAME.expected.
#include "source_paths.h"
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "detect/detector_set.h"

namespace inloop::detect {
namespace {

namespace fs = std::filesystem;

TEST(CurvesTest, EveryCaseYieldsItsExpectedFindings) {
  const fs::path dir = fs::path(INLOOP_TEST_DATA) / "curves";
  int cases = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".csv") continue;
    ++cases;
    SCOPED_TRACE(e.path().filename().string());
    std::ifstream in(e.path());
    std::string line, key;
    std::vector<Point> points;
    while (std::getline(in, line)) {
      if (line.rfind("# key: ", 0) == 0) key = line.substr(7);
      if (line.empty() || line[0] == '#' || line == "step,value") continue;
      size_t comma = line.find(',');
      ASSERT_NE(comma, std::string::npos) << line;
      Point p;
      p.step = std::stoll(line.substr(0, comma));
      p.wall_time = 1.7e9 + static_cast<double>(p.step);
      p.value = std::strtod(line.c_str() + comma + 1, nullptr);  // accepts nan, inf, -inf
      points.push_back(p);
    }
    ASSERT_FALSE(key.empty()) << "first line must be '# key: ...'";
    ASSERT_FALSE(points.empty());

    DetectorSet set{DetectConfig{}};
    std::vector<Finding> found;
    for (const Point& p : points) set.Observe(key, p, &found);
    std::string got;
    for (const Finding& f : found) {
      if (!f.is_update)
        got += std::string(FindingKindName(f.kind)) + " " + std::to_string(f.step_lo) + "\n";
    }
    fs::path expected_path = e.path();
    expected_path.replace_extension(".expected");
    std::ifstream ex(expected_path);
    ASSERT_TRUE(ex) << "missing " << expected_path;
    std::string want;
    while (std::getline(ex, line)) {
      if (!line.empty() && line[0] != '#') want += line + "\n";
    }
    std::string messages;
    for (const Finding& f : found) messages += f.message + "\n";
    EXPECT_EQ(got, want) << messages;
  }
  EXPECT_GE(cases, 4);
}

}  // namespace
}  // namespace inloop::detect
