// The step job records (data/slurm_jobs.h): one JSON form, and the two writers (the driver after
// sbatch, the job as it starts and finishes) in either order.
#include "data/slurm_jobs.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace inloop::data {
namespace {

class SlurmJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-slurmjobs-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

StepJob Submitted(const std::string& id) {
  StepJob j;
  j.job_id = id;
  j.state = "submitted";
  j.reason = "never built";
  j.after = {"7", "8"};
  j.submitted_at = j.updated_at = 1000.5;
  return j;
}

TEST_F(SlurmJobsTest, JsonRoundTrip) {
  StepJobs jobs{{"gen", Submitted("12")}};
  jobs["gen"].run_id = "r1";
  StepJobs back;
  ASSERT_TRUE(ParseStepJobs(StepJobsJson(jobs), &back).ok());
  ASSERT_EQ(back.count("gen"), 1u);
  EXPECT_EQ(back["gen"].job_id, "12");
  EXPECT_EQ(back["gen"].after, (std::vector<std::string>{"7", "8"}));
  EXPECT_EQ(back["gen"].run_id, "r1");
  EXPECT_DOUBLE_EQ(back["gen"].submitted_at, 1000.5);
  EXPECT_EQ(ParseStepJobs("{\"x\":", &back).code(), Status::Code::kCorrupt);
}

TEST_F(SlurmJobsTest, TheJobThenTheDriverKeepsTheJobsState) {
  StepJobs jobs;
  ASSERT_TRUE(LoadStepJobs(dir_, &jobs).ok());  // none yet
  EXPECT_TRUE(jobs.empty());
  // A fast scheduler: the job starts and records before the driver has written "submitted".
  ASSERT_TRUE(UpdateStepJob(dir_, "gen", "12", "running", "", "", 1001).ok());
  ASSERT_TRUE(RecordStepJob(dir_, "gen", Submitted("12")).ok());
  ASSERT_TRUE(LoadStepJobs(dir_, &jobs).ok());
  EXPECT_EQ(jobs["gen"].state, "running");
  EXPECT_EQ(jobs["gen"].after, (std::vector<std::string>{"7", "8"}));
  ASSERT_TRUE(UpdateStepJob(dir_, "gen", "12", "ran", "", "run-1", 1002).ok());
  ASSERT_TRUE(LoadStepJobs(dir_, &jobs).ok());
  EXPECT_EQ(jobs["gen"].state, "ran");
  EXPECT_EQ(jobs["gen"].run_id, "run-1");
}

TEST_F(SlurmJobsTest, ANewSubmissionReplacesTheOldJob) {
  ASSERT_TRUE(RecordStepJob(dir_, "gen", Submitted("12")).ok());
  ASSERT_TRUE(UpdateStepJob(dir_, "gen", "12", "failed", "exit 1", "", 1001).ok());
  ASSERT_TRUE(RecordStepJob(dir_, "gen", Submitted("13")).ok());
  StepJobs jobs;
  ASSERT_TRUE(LoadStepJobs(dir_, &jobs).ok());
  EXPECT_EQ(jobs["gen"].job_id, "13");
  EXPECT_EQ(jobs["gen"].state, "submitted");
  EXPECT_EQ(jobs["gen"].reason, "never built");
}

}  // namespace
}  // namespace inloop::data
