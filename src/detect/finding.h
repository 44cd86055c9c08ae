// Finding: what a detector reports — a kind, a severity, the series and step range it concerns, a
// message generated from the numbers, and the evidence numbers themselves. Plain data: detectors
// build findings, remedy/ and the store consume them. Must never hold references into a detector.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::detect {

enum class FindingKind {
  kNonFinite,             // nan / inf logged for a watched series
  kLossSpike,             // a loss value far above its trailing median (robust z + relative jump)
  kDivergence,            // a spike that did not recover, or a sustained upward trend
  kGradExplosion,         // a gradient norm far above its trailing median
  kPlateau,               // (info) the smoothed loss stopped improving over a long window
  kThroughputRegression,  // throughput sustained below its trailing median (or step time above)
  kMemoryGrowth,          // memory growing steadily over a window
  kHang,                  // no output, no new step (and no CPU progress) for too long
  kStraggler,             // one rank of a multi-rank job consistently slower than the others
};

enum class Severity { kInfo, kWarning, kError };

// Stable identifiers, used in events, the store and inloop.toml: "nonfinite", "loss_spike",
// "divergence", "grad_explosion", "plateau", "throughput_regression", "memory_growth", "hang",
// "straggler".
std::string_view FindingKindName(FindingKind k);
// "info", "warning", "error".
std::string_view SeverityName(Severity s);

struct Evidence {
  std::string name;  // e.g. "value", "median", "mad", "robust_z", "rel_jump", "window"
  double value = 0;  // always finite (a non-finite observation is described by flags, not NaN)
};

struct Finding {
  FindingKind kind = FindingKind::kNonFinite;
  Severity severity = Severity::kWarning;
  std::string series;  // the metric key; empty for process-level findings (hang)
  int64_t step_lo = 0;
  int64_t step_hi = 0;
  double wall_time = 0;  // wall time of the point (or clock tick) that produced this finding
  // false: a new anomaly, reported on the point where it was first seen (the one to act on).
  // true: the closing report of an anomaly already reported with the same kind, series and
  // step_lo: its final step range now that it ended (e.g. a 6-step spike that recovered).
  bool is_update = false;
  std::string message;
  std::vector<Evidence> evidence;
  // Other series that showed the same anomaly and were merged into this finding (e.g. a step-time
  // series beside the tokens/s one that reported a throughput regression). Usually empty.
  std::vector<std::string> related;
  // Multi-rank jobs: the rank whose points produced this finding (-1: not a ranked job's point,
  // i.e. a single-process run or a printed line) and, when known, its host.
  int rank = -1;
  std::string host;

  // The value of evidence `name`, or `fallback` when absent.
  double Get(std::string_view name, double fallback = 0) const;
};

}  // namespace inloop::detect
