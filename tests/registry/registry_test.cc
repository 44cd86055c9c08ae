// The model registry (registry/registry.h) over a real store, on every backend: what a version
// records (the newest existing checkpoint announced by the run, its audit, params and final
// metrics, the eval outputs), promotion through the gate with eval files on disk, the override,
// open findings and pending actions blocking, and what a deploy of the model serves.
#include "registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "remedy/timeline.h"
#include "support/temp_store.h"

namespace inloop::registry {
namespace {

using store::Backend;
using store::BackendName;
using store::BackendStoreTest;
using RegistryTest = BackendStoreTest;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A plain pickle of {} (no global: passes the audit), and one that calls os.system on load.
const std::string kSafePickle("\x80\x02}q\x00.", 6);
using namespace std::string_literals;
const std::string kEvilPickle = "\x80\x02" "cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."s;

std::string EvalText(int n, const std::function<int(int)>& correct) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "{\"id\":\"ex" + std::to_string(i) + "\",\"correct\":" + std::to_string(correct(i)) +
            "}\n";
  }
  return text;
}

class Fixture {
 public:
  Fixture(store::Store* st, std::string dir) : st_(st), dir_(std::move(dir)) {}

  // A finished run in dir_ with a param, two series and checkpoints announced at `steps`
  // (files made only for those in `exist`).
  std::string Run(const std::string& name, const std::vector<int64_t>& steps,
                  const std::vector<int64_t>& exist) {
    store::RunRecord r;
    r.name = name;
    r.cwd = dir_;
    r.started_at = 1000;
    EXPECT_TRUE(st_->CreateRun(&r).ok());
    EXPECT_TRUE(st_->SetParams(r.id, {{"lr", "0.1", "argv"}}).ok());
    std::unique_ptr<store::RunWriter> w;
    EXPECT_TRUE(st_->OpenWriter(r.id, &w).ok());
    for (int64_t s = 1; s <= 10; ++s) {
      EXPECT_TRUE(w->Append("train/loss", s, 1000 + s, 1.0 / s).ok());
      EXPECT_TRUE(w->Append("val/acc", s, 1000 + s, 0.05 * s).ok());
    }
    EXPECT_TRUE(w->Close().ok());
    for (int64_t step : steps) {
      std::string rel = name + "-ckpt-" + std::to_string(step) + ".pkl";
      if (std::find(exist.begin(), exist.end(), step) != exist.end()) {
        WriteFile(dir_ + "/" + rel, kSafePickle);
      }
      store::EventRecord e;
      e.run_id = r.id;
      e.time = 1000 + step;
      e.kind = "checkpoint";
      e.severity = "info";
      e.step_lo = step;
      e.data_json = remedy::ToJson(remedy::CheckpointData{rel, step, 1});
      EXPECT_TRUE(st_->AddEvent(&e).ok());
    }
    r.status = store::kFinished;
    r.ended_at = 1100;
    EXPECT_TRUE(st_->UpdateRun(r).ok());
    return r.id;
  }

  std::string Eval(const std::string& file, int n, const std::function<int(int)>& correct) {
    std::string path = dir_ + "/" + file;
    WriteFile(path, EvalText(n, correct));
    return path;
  }

  store::ModelVersionRecord Register(const std::string& run, const std::string& eval,
                                     const std::string& artifact = "") {
    RegisterOptions o;
    o.eval_path = eval;
    o.artifact = artifact;
    o.by = "test";
    store::ModelVersionRecord v;
    Status s = RegisterRun(st_, run, "clf", o, &v);
    EXPECT_TRUE(s.ok()) << s.message();
    return v;
  }

