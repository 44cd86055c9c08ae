// The store's MLflow group (store.h, "MLflow compatibility") on every backend: experiments get
// ids (given or next), names are unique on create and rename, the run -> experiment link is
// insert-or-replace, and RemoveTags removes only what it names.
#include <gtest/gtest.h>

#include "store/store.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

using ExperimentStoreTest = BackendStoreTest;

TEST_P(ExperimentStoreTest, ExperimentsLinksAndTagRemoval) {
  auto st = Open();
  ASSERT_TRUE(st);
  ExperimentRecord def;
  def.id = 0;
  def.name = "Default";
  ASSERT_TRUE(st->CreateExperiment(&def).ok());
  EXPECT_EQ(def.id, 0);
  ExperimentRecord a;
  a.name = "sweep";
  a.created_at = a.updated_at = 1700000000.25;
  ASSERT_TRUE(st->CreateExperiment(&a).ok());
  EXPECT_EQ(a.id, 1);
  ExperimentRecord dup;
  dup.name = "sweep";
  EXPECT_EQ(st->CreateExperiment(&dup).code(), Status::Code::kInvalid);

  ExperimentRecord got;
  ASSERT_TRUE(st->FindExperimentByName("sweep", &got).ok());
  EXPECT_EQ(got.id, 1);
  EXPECT_DOUBLE_EQ(got.created_at, 1700000000.25);
  EXPECT_EQ(st->GetExperiment(7, &got).code(), Status::Code::kNotFound);
  got.name = "Default";  // taken
  EXPECT_EQ(st->UpdateExperiment(got).code(), Status::Code::kInvalid);
  got.name = "sweep-2";
  got.lifecycle = kLifecycleDeleted;
  ASSERT_TRUE(st->UpdateExperiment(got).ok());
  std::vector<ExperimentRecord> all;
  ASSERT_TRUE(st->ListExperiments(&all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].name, "sweep-2");
  EXPECT_EQ(all[1].lifecycle, kLifecycleDeleted);

  RunRecord run;
  run.name = "r";
  ASSERT_TRUE(st->CreateRun(&run).ok());
  RunExperiment link;
  EXPECT_EQ(st->GetRunExperiment(run.id, &link).code(), Status::Code::kNotFound);
  ASSERT_TRUE(st->SetRunExperiment(RunExperiment{run.id, 1, kLifecycleActive}).ok());
  ASSERT_TRUE(st->SetRunExperiment(RunExperiment{run.id, 0, kLifecycleDeleted}).ok());
  ASSERT_TRUE(st->GetRunExperiment(run.id, &link).ok());
  EXPECT_EQ(link.experiment_id, 0);
  EXPECT_EQ(link.lifecycle, kLifecycleDeleted);
  std::vector<RunExperiment> links;
  ASSERT_TRUE(st->ListRunExperiments(&links).ok());
  EXPECT_EQ(links.size(), 1u);

  ASSERT_TRUE(st->AddTags(run.id, {"a=1", "b", "c"}).ok());
  ASSERT_TRUE(st->RemoveTags(run.id, {"b", "zzz"}).ok());
  std::vector<std::string> tags;
  ASSERT_TRUE(st->GetTags(run.id, &tags).ok());
  EXPECT_EQ(tags, (std::vector<std::string>{"a=1", "c"}));
}

INLOOP_ON_EVERY_STORE_BACKEND(ExperimentStoreTest);

}  // namespace
}  // namespace inloop::store
