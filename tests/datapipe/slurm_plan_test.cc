// SlurmPlan (data/slurm_plan.h) replayed: a pipeline of two independent steps, one that joins
// them and a validation step after it, driven through the plan's actions with scripted
// assessments, submissions and jobs left from an earlier submission; each test checks the exact
// sequence of actions the driver would carry out and where every step ends.
#include "data/slurm_plan.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace inloop::data {
namespace {

// a, b: independent; join reads both; check reads join.
const std::vector<std::string> kNames = {"a", "b", "join", "check"};
const std::vector<std::vector<int>> kDeps = {{}, {}, {0, 1}, {2}};

SlurmPlan Plan(std::vector<int> order = {0, 1, 2, 3}) { return SlurmPlan(kNames, kDeps, order); }

struct Script {
  std::map<std::string, std::string> assess;  // step -> "up" | "stale" | "error"
  std::set<std::string> refuse;               // sbatch refuses these
};

// Drives the plan to kDone; the actions as lines. Jobs are numbered from 100 in submission order.
std::vector<std::string> Drive(SlurmPlan& plan, const Script& sc) {
  std::vector<std::string> log;
  int next_job = 100;
  for (int guard = 0; guard < 100; ++guard) {
    PlanAction a = plan.Next();
    if (a.kind == PlanAction::Kind::kDone) return log;
    const std::string& name = kNames[static_cast<size_t>(a.step)];
    if (a.kind == PlanAction::Kind::kAssess) {
      log.push_back("assess " + name);
      auto it = sc.assess.find(name);
      std::string r = it == sc.assess.end() ? "stale" : it->second;
      if (r == "error") {
        plan.AssessFailed(a.step, "input missing");
      } else {
        plan.Assessed(a.step, r == "up", r == "up" ? "" : "never built");
      }
      continue;
    }
    std::string line = "submit " + name;
    for (size_t i = 0; i < a.after.size(); ++i) line += (i ? "," : " after ") + a.after[i];
    log.push_back(line);
    if (sc.refuse.count(name)) {
      plan.SubmitFailed(a.step, "sbatch refused");
    } else {
      plan.Submitted(a.step, std::to_string(next_job++));
    }
  }
  ADD_FAILURE() << "the plan did not finish";
  return log;
}

std::string States(const SlurmPlan& plan) {
  std::string s;
  for (size_t i = 0; i < kNames.size(); ++i) {
    const PlannedStep& p = plan.step(static_cast<int>(i));
    s += (s.empty() ? "" : " ") + kNames[i] + "=" + PlanStateName(p.state);
    if (!p.job_id.empty()) s += "(" + p.job_id + ")";
  }
  return s;
}

using Lines = std::vector<std::string>;

TEST(SlurmPlanTest, FirstBuildSubmitsEverythingWithAfterokChains) {
  SlurmPlan plan = Plan();
  EXPECT_EQ(Drive(plan, {}), (Lines{"assess a", "submit a", "assess b", "submit b",
                                    "submit join after 100,101", "submit check after 102"}));
  EXPECT_EQ(States(plan), "a=submitted(100) b=submitted(101) join=submitted(102) check=submitted(103)");
  EXPECT_EQ(plan.step(0).reason, "never built");
  EXPECT_EQ(plan.step(2).after, (std::vector<std::string>{"100", "101"}));
}

TEST(SlurmPlanTest, NoOpRerunAssessesEachStepAndSubmitsNothing) {
  SlurmPlan plan = Plan();
  Script sc{{{"a", "up"}, {"b", "up"}, {"join", "up"}, {"check", "up"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "assess b", "assess join", "assess check"}));
  EXPECT_EQ(States(plan), "a=up_to_date b=up_to_date join=up_to_date check=up_to_date");
}

TEST(SlurmPlanTest, OneStaleSourceRebuildsItAndWhatDependsOnIt) {
  SlurmPlan plan = Plan();
  Script sc{{{"a", "up"}, {"b", "stale"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "assess b", "submit b", "submit join after 100",
                                    "submit check after 101"}));
  EXPECT_EQ(States(plan), "a=up_to_date b=submitted(100) join=submitted(101) check=submitted(102)");
}

TEST(SlurmPlanTest, RerunAfterAFailureResumesAtTheFailedStep) {
  // join failed last time: a and b are up to date, join is stale (its last run failed).
  SlurmPlan plan = Plan();
  Script sc{{{"a", "up"}, {"b", "up"}, {"join", "stale"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "assess b", "assess join", "submit join",
                                    "submit check after 100"}));
  EXPECT_EQ(States(plan), "a=up_to_date b=up_to_date join=submitted(100) check=submitted(101)");
}

TEST(SlurmPlanTest, AStepWithALiveJobIsNotSubmittedAgainAndOthersWaitForIt) {
  SlurmPlan plan = Plan();
  plan.InFlight(0, "77");
  Script sc{{{"b", "up"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess b", "submit join after 77", "submit check after 100"}));
  EXPECT_EQ(States(plan), "a=in_flight(77) b=up_to_date join=submitted(100) check=submitted(101)");
}

TEST(SlurmPlanTest, EverythingInFlightSubmitsNothing) {
  SlurmPlan plan = Plan();
  plan.InFlight(0, "70");
  plan.InFlight(1, "71");
  plan.InFlight(2, "72");
  plan.InFlight(3, "73");
  EXPECT_EQ(Drive(plan, {}), Lines{});
  EXPECT_EQ(States(plan), "a=in_flight(70) b=in_flight(71) join=in_flight(72) check=in_flight(73)");
}

TEST(SlurmPlanTest, ALiveDependentIsKeptWhileItsInputIsRebuilt) {
  SlurmPlan plan = Plan();
  plan.InFlight(2, "90");
  Script sc{{{"a", "stale"}, {"b", "up"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "submit a", "assess b", "submit check after 90"}));
  EXPECT_EQ(States(plan), "a=submitted(100) b=up_to_date join=in_flight(90) check=submitted(101)");
}

TEST(SlurmPlanTest, AStepThatCannotBeAssessedBlocksItsDependentsOnly) {
  SlurmPlan plan = Plan();
  Script sc{{{"a", "error"}, {"b", "stale"}}, {}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "assess b", "submit b"}));
  EXPECT_EQ(States(plan), "a=failed b=submitted(100) join=blocked check=blocked");
  EXPECT_EQ(plan.step(2).reason, "step 'a' did not succeed");
  EXPECT_EQ(plan.step(3).reason, "step 'join' did not succeed");
}

TEST(SlurmPlanTest, ARefusedSubmissionBlocksWhatWouldWaitForIt) {
  SlurmPlan plan = Plan();
  Script sc{{}, {"join"}};
  EXPECT_EQ(Drive(plan, sc), (Lines{"assess a", "submit a", "assess b", "submit b",
                                    "submit join after 100,101"}));
  EXPECT_EQ(States(plan), "a=submitted(100) b=submitted(101) join=failed check=blocked");
  EXPECT_EQ(plan.step(2).reason, "sbatch refused");
}

TEST(SlurmPlanTest, OnlyTheSelectedStepsArePlanned) {
  SlurmPlan plan = Plan({1});
  EXPECT_EQ(Drive(plan, {}), (Lines{"assess b", "submit b"}));
  EXPECT_EQ(States(plan), "a=unknown b=submitted(100) join=unknown check=unknown");
}

TEST(SlurmPlanTest, JobViewFromTheQueueAndTheJobsRecord) {
  EXPECT_EQ(ViewJob("submitted", "", "PENDING", "").state, "queued");
  EXPECT_FALSE(ViewJob("submitted", "", "PENDING", "").settled);
  EXPECT_EQ(ViewJob("running", "", "RUNNING", "").state, "running");
  EXPECT_EQ(ViewJob("", "", "RUNNING", "").state, "running");
  // The job recorded its step and is still completing in the queue.
  EXPECT_EQ(ViewJob("ran", "", "COMPLETING", "").state, "ran");
  JobView v = ViewJob("invalid", "rows on o: 5 < 10", "", "");
  EXPECT_EQ(v.state, "invalid");
  EXPECT_EQ(v.reason, "rows on o: 5 < 10");
  EXPECT_TRUE(v.settled);
  v = ViewJob("submitted", "", "", "join");
  EXPECT_EQ(v.state, "blocked");
  EXPECT_EQ(v.reason, "step 'join' did not succeed");
  EXPECT_EQ(ViewJob("submitted", "", "", "").state, "lost");
  EXPECT_EQ(ViewJob("running", "", "", "").state, "lost");
  EXPECT_EQ(ViewJob("up_to_date", "", "", "").state, "up_to_date");
}

}  // namespace
}  // namespace inloop::data