  PromoteOutcome Promote(int64_t version, const std::string& override_reason = "") {
    PromoteOptions o;
    o.gate.diff.bootstrap = 2000;
    o.by = "cli:me@host";
    o.override_reason = override_reason;
    PromoteOutcome out;
    Status s = registry::Promote(st_, "clf", version, o, &out);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

 private:
  store::Store* st_;
  std::string dir_;
};

TEST_P(RegistryTest, ARegisteredVersionRecordsTheRunsNewestExistingCheckpoint) {
  auto st = Open();
  ASSERT_TRUE(st);
  Fixture f(st.get(), root_);
  std::string run = f.Run("a", {100, 200, 300}, {100, 200});
  std::string eval = f.Eval("a.jsonl", 10, [](int i) { return i % 2; });
  store::ModelVersionRecord v = f.Register(run, eval);
  EXPECT_EQ(v.version, 1);
  EXPECT_EQ(v.stage, store::kStageCandidate);
  EXPECT_EQ(v.artifact, root_ + "/a-ckpt-200.pkl");  // 300 was announced but is gone
  EXPECT_EQ(v.artifact_step, 200);
  EXPECT_EQ(v.audit, store::kAuditPassed) << v.audit_detail;
  EXPECT_EQ(v.eval_path, eval);
  ASSERT_EQ(v.params.size(), 1u);
  EXPECT_EQ(v.params[0].value, "0.1");
  ASSERT_EQ(v.metrics.size(), 2u);
  EXPECT_EQ(v.metrics[0].first, "train/loss");
  EXPECT_DOUBLE_EQ(v.metrics[0].second, 0.1);
  EXPECT_DOUBLE_EQ(v.metrics[1].second, 0.5);
  store::ModelVersionRecord got;
  ASSERT_TRUE(st->GetModelVersion("clf", 1, &got).ok());
  EXPECT_EQ(got.artifact, v.artifact);
  EXPECT_EQ(got.created_by, "test");

  // An explicit artifact that fails the audit is recorded as failing, not refused.
  WriteFile(root_ + "/evil.pkl", kEvilPickle);
  store::ModelVersionRecord evil = f.Register(run, eval, root_ + "/evil.pkl");
  EXPECT_EQ(evil.version, 2);
  EXPECT_EQ(evil.audit, store::kAuditFailed);
  EXPECT_NE(evil.audit_detail.find("evil.pkl"), std::string::npos) << evil.audit_detail;

  RegisterOptions o;
  store::ModelVersionRecord out;
  o.artifact = root_ + "/missing.pt";
  EXPECT_EQ(RegisterRun(st.get(), run, "clf", o, &out).code(), Status::Code::kNotFound);
  o.artifact.clear();
  o.eval_path = root_ + "/missing.jsonl";
  EXPECT_EQ(RegisterRun(st.get(), run, "clf", o, &out).code(), Status::Code::kNotFound);
  WriteFile(root_ + "/bad.jsonl", "not json\n");
  o.eval_path = root_ + "/bad.jsonl";
  EXPECT_EQ(RegisterRun(st.get(), run, "clf", o, &out).code(), Status::Code::kInvalid);
  o.eval_path.clear();
  EXPECT_EQ(RegisterRun(st.get(), run, "bad name!", o, &out).code(), Status::Code::kInvalid);
  EXPECT_EQ(RegisterRun(st.get(), "no-such-run", "clf", o, &out).code(), Status::Code::kNotFound);
}

TEST_P(RegistryTest, PromotionFollowsTheGateOrARecordedOverride) {
  auto st = Open();
  ASSERT_TRUE(st);
  Fixture f(st.get(), root_);
  std::string a = f.Run("a", {10}, {10});
  std::string b = f.Run("b", {10}, {10});
  std::string base = f.Eval("a.jsonl", 120, [](int i) { return i % 2; });
  std::string better = f.Eval("b.jsonl", 120, [](int i) { return i % 2 || i % 4 == 0; });
  ASSERT_EQ(f.Register(a, base).version, 1);
  ASSERT_EQ(f.Register(b, "").version, 2);
  ASSERT_EQ(f.Register(b, better).version, 3);

  PromoteOutcome first = f.Promote(1);  // no champion yet
  EXPECT_TRUE(first.promoted) << testing::PrintToString(FailedLines(first.gate));
  EXPECT_FALSE(first.retired);

  PromoteOutcome bare = f.Promote(2);  // no eval outputs: no evidence
  EXPECT_FALSE(bare.promoted);
  auto lines = FailedLines(bare.gate);
  ASSERT_EQ(lines.size(), 4u) << testing::PrintToString(lines);
  EXPECT_EQ(lines[0].rfind("eval: clf v2 has no eval outputs", 0), 0u);
  store::ModelVersionRecord v2;
  ASSERT_TRUE(st->GetModelVersion("clf", 2, &v2).ok());
  EXPECT_EQ(v2.stage, store::kStageCandidate);

  PromoteOutcome win = f.Promote(3);
  ASSERT_TRUE(win.promoted) << testing::PrintToString(FailedLines(win.gate));
  EXPECT_EQ(win.retired, 1);
  EXPECT_NEAR(win.gate.diff_mean, 0.25, 1e-12);
  EXPECT_GT(win.gate.ci_low, 0);
  EXPECT_FALSE(win.change.override_gate);

  PromoteOutcome forced = f.Promote(2, "hotfix for the outage");
  ASSERT_TRUE(forced.promoted);
  EXPECT_TRUE(forced.change.override_gate);
  EXPECT_FALSE(forced.gate.passed);

  std::vector<store::ModelStageChange> changes;
  ASSERT_TRUE(st->ListModelStageChanges("clf", &changes).ok());
  ASSERT_EQ(changes.size(), 5u);  // v1 up; v1 retired, v3 up; v3 retired, v2 up
  EXPECT_EQ(changes[2].version, 3);
  EXPECT_NE(changes[2].gate_json.find("\"passed\":true"), std::string::npos);
  EXPECT_NE(changes[2].gate_json.find("\"diff_mean\":0.25"), std::string::npos);
  EXPECT_EQ(changes[4].version, 2);
  EXPECT_TRUE(changes[4].override_gate);
  EXPECT_EQ(changes[4].reason, "hotfix for the outage");
  EXPECT_EQ(changes[4].by, "cli:me@host");
  EXPECT_NE(changes[4].gate_json.find("\"passed\":false"), std::string::npos);

  PromoteOptions o;
  PromoteOutcome out;
  EXPECT_EQ(registry::Promote(st.get(), "clf", 2, o, &out).code(), Status::Code::kInvalid);
  EXPECT_EQ(registry::Promote(st.get(), "clf", 9, o, &out).code(), Status::Code::kNotFound);
}

TEST_P(RegistryTest, OpenErrorFindingsPendingActionsAndAFailedAuditBlock) {
  auto st = Open();
  ASSERT_TRUE(st);
  Fixture f(st.get(), root_);
  std::string run = f.Run("a", {10}, {10});
  std::string eval = f.Eval("a.jsonl", 20, [](int i) { return i % 2; });
  f.Register(run, eval);
  store::EventRecord e;
  e.run_id = run;
  e.time = 1050;
  e.kind = "nonfinite";
  e.severity = "error";
  e.step_lo = 5;
  remedy::FindingData fd;
  fd.series = "train/loss";
  e.data_json = remedy::ToJson(fd);
  ASSERT_TRUE(st->AddEvent(&e).ok());
  PromoteOutcome out = f.Promote(1);
  EXPECT_FALSE(out.promoted);
  auto lines = FailedLines(out.gate);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("1 open error finding: nonfinite on train/loss at step 5"),
            std::string::npos)
      << lines[0];

