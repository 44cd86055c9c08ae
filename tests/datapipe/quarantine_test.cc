// Quarantined records (data/quarantine.h): line ranges, the list's JSON form, and their removal
// from the next version of an output.
#include "data/quarantine.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace inloop::data {
namespace {

std::string Read(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(QuarantineTest, LineRanges) {
  std::vector<std::pair<int64_t, int64_t>> r;
  ASSERT_TRUE(ParseLineRanges("3-5,9", &r).ok());
  EXPECT_EQ(r, (std::vector<std::pair<int64_t, int64_t>>{{3, 5}, {9, 9}}));
  EXPECT_EQ(ParseLineRanges("5-3", &r).code(), Status::Code::kInvalid);
  EXPECT_EQ(ParseLineRanges("0", &r).code(), Status::Code::kInvalid);
  EXPECT_NE(ParseLineRanges("1,x", &r).message().find("'x' is not a line range"), std::string::npos);
}

TEST(QuarantineTest, RecordsLeaveTheNextVersion) {
  char tmpl[] = "/tmp/inloop-quar-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string out = dir + "/o.jsonl";
  std::ofstream(out) << "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n{\"a\": 2}\n{\"a\": 4}\n";
  QuarantineList q;
  int64_t added = 0;
  ASSERT_TRUE(QuarantineLines(out, "o.jsonl", {{2, 3}}, "spike", &q, &added).ok());
  EXPECT_EQ(added, 2);
  ASSERT_TRUE(QuarantineLines(out, "o.jsonl", {{4, 4}}, "again", &q, &added).ok());
  EXPECT_EQ(added, 0);  // the same record as line 2
  EXPECT_EQ(QuarantineLines(out, "o.jsonl", {{9, 9}}, "", &q, &added).code(), Status::Code::kNotFound);
  ASSERT_TRUE(SaveQuarantine(dir, q).ok());
  QuarantineList back;
  ASSERT_TRUE(LoadQuarantine(dir, &back).ok());
  ASSERT_EQ(back["o.jsonl"].size(), 2u);
  EXPECT_EQ(back["o.jsonl"][0].hash, q["o.jsonl"][0].hash);
  EXPECT_EQ(back["o.jsonl"][1].line, 3);
  EXPECT_EQ(back["o.jsonl"][0].reason, "spike");
  int64_t removed = 0;
  ASSERT_TRUE(ApplyQuarantine(out, back["o.jsonl"], &removed).ok());
  EXPECT_EQ(removed, 3);  // both copies of {"a": 2}, and {"a": 3}
  EXPECT_EQ(Read(out), "{\"a\": 1}\n{\"a\": 4}\n");
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace inloop::data
