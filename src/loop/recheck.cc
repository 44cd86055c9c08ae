// Re-check decisions: the gate's arithmetic with a single look over fresh samples.
#include "loop/recheck.h"

#include <algorithm>

#include <fmt/format.h>

#include "loop/loop_state.h"

namespace inloop::loop {

RecheckState StartRechecks(const std::string& baseline_commit, const ParamValues& params) {
  RecheckState s;
  s.reference_commit = baseline_commit;
  s.reference_round = 0;
  s.reference_params = params;
  return s;
}

void NoteRound(RecheckState* s, const std::string& champion_commit) {
  if (champion_commit.empty() || champion_commit == s->reference_commit) {
    s->pending = 0;
  } else {
    ++s->pending;
  }
}

bool RecheckDue(int every, const RecheckState& s, const std::string& champion_commit) {
  return every > 0 && s.pending >= every && !champion_commit.empty() &&
         champion_commit != s.reference_commit;
}

int RecheckSeedCount(int noise_seeds, int max_seeds) {
  return 2 * std::max(1, std::max(noise_seeds, max_seeds));
}

std::vector<int64_t> RecheckSeeds(int64_t seed_base, int64_t round, int n) {
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(seed_base + 100000 + round * 100 + i);
  return out;
}

RecheckDecision DecideRecheck(const GateConfig& gate, const std::vector<double>& reference_fresh,
                              const std::vector<double>& champion_fresh) {
  GateConfig one_look = gate;
  one_look.max_seeds = 1;  // every fresh sample is in: no re-run, no Bonferroni split
  RecheckDecision d;
  d.gate = JudgeCandidate(one_look, reference_fresh, champion_fresh);
  d.demote = d.gate.verdict != GateVerdict::kKeep;
  d.reason = fmt::format(
      "{} on fresh seeds: champion {:.6g} vs reference {:.6g}, gain {:.4g} {} threshold {:.4g}"
      " ({} vs {} seeds{})",
      d.demote ? "demoted, no longer beats its reference" : "confirmed",
      d.gate.candidate_mean, d.gate.champion_mean, d.gate.gain, d.demote ? "<=" : ">",
      d.gate.threshold, champion_fresh.size(), reference_fresh.size(),
      d.gate.noise_known ? fmt::format(", noise sd {:.3g}", d.gate.noise_sd) : "");
  return d;
}

void ApplyRecheck(RecheckState* s, const RecheckDecision& d, const std::string& champion_commit,
                  int64_t champion_round, const ParamValues& champion_params) {
  s->pending = 0;
  if (d.demote) return;
  s->reference_commit = champion_commit;
  s->reference_round = champion_round;
  s->reference_params = champion_params;
}

void CloseRecheckRound(const RoundRecord& rec, LoopState* st) {
  if (rec.proposer != "recheck") {
    NoteRound(&st->recheck, st->champion_commit);
    return;
  }
  RecheckDecision d;
  d.demote = rec.verdict == kDemoted;
  if (rec.verdict != kDemoted && rec.verdict != kRechecked) {
    st->recheck.pending = 0;  // no decision: try again later
    return;
  }
  if (d.demote) {
    st->champion_commit = st->recheck.reference_commit;
    st->champion_round = st->recheck.reference_round;
    st->champion_params = st->recheck.reference_params;
    st->champion_samples = rec.reference_samples;
  } else {
    st->champion_samples = rec.samples;
  }
  ApplyRecheck(&st->recheck, d, st->champion_commit, st->champion_round, st->champion_params);
}

}  // namespace inloop::loop