  fd.update = true;  // the detector closed it
  store::EventRecord end = e;
  end.step_hi = 7;
  end.data_json = remedy::ToJson(fd);
  ASSERT_TRUE(st->AddEvent(&end).ok());
  store::ActionRecord a;
  a.run_id = run;
  a.action = "resume";
  ASSERT_TRUE(st->AddAction(&a).ok());
  out = f.Promote(1);
  lines = FailedLines(out.gate);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("0 open error findings and 1 pending action"), std::string::npos)
      << lines[0];

  ASSERT_TRUE(st->DecideAction(a.id, store::kActionDenied, "me", "", nullptr).ok());
  WriteFile(root_ + "/evil.pkl", kEvilPickle);
  store::ModelVersionRecord evil = f.Register(run, eval, root_ + "/evil.pkl");
  out = f.Promote(evil.version);
  lines = FailedLines(out.gate);
  ASSERT_EQ(lines.size(), 1u) << testing::PrintToString(lines);
  EXPECT_EQ(lines[0].rfind("audit: artifact audit failed", 0), 0u) << lines[0];
  EXPECT_TRUE(f.Promote(1).promoted);
}

TEST_P(RegistryTest, DeployServesTheChampionAndShadowsANewerCandidate) {
  auto st = Open();
  ASSERT_TRUE(st);
  Fixture f(st.get(), root_);
  DeployTargets t;
  EXPECT_EQ(DeployTargetsOf(st.get(), "clf", &t).code(), Status::Code::kNotFound);
  std::string a = f.Run("a", {10}, {10});
  std::string b = f.Run("b", {20}, {20});
  std::string eval = f.Eval("a.jsonl", 20, [](int i) { return i % 2; });
  f.Register(a, eval);
  Status s = DeployTargetsOf(st.get(), "clf", &t);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("has no champion"), std::string::npos);
  ASSERT_TRUE(f.Promote(1).promoted);
  ASSERT_TRUE(DeployTargetsOf(st.get(), "clf", &t).ok());
  EXPECT_EQ(t.champion.version, 1);
  EXPECT_FALSE(t.shadow);
  f.Register(b, eval);
  ASSERT_TRUE(DeployTargetsOf(st.get(), "clf", &t).ok());
  ASSERT_TRUE(t.shadow);
  EXPECT_EQ(t.shadow->version, 2);
  EXPECT_EQ(t.shadow->artifact, root_ + "/b-ckpt-20.pkl");
  EXPECT_EQ(WithArtifact({"serve", "--w={artifact}", "{artifact}{artifact}", "{port}"}, "/m.pt"),
            (std::vector<std::string>{"serve", "--w=/m.pt", "/m.pt/m.pt", "{port}"}));
}

INLOOP_ON_EVERY_STORE_BACKEND(RegistryTest);

}  // namespace
}  // namespace inloop::registry
