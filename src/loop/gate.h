// The noise-aware gate of the research loop: decides whether a candidate's metric beats the
// champion's by more than seed noise. Pure arithmetic over the measured samples; it never runs
// anything (the loop runs the extra seeds it asks for).
//
// Test: pooled two-sample t (the champion's and the candidate's seed re-runs share one noise
// level). The gain must exceed t_{1 - alpha/max_seeds, df} * SE + min_gain: the Bonferroni split
// over the up to max_seeds looks keeps the false-keep rate at or under alpha although a result
// within the noise is looked at again with more seeds. With one sample on each side there is no
// noise estimate and only min_gain counts (say so to the user).
#pragma once

#include <string>
#include <vector>

namespace inloop::loop {

struct GateConfig {
  bool minimize = true;
  double alpha = 0.05;   // false-keep rate the threshold is set for
  double min_gain = 0;   // absolute margin on top of the noise band
  int max_seeds = 3;     // candidate runs at most (1 + re-runs within the noise)
};

enum class GateVerdict { kKeep, kDiscard, kMoreSeeds };

struct GateDecision {
  GateVerdict verdict = GateVerdict::kDiscard;
  double champion_mean = 0;
  double candidate_mean = 0;
  double gain = 0;       // positive = better, in the metric's units
  double noise_sd = 0;   // pooled seed standard deviation (0 when unknown)
  double se = 0;         // standard error of the difference of means
  double critical = 0;   // t quantile used
  double threshold = 0;  // critical * se + min_gain
  int df = 0;
  bool noise_known = false;
  std::string reason;    // one line for people
};

const char* GateVerdictName(GateVerdict v);

// REQUIRES: champion and candidate non-empty, finite values.
GateDecision JudgeCandidate(const GateConfig& cfg, const std::vector<double>& champion,
                            const std::vector<double>& candidate);

}  // namespace inloop::loop
