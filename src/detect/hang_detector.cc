// HangDetector's arithmetic: the median interval between logged steps, the threshold, the CPU
// rate over a trailing window, and the hang finding. Must never read a clock.
#include "detect/hang_detector.h"

#include <fmt/format.h>

#include <algorithm>

namespace inloop::detect {

HangDetector::HangDetector(const DetectConfig& c, double start)
    : floor_(c.hang_floor_seconds),
      factor_(c.hang_factor),
      startup_(c.hang_startup_seconds),
      busy_cores_(c.hang_cpu_busy_cores),
      cpu_window_(c.hang_cpu_window_seconds),
      busy_factor_(c.hang_cpu_busy_factor),
      min_intervals_(c.hang_min_intervals),
      start_(start) {}

void HangDetector::OnOutput(double now) {
  last_output_ = std::max(last_output_, now);
  fired_ = false;
}

void HangDetector::OnProgress(double now, int64_t step) {
  last_progress_ = std::max(last_progress_, now);
  fired_ = false;
  if (any_step_ && step <= last_step_) {
    if (step < last_step_) {  // a rewind (resumed attempt): intervals restart from here
      last_step_ = step;
      last_step_time_ = now;
    }
    return;
  }
  if (any_step_) {
    intervals_[interval_count_ % kIntervals] = std::max(0.0, now - last_step_time_);
    ++interval_count_;
    median_dirty_ = true;
  }
  any_step_ = true;
  last_step_ = step;
  last_step_time_ = now;
}

void HangDetector::OnCpuTime(double now, double cpu_seconds) {
  cpu_time_[cpu_count_ % kCpuSamples] = now;
  cpu_value_[cpu_count_ % kCpuSamples] = cpu_seconds;
  ++cpu_count_;
}

double HangDetector::MedianInterval() const {
  if (interval_count_ < min_intervals_) return 0;
  if (median_dirty_) {
    const int n = std::min(interval_count_, kIntervals);
    std::array<double, kIntervals> tmp = intervals_;
    std::nth_element(tmp.begin(), tmp.begin() + n / 2, tmp.begin() + n);
    double hi = tmp[n / 2];
    if (n % 2 == 0) {
      double lo = *std::max_element(tmp.begin(), tmp.begin() + n / 2);
      median_ = 0.5 * (lo + hi);
    } else {
      median_ = hi;
    }
    median_dirty_ = false;
  }
  return median_;
}

double HangDetector::Threshold() const {
  double t = std::max(floor_, factor_ * MedianInterval());
  if (!any_step_) t = std::max(t, startup_);
  return t;
}

double HangDetector::LastActivity() const {
  return std::max({start_, last_output_, last_progress_});
}

double HangDetector::CpuCores(double window) const {
  if (cpu_count_ < 2) return -1;
  const int newest = (cpu_count_ - 1) % kCpuSamples;
  const int kept = std::min(cpu_count_, kCpuSamples);
  // The oldest sample still inside the window, so that nothing from before it counts.
  int ref = newest;
  for (int k = 1; k < kept; ++k) {
    const int i = (newest - k + kCpuSamples) % kCpuSamples;
    if (cpu_time_[newest] - cpu_time_[i] > window) break;
    ref = i;
  }
  const double dt = cpu_time_[newest] - cpu_time_[ref];
  if (dt < kMinCpuSpan) return -1;  // too few samples inside the window to judge
  return std::max(0.0, cpu_value_[newest] - cpu_value_[ref]) / dt;
}

bool HangDetector::Check(double now, Finding* out) {
  if (fired_) return false;
  const double silent = now - LastActivity();
  const double threshold = Threshold();
  if (silent < threshold) return false;
  // CPU over the silence only: a run that trained hard until it fell asleep is idle, not busy.
  const double cpu_window = std::min(cpu_window_, silent);
  const double cores = CpuCores(cpu_window);
  const bool busy = cores >= 0 && cores >= busy_cores_;
  if (busy && silent < busy_factor_ * threshold) return false;
  fired_ = true;

  Finding f;
  f.kind = FindingKind::kHang;
  f.severity = Severity::kError;
  f.step_lo = f.step_hi = any_step_ ? last_step_ : 0;
  f.wall_time = now;
  const double median = MedianInterval();
  std::string basis = !any_step_ ? fmt::format("no step yet; start-up allowance {:.0f} s", startup_)
                      : median > 0
                          ? fmt::format("max({:g} x median step interval {:.1f} s, floor {:.0f} s)",
                                        factor_, median, floor_)
                          : fmt::format("floor {:.0f} s; fewer than {} step intervals seen", floor_,
                                        min_intervals_);
  std::string cpu = cores < 0 ? "CPU time unknown"
                    : busy    ? fmt::format(
                                    "but CPU busy ({:.2f} cores over the last {:.0f} s: "
                                       "a busy-wait deadlock such as NCCL, or a long silent "
                                       "phase; allowed {:g}x longer)",
                                    cores, cpu_window, busy_factor_)
                           : fmt::format("and no CPU progress ({:.3f} cores)", cores);
  f.message = fmt::format(
      "hang: no output and no new step for {:.0f} s (threshold {:.0f} s = {}), "
      "{}; last step {}",
      silent, threshold, basis, cpu,
      any_step_ ? fmt::format("{}", last_step_) : std::string("none"));
  f.evidence = {{"silent_seconds", silent},     {"threshold_seconds", threshold},
                {"median_interval", median},    {"factor", factor_},
                {"floor_seconds", floor_},      {"cpu_known", cores < 0 ? 0.0 : 1.0},
                {"cpu_busy", busy ? 1.0 : 0.0}, {"cpu_cores", std::max(cores, 0.0)}};
  *out = std::move(f);
  return true;
}

}  // namespace inloop::detect
