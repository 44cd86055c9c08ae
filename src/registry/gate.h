// The promotion gate of the model registry (registry.h): whether a candidate version may become
// its model's champion. Pure: the evidence (the eval diff of the champion's and the candidate's
// per-example eval outputs, computed by compare/eval_diff.h, the run's state and the artifact's
// audit) is gathered by the caller; no clock, no I/O here.
//
// The conditions, each one line when it fails:
//   eval         the candidate has per-example eval outputs;
//   improvement  against the current champion's outputs on the same held examples, the paired
//                difference (candidate - champion, higher scores are better) has a CI that
//                excludes zero on the positive side (no champion yet: nothing to beat);
//   coverage     the candidate was scored on every example the champion was scored on;
//   slices       no slice's mean falls by more than max_slice_drop;
//   run          the run finished (status finished);
//   findings     no open error finding and no pending action on the run;
//   audit        the artifact passed the audit (or there is no artifact).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "compare/eval_diff.h"

namespace inloop::registry {

struct GateOptions {
  double max_slice_drop = 0.05;  // a slice whose mean falls more than this fails the gate
  compare::EvalDiffOptions diff;  // seed, bootstrap, alpha (the CI is 1 - alpha)
};

// What the gate looks at (registry.cc gathers it).
struct GateEvidence {
  std::string candidate;              // "NAME vN", for messages
  bool candidate_has_eval = false;
  std::optional<int64_t> champion;    // the current champion's version, when there is one
  // The eval diff champion -> candidate; unset when it could not be computed (diff_error says
  // why: the champion has no eval outputs, a file is gone, no example matched).
  const compare::EvalDiffReport* diff = nullptr;
  std::string diff_error;
  std::string run_id;
  std::string run_status;             // store::kFinished, ...
  std::vector<std::string> open_findings;  // "loss_spike at step 120", unresolved error ones
  int64_t pending_actions = 0;
  std::string audit;                  // store::kAuditPassed / kAuditFailed / kAuditNone
  std::string audit_detail;
};

struct GateCheck {
  std::string name;    // "eval", "improvement", "coverage", "slices", "run", "findings", "audit"
  bool passed = false;
  std::string detail;  // one line: the numbers, or what failed and what to do
};

struct SliceChange {
  std::string dimension, value;
  int64_t n = 0;
  double diff_mean = 0;
};

struct GateResult {
  bool passed = false;
  std::vector<GateCheck> checks;  // in the order above
  std::optional<int64_t> champion;
  // The overall paired numbers, when the diff was computed.
  bool has_diff = false;
  int64_t n = 0;
  double champion_mean = 0, candidate_mean = 0;
  double diff_mean = 0, ci_low = 0, ci_high = 0, p_value = 1;
  std::string test;  // "mcnemar" or "paired_t"
  int64_t missing = 0;  // champion examples the candidate's outputs lack
  std::optional<SliceChange> worst_slice;  // the slice with the lowest diff_mean
  double max_slice_drop = 0;
};

GateResult EvaluateGate(const GateEvidence& e, const GateOptions& o);

// The failed checks' lines, "name: detail" each (empty when the gate passed).
std::vector<std::string> FailedLines(const GateResult& r);

// The result's one JSON form (stored with every stage change as its gate numbers).
void WriteGateJson(const GateResult& r, JsonWriter* w);
std::string GateJson(const GateResult& r);

}  // namespace inloop::registry
