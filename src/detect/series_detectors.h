// The per-series streaming detectors: non-finite values, robust spikes (loss spike, gradient
// explosion, divergence by non-recovery), rising trends (divergence), plateau, throughput
// regression and memory growth. Each is O(1) amortised per point and allocates only at
// construction or when it emits a finding. Must never see a value twice or reorder points; the
// caller (DetectorSet) routes non-finite values away from all but NonFiniteTracker.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/point.h"
#include "detect/detect_config.h"
#include "detect/finding.h"
#include "detect/rolling_stats.h"

namespace inloop::detect {

// Reports the first non-finite value of a run of them (latency 0) and, when the run ends on a
// finite value, one update with its step range. Consecutive nan/inf never produce more findings.
class NonFiniteTracker {
 public:
  explicit NonFiniteTracker(Severity severity) : severity_(severity) {}
  // Returns true (and maybe appends a finding) when p.value is non-finite.
  bool Observe(const std::string& key, const Point& p, std::vector<Finding>* out) {
    if (__builtin_expect(std::isfinite(p.value), 1)) {
      if (open_) Close(key, p, out);
      last_finite_ = p.value;
      last_finite_step_ = p.step;
      has_finite_ = true;
      return false;
    }
    OnNonFinite(key, p, out);
    return true;
  }
  // Forgets an open run without reporting (a restart abandoned it).
  void Reset() { open_ = false; }

 private:
  void OnNonFinite(const std::string& key, const Point& p, std::vector<Finding>* out);
  void Close(const std::string& key, const Point& p, std::vector<Finding>* out);

  Severity severity_;
  bool open_ = false;
  int64_t lo_ = 0, hi_ = 0;
  int count_ = 0;
  double first_value_ = 0;
  bool has_finite_ = false;
  double last_finite_ = 0;
  int64_t last_finite_step_ = 0;
};

// Parameters of a robust spike detector (loss spikes and gradient explosions share the code).
struct RobustSpikeParams {
  FindingKind kind = FindingKind::kLossSpike;
  Severity severity = Severity::kWarning;
  int window = 128;
  int min_points = 32;         // before this many values only the ratio rule may fire
  double z = 6;                // robust z threshold
  double min_rel_jump = 0.25;  // (value - median) / |median| must also reach this
  double sigma_floor = 0.001;  // robust sigma >= sigma_floor * |median|
  double ratio = 0;            // value >= ratio * median fires alone (0: off)
  int ratio_min_points = 3;
  int ratio_max_points = 1 << 30;  // the ratio rule only while the window holds fewer values
  double recover_z = 3;          // back to normal below median + recover_z * sigma ...
  int64_t escalate_steps = 100;  // ... within this many steps, else escalate
  int escalate_points = 3;
  // On escalation: true emits a divergence finding (error); false closes the episode with an
  // update. Both re-baseline (clear the window) so a lasting level shift is learned, not
  // re-reported.
  bool escalate_to_divergence = true;
};

RobustSpikeParams LossSpikeParams(const DetectConfig& c);
RobustSpikeParams GradExplosionParams(const DetectConfig& c);

// Trailing median/MAD of the finite values that were not part of an anomaly. A value is anomalous
// when it passes the robust rule (z and relative jump, after min_points) or the ratio rule; the
// episode lasts until a value is back to normal, and its values never enter the window.
class RobustSpikeDetector {
 public:
  explicit RobustSpikeDetector(const RobustSpikeParams& params)
      : p_(params), window_(params.window) {}

  // REQUIRES: p.value finite. Returns true when p belongs to an anomaly episode (it did not
  // enter the baseline).
  bool Observe(const std::string& key, const Point& p, std::vector<Finding>* out) {
    if (!open_) {
      const int n = window_.size();
      if (n >= threshold_points_) {
        const double med = window_.Median();
        // Cheap pre-filter: most points are below median * (1 + min jump) and the ratio line.
        if (p.value > med + gate_ * std::fabs(med)) {
          if (Candidate(key, p, med, out)) return true;
        }
      }
      window_.Push(p.value);
      return false;
    }
    return InEpisode(key, p, out);
  }
  bool in_episode() const { return open_; }
  // Closes an open episode without reporting and keeps the baseline (a restart abandoned it).
  void Reset() { open_ = false; }
  const SortedWindow& window() const { return window_; }

