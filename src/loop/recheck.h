// Champion re-checks of the research loop: a champion kept since the last re-check is re-run
// with fresh seeds (never the seeds that kept it) beside its reference, the last champion that
// was verified (the baseline, or a champion a re-check confirmed), once K rounds have finished
// since the first unverified keep (`--recheck-every K`; 1: right after the keeping round). A
// champion that no longer beats the reference beyond the noise is demoted and the loop's branch
// goes back to the reference. Counting rounds, not keeps: at a realistic noise the gate keeps
// well under one round in a hundred, so "every K keeps" would leave a false keep unchecked for
// the whole loop (see bench/RESULTS.md, loop re-checks).
//
// Why: a greedy keep over noisy measurements is a downward-biased running minimum. Each keep is
// judged on the seeds that happened to favour it, so false keeps (a true loss or no change that
// looked like a gain) pile up, and the champion's stored samples are the lucky ones, which makes
// the bar for the next round wrong as well. A re-check measures the chain of keeps since the
// reference on fresh seeds, all at once (one look, no Bonferroni split), and replaces the
// champion's samples with the fresh, unbiased ones.
//
// Pure decisions over numbers and commit ids: no clock, no I/O, no git (loop_runner.cc does
// those). tests/loop/recheck_test.cc replays a 200-round simulation through these functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loop/gate.h"
#include "loop/search_space.h"

namespace inloop::loop {

// A re-check round's verdicts, kRechecked and kDemoted, are in loop_state.h with the others.

struct RecheckState {
  int64_t pending = 0;             // rounds finished since the first keep not yet re-checked
  std::string reference_commit;    // the last verified champion
  int64_t reference_round = 0;
  ParamValues reference_params;    // search: the reference's values
};

// The loop's baseline is the first reference.
RecheckState StartRechecks(const std::string& baseline_commit, const ParamValues& params);

// A finished round of the loop, with the champion after it: while the champion is not the
// reference, every round counts towards the re-check.
void NoteRound(RecheckState* s, const std::string& champion_commit);

// Whether a re-check is due before the next round: `every` > 0, the champion is not the
// reference, and `every` rounds have finished since the first keep not yet re-checked.
bool RecheckDue(int every, const RecheckState& s, const std::string& champion_commit);

// Fresh runs of each side per re-check: twice the larger of the champion's and the candidate's
// seed counts, so a real gain survives its re-check more often than a lucky one (the bench's
// 2x-noise regime keeps ~70% of the true gain with 3 a side, ~85% with 6).
int RecheckSeedCount(int noise_seeds, int max_seeds);

// Seeds of a re-check: fresh ones, never used by the gate (seed_base .. seed_base+seeds) nor by
// another re-check: seed_base + 100000 + round * 100 + i.
std::vector<int64_t> RecheckSeeds(int64_t seed_base, int64_t round, int n);

struct RecheckDecision {
  bool demote = false;
  GateDecision gate;   // the reference as the "champion", the champion as the "candidate"
  std::string reason;  // one line for people
};

// REQUIRES: both non-empty, finite. One look at all the fresh samples (gate.max_seeds is not
// used); the champion stays iff the gate would keep it over the reference.
RecheckDecision DecideRecheck(const GateConfig& gate, const std::vector<double>& reference_fresh,
                              const std::vector<double>& champion_fresh);

// After the re-check round: the counter restarts; a confirmed champion becomes the reference.
void ApplyRecheck(RecheckState* s, const RecheckDecision& d, const std::string& champion_commit,
                  int64_t champion_round, const ParamValues& champion_params);

struct LoopState;
struct RoundRecord;

// The loop's state after a finished round (loop_runner.cc's CloseRound, also on recovery): a
// re-check round (proposer "recheck") applies its verdict (rechecked: the champion keeps the
// fresh samples and becomes the reference; demoted: the reference is the champion again, with
// its fresh samples; failed, tampered or interrupted: tried again `every` rounds later); any
// other round counts towards the next re-check.
void CloseRecheckRound(const RoundRecord& rec, LoopState* st);

}  // namespace inloop::loop
