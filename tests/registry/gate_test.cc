// The promotion gate (registry/gate.h) on eval diffs computed by compare/eval_diff.h from
// per-example outputs built here: a real paired gain passes, a gain inside the noise, a missing
// example, a regressing slice, an unfinished run, an open finding, a pending action or a failed
// audit each fail with one line of their own.
#include "registry/gate.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "store/model_records.h"

namespace inloop::registry {
namespace {

// n examples, half "en" and half "de"; correct(i) decides each one's score.
compare::EvalFile Eval(int n, const std::function<int(int)>& correct, const char* path) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "{\"id\":" + std::to_string(i) + ",\"correct\":" + std::to_string(correct(i)) +
            ",\"slice\":{\"lang\":\"" + (i % 2 ? "de" : "en") + "\"}}\n";
  }
  compare::EvalFile f;
  compare::ParseEvalJsonl(text, path, {}, &f);
  return f;
}

compare::EvalDiffReport Diff(const compare::EvalFile& a, const compare::EvalFile& b) {
  compare::EvalDiffOptions o;
  o.bootstrap = 2000;
  compare::EvalDiffReport r;
  Status s = compare::ComputeEvalDiff(a, b, o, &r);
  EXPECT_TRUE(s.ok()) << s.message();
  return r;
}

GateEvidence Clean(const compare::EvalDiffReport* diff) {
  GateEvidence e;
  e.candidate = "clf v2";
  e.candidate_has_eval = true;
  e.champion = 1;
  e.diff = diff;
  e.run_id = "run-2";
  e.run_status = store::kFinished;
  e.audit = store::kAuditPassed;
  e.audit_detail = "1 file scanned";
  return e;
}

const GateCheck& CheckNamed(const GateResult& r, const std::string& name) {
  for (const GateCheck& c : r.checks) {
    if (c.name == name) return c;
  }
  static GateCheck none;
  ADD_FAILURE() << "no check " << name;
  return none;
}

// The champion is right on i % 4 in {2, 3} (50%), the better candidate also on i % 4 == 1 (75%;
// all of it in the "de" slice).
int Champion(int i) { return i % 4 >= 2; }
int Better(int i) { return i % 4 >= 1; }

TEST(GateTest, ARealPairedGainPasses) {
  auto old_eval = Eval(200, Champion, "old.jsonl");
  auto new_eval = Eval(200, Better, "new.jsonl");
  auto diff = Diff(old_eval, new_eval);
  GateResult r = EvaluateGate(Clean(&diff), GateOptions{});
  EXPECT_TRUE(r.passed) << testing::PrintToString(FailedLines(r));
  EXPECT_TRUE(FailedLines(r).empty());
  EXPECT_EQ(r.checks.size(), 7u);
  EXPECT_TRUE(r.has_diff);
  EXPECT_EQ(r.n, 200);
  EXPECT_NEAR(r.diff_mean, 0.25, 1e-12);
  EXPECT_GT(r.ci_low, 0);
  EXPECT_EQ(r.test, "mcnemar");
  EXPECT_LT(r.p_value, 1e-6);
  EXPECT_EQ(r.missing, 0);
  std::string json = GateJson(r);
  EXPECT_NE(json.find("\"passed\":true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"champion\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"diff_mean\":0.25"), std::string::npos) << json;
}

TEST(GateTest, AGainInsideTheNoiseIsRefused) {
  // Two examples flip to right, one flips to wrong: +0.005 with a CI around zero.
  auto old_eval = Eval(200, Champion, "old.jsonl");
  auto new_eval = Eval(200, [](int i) { return i == 0 || i == 4 ? 1 : i == 2 ? 0 : Champion(i); },
                       "new.jsonl");
  auto diff = Diff(old_eval, new_eval);
  GateResult r = EvaluateGate(Clean(&diff), GateOptions{});
  EXPECT_FALSE(r.passed);
  EXPECT_GT(r.diff_mean, 0);
  EXPECT_LE(r.ci_low, 0);
  auto lines = FailedLines(r);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("improvement: clf v2 vs v1 on 200 examples", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("includes zero"), std::string::npos) << lines[0];
}

