// Names of finding kinds and severities (stable identifiers). Must never change a name: they are
// stored in events and matched in inloop.toml policies.
#include "detect/finding.h"

namespace inloop::detect {

std::string_view FindingKindName(FindingKind k) {
  switch (k) {
    case FindingKind::kNonFinite:
      return "nonfinite";
    case FindingKind::kLossSpike:
      return "loss_spike";
    case FindingKind::kDivergence:
      return "divergence";
    case FindingKind::kGradExplosion:
      return "grad_explosion";
    case FindingKind::kPlateau:
      return "plateau";
    case FindingKind::kThroughputRegression:
      return "throughput_regression";
    case FindingKind::kMemoryGrowth:
      return "memory_growth";
    case FindingKind::kHang:
      return "hang";
    case FindingKind::kStraggler:
      return "straggler";
  }
  return "unknown";
}

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "unknown";
}

double Finding::Get(std::string_view name, double fallback) const {
  for (const Evidence& e : evidence) {
    if (e.name == name) return e.value;
  }
  return fallback;
}

}  // namespace inloop::detect
