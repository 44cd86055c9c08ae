// Replay tests of the parallel-rounds scheduler (loop/parallel_rounds.h): event scripts in,
// the actions the driver must carry out, in order.
#include "loop/parallel_rounds.h"

#include <gtest/gtest.h>

namespace inloop::loop {
namespace {

SchedulerConfig Cfg(int slots, int noise = 2, int64_t rounds = -1, int max_rebases = 3) {
  SchedulerConfig c;
  c.slots = slots;
  c.noise_seeds = noise;
  c.rounds = rounds;
  c.max_rebases = max_rebases;
  return c;
}

TEST(ParallelScheduler, EveryFreeSlotStartsACandidateAndRoundsLimitStarts) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 2, 3), 2,
                           {"tick", "tick", "fin 0 fail", "tick", "fin 1 fail", "tick",
                            "fin 0 fail", "tick"}),
            "start 0, start 1 | - | discard 0 | start 0 | discard 1 | - | discard 0 | done");
}

TEST(ParallelScheduler, KeepOnUnmovedChampionThenTheOtherIsRebasedAndRemeasured) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 2, 2), 2,
                           {"tick", "fin 1 pass 2", "fin 0 pass 3", "rebased 0 ok", "tick",
                            "fin 0 pass 3", "tick"}),
            "start 0, start 1 | keep 1 | rebase 0 | remeasure 0 | - | keep 0 | done");
}

TEST(ParallelScheduler, ARebaseConflictDiscardsTheCandidate) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 1, 2), 1,
                           {"tick", "fin 0 pass 1", "fin 1 pass 1", "rebased 1 conflict", "tick"}),
            "start 0, start 1 | keep 0 | rebase 1 | conflict 1 | done");
}

TEST(ParallelScheduler, ARemeasuredCandidateThatNoLongerPassesIsDiscarded) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 1, 2), 1,
                           {"tick", "fin 0 pass 1", "fin 1 pass 1", "rebased 1 ok", "fin 1 fail",
                            "tick"}),
            "start 0, start 1 | keep 0 | rebase 1 | remeasure 1 | discard 1 | done");
}

TEST(ParallelScheduler, ChampionNoiseIsToppedUpFirstAndOldSamplesAreDropped) {
  // The new champion has 1 sample of the 2 wanted: a free slot re-runs it first.
  EXPECT_EQ(ReplaySchedule(Cfg(2, 2), 2,
                           {"tick", "fin 0 pass 1", "tick", "fin 1 fail", "tick", "fin 0 ok",
                            "tick"}),
            "start 0, start 1 | keep 0 | noise 0 | discard 1 | start 1 | accept 0 | start 0");
  // A noise run of a champion that was replaced meanwhile does not count.
  EXPECT_EQ(ReplaySchedule(Cfg(2, 2), 2,
                           {"tick", "fin 0 pass 1", "tick", "fin 1 pass 2", "rebased 1 ok",
                            "fin 1 pass 2", "fin 0 ok", "tick"}),
            "start 0, start 1 | keep 0 | noise 0 | rebase 1 | remeasure 1 | keep 1 | drop 0 | "
            "start 0, start 1");
}

TEST(ParallelScheduler, FailedNoiseRunsAreBoundedByNoiseSeeds) {
  EXPECT_EQ(ReplaySchedule(Cfg(1, 2), 0,
                           {"tick", "fin 0 fail", "tick", "fin 0 fail", "tick"}),
            "noise 0 | drop 0 | noise 0 | drop 0 | start 0");
}

TEST(ParallelScheduler, AfterMaxRebasesTheCandidateIsStale) {
  EXPECT_EQ(ReplaySchedule(Cfg(3, 1, 3, 1), 1,
                           {"tick", "fin 0 pass 1", "fin 2 pass 1", "rebased 2 ok",
                            "fin 1 pass 1", "rebased 1 ok", "fin 1 pass 1", "fin 2 pass 1",
                            "tick"}),
            "start 0, start 1, start 2 | keep 0 | rebase 2 | remeasure 2 | rebase 1 | "
            "remeasure 1 | keep 1 | stale 2 | done");
}

TEST(ParallelScheduler, StopStartsNothingAndIsDoneWhenSlotsDrain) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 1), 1,
                           {"tick", "stop", "fin 0 fail", "tick", "fin 1 pass 1"}),
            "start 0, start 1 | - | discard 0 | - | keep 1");
  ParallelScheduler s(Cfg(2, 1), 1);
  s.OnEvent({SchedulerEvent::Kind::kTick});
  s.OnEvent({SchedulerEvent::Kind::kStop});
  SchedulerEvent fin;
  fin.kind = SchedulerEvent::Kind::kFinished;
  fin.slot = 0;
  s.OnEvent(fin);
  EXPECT_FALSE(s.done());
  fin.slot = 1;
  s.OnEvent(fin);
  auto last = s.OnEvent({SchedulerEvent::Kind::kTick});
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].kind, SchedulerAction::Kind::kDone);
  EXPECT_TRUE(s.done());
  EXPECT_TRUE(s.idle());
}

TEST(ParallelScheduler, UntilStopsStartsButLetsRunningSlotsFinish) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 1), 1, {"tick", "tick-", "fin 0 fail", "tick-", "fin 1 fail",
                                          "tick-"}),
            "start 0, start 1 | - | discard 0 | - | discard 1 | done");
}

TEST(ParallelScheduler, StrayEventsChangeNothing) {
  EXPECT_EQ(ReplaySchedule(Cfg(2, 1), 1, {"fin 0 pass 1", "rebased 1 ok", "fin 7 fail", "tick"}),
            "- | - | - | start 0, start 1");
}

TEST(ParallelScheduler, ChampionVersionCountsKeeps) {
  ParallelScheduler s(Cfg(2, 1), 1);
  s.OnEvent({SchedulerEvent::Kind::kTick});
  EXPECT_TRUE(s.OnChampion(0));
  SchedulerEvent fin;
  fin.kind = SchedulerEvent::Kind::kFinished;
  fin.slot = 1;
  fin.passed = true;
  fin.champion_samples = 3;
  s.OnEvent(fin);
  EXPECT_EQ(s.champion_version(), 1);
  EXPECT_EQ(s.champion_samples(), 3);
  EXPECT_FALSE(s.OnChampion(0));
  EXPECT_EQ(s.task(0), SlotTask::kCandidate);
}

}  // namespace
}  // namespace inloop::loop