 private:
  bool Candidate(const std::string& key, const Point& p, double med, std::vector<Finding>* out);
  bool InEpisode(const std::string& key, const Point& p, std::vector<Finding>* out);

  RobustSpikeParams p_;
  SortedWindow window_;
  int threshold_points_ = p_.ratio > 0 ? std::min(p_.ratio_min_points, p_.min_points)
                                       : p_.min_points;
  // Relative excess over the median below which neither rule can fire.
  double gate_ = p_.ratio > 0 ? std::min(p_.min_rel_jump, p_.ratio - 1) : p_.min_rel_jump;
  bool open_ = false;
  int64_t lo_ = 0, hi_ = 0;
  int points_ = 0;
  double peak_ = 0;
  double base_median_ = 0, base_sigma_ = 0;
};

// Says when a block-comparing detector should evaluate: every block/16 points (a change spread
// over hundreds of points loses nothing by it, and the per-point cost stays O(1)).
class Throttle {
 public:
  explicit Throttle(int block) : stride_(std::max(1, block / 16)) {}
  bool Due() {
    if (++tick_ < stride_) return false;
    tick_ = 0;
    return true;
  }

 private:
  int stride_;
  int tick_ = 0;
};

// Fires when, over the last `window` values cut into three equal blocks, the block means strictly
// increase and the newest is at least (1 + rel) times the oldest (relative to |oldest|). Fires
// once per rise; re-arms when the rise falls below half of `rel`.
class RisingTrendDetector {
 public:
  RisingTrendDetector(int window, double rel, Severity severity)
      : block_(window / 3), throttle_(block_), rel_(rel), severity_(severity) {}
  int needed() const { return 3 * block_; }
  // Evaluates every block/16 points (a rise over hundreds of points loses nothing by it).
  void Check(const std::string& key, const Point& p, const BlockHistory& h,
             std::vector<Finding>* out) {
    if (throttle_.Due()) Evaluate(key, p, h, out);
  }
  void Reset() { active_ = false; }

 private:
  void Evaluate(const std::string& key, const Point& p, const BlockHistory& h,
                std::vector<Finding>* out);

  int block_;
  Throttle throttle_;
  double rel_;
  Severity severity_;
  bool active_ = false;
};

// (info) Fires when the mean of the newest window/5 values is within `min_improvement` (relative)
// of the same-size block `window` values earlier. Once per plateau; re-arms when the change
// exceeds twice the threshold.
class PlateauDetector {
 public:
  PlateauDetector(int window, double min_improvement)
      : window_(window),
        block_(std::max(1, window / 5)),
        throttle_(block_),
        min_improvement_(min_improvement) {}
  int needed() const { return window_ + block_; }
  // Evaluates every block/16 points.
  void Check(const std::string& key, const Point& p, const BlockHistory& h,
             std::vector<Finding>* out) {
    if (throttle_.Due()) Evaluate(key, p, h, out);
  }
  void Reset() { active_ = false; }

 private:
  void Evaluate(const std::string& key, const Point& p, const BlockHistory& h,
                std::vector<Finding>* out);

  int window_;
  int block_;
  Throttle throttle_;
  double min_improvement_;
  bool active_ = false;
};

// The throughput and step-time series of one run measure one fact (how fast the steps go):
// tokens/s and ms/step are reciprocals, samples/s and MFU move with them. Their regressions are
// one episode: the first series to fire owns it and reports it; a series whose regression starts
// while the episode is open (or whose slow run began before it closed) joins it silently and is
// listed as a related series on the owner's closing update. Owned by DetectorSet, shared by its
// ThroughputDetectors; allocates only when a series joins an episode.
class ThroughputGroup {
 public:
  // The episode owner is `owner` (a detector's address: identity only, never dereferenced).
  bool open() const { return owner_ != nullptr; }
  bool OwnedBy(const void* d) const { return owner_ == d; }
  // True when a regression of another series that began at `since` belongs to the current (or
  // just closed) episode; it then joins as `key`.
  bool Join(const void* d, const std::string& key, int64_t since);
  void Open(const void* d, int64_t lo) {
    owner_ = d;
    lo_ = lo;
    members_.clear();
    related_.clear();
    closed_ = false;
  }
  // The owner's episode ended at step `hi`; returns the related series to report with it.
  std::vector<std::string> Close(int64_t hi) {
    owner_ = nullptr;
    closed_ = true;
    hi_ = hi;
    return std::move(related_);
  }
  // A member's own regression ended (nothing to report: the owner speaks for the episode).
  void Leave(const void* d);
  bool IsMember(const void* d) const;
  void Reset() {
    owner_ = nullptr;
    closed_ = false;
    members_.clear();
    related_.clear();
  }

