// The store's model-registry group (store.h, "Model registry") on every backend: versions are
// numbered per name, records round-trip (params, metrics with non-finite values, a missing
// artifact step), a stage change needs the stage it names, and a promotion retires the name's
// other champion with a change of its own, atomically.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <limits>

#include "store/store.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

using ModelStoreTest = BackendStoreTest;

ModelVersionRecord Version(const std::string& name, const std::string& run) {
  ModelVersionRecord v;
  v.name = name;
  v.run_id = run;
  v.created_by = "cli:me@host";
  v.created_at = 1700000000.5;
  return v;
}

ModelStageChange Change(const std::string& name, int64_t version, const char* from,
                        const char* to) {
  ModelStageChange c;
  c.name = name;
  c.version = version;
  c.from_stage = from;
  c.to_stage = to;
  c.by = "cli:me@host";
  c.reason = "the gate passed";
  c.gate_json = R"({"passed":true})";
  return c;
}

TEST_P(ModelStoreTest, VersionsAreNumberedPerNameAndRoundTrip) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string run = NewRun(st.get());
  ModelVersionRecord a = Version("clf", run);
  a.artifact = "/ckpt/step-200.pt";
  a.artifact_step = 200;
  a.eval_path = "/eval/a.jsonl";
  a.audit = kAuditFailed;
  a.audit_detail = "x.pt: os.system (pickle.global.dangerous, critical)";
  a.params = {{"lr", "3e-4", "argv"}, {"batch", "32", "sdk"}};
  a.metrics = {{"train/loss", 0.25}, {"val/acc", std::numeric_limits<double>::quiet_NaN()},
               {"x", std::numeric_limits<double>::infinity()}};
  ASSERT_TRUE(st->AddModelVersion(&a).ok());
  EXPECT_EQ(a.version, 1);
  ModelVersionRecord b = Version("clf", run);
  ASSERT_TRUE(st->AddModelVersion(&b).ok());
  EXPECT_EQ(b.version, 2);
  ModelVersionRecord other = Version("another", run);
  ASSERT_TRUE(st->AddModelVersion(&other).ok());
  EXPECT_EQ(other.version, 1);
  ModelVersionRecord unnamed = Version("", run);
  EXPECT_EQ(st->AddModelVersion(&unnamed).code(), Status::Code::kInvalid);

  ModelVersionRecord got;
  ASSERT_TRUE(st->GetModelVersion("clf", 1, &got).ok());
  EXPECT_EQ(got.run_id, run);
  EXPECT_EQ(got.stage, kStageCandidate);
  EXPECT_EQ(got.artifact, "/ckpt/step-200.pt");
  EXPECT_EQ(got.artifact_step, 200);
  EXPECT_EQ(got.eval_path, "/eval/a.jsonl");
  EXPECT_EQ(got.audit, kAuditFailed);
  EXPECT_EQ(got.audit_detail, a.audit_detail);
  ASSERT_EQ(got.params.size(), 2u);
  EXPECT_EQ(got.params[1].key, "batch");
  EXPECT_EQ(got.params[1].value, "32");
  EXPECT_EQ(got.params[1].source, "sdk");
  ASSERT_EQ(got.metrics.size(), 3u);
  EXPECT_EQ(got.metrics[0].first, "train/loss");
  EXPECT_DOUBLE_EQ(got.metrics[0].second, 0.25);
  EXPECT_TRUE(std::isnan(got.metrics[1].second));
  EXPECT_TRUE(std::isinf(got.metrics[2].second));
  EXPECT_DOUBLE_EQ(got.created_at, 1700000000.5);
  EXPECT_EQ(got.created_by, "cli:me@host");
  ASSERT_TRUE(st->GetModelVersion("clf", 2, &got).ok());
  EXPECT_EQ(got.artifact_step, -1);
  EXPECT_EQ(got.audit, kAuditNone);
  EXPECT_EQ(st->GetModelVersion("clf", 3, &got).code(), Status::Code::kNotFound);

  std::vector<ModelVersionRecord> all;
  ASSERT_TRUE(st->ListModelVersions("", &all).ok());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "another");
  EXPECT_EQ(all[1].name, "clf");
  EXPECT_EQ(all[2].version, 2);
  ASSERT_TRUE(st->ListModelVersions("clf", &all).ok());
  EXPECT_EQ(all.size(), 2u);
  ASSERT_TRUE(st->ListModelVersions("nothing", &all).ok());
  EXPECT_TRUE(all.empty());
}

