// A deterministic simulation of the research loop's decisions (the gate, the champion's noise
// samples, the re-checks) over rounds whose true effects are known, for the replay test
// (tests/loop/recheck_test.cc) and the bench (bench/loop_recheck_bench.cc). It calls the same
// pure functions loop_runner.cc calls; only the training runs are replaced by draws of
// true value + Gaussian seed noise. The RNG is mt19937_64 with its own Box-Muller, so a seed
// gives the same numbers with any standard library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "loop/gate.h"
#include "loop/recheck.h"

namespace inloop::loop::sim {

struct SimConfig {
  int rounds = 200;
  double effect_sd = 0.01;     // spread of a proposal's true effect on the metric
  double effect_mean = 0.002;  // > 0: proposals make the (minimised) metric worse on average
  double noise_sd = 0.1;       // seed noise: 10x the true effects
  int noise_seeds = 3;
  int max_seeds = 3;
  double alpha = 0.05;
  int recheck_every = 5;       // 0: no re-checks
  int recheck_seeds = 6;       // fresh runs of each side per re-check (RecheckSeedCount)
  uint64_t seed = 1;
};

struct SimResult {
  int kept = 0;
  int false_keeps = 0;     // kept although the change made the metric truly worse (or no better)
  int rechecks = 0;
  int demotions = 0;
  int64_t runs = 0;        // training runs spent, re-checks included
  double final_true_gain = 0;           // baseline true value - champion true value (min goal)
  double min_true_gain_after_recheck = 0;  // over the champions a re-check left (0 when none)
  double min_true_gain = 0;             // over every round's champion
  std::vector<double> true_gain;        // per round, the champion's
};

class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double Next() {
    if (have_) {
      have_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = Uniform();
    double u2 = Uniform();
    double r = std::sqrt(-2 * std::log(u1));
    spare_ = r * std::sin(2 * M_PI * u2);
    have_ = true;
    return r * std::cos(2 * M_PI * u2);
  }

 private:
  double Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  std::mt19937_64 rng_;
  bool have_ = false;
  double spare_ = 0;
};

// A minimised metric; commit ids are "c<n>", true values are remembered per commit.
inline SimResult Simulate(const SimConfig& c) {
  Normal z(c.seed);
  SimResult out;
  GateConfig gate;
  gate.minimize = true;
  gate.alpha = c.alpha;
  gate.max_seeds = c.max_seeds;
  std::vector<double> truth = {1.0};  // commit i's true value
  auto measure = [&](int commit) {
    ++out.runs;
    return truth[commit] + c.noise_sd * z.Next();
  };
  int champion = 0;
  std::vector<double> champ_samples;
  for (int i = 0; i < c.noise_seeds; ++i) champ_samples.push_back(measure(0));
  RecheckState rs = StartRechecks("c0", {});
  bool rechecked_once = false;
  for (int round = 1; round <= c.rounds; ++round) {
    if (RecheckDue(c.recheck_every, rs, "c" + std::to_string(champion))) {
      int reference = std::stoi(rs.reference_commit.substr(1));
      std::vector<double> ref, cur;
      for (int i = 0; i < c.recheck_seeds; ++i) ref.push_back(measure(reference));
      for (int i = 0; i < c.recheck_seeds; ++i) cur.push_back(measure(champion));
      RecheckDecision d = DecideRecheck(gate, ref, cur);
      ++out.rechecks;
      ApplyRecheck(&rs, d, "c" + std::to_string(champion), champion, {});
      if (d.demote) {
        ++out.demotions;
        champion = reference;
        champ_samples = ref;
      } else {
        champ_samples = cur;
      }
      double g = truth[0] - truth[champion];
      out.min_true_gain_after_recheck = rechecked_once ? std::min(out.min_true_gain_after_recheck, g) : g;
      rechecked_once = true;
    }
    double delta = c.effect_mean + c.effect_sd * z.Next();
    truth.push_back(truth[champion] + delta);
    int cand = static_cast<int>(truth.size()) - 1;
    std::vector<double> samples;
    GateDecision d;
    for (int i = 0; i < c.max_seeds; ++i) {
      samples.push_back(measure(cand));
      d = JudgeCandidate(gate, champ_samples, samples);
      if (d.verdict != GateVerdict::kMoreSeeds) break;
    }
    bool keep = d.verdict == GateVerdict::kKeep;
    if (keep) {
      ++out.kept;
      if (delta >= 0) ++out.false_keeps;
      champion = cand;
      champ_samples = samples;
      while (static_cast<int>(champ_samples.size()) < c.noise_seeds) champ_samples.push_back(measure(champion));
    }
    NoteRound(&rs, "c" + std::to_string(champion));
    double g = truth[0] - truth[champion];
    out.true_gain.push_back(g);
    out.min_true_gain = round == 1 ? g : std::min(out.min_true_gain, g);
  }
  out.final_true_gain = truth[0] - truth[champion];
  return out;
}

}  // namespace inloop::loop::sim