 private:
  const void* owner_ = nullptr;
  int64_t lo_ = 0, hi_ = 0;
  bool closed_ = false;  // the last episode ended at hi_ (a late member may still join it)
  std::vector<const void*> members_;
  std::vector<std::string> related_;
};

// Throughput (higher is better) or step time (lower is better, compared as 1/value): the median
// of the short window below (1 - threshold) times the median of the long window of values before
// it, for `sustain` consecutive points. The threshold is max(drop, jitter_k x Jitter() (the upper decile of
// |change| between consecutive values over the trailing window, scaled) / the long median), capped at
// max(drop, 0.5): a series that jitters by 10% point to point needs a 30% drop. Fires once per
// episode; closes with an update (carrying the duration in steps and seconds, and the related
// series of the group) after `sustain` consecutive points back above (1 - threshold/2) times the
// long median, which is frozen (the pre-regression baseline) while the regression lasts.
class ThroughputDetector {
 public:
  // `group` (may be null: no merging) must outlive the detector.
  ThroughputDetector(const DetectConfig& c, bool lower_is_better,
                     ThroughputGroup* group = nullptr);
  // REQUIRES: p.value finite.
  void Observe(const std::string& key, const Point& p, std::vector<Finding>* out);
  // Forgets the short window and any open regression (a restart: the first steps are slow).
  void Reset();
  // The threshold the next comparison uses (for tests and messages).
  double Threshold() const;
  // The trailing jitter: the upper decile of |change| between consecutive values, scaled to
  // equal their median for normal noise.
  double Jitter() const;

 private:
  void Fire(const std::string& key, const Point& p, double short_med, double long_med,
            std::vector<Finding>* out);
  void End(const std::string& key, const Point& p, std::vector<Finding>* out);

  bool invert_;
  int min_points_;
  double drop_;
  int sustain_;
  double jitter_k_;
  ThroughputGroup* group_;
  SortedWindow short_;
  SortedWindow long_;
  SortedWindow jitter_;  // |r_i - r_(i-1)| of the values outside regressions
  bool has_prev_ = false;
  double prev_ = 0;
  int slow_run_ = 0;
  int64_t slow_since_ = 0;
  int ok_run_ = 0;  // consecutive recovered points while open
  bool open_ = false;
  bool silent_ = false;  // this episode belongs to another series' (the group's owner)
  int64_t lo_ = 0, hi_ = 0;
  double lo_time_ = 0;
  double threshold_ = 0;  // frozen while open
  double worst_ratio_ = 1;
};

// Steady memory growth: over the last `window` values cut into four blocks, block means strictly
// increasing, every block-to-block rise at least a sixth of the total (growth spread over the
// window, not one allocation at start-up), and the newest at least (1 + rel) times the oldest.
class MemoryGrowthDetector {
 public:
  MemoryGrowthDetector(int window, double rel)
      : block_(window / 4),
        throttle_(block_),
        rel_(rel),
        history_(4 * (window / 4)) {}
  // REQUIRES: p.value finite.
  void Observe(const std::string& key, const Point& p, std::vector<Finding>* out);
  void Reset() {
    history_.Clear();
    active_ = false;
  }

 private:
  int block_;
  Throttle throttle_;
  double rel_;
  BlockHistory history_;
  bool active_ = false;
};

}  // namespace inloop::detect