TEST_P(ModelStoreTest, PromotionRetiresTheChampionAndRecordsEveryChange) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string run = NewRun(st.get());
  for (int i = 0; i < 3; ++i) {
    ModelVersionRecord v = Version("clf", run);
    ASSERT_TRUE(st->AddModelVersion(&v).ok());
  }
  ModelVersionRecord other = Version("other", run);
  ASSERT_TRUE(st->AddModelVersion(&other).ok());

  ModelStageChange c1 = Change("clf", 1, kStageCandidate, kStageChampion);
  ASSERT_TRUE(st->ChangeModelStage(&c1).ok());
  EXPECT_GT(c1.id, 0);
  EXPECT_GT(c1.at, 0);
  ModelStageChange o1 = Change("other", 1, kStageCandidate, kStageChampion);
  ASSERT_TRUE(st->ChangeModelStage(&o1).ok());

  // The stage named must be the stage it has: a second promoter of v1 loses.
  ModelStageChange again = Change("clf", 1, kStageCandidate, kStageChampion);
  Status s = st->ChangeModelStage(&again);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("champion now"), std::string::npos) << s.message();
  ModelStageChange missing = Change("clf", 9, kStageCandidate, kStageChampion);
  EXPECT_EQ(st->ChangeModelStage(&missing).code(), Status::Code::kNotFound);
  ModelStageChange bogus = Change("clf", 2, kStageCandidate, "production");
  EXPECT_EQ(st->ChangeModelStage(&bogus).code(), Status::Code::kInvalid);

  // A change judged against another champion (or none) does not land.
  ModelStageChange stale = Change("clf", 3, kStageCandidate, kStageChampion);
  stale.expect_champion = 0;
  s = st->ChangeModelStage(&stale);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("the champion of clf changed meanwhile (now v1)"), std::string::npos)
      << s.message();

  ModelStageChange c3 = Change("clf", 3, kStageCandidate, kStageChampion);
  c3.expect_champion = 1;
  c3.override_gate = true;
  c3.reason = "hotfix";
  c3.at = 1700000100;
  ASSERT_TRUE(st->ChangeModelStage(&c3).ok());

  std::vector<ModelVersionRecord> all;
  ASSERT_TRUE(st->ListModelVersions("clf", &all).ok());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].stage, kStageRetired);
  EXPECT_EQ(all[1].stage, kStageCandidate);
  EXPECT_EQ(all[2].stage, kStageChampion);
  ModelVersionRecord o;
  ASSERT_TRUE(st->GetModelVersion("other", 1, &o).ok());
  EXPECT_EQ(o.stage, kStageChampion);  // another name's champion stays

  std::vector<ModelStageChange> changes;
  ASSERT_TRUE(st->ListModelStageChanges("clf", &changes).ok());
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].version, 1);
  EXPECT_EQ(changes[0].to_stage, kStageChampion);
  EXPECT_EQ(changes[0].gate_json, R"({"passed":true})");
  EXPECT_FALSE(changes[0].override_gate);
  EXPECT_EQ(changes[1].version, 1);
  EXPECT_EQ(changes[1].from_stage, kStageChampion);
  EXPECT_EQ(changes[1].to_stage, kStageRetired);
  EXPECT_EQ(changes[1].reason, "replaced by v3");
  EXPECT_DOUBLE_EQ(changes[1].at, 1700000100);
  EXPECT_EQ(changes[1].gate_json, "{}");
  EXPECT_EQ(changes[2].version, 3);
  EXPECT_TRUE(changes[2].override_gate);
  EXPECT_EQ(changes[2].reason, "hotfix");
  EXPECT_EQ(changes[2].by, "cli:me@host");
  ASSERT_TRUE(st->ListModelStageChanges("", &changes).ok());
  EXPECT_EQ(changes.size(), 4u);

  // A retired version may come back (a rollback), retiring the current champion.
  ModelStageChange back = Change("clf", 1, kStageRetired, kStageChampion);
  ASSERT_TRUE(st->ChangeModelStage(&back).ok());
  ASSERT_TRUE(st->ListModelVersions("clf", &all).ok());
  EXPECT_EQ(all[0].stage, kStageChampion);
  EXPECT_EQ(all[2].stage, kStageRetired);
}

TEST_P(ModelStoreTest, ASecondOpenerSeesTheRegistry) {
  auto st = Open();
  ASSERT_TRUE(st);
  ModelVersionRecord v = Version("clf", NewRun(st.get()));
  ASSERT_TRUE(st->AddModelVersion(&v).ok());
  auto second = Open();
  ASSERT_TRUE(second);
  ModelVersionRecord w = Version("clf", v.run_id);
  ASSERT_TRUE(second->AddModelVersion(&w).ok());
  EXPECT_EQ(w.version, 2);
  ModelStageChange c = Change("clf", 2, kStageCandidate, kStageChampion);
  ASSERT_TRUE(st->ChangeModelStage(&c).ok());
  ModelVersionRecord got;
  ASSERT_TRUE(second->GetModelVersion("clf", 2, &got).ok());
  EXPECT_EQ(got.stage, kStageChampion);
}

TEST_P(ModelStoreTest, AStoreMadeBeforeTheRegistryGainsItsTables) {
  {
    auto st = Open();
    ASSERT_TRUE(st);
    NewRun(st.get());
  }
  const char* drop = "DROP TABLE model_versions; DROP TABLE model_stage_changes";
  if (pg()) {
    std::unique_ptr<pg::PgConn> conn;
    ASSERT_TRUE(pg::PgConn::Connect(dir_, &conn).ok());
    ASSERT_TRUE(conn->ExecScript(drop).ok());
  } else {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/inloop.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, drop, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto st = Open();
  ASSERT_TRUE(st);
  std::vector<ModelVersionRecord> all;
  ASSERT_TRUE(st->ListModelVersions("", &all).ok());
  EXPECT_TRUE(all.empty());
  ModelVersionRecord v = Version("clf", "r");
  ASSERT_TRUE(st->AddModelVersion(&v).ok());
  EXPECT_EQ(v.version, 1);
}

INLOOP_ON_EVERY_STORE_BACKEND(ModelStoreTest);

}  // namespace
}  // namespace inloop::store
