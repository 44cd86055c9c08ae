// Gate arithmetic: pooled variance, Student t quantile from stats/, Bonferroni over looks.
#include "loop/gate.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "stats/distributions.h"

namespace inloop::loop {

const char* GateVerdictName(GateVerdict v) {
  switch (v) {
    case GateVerdict::kKeep: return "keep";
    case GateVerdict::kDiscard: return "discard";
    case GateVerdict::kMoreSeeds: return "more_seeds";
  }
  return "discard";
}

namespace {

void MeanAndSs(const std::vector<double>& v, double* mean, double* ss) {
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  *mean = m;
  *ss = s;
}

}  // namespace

GateDecision JudgeCandidate(const GateConfig& cfg, const std::vector<double>& champion,
                            const std::vector<double>& candidate) {
  GateDecision d;
  double ss_c = 0, ss_k = 0;
  MeanAndSs(champion, &d.champion_mean, &ss_c);
  MeanAndSs(candidate, &d.candidate_mean, &ss_k);
  d.gain = cfg.minimize ? d.champion_mean - d.candidate_mean : d.candidate_mean - d.champion_mean;
  double nc = static_cast<double>(champion.size()), nk = static_cast<double>(candidate.size());
  d.df = static_cast<int>(champion.size() + candidate.size()) - 2;
  int looks = std::max(1, cfg.max_seeds);
  if (d.df > 0) {
    d.noise_known = true;
    d.noise_sd = std::sqrt((ss_c + ss_k) / d.df);
    d.se = d.noise_sd * std::sqrt(1 / nc + 1 / nk);
    d.critical = stats::StudentTQuantile(1 - cfg.alpha / looks, d.df);
  }
  d.threshold = d.critical * d.se + cfg.min_gain;
  bool can_rerun = static_cast<int>(candidate.size()) < cfg.max_seeds;
  if (d.gain > d.threshold) {
    d.verdict = GateVerdict::kKeep;
    d.reason = d.noise_known
                   ? fmt::format("gain {:.4g} > threshold {:.4g} ({:.3g} x SE {:.3g} + margin "
                                 "{:.3g}; noise sd {:.3g}, {} vs {} seeds)",
                                 d.gain, d.threshold, d.critical, d.se, cfg.min_gain, d.noise_sd,
                                 candidate.size(), champion.size())
                   : fmt::format("gain {:.4g} > margin {:.4g} (seed noise not measured: one run "
                                 "a side)",
                                 d.gain, cfg.min_gain);
  } else if (d.gain > 0 && d.noise_known && d.se > 0 && can_rerun) {
    d.verdict = GateVerdict::kMoreSeeds;
    d.reason = fmt::format("gain {:.4g} within the noise (threshold {:.4g}): re-run with another "
                           "seed", d.gain, d.threshold);
  } else {
    d.verdict = GateVerdict::kDiscard;
    d.reason = d.gain <= 0
                   ? fmt::format("no gain ({:.4g}; champion {:.6g}, candidate {:.6g})", d.gain,
                                 d.champion_mean, d.candidate_mean)
                   : fmt::format("gain {:.4g} not above threshold {:.4g} after {} seeds", d.gain,
                                 d.threshold, candidate.size());
  }
  return d;
}

}  // namespace inloop::loop
