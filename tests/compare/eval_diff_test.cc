// Eval diff: record parsing and its issues, matching by id, the choice of test, ordering of
// regressions, slices and clusters. The statistics themselves are checked in tests/stats and, end
// to end against numpy, in tests/e2e/evaldiff_test.sh.
#include "compare/eval_diff.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace inloop::compare {
namespace {

std::string Line(int i, int correct, const char* lang, int cluster) {
  return "{\"id\":" + std::to_string(i) + ",\"correct\":" + std::to_string(correct) +
         ",\"slice\":{\"lang\":\"" + lang + "\"},\"cluster\":\"c" + std::to_string(cluster) +
         "\"}\n";
}

TEST(EvalDiffTest, ParsesRecordsAndReportsBadLines) {
  EvalFile f;
  ParseEvalJsonl(
      "{\"id\": 7, \"correct\": true, \"output\": {\"a\": 1}, \"slice\": \"math\"}\n"
      "not json\n"
      "\n"
      "{\"score\": 1}\r\n"
      "{\"id\": \"x\"}\n"
      "{\"id\": \"y\", \"score\": \"NaN\"}\n"
      "{\"id\": \"7\", \"score\": 0.5}\n"
      "{\"id\": 1.5, \"score\": 0.5}\n"
      "{\"id\": \"z\", \"score\": 0.25, \"slice\": {\"lang\": \"en\", \"len\": 3}, "
      "\"cluster\": 4, \"task\": \"qa\"}\n",
      "a.jsonl", {"task"}, &f);
  ASSERT_EQ(f.records.size(), 2u);
  EXPECT_EQ(f.records[0].id, "7");
  EXPECT_EQ(f.records[0].score, 1.0);
  EXPECT_EQ(*f.records[0].output, "{\"a\":1}");
  ASSERT_EQ(f.records[0].slices.size(), 1u);
  EXPECT_EQ(f.records[0].slices[0], (std::pair<std::string, std::string>{"slice", "math"}));
  EXPECT_EQ(f.records[1].id, "z");
  EXPECT_EQ(*f.records[1].cluster, "4");
  std::vector<std::pair<std::string, std::string>> want = {
      {"lang", "en"}, {"len", "3"}, {"task", "qa"}};
  EXPECT_EQ(f.records[1].slices, want);
  std::vector<int64_t> lines;
  for (auto& is : f.issues) {
    lines.push_back(is.line);
    EXPECT_EQ(is.file, "a.jsonl");
  }
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 4, 5, 6, 7, 8}));
  EXPECT_NE(f.issues[4].message.find("duplicate id 7 (first on line 1)"), std::string::npos);
  EXPECT_NE(f.issues[3].message.find("not a finite number"), std::string::npos);
}

TEST(EvalDiffTest, MatchesByIdAndListsMismatches) {
  EvalFile a, b;
  ParseEvalJsonl(
      "{\"id\":\"a\",\"correct\":1}\n{\"id\":\"b\",\"correct\":1}\n{\"id\":\"c\",\"correct\":0}\n"
      "{\"id\":\"d\",\"correct\":0}\n{\"id\":\"old1\",\"correct\":0}\n",
      "old", {}, &a);
  ParseEvalJsonl(
      "{\"id\":\"new1\",\"correct\":1}\n{\"id\":\"d\",\"correct\":1,\"output\":\"x y\"}\n"
      "{\"id\":\"c\",\"correct\":1}\n{\"id\":\"b\",\"correct\":0}\n{\"id\":\"a\",\"correct\":1}\n",
      "new", {}, &b);
  EvalDiffReport r;
  ASSERT_TRUE(ComputeEvalDiff(a, b, {}, &r).ok());
  EXPECT_EQ(r.overall.n, 4);
  EXPECT_TRUE(r.binary);
  EXPECT_STREQ(r.overall.test, "mcnemar");
  EXPECT_EQ(r.overall.mcnemar.baseline_only, 1);
  EXPECT_EQ(r.overall.mcnemar.treatment_only, 2);
  EXPECT_EQ(r.only_old, std::vector<std::string>{"old1"});
  EXPECT_EQ(r.only_new, std::vector<std::string>{"new1"});
  EXPECT_EQ(r.regressed, std::vector<std::string>{"b"});
  EXPECT_EQ(r.improved, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_DOUBLE_EQ(r.overall.diff_mean, 0.25);
  EXPECT_DOUBLE_EQ(r.overall.p_value, 1.0);  // 1 vs 2 discordant: 2 * P(X <= 1 | 3) = 1
}

TEST(EvalDiffTest, NothingMatchedIsInvalid) {
  EvalFile a, b;
  ParseEvalJsonl("{\"id\":1,\"score\":0.5}\n", "old", {}, &a);
  ParseEvalJsonl("{\"id\":2,\"score\":0.5}\n", "new", {}, &b);
  EvalDiffReport r;
  Status s = ComputeEvalDiff(a, b, {}, &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("no id of old"), std::string::npos);
}

TEST(EvalDiffTest, ContinuousScoresSortByImpactThenId) {
  EvalFile a, b;
  ParseEvalJsonl(
      "{\"id\":\"p\",\"score\":0.5}\n{\"id\":\"q\",\"score\":0.9}\n{\"id\":\"r\",\"score\":0.9}\n"
      "{\"id\":\"s\",\"score\":0.2}\n",
      "old", {}, &a);
  ParseEvalJsonl(
      "{\"id\":\"p\",\"score\":0.4}\n{\"id\":\"q\",\"score\":0.6}\n{\"id\":\"r\",\"score\":0.6}\n"
      "{\"id\":\"s\",\"score\":0.7}\n",
      "new", {}, &b);
  EvalDiffReport r;
  ASSERT_TRUE(ComputeEvalDiff(a, b, {}, &r).ok());
  EXPECT_FALSE(r.binary);
  EXPECT_STREQ(r.overall.test, "paired_t");
  EXPECT_EQ(r.regressed, (std::vector<std::string>{"q", "r", "p"}));
  EXPECT_EQ(r.improved, std::vector<std::string>{"s"});
  EXPECT_EQ(r.overall.p_value, r.overall.paired_t.p_value);
}

TEST(EvalDiffTest, SlicesTakeNewValuesAndClustersChangeTheSe) {
  EvalFile a, b;
  std::string old_text, new_text;
  for (int i = 0; i < 12; ++i) {
    old_text += Line(i, i % 2, i % 3 ? "en" : "de", i / 4);
    new_text += Line(i, i % 3 == 0 ? 1 : 0, i % 3 ? "en" : "fr", i / 4);
  }
  ParseEvalJsonl(old_text, "old", {}, &a);
  ParseEvalJsonl(new_text, "new", {}, &b);
  EvalDiffReport r;
  ASSERT_TRUE(ComputeEvalDiff(a, b, {}, &r).ok());
  ASSERT_EQ(r.slices.count("lang"), 1u);
  EXPECT_EQ(r.slices["lang"].count("de"), 0u);  // the new record's value wins
  EXPECT_EQ(r.slices["lang"]["fr"].n, 4);
  EXPECT_EQ(r.slices["lang"]["en"].n, 8);
  EXPECT_EQ(r.overall.clusters, 3);
  EXPECT_EQ(r.slices["lang"]["fr"].clusters, 3);
  EXPECT_NE(r.overall.diff_se, r.overall.paired_t.se);
}

}  // namespace
}  // namespace inloop::compare
