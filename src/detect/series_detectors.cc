// The rare paths of the per-series detectors: building findings (messages and evidence from the
// numbers), episode bookkeeping, and the block comparisons. Must never allocate on a point that
// produces no finding.
#include "detect/series_detectors.h"

#include <fmt/format.h>

#include <utility>

namespace inloop::detect {
namespace {

// Robust sigma from the MAD: 1.4826 * MAD estimates the standard deviation of normal noise.
constexpr double kMadToSigma = 1.4826;

Finding Make(FindingKind kind, Severity sev, const std::string& key, int64_t lo, int64_t hi,
             double wall_time, bool update) {
  Finding f;
  f.kind = kind;
  f.severity = sev;
  f.series = key;
  f.step_lo = lo;
  f.step_hi = hi;
  f.wall_time = wall_time;
  f.is_update = update;
  return f;
}

double SafeRatio(double num, double den) { return den != 0 ? num / den : 0; }

}  // namespace

// ---------------------------------------------------------------- NonFiniteTracker

void NonFiniteTracker::OnNonFinite(const std::string& key, const Point& p,
                                   std::vector<Finding>* out) {
  if (open_) {
    hi_ = p.step;
    ++count_;
    return;
  }
  open_ = true;
  lo_ = hi_ = p.step;
  count_ = 1;
  first_value_ = p.value;
  const char* what = std::isnan(p.value) ? "nan" : (p.value > 0 ? "inf" : "-inf");
  Finding f = Make(FindingKind::kNonFinite, severity_, key, p.step, p.step, p.wall_time, false);
  f.message = has_finite_
                  ? fmt::format("{} is {} at step {} (last finite value {:.6g} at step {})", key,
                                what, p.step, last_finite_, last_finite_step_)
                  : fmt::format("{} is {} at step {} (no finite value before)", key, what, p.step);
  f.evidence = {{"nan", std::isnan(p.value) ? 1.0 : 0.0},
                {"inf", std::isinf(p.value) ? (p.value > 0 ? 1.0 : -1.0) : 0.0}};
  if (has_finite_) {
    f.evidence.push_back({"last_finite", last_finite_});
    f.evidence.push_back({"last_finite_step", static_cast<double>(last_finite_step_)});
  }
  out->push_back(std::move(f));
}

void NonFiniteTracker::Close(const std::string& key, const Point& p, std::vector<Finding>* out) {
  open_ = false;
  if (hi_ == lo_ && count_ == 1) return;  // a single point: the first report said it all
  Finding f = Make(FindingKind::kNonFinite, severity_, key, lo_, hi_, p.wall_time, true);
  f.message = fmt::format(
      "{} was non-finite for {} points, steps {}-{}; finite again at step {} "
      "({:.6g})",
      key, count_, lo_, hi_, p.step, p.value);
  f.evidence = {{"points", static_cast<double>(count_)}, {"value_after", p.value}};
  out->push_back(std::move(f));
}

// ---------------------------------------------------------------- RobustSpikeDetector

RobustSpikeParams LossSpikeParams(const DetectConfig& c) {
  RobustSpikeParams p;
  p.kind = FindingKind::kLossSpike;
  p.severity = Severity::kWarning;
  p.window = c.spike_window;
  p.min_points = c.spike_min_points;
  p.z = c.spike_z;
  p.min_rel_jump = c.spike_min_rel_jump;
  p.sigma_floor = c.spike_sigma_floor;
  // Cold start: before the robust window is trusted, only a jump to spike_cold_ratio x the
  // trailing median fires (0 turns it off); the robust rule takes over at spike_min_points.
  p.ratio = c.spike_cold_ratio;
  p.ratio_min_points = c.spike_cold_min_points;
  p.ratio_max_points = c.spike_min_points;
  p.recover_z = c.divergence_recover_z;
  p.escalate_steps = c.divergence_recover_steps;
  p.escalate_points = c.divergence_recover_points;
  p.escalate_to_divergence = true;
  return p;
}

RobustSpikeParams GradExplosionParams(const DetectConfig& c) {
  RobustSpikeParams p;
  p.kind = FindingKind::kGradExplosion;
  p.severity = Severity::kWarning;
  p.window = c.grad_window;
  p.min_points = c.grad_min_points;
  p.z = c.grad_z;
  p.min_rel_jump = c.grad_min_ratio - 1;
  p.sigma_floor = c.spike_sigma_floor;
  p.ratio = c.grad_ratio;
  p.ratio_min_points = c.grad_ratio_min_points;
  p.recover_z = c.divergence_recover_z;
  p.escalate_steps = c.divergence_recover_steps;
  p.escalate_points = c.divergence_recover_points;
  p.escalate_to_divergence = false;
  return p;
}

bool RobustSpikeDetector::Candidate(const std::string& key, const Point& p, double med,
                                    std::vector<Finding>* out) {
  const int n = window_.size();
  const double excess = p.value - med;
  const double rel = SafeRatio(excess, std::fabs(med));
  const double mad = window_.Mad();
  const double sigma = std::max({kMadToSigma * mad, p_.sigma_floor * std::fabs(med), 1e-300});
  const double z = excess / sigma;
  const bool robust = n >= p_.min_points && z >= p_.z && rel >= p_.min_rel_jump;
  const bool by_ratio =
      p_.ratio > 0 && n >= p_.ratio_min_points && n < p_.ratio_max_points && med > 0 &&
      p.value >= p_.ratio * med;
  if (!robust && !by_ratio) return false;

  open_ = true;
  lo_ = hi_ = p.step;
  points_ = 1;
  peak_ = p.value;
  base_median_ = med;
  base_sigma_ = sigma;
  Finding f = Make(p_.kind, p_.severity, key, p.step, p.step, p.wall_time, false);
  const double ratio = SafeRatio(p.value, med);
  const char* what = p_.kind == FindingKind::kLossSpike ? "loss spike" : "gradient-norm explosion";
  if (robust) {
    f.message = fmt::format(
        "{} on {} at step {}: {:.6g} is {:.2f}x the trailing median {:.6g} "
        "(robust z {:.1f} >= {:g}, over {} points)",
        what, key, p.step, p.value, ratio, med, z, p_.z, n);
  } else {
    f.message = fmt::format(
        "{} on {} at step {}: {:.6g} is {:.2f}x the trailing median {:.6g} "
        "(>= {:g}x, over {} points)",
        what, key, p.step, p.value, ratio, med, p_.ratio, n);
  }
  f.evidence = {{"value", p.value},
                {"median", med},
                {"mad", mad},
                {"robust_z", z},
                {"rel_jump", rel},
                {"ratio", ratio},
                {"window", static_cast<double>(n)},
                {"z_threshold", p_.z},
                {"rel_threshold", p_.min_rel_jump}};
  if (p_.ratio > 0) f.evidence.push_back({"ratio_threshold", p_.ratio});
  out->push_back(std::move(f));
  return true;
}

bool RobustSpikeDetector::InEpisode(const std::string& key, const Point& p,
                                    std::vector<Finding>* out) {
  const double med = base_median_;
  const double recover_line =
      med + std::max(p_.recover_z * base_sigma_, 0.5 * p_.min_rel_jump * std::fabs(med));
  if (p.value <= recover_line) {
    open_ = false;
    if (hi_ > lo_) {
      Finding f = Make(p_.kind, p_.severity, key, lo_, hi_, p.wall_time, true);
      f.message = fmt::format(
          "{} on {} ended: steps {}-{} ({} points, peak {:.6g}, {:.2f}x the "
          "median {:.6g}); back to {:.6g} at step {}",
          p_.kind == FindingKind::kLossSpike ? "loss spike" : "gradient-norm explosion", key, lo_,
          hi_, points_, peak_, SafeRatio(peak_, med), med, p.value, p.step);
      f.evidence = {{"peak", peak_},
                    {"median", med},
                    {"points", static_cast<double>(points_)},
                    {"steps", static_cast<double>(hi_ - lo_ + 1)},
                    {"value_after", p.value}};
      out->push_back(std::move(f));
    }
    window_.Push(p.value);
    return false;
  }
  hi_ = p.step;
  ++points_;
  peak_ = std::max(peak_, p.value);
  if (p.step - lo_ >= p_.escalate_steps && points_ > p_.escalate_points) {
    open_ = false;
    Finding f =
        p_.escalate_to_divergence
            ? Make(FindingKind::kDivergence, Severity::kError, key, lo_, p.step, p.wall_time, false)
            : Make(p_.kind, p_.severity, key, lo_, p.step, p.wall_time, true);
    if (p_.escalate_to_divergence) {
      f.message = fmt::format(
          "divergence on {}: the spike at step {} did not recover within {} "
          "steps; {:.6g} at step {} is still above {:.6g} (baseline median "
          "{:.6g})",
          key, lo_, p_.escalate_steps, p.value, p.step, recover_line, med);
    } else {
      f.message = fmt::format(
          "gradient-norm explosion on {} lasted {} steps ({}-{}, peak {:.6g}, "
          "median before {:.6g}); treating {:.6g} as the new normal",
          key, p.step - lo_ + 1, lo_, p.step, peak_, med, p.value);
    }
    f.evidence = {{"value", p.value},
                  {"median", med},
                  {"recover_threshold", recover_line},
                  {"peak", peak_},
                  {"steps", static_cast<double>(p.step - lo_)},
                  {"points", static_cast<double>(points_)},
                  {"recover_steps", static_cast<double>(p_.escalate_steps)}};
    out->push_back(std::move(f));
    // Re-baseline: the old level is gone; learn the new one from here.
    window_.Clear();
    window_.Push(p.value);
    return true;
  }
  return true;
}

// ---------------------------------------------------------------- RisingTrendDetector

void RisingTrendDetector::Evaluate(const std::string& key, const Point& p, const BlockHistory& h,
                                   std::vector<Finding>* out) {
  const int b = block_;
  if (b <= 0 || h.size() < 3 * b) return;
  const double m2 = h.Mean(0, b);
  const double m1 = h.Mean(b, b);
  const double m0 = h.Mean(2 * b, b);
  const double rise = SafeRatio(m2 - m0, std::fabs(m0));
  if (active_) {
    if (rise < 0.5 * rel_) active_ = false;
    return;
  }
  if (!(m2 > m1 && m1 > m0 && rise >= rel_)) return;
  active_ = true;
  const int64_t lo = h.StepAt(3 * b - 1);
  Finding f = Make(FindingKind::kDivergence, severity_, key, lo, p.step, p.wall_time, false);
  f.message = fmt::format(
      "divergence on {}: sustained rise over steps {}-{}, block means "
      "{:.6g} -> {:.6g} -> {:.6g} (+{:.1f}% >= {:.1f}%)",
      key, lo, p.step, m0, m1, m2, 100 * rise, 100 * rel_);
  f.evidence = {{"mean_old", m0},
                {"mean_mid", m1},
                {"mean_new", m2},
                {"rise", rise},
                {"window", static_cast<double>(3 * b)},
                {"rise_threshold", rel_}};
  out->push_back(std::move(f));
}

// ---------------------------------------------------------------- PlateauDetector

void PlateauDetector::Evaluate(const std::string& key, const Point& p, const BlockHistory& h,
                               std::vector<Finding>* out) {
  if (window_ <= 0 || h.size() < window_ + block_) return;
  const double now = h.Mean(0, block_);
  const double then = h.Mean(window_, block_);
  const double improvement = SafeRatio(then - now, std::fabs(then));
  if (active_) {
    if (std::fabs(improvement) > 2 * min_improvement_) active_ = false;
    return;
  }
  if (std::fabs(improvement) >= min_improvement_) return;
  active_ = true;
  const int64_t lo = h.StepAt(window_ + block_ - 1);
  Finding f = Make(FindingKind::kPlateau, Severity::kInfo, key, lo, p.step, p.wall_time, false);
  f.message = fmt::format(
      "plateau on {}: mean {:.6g} over the last {} points vs {:.6g} {} points "
      "earlier ({:+.2f}% change, within {:.2f}%)",
      key, now, block_, then, window_, 100 * improvement, 100 * min_improvement_);
  f.evidence = {{"mean_then", then},
                {"mean_now", now},
                {"improvement", improvement},
                {"window", static_cast<double>(window_)},
                {"block", static_cast<double>(block_)},
                {"improvement_threshold", min_improvement_}};
  out->push_back(std::move(f));
}

// ---------------------------------------------------------------- ThroughputGroup

bool ThroughputGroup::Join(const void* d, const std::string& key, int64_t since) {
  if (owner_ == d) return false;
  if (!open() && !(closed_ && since <= hi_)) return false;
  if (!IsMember(d)) members_.push_back(d);
  if (open() && std::find(related_.begin(), related_.end(), key) == related_.end()) {
    related_.push_back(key);
  }
  return true;
}

void ThroughputGroup::Leave(const void* d) {
  std::erase(members_, d);
}

bool ThroughputGroup::IsMember(const void* d) const {
  return std::find(members_.begin(), members_.end(), d) != members_.end();
}

// ---------------------------------------------------------------- ThroughputDetector

ThroughputDetector::ThroughputDetector(const DetectConfig& c, bool lower_is_better,
                                       ThroughputGroup* group)
    : invert_(lower_is_better),
      min_points_(c.throughput_min_points),
      drop_(c.throughput_drop),
      sustain_(c.throughput_sustain),
      jitter_k_(c.throughput_jitter_k),
      group_(group),
      short_(c.throughput_short_window),
      long_(c.throughput_window),
      jitter_(c.throughput_window) {}

void ThroughputDetector::Reset() {
  short_.Clear();
  slow_run_ = 0;
  ok_run_ = 0;
  has_prev_ = false;
  if (open_ && group_) {
    if (group_->OwnedBy(this)) {
      group_->Reset();
    } else {
      group_->Leave(this);
    }
  }
  open_ = false;
  silent_ = false;
}

// The jitter is the upper decile of |change| between consecutive points, scaled by
// 0.6745 / 1.6449 so that for normal noise it equals their median: on a shared machine most
// steps take exactly as long and a tenth or so are hit by a competing process (+20-40%, one or
// two steps each). The median of |change| is then ~0 and every cluster of three hit steps in
// the short window read as a slowdown; the upper decile sees the bursts.
double ThroughputDetector::Jitter() const {
  constexpr double kNormalMedianOverDecile = 0.6745 / 1.6449;
  const int n = static_cast<int>(jitter_.size());
  return n > 0 ? kNormalMedianOverDecile * jitter_.Sorted((9 * (n - 1)) / 10) : 0;
}

double ThroughputDetector::Threshold() const {
  if (!(jitter_k_ > 0) || jitter_.size() < 2 || long_.size() == 0) return drop_;
  const double level = long_.Median();
  if (!(level > 0)) return drop_;
  const double dispersion = Jitter() / level;
  return std::min(std::max(drop_, jitter_k_ * dispersion), std::max(drop_, 0.5));
}

void ThroughputDetector::Observe(const std::string& key, const Point& p,
                                 std::vector<Finding>* out) {
  double r = p.value;
  if (invert_) {
    if (!(r > 0)) return;
    r = 1 / r;
  } else if (r < 0) {
    return;
  }
  // A value leaving the short window joins the long one, except during a regression: the
  // baseline (level and jitter) stays the pre-regression one, so the regression ends when
  // throughput is back.
  if (!open_) {
    if (short_.full()) long_.Push(short_.Oldest());
    if (has_prev_) jitter_.Push(std::fabs(r - prev_));
  }
  prev_ = r;
  has_prev_ = true;
  short_.Push(r);
  if (!short_.full() || long_.size() < min_points_) return;
  const double s = short_.Median();
  const double l = long_.Median();
  const double ratio = SafeRatio(s, l);
  if (open_) {
    if (ratio >= 1 - 0.5 * threshold_) {
      if (++ok_run_ >= sustain_) End(key, p, out);
    } else {
      ok_run_ = 0;
      hi_ = p.step;
      worst_ratio_ = std::min(worst_ratio_, ratio);
    }
    return;
  }
  const double threshold = Threshold();
  if (ratio < 1 - threshold) {
    if (slow_run_++ == 0) {
      slow_since_ = p.step;
      lo_time_ = p.wall_time;
    }
    if (slow_run_ >= sustain_) {
      threshold_ = threshold;
      Fire(key, p, s, l, out);
    }
  } else {
    slow_run_ = 0;
  }
}

void ThroughputDetector::End(const std::string& key, const Point& p, std::vector<Finding>* out) {
  open_ = false;
  slow_run_ = 0;
  ok_run_ = 0;
  if (silent_) {
    silent_ = false;
    if (group_) group_->Leave(this);
    return;
  }
  std::vector<std::string> related;
  if (group_ && group_->OwnedBy(this)) related = group_->Close(hi_);
  Finding f = Make(FindingKind::kThroughputRegression, Severity::kWarning, key, lo_, hi_,
                   p.wall_time, true);
  const double seconds = std::max(0.0, p.wall_time - lo_time_);
  std::string also;
  for (const std::string& k : related) also += (also.empty() ? "" : ", ") + k;
  f.message = fmt::format(
      "throughput regression on {} ended: steps {}-{} ({} steps, {:.1f} s), worst {:.1f}% below "
      "the trailing median{}",
      key, lo_, hi_, hi_ - lo_ + 1, seconds, 100 * (1 - worst_ratio_),
      also.empty() ? "" : fmt::format(" (also seen on {})", also));
  f.evidence = {{"worst_drop", 1 - worst_ratio_},
                {"steps", static_cast<double>(hi_ - lo_ + 1)},
                {"seconds", seconds},
                {"related_series", static_cast<double>(related.size())}};
  f.related = std::move(related);
  out->push_back(std::move(f));
}

void ThroughputDetector::Fire(const std::string& key, const Point& p, double short_med,
                              double long_med, std::vector<Finding>* out) {
  open_ = true;
  ok_run_ = 0;
  lo_ = slow_since_;
  hi_ = p.step;
  worst_ratio_ = SafeRatio(short_med, long_med);
  // Another series' regression over the same steps is the same fact: that series reports it.
  if (group_ && group_->Join(this, key, slow_since_)) {
    silent_ = true;
    return;
  }
  silent_ = false;
  if (group_) group_->Open(this, lo_);
  const double drop = 1 - worst_ratio_;
  // Report in the series' own units: step times as times.
  const double shown_short = invert_ ? 1 / short_med : short_med;
  const double shown_long = invert_ ? 1 / long_med : long_med;
  const double jitter = long_med > 0 && jitter_.size() > 0 ? Jitter() / long_med : 0;
  Finding f = Make(FindingKind::kThroughputRegression, Severity::kWarning, key, lo_, hi_,
                   p.wall_time, false);
  f.message = fmt::format(
      "throughput regression on {}: median of the last {} points {:.6g} vs trailing median {:.6g} "
      "({} {:.1f}%, threshold {:.1f}% = max({:.1f}%, {:g} x jitter {:.1f}%)) for {} consecutive "
      "points since step {}",
      key, short_.size(), shown_short, shown_long, invert_ ? "slower by" : "down", 100 * drop,
      100 * threshold_, 100 * drop_, jitter_k_, 100 * jitter, slow_run_, slow_since_);
  f.evidence = {{"short_median", shown_short},
                {"long_median", shown_long},
                {"drop", drop},
                {"drop_threshold", threshold_},
                {"configured_drop", drop_},
                {"jitter", jitter},
                {"short_window", static_cast<double>(short_.size())},
                {"window", static_cast<double>(long_.size())},
                {"consecutive", static_cast<double>(slow_run_)}};
  out->push_back(std::move(f));
}

// ---------------------------------------------------------------- MemoryGrowthDetector

void MemoryGrowthDetector::Observe(const std::string& key, const Point& p,
                                   std::vector<Finding>* out) {
  const int b = block_;
  if (b <= 0) return;
  history_.Push(p.step, p.value);
  if (!throttle_.Due()) return;
  if (history_.size() < 4 * b) return;
  const double m3 = history_.Mean(0, b);
  const double m0 = history_.Mean(3 * b, b);
  if (!(m0 > 0)) return;
  const double growth = (m3 - m0) / m0;
  if (active_) {
    if (growth < 0.5 * rel_) active_ = false;
    return;
  }
  if (growth < rel_) return;
  const double m2 = history_.Mean(b, b);
  const double m1 = history_.Mean(2 * b, b);
  const double min_rise = (m3 - m0) / 6;
  if (!(m1 - m0 >= min_rise && m2 - m1 >= min_rise && m3 - m2 >= min_rise)) return;
  active_ = true;
  const int64_t lo = history_.StepAt(4 * b - 1);
  // Slope between the centres of the oldest and newest blocks, per step.
  const double centre_new = 0.5 * static_cast<double>(history_.StepAt(0) + history_.StepAt(b - 1));
  const double centre_old =
      0.5 * static_cast<double>(history_.StepAt(3 * b) + history_.StepAt(4 * b - 1));
  const double slope = SafeRatio(m3 - m0, centre_new - centre_old);
  Finding f =
      Make(FindingKind::kMemoryGrowth, Severity::kWarning, key, lo, p.step, p.wall_time, false);
  f.message = fmt::format(
      "memory growth on {}: block means {:.6g} -> {:.6g} -> {:.6g} -> {:.6g} "
      "over steps {}-{} (+{:.1f}% >= {:.1f}%, {:.4g} per step)",
      key, m0, m1, m2, m3, lo, p.step, 100 * growth, 100 * rel_, slope);
  f.evidence = {{"mean_old", m0},
                {"mean_new", m3},
                {"growth", growth},
                {"slope_per_step", slope},
                {"window", static_cast<double>(4 * b)},
                {"growth_threshold", rel_}};
  out->push_back(std::move(f));
}

}  // namespace inloop::detect
