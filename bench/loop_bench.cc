// Research-loop figures (issue 8): the gate's false-keep rate over 200 simulated rounds with a
// known seed noise (and its power on real gains), the built-in TPE against random search on
// Branin, Hartmann-6 and Rosenbrock, and the cost of one TPE proposal and one gate decision.
// Prints the figures first (bench/RESULTS.md quotes them), then the Google Benchmark timings.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "loop/gate.h"
#include "loop/search_space.h"

namespace inloop::loop {
namespace {

// ---- gate ----

// Fraction of `rounds` candidates kept, each truly `gain_sd` noise sds better than the champion.
double KeepRate(int rounds, double gain_sd, int noise_seeds, int max_seeds, double alpha,
                uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  GateConfig c;
  c.alpha = alpha;
  c.max_seeds = max_seeds;
  int keeps = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<double> champ, cand;
    for (int i = 0; i < noise_seeds; ++i) champ.push_back(10 + noise(rng));
    for (;;) {
      cand.push_back(10 - gain_sd + noise(rng));
      GateDecision d = JudgeCandidate(c, champ, cand);
      if (d.verdict == GateVerdict::kMoreSeeds) continue;
      keeps += d.verdict == GateVerdict::kKeep;
      break;
    }
  }
  return static_cast<double>(keeps) / rounds;
}

void GateFigures() {
  fmt::print("gate: 200 simulated rounds per repetition, 100 repetitions, noise sd 1\n");
  fmt::print("{:>6} {:>6} {:>6} | {:>22} | {:>12} {:>12} {:>12}\n", "seeds", "max", "alpha",
             "false-keep mean [max]", "keep@1sd", "keep@2sd", "keep@3sd");
  struct Case { int seeds, max_seeds; double alpha; };
  for (Case cs : {Case{3, 3, 0.05}, Case{2, 2, 0.05}, Case{5, 3, 0.05}, Case{3, 1, 0.05},
                  Case{3, 3, 0.01}}) {
    double sum = 0, worst = 0;
    for (int rep = 0; rep < 100; ++rep) {
      double r = KeepRate(200, 0, cs.seeds, cs.max_seeds, cs.alpha, 1000 + rep);
      sum += r;
      worst = std::max(worst, r);
    }
    double p1 = KeepRate(20000, 1, cs.seeds, cs.max_seeds, cs.alpha, 7);
    double p2 = KeepRate(20000, 2, cs.seeds, cs.max_seeds, cs.alpha, 8);
    double p3 = KeepRate(20000, 3, cs.seeds, cs.max_seeds, cs.alpha, 9);
    fmt::print("{:>6} {:>6} {:>6} | {:>12.2f}% [{:>5.1f}%] | {:>11.1f}% {:>11.1f}% {:>11.1f}%\n",
               cs.seeds, cs.max_seeds, cs.alpha, 100 * sum / 100, 100 * worst, 100 * p1, 100 * p2,
               100 * p3);
  }
}

// ---- search ----

struct TestFunction {
  const char* name;
  std::vector<std::pair<double, double>> bounds;
  double optimum;
  double (*f)(const std::vector<double>&);
};

double Branin(const std::vector<double>& x) {
  double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
  double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return a * u * u + s * (1 - t) * std::cos(x[0]) + s;
}

double Hartmann6(const std::vector<double>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) inner += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
    sum += alpha[i] * std::exp(-inner);
  }
  return -sum;
}

double Rosenbrock(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    s += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  }
  return s;
}

SearchSpace SpaceOf(const TestFunction& tf, uint64_t seed, bool random_only) {
  SearchSpace s;
  for (size_t i = 0; i < tf.bounds.size(); ++i) {
    ParamSpec p;
    p.name = fmt::format("x{}", i);
    p.low = tf.bounds[i].first;
    p.high = tf.bounds[i].second;
    s.params.push_back(p);
  }
  s.seed = seed;
  s.random_starts = random_only ? (1 << 30) : 10;
  return s;
}