TEST(GateTest, AWorseCandidateIsRefusedAsWorse) {
  auto diff = Diff(Eval(200, Better, "old"), Eval(200, Champion, "new"));
  GateResult r = EvaluateGate(Clean(&diff), GateOptions{});
  EXPECT_FALSE(CheckNamed(r, "improvement").passed);
  EXPECT_NE(CheckNamed(r, "improvement").detail.find("worse than the champion"), std::string::npos);
  EXPECT_FALSE(CheckNamed(r, "slices").passed);  // "de" falls by 0.5
}

TEST(GateTest, ARegressingSliceFailsBeyondTheBoundOnly) {
  // en gains every i % 4 == 0 example (+0.5 on en); de loses 10 of its 100 right answers.
  auto old_eval = Eval(200, [](int i) { return i % 2 ? 1 : 0; }, "old");
  auto new_eval = Eval(200, [](int i) { return i % 2 ? (i < 40 ? 0 : 1) : (i % 4 == 0); }, "new");
  auto diff = Diff(old_eval, new_eval);
  GateOptions o;
  GateResult r = EvaluateGate(Clean(&diff), o);
  EXPECT_TRUE(CheckNamed(r, "improvement").passed) << CheckNamed(r, "improvement").detail;
  const GateCheck& slices = CheckNamed(r, "slices");
  EXPECT_FALSE(slices.passed);
  EXPECT_NE(slices.detail.find("lang=de -0.2000 (n=100)"), std::string::npos) << slices.detail;
  ASSERT_TRUE(r.worst_slice);
  EXPECT_EQ(r.worst_slice->value, "de");
  o.max_slice_drop = 0.25;
  r = EvaluateGate(Clean(&diff), o);
  EXPECT_TRUE(r.passed) << testing::PrintToString(FailedLines(r));
}

TEST(GateTest, TheCandidateMustCoverTheChampionsExamples) {
  auto diff = Diff(Eval(200, Champion, "old"), Eval(150, Better, "new"));
  GateResult r = EvaluateGate(Clean(&diff), GateOptions{});
  const GateCheck& c = CheckNamed(r, "coverage");
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(r.missing, 50);
  EXPECT_NE(c.detail.find("lack 50 of the champion's 200 examples (first: 150)"), std::string::npos)
      << c.detail;
}

TEST(GateTest, WithoutAChampionThereIsNothingToBeat) {
  GateEvidence e = Clean(nullptr);
  e.champion.reset();
  GateResult r = EvaluateGate(e, GateOptions{});
  EXPECT_TRUE(r.passed) << testing::PrintToString(FailedLines(r));
  EXPECT_FALSE(r.has_diff);
  EXPECT_NE(GateJson(r).find("\"champion\":null"), std::string::npos);
}

TEST(GateTest, EachMissingPieceOfEvidenceIsOneLine) {
  GateEvidence e = Clean(nullptr);
  e.candidate_has_eval = false;
  e.diff_error = "no eval outputs to compare with the champion's";
  e.run_status = store::kFailed;
  e.open_findings = {"nonfinite on train/loss at step 40"};
  e.pending_actions = 2;
  e.audit = store::kAuditFailed;
  e.audit_detail = "w.pt: os.system";
  GateResult r = EvaluateGate(e, GateOptions{});
  EXPECT_FALSE(r.passed);
  auto lines = FailedLines(r);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0].rfind("eval: clf v2 has no eval outputs", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1], "improvement: no eval outputs to compare with the champion's");
  EXPECT_EQ(lines[4], "run: run run-2 is failed, not finished");
  EXPECT_NE(lines[5].find("1 open error finding: nonfinite on train/loss at step 40 and 2 "
                          "pending actions"),
            std::string::npos)
      << lines[5];
  EXPECT_EQ(lines[6], "audit: artifact audit failed: w.pt: os.system");
}

TEST(GateTest, NoArtifactIsNotAnAuditFailure) {
  auto diff = Diff(Eval(100, Champion, "old"), Eval(100, Better, "new"));
  GateEvidence e = Clean(&diff);
  e.audit = store::kAuditNone;
  GateResult r = EvaluateGate(e, GateOptions{});
  EXPECT_TRUE(CheckNamed(r, "audit").passed);
  EXPECT_EQ(CheckNamed(r, "audit").detail, "no artifact to audit");
}

}  // namespace
}  // namespace inloop::registry
