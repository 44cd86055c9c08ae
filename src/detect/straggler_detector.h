// StragglerDetector: one rank of a multi-rank job that is consistently slower than the others.
// Fed per-rank step times (seconds per step, as each rank measured them: the SDK's timed
// sections or its step cadence, docs/sdk_protocol.md "Ranks"); reports a `straggler` finding
// when a rank's median over its last straggler_window steps stays above (1 + threshold) times
// the median of the other ranks' medians for straggler_sustain of its steps, and a closing
// update when it has been back below (1 + threshold / 2) for as long (hysteresis: one finding
// per episode, not one per noisy step). Pure: no clock, no I/O; the caller's order of points is
// the only input, so a replay gives the same findings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "detect/detect_config.h"
#include "detect/finding.h"

namespace inloop::detect {

class StragglerDetector {
 public:
  // REQUIRES: ValidateDetectConfig(config).ok(). straggler_window == 0: never reports.
  explicit StragglerDetector(const DetectConfig& config);

  // Rank `rank` (>= 0) finished step `step` in `seconds` (finite, > 0; others are ignored).
  // `wall_time` is copied into a finding. Appends findings to *out (never clears it).
  void Observe(int rank, int64_t step, double seconds, double wall_time,
               std::vector<Finding>* out);

  // Where rank `rank` runs (named in its findings); may come before or after its steps.
  void SetHost(int rank, std::string host);

  // A restart (a new attempt, or a rollback in place): every rank's window and open episode is
  // forgotten (a restarted job's first steps are slow on every rank; the same rank may or may
  // not straggle after it moved). Hosts are kept.
  void Reset();

  size_t ranks() const { return ranks_.size(); }

 private:
  struct Rank {
    std::vector<double> ring;  // the newest step times, straggler_window at most
    size_t next = 0;           // ring position of the next write once full
    double median = 0;         // of ring, kept current
    int over = 0;              // consecutive steps above the threshold
    int under = 0;             // consecutive steps below the clearing threshold (open episode)
    bool open = false;
    int64_t first_over_step = 0;  // the first step of the current run above the threshold
    int64_t open_step = 0;        // step_lo of the open episode
    double worst_ratio = 0;       // the largest ratio seen in the open episode
    std::string host;
  };

  // The median of the other ranks' medians (those with straggler_min_points steps); false when
  // no other rank has enough.
  bool OthersMedian(int rank, double* out, int* count);
  Finding MakeFinding(int rank, const Rank& r, int64_t step, double wall_time, double others,
                      int others_count, bool update) const;

  int window_, min_points_, sustain_;
  double threshold_, min_seconds_;
  std::map<int, Rank> ranks_;
  std::vector<double> scratch_;
};

}  // namespace inloop::detect
