// HangDetector: decides from activity timestamps alone whether a supervised process is hung — no
// output line and no new step for max(hang_factor x median interval between logged steps,
// hang_floor_seconds) (hang_startup_seconds before the first step), with an optional CPU-time
// input. Pure: the caller passes every time (`now`, seconds on any monotonic or wall clock, the
// same one throughout), so tests drive it with a fake clock. Must never read a clock or the OS.
#pragma once

#include <array>
#include <cstdint>

#include "detect/detect_config.h"
#include "detect/finding.h"

namespace inloop::detect {

// CPU decision (docs/detect.md "Hang"): when the caller reports the process group's cumulative
// CPU seconds and the group used >= hang_cpu_busy_cores while it was silent (over the silence,
// at most the last hang_cpu_window_seconds: the work before the silence says nothing about it),
// the process is silent but busy — a long silent computation, or a busy-waiting deadlock (NCCL
// spins at 100% of a core). It still fires, after hang_cpu_busy_factor times the threshold, with
// cpu_busy = 1 and the measured cores in the evidence. Without CPU input it fires at the threshold.
class HangDetector {
 public:
  // `start` is when the process started (silence is counted from there).
  HangDetector(const DetectConfig& config, double start);

  // A line of output (stdout or stderr) at `now`.
  void OnOutput(double now);
  // A point at `now` for `step`. Steps greater than the last one seen are progress and feed the
  // median interval between logged steps; any point is also activity.
  void OnProgress(double now, int64_t step);
  // The cumulative CPU seconds of the process group, sampled at `now`.
  void OnCpuTime(double now, double cpu_seconds);

  // True, with *out filled, the first time the silence at `now` reaches the threshold; false
  // until new activity re-arms it.
  bool Check(double now, Finding* out);

  // The silence threshold in seconds as of now (without the CPU-busy extension).
  double Threshold() const;
  // When Check would fire if nothing happens (CPU busy is judged at Check time, so a busy process
  // can be checked again later). The supervisor can sleep until then.
  double Deadline() const { return LastActivity() + Threshold(); }
  // Median interval between logged steps; 0 until hang_min_intervals intervals were seen.
  double MedianInterval() const;
  double LastActivity() const;

 private:
  // CPU cores used between the samples of the last `window` seconds; < 0 when unknown (fewer
  // than two samples kMinCpuSpan apart inside the window).
  static constexpr double kMinCpuSpan = 1.0;

  double CpuCores(double window) const;

  double floor_, factor_, startup_, busy_cores_, cpu_window_, busy_factor_;
  int min_intervals_;
  double start_;
  double last_output_ = -1e300;
  double last_progress_ = -1e300;
  bool any_step_ = false;
  int64_t last_step_ = 0;
  double last_step_time_ = 0;
  bool fired_ = false;

  static constexpr int kIntervals = 64;
  std::array<double, kIntervals> intervals_{};
  int interval_count_ = 0;  // total seen; the ring keeps the last kIntervals
  mutable bool median_dirty_ = true;
  mutable double median_ = 0;

  static constexpr int kCpuSamples = 72;  // a minute and more at the supervisor's 1 s sampling
  std::array<double, kCpuSamples> cpu_time_{};
  std::array<double, kCpuSamples> cpu_value_{};
  int cpu_count_ = 0;  // total samples; the ring keeps the last kCpuSamples
};

}  // namespace inloop::detect