// Regret (f - f*) of the best point after each trial.
std::vector<double> RegretCurve(const TestFunction& tf, uint64_t seed, bool random_only, int trials) {
  SearchSpace s = SpaceOf(tf, seed, random_only);
  std::vector<Observation> hist;
  std::vector<double> curve;
  double best = INFINITY;
  for (int t = 1; t <= trials; ++t) {
    ParamValues v = ProposeValues(s, hist, true, static_cast<uint64_t>(t));
    std::vector<double> x;
    for (auto& [k, text] : v) x.push_back(std::stod(text));
    double y = tf.f(x);
    best = std::min(best, y - tf.optimum);
    curve.push_back(best);
    hist.push_back({v, y});
  }
  return curve;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void SearchFigures() {
  const int kTrials = 100, kSeeds = 20;
  std::vector<TestFunction> fns = {
      {"branin", {{-5, 10}, {0, 15}}, 0.397887357729739, Branin},
      {"hartmann6", std::vector<std::pair<double, double>>(6, {0.0, 1.0}), -3.32236801141551, Hartmann6},
      {"rosenbrock2", {{-2, 2}, {-2, 2}}, 0.0, Rosenbrock},
  };
  fmt::print("\nsearch: {} trials, {} seeds; target = half of random search's median regret "
             "after {} trials\n", kTrials, kSeeds, kTrials);
  fmt::print("{:<12} | {:>14} {:>10} | {:>14} {:>22} | {}\n", "function", "random regret",
             "target", "TPE regret", "TPE trials to target", "met");
  for (auto& tf : fns) {
    std::vector<std::vector<double>> rnd, tpe;
    for (int s = 1; s <= kSeeds; ++s) {
      rnd.push_back(RegretCurve(tf, static_cast<uint64_t>(s), true, kTrials));
      tpe.push_back(RegretCurve(tf, static_cast<uint64_t>(s), false, kTrials));
    }
    std::vector<double> rnd_final, tpe_final, tpe_reach;
    for (int s = 0; s < kSeeds; ++s) {
      rnd_final.push_back(rnd[s].back());
      tpe_final.push_back(tpe[s].back());
    }
    double target = Median(rnd_final) / 2;
    for (int s = 0; s < kSeeds; ++s) {
      int at = kTrials + 1;  // not reached
      for (int t = 0; t < kTrials; ++t) {
        if (tpe[s][t] <= target) {
          at = t + 1;
          break;
        }
      }
      tpe_reach.push_back(at);
    }
    double med_reach = Median(tpe_reach);
    fmt::print("{:<12} | {:>14.4g} {:>10.4g} | {:>14.4g} {:>22} | {}\n", tf.name,
               Median(rnd_final), target, Median(tpe_final),
               med_reach > kTrials ? std::string(">100") : fmt::format("{:g}", med_reach),
               med_reach <= kTrials ? "yes" : "no");
  }
}

// ---- timings ----

void BM_TpeProposal(benchmark::State& state) {
  std::vector<TestFunction> fns = {
      {"hartmann6", std::vector<std::pair<double, double>>(6, {0.0, 1.0}), -3.32236801141551, Hartmann6}};
  SearchSpace s = SpaceOf(fns[0], 1, false);
  std::vector<Observation> hist;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < state.range(0); ++i) {
    ParamValues v;
    std::vector<double> x;
    for (int j = 0; j < 6; ++j) {
      x.push_back(u(rng));
      v.emplace_back(fmt::format("x{}", j), fmt::format("{}", x.back()));
    }
    hist.push_back({v, Hartmann6(x)});
  }
  uint64_t t = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ProposeValues(s, hist, true, ++t));
}
BENCHMARK(BM_TpeProposal)->Arg(20)->Arg(100)->Arg(500)->Unit(benchmark::kMicrosecond);

void BM_GateDecision(benchmark::State& state) {
  GateConfig c;
  std::vector<double> champ = {1.0, 1.01, 0.99}, cand = {0.97, 0.98};
  for (auto _ : state) benchmark::DoNotOptimize(JudgeCandidate(c, champ, cand));
}
BENCHMARK(BM_GateDecision);

}  // namespace
}  // namespace inloop::loop

int main(int argc, char** argv) {
  inloop::loop::GateFigures();
  inloop::loop::SearchFigures();
  fmt::print("\n");
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
