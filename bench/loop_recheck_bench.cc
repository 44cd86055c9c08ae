// Champion re-checks of the research loop (issue 21): over many seeded 200-round simulations of
// the loop's decisions (tests/support/loop_sim.h: the real gate and re-check functions, training
// runs replaced by true value + seed noise), the false-keep rate, how often the champion ends
// truly worse than the baseline, its mean true gain and the runs spent, with re-checks every K
// rounds against the same loop without them (the baseline of each ratio, measured in this run).
// Usage: build/loop_recheck_bench [SIMS [RECHECK_SEEDS]]   (default 200, 6)
#include <fmt/format.h>

#include <cstdlib>
#include <vector>

#include "support/loop_sim.h"

namespace inloop::loop {
namespace {

struct Row {
  int every = 0;
  double false_keep_rate = 0;  // false keeps / rounds
  double kept_per_sim = 0;
  double worse_at_end = 0;     // fraction of simulations whose final champion is truly worse
  double worse_after_check = 0;
  double mean_gain = 0;        // final true gain, metric units
  double worst_gain = 0;
  double runs_per_round = 0;
};

Row Measure(sim::SimConfig c, int every, int sims) {
  Row r;
  r.every = every;
  c.recheck_every = every;
  int64_t false_keeps = 0, kept = 0, runs = 0;
  for (int s = 1; s <= sims; ++s) {
    c.seed = static_cast<uint64_t>(s);
    sim::SimResult x = sim::Simulate(c);
    false_keeps += x.false_keeps;
    kept += x.kept;
    runs += x.runs;
    r.worse_at_end += x.final_true_gain < 0;
    r.worse_after_check += x.min_true_gain_after_recheck < 0;
    r.mean_gain += x.final_true_gain;
    r.worst_gain = s == 1 ? x.final_true_gain : std::min(r.worst_gain, x.final_true_gain);
  }
  double n = sims, rounds = static_cast<double>(sims) * c.rounds;
  r.false_keep_rate = false_keeps / rounds;
  r.kept_per_sim = kept / n;
  r.worse_at_end /= n;
  r.worse_after_check /= n;
  r.mean_gain /= n;
  r.runs_per_round = runs / rounds;
  return r;
}

void Regime(const char* title, const sim::SimConfig& c, int sims) {
  fmt::print("\n{}: {} simulations x {} rounds; true effect N({:g}, {:g}) per proposal (metric "
             "minimised), seed noise sd {:g} ({:g}x); {} champion / {} candidate seeds, alpha {:g}\n",
             title, sims, c.rounds, c.effect_mean, c.effect_sd, c.noise_sd,
             c.noise_sd / c.effect_sd, c.noise_seeds, c.max_seeds, c.alpha);
  fmt::print("{:>9} | {:>16} {:>10} | {:>20} {:>22} | {:>14} {:>12} | {:>10} {:>10}\n",
             "re-check", "false-keep rate", "kept/sim", "truly worse at end", "worse after a re-check",
             "mean true gain", "worst", "runs/round", "x baseline");
  Row base = Measure(c, 0, sims);
  for (int every : {0, 1, 5, 10}) {
    Row r = every == 0 ? base : Measure(c, every, sims);
    fmt::print("{:>9} | {:>15.2f}% {:>10.2f} | {:>19.1f}% {:>21.1f}% | {:>14.5f} {:>12.5f} | {:>10.3f} "
               "{:>9.2f}x\n",
               every == 0 ? std::string("off") : fmt::format("K={}", every), 100 * r.false_keep_rate,
               r.kept_per_sim, 100 * r.worse_at_end, 100 * r.worse_after_check, r.mean_gain,
               r.worst_gain, r.runs_per_round, r.runs_per_round / base.runs_per_round);
  }
}

}  // namespace
}  // namespace inloop::loop

int main(int argc, char** argv) {
  using namespace inloop::loop;
  int sims = argc > 1 ? std::atoi(argv[1]) : 200;
  if (sims < 1) sims = 200;
  int rs = argc > 2 ? std::atoi(argv[2]) : RecheckSeedCount(3, 3);
  sim::SimConfig noisy;
  noisy.recheck_seeds = rs;  // the target: noise 10x the true effects
  Regime("noise 10x the effects", noisy, sims);
  sim::SimConfig clear;
  clear.recheck_seeds = rs;
  clear.noise_sd = 0.02;  // 2x: real gains can be found; re-checks must not throw them away
  clear.effect_mean = 0;
  Regime("noise 2x the effects", clear, sims);
  return 0;
}
