// Champion re-checks (loop/recheck.h): when one is due, the fresh seeds, the decision, and a
// replay of the loop's decisions over a 200-round simulation (tests/support/loop_sim.h) with seed
// noise 10x the true effects: without re-checks a false keep leaves the champion truly worse
// than the baseline (the downward-biased running minimum); with them the champion's true gain is
// never negative after a re-check nor at the end.
#include "loop/recheck.h"

#include <set>

#include <gtest/gtest.h>

#include "support/loop_sim.h"

namespace inloop::loop {
namespace {

TEST(Recheck, DueOnlyForAnUnverifiedChampionAfterKRounds) {
  RecheckState s = StartRechecks("base", {});
  EXPECT_FALSE(RecheckDue(2, s, "base"));
  NoteRound(&s, "base");  // a discarded round: nothing to re-check
  NoteRound(&s, "base");
  EXPECT_EQ(s.pending, 0);
  EXPECT_FALSE(RecheckDue(2, s, "base"));
  NoteRound(&s, "c1");  // round 3 kept c1
  EXPECT_FALSE(RecheckDue(2, s, "c1"));
  NoteRound(&s, "c1");  // round 4 discarded
  EXPECT_TRUE(RecheckDue(2, s, "c1"));
  EXPECT_FALSE(RecheckDue(0, s, "c1")) << "0 turns re-checks off";
  EXPECT_TRUE(RecheckDue(1, s, "c1"));
  EXPECT_FALSE(RecheckDue(3, s, "c1"));
}

TEST(Recheck, EveryOneChecksRightAfterTheKeepingRound) {
  RecheckState s = StartRechecks("base", {});
  NoteRound(&s, "c1");
  EXPECT_TRUE(RecheckDue(1, s, "c1"));
}

TEST(Recheck, FreshSeedsNeverTheGatesNorAnotherRechecks) {
  EXPECT_EQ(RecheckSeedCount(3, 3), 6);
  EXPECT_EQ(RecheckSeedCount(2, 4), 8);
  EXPECT_EQ(RecheckSeedCount(0, 0), 2);
  std::set<int64_t> seen;
  for (int64_t gate_seed = 7; gate_seed < 7 + 100; ++gate_seed) seen.insert(gate_seed);
  for (int64_t round : {1, 2, 3, 50}) {
    for (int64_t s : RecheckSeeds(7, round, 5)) {
      EXPECT_TRUE(seen.insert(s).second) << "seed " << s << " of round " << round << " reused";
    }
  }
}

TEST(Recheck, ConfirmsAChampionStillBetterAndMakesItTheReference) {
  GateConfig g;  // minimise
  RecheckDecision d = DecideRecheck(g, {1.00, 1.01, 0.99}, {0.80, 0.81, 0.79});
  EXPECT_FALSE(d.demote) << d.reason;
  EXPECT_NEAR(d.gate.gain, 0.20, 1e-12);
  EXPECT_NE(d.reason.find("confirmed"), std::string::npos) << d.reason;
  RecheckState s = StartRechecks("base", {{"lr", "0.1"}});
  s.pending = 4;
  ApplyRecheck(&s, d, "c3", 3, {{"lr", "0.05"}});
  EXPECT_EQ(s.reference_commit, "c3");
  EXPECT_EQ(s.reference_round, 3);
  EXPECT_EQ(s.reference_params, (ParamValues{{"lr", "0.05"}}));
  EXPECT_EQ(s.pending, 0);
  EXPECT_FALSE(RecheckDue(1, s, "c3"));
}

TEST(Recheck, DemotesAChampionWithinTheNoiseAndKeepsTheReference) {
  GateConfig g;
  // The keep was luck: on fresh seeds the champion is no better than its reference.
  RecheckDecision d = DecideRecheck(g, {1.00, 1.02, 0.98}, {0.99, 1.01, 1.03});
  EXPECT_TRUE(d.demote) << d.reason;
  EXPECT_NE(d.reason.find("demoted"), std::string::npos) << d.reason;
  RecheckState s = StartRechecks("base", {});
  s.pending = 5;
  ApplyRecheck(&s, d, "c4", 4, {});
  EXPECT_EQ(s.reference_commit, "base");
  EXPECT_EQ(s.pending, 0);
}

TEST(Recheck, OneLookNoMoreSeedsAndTheGoalsDirection) {
  GateConfig g;
  g.minimize = false;
  g.max_seeds = 5;  // ignored: a re-check never asks for more seeds
  RecheckDecision d = DecideRecheck(g, {0.50, 0.51, 0.49}, {0.505, 0.52, 0.50});
  EXPECT_NE(d.gate.verdict, GateVerdict::kMoreSeeds);
  EXPECT_TRUE(d.demote) << d.reason;
  EXPECT_FALSE(DecideRecheck(g, {0.50, 0.51, 0.49}, {0.70, 0.71, 0.69}).demote);
}

// A replay of a loop's decisions: keep at round 2 (c2), a re-check due after K=3 rounds demotes
// it; keep at round 7 (c7), confirmed; the confirmed champion is the reference of the next one.
TEST(Recheck, ReplayOfALoopsRechecks) {
  GateConfig g;
  RecheckState s = StartRechecks("c0", {});
  std::string champion = "c0";
  std::vector<std::string> log;
  auto round = [&](int n, const std::string& after) {
    champion = after;
    NoteRound(&s, champion);
    if (RecheckDue(3, s, champion)) log.push_back("due after round " + std::to_string(n));
  };
  round(1, "c0");
  round(2, "c2");
  round(3, "c2");
  round(4, "c2");
  RecheckDecision d = DecideRecheck(g, {1.0, 1.01, 0.99}, {1.0, 1.02, 0.995});
  ApplyRecheck(&s, d, champion, 2, {});
  if (d.demote) champion = s.reference_commit;
  log.push_back(std::string(d.demote ? "demoted" : "confirmed") + " -> " + champion);
  round(5, champion);
  round(6, champion);
  round(7, "c7");
  round(8, "c7");
  round(9, "c7");
  d = DecideRecheck(g, {1.0, 1.01, 0.99}, {0.7, 0.71, 0.69});
  ApplyRecheck(&s, d, champion, 7, {});
  log.push_back(std::string(d.demote ? "demoted" : "confirmed") + " -> " + s.reference_commit);
  round(10, "c10");
  EXPECT_EQ(log, (std::vector<std::string>{"due after round 4", "demoted -> c0",
                                           "due after round 9", "confirmed -> c7"}));
  EXPECT_EQ(s.reference_commit, "c7");
  EXPECT_EQ(s.pending, 1);
}

// The 200-round simulation, seed 1: one false keep makes the champion truly worse than the
// baseline and, without re-checks, it stays the champion to the end.
TEST(RecheckSimulation, WithoutRechecksTheChampionEndsTrulyWorse) {
  sim::SimConfig c;
  c.seed = 1;
  c.recheck_every = 0;
  ASSERT_NEAR(c.noise_sd / c.effect_sd, 10, 1e-12);
  sim::SimResult r = sim::Simulate(c);
  EXPECT_EQ(r.true_gain.size(), 200u);
  EXPECT_GE(r.false_keeps, 1);
  EXPECT_LT(r.final_true_gain, 0) << "the downward-biased running minimum";
  EXPECT_EQ(r.rechecks, 0);
}

TEST(RecheckSimulation, WithRechecksTheTrueGainIsNeverNegativeAfterARecheck) {
  sim::SimConfig c;
  c.seed = 1;
  c.recheck_every = 5;
  sim::SimResult r = sim::Simulate(c);
  EXPECT_GE(r.rechecks, 1);
  EXPECT_GE(r.demotions, 1);
  EXPECT_GE(r.min_true_gain_after_recheck, 0);
  EXPECT_GE(r.final_true_gain, 0);
  // Deterministic: the same seed replays the same loop.
  sim::SimResult again = sim::Simulate(c);
  EXPECT_EQ(again.true_gain, r.true_gain);
  EXPECT_EQ(again.runs, r.runs);
}

// Over many seeds: a champion truly worse than the baseline at the end is common without
// re-checks and rare with them (a false keep must also pass a fresh re-check, at alpha).
TEST(RecheckSimulation, AcrossSeedsRechecksRemoveMostTrulyWorseChampions) {
  int worse_off = 0, worse_on = 0, worse_after_check = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    sim::SimConfig c;
    c.seed = seed;
    c.recheck_every = 0;
    worse_off += sim::Simulate(c).final_true_gain < 0;
    c.recheck_every = 5;
    sim::SimResult r = sim::Simulate(c);
    worse_on += r.final_true_gain < 0;
    worse_after_check += r.min_true_gain_after_recheck < 0;
  }
  EXPECT_GE(worse_off, 10);
  EXPECT_LE(worse_on * 5, worse_off) << worse_on << " vs " << worse_off;
  EXPECT_LE(worse_after_check, 5);
}

}  // namespace
}  // namespace inloop::loop
