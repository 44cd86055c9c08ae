// DetectConfig: every threshold of the detectors, with its default, and its loader from the
// [detect] table of inloop.toml (docs/detect.md lists each field). Must never hold run state;
// detectors copy what they need at construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace toml {
inline namespace v3 {  // toml++ 3.x (Debian 12's); its table is outside the ABI namespaces
class table;
}
}  // namespace toml

namespace inloop::detect {

struct DetectConfig {
  // ---- Which series are watched (docs/detect.md "Series"). A pattern matches a key when, after
  // both are lower-cased and every run of characters other than [a-z0-9] is turned into one '_',
  // the pattern occurs in the key starting and ending on a '_' boundary: "grad_norm" matches
  // "train/grad_norm" and "grad-norm" but "mem" does not match "memory".
  std::vector<std::string> ignore_keys = {"loss_scale", "lossscale", "scaler",  "ppl",
                                          "perplexity", "num_zeros", "skipped", "nan_iterations"};
  std::vector<std::string> grad_norm_keys = {"grad_norm", "gradient_norm", "gradnorm",
                                             "grad_l2_norm", "grad_global_norm"};
  std::vector<std::string> loss_keys = {"loss"};
  // A loss key with one of these is a validation loss: non-finite and divergence only.
  std::vector<std::string> eval_markers = {"val",        "valid", "validation", "eval",
                                           "evaluation", "test",  "dev",        "heldout"};
  // Lower is better (seconds or milliseconds per step); checked before throughput_keys.
  std::vector<std::string> step_time_keys = {
      "step_time",    "time_per_step", "iter_time",     "iteration_time",   "time_per_iteration",
      "batch_time",   "step_duration", "ms_per_step",   "sec_per_step",     "seconds_per_step",
      "s_per_step",   "step_ms",       "iter_ms",       "ms_per_iter",      "ms_per_batch"};
  // Higher is better.
  std::vector<std::string> throughput_keys = {
      "tokens_per_s",  "tokens_per_sec",  "tokens_per_second",  "tok_s",    "tokens_s",
      "samples_per_s", "samples_per_sec", "samples_per_second", "it_per_s", "it_s",
      "iters_per_s",   "steps_per_s",     "steps_per_second",   "tflops",   "mfu",
      "throughput"};
  std::vector<std::string> memory_keys = {
      "mem", "memory", "gpu_mem", "max_memory_allocated", "memory_allocated", "memory_reserved",
      "rss"};

  // ---- Loss spike: value > median + spike_z * 1.4826 * MAD of the trailing window AND
  // value >= (1 + spike_min_rel_jump) * median, once the window holds spike_min_points values.
  int spike_window = 128;
  int spike_min_points = 32;
  double spike_z = 6.0;
  double spike_min_rel_jump = 0.25;
  // Floor of the robust sigma as a fraction of |median|, so a flat or quantized series (MAD 0)
  // does not give an infinite z.
  double spike_sigma_floor = 0.001;
  // Cold start (fewer than spike_min_points values): value >= spike_cold_ratio x the trailing
  // median fires once the window holds spike_cold_min_points values. 0 turns it off.
  double spike_cold_ratio = 2.0;
  int spike_cold_min_points = 8;

  // ---- Divergence. (1) A loss spike not back below median + divergence_recover_z * sigma (or
  // within half of spike_min_rel_jump of the median) after divergence_recover_steps steps and at
  // least divergence_recover_points points. (2) A sustained rise: over the last divergence_window
  // points cut in three blocks, block means strictly increasing and the newest at least
  // (1 + divergence_trend_rel) times the oldest. 0 disables the trend.
  int64_t divergence_recover_steps = 100;
  int divergence_recover_points = 3;
  double divergence_recover_z = 3.0;
  int divergence_window = 600;
  double divergence_trend_rel = 0.15;
  // Validation losses are logged rarely: their trend window is in points too, but short.
  int eval_divergence_window = 6;

  // ---- Gradient-norm explosion: (robust) value > median + grad_z * sigma AND value >=
  // grad_min_ratio * median once grad_min_points are in the window; or (cold start / absolute)
  // value >= grad_ratio * median once grad_ratio_min_points are in the window.
  int grad_window = 128;
  int grad_min_points = 32;
  double grad_z = 12.0;
  double grad_min_ratio = 3.0;
  double grad_ratio = 10.0;
  int grad_ratio_min_points = 3;

  // ---- Plateau (info): the mean of the last plateau_window/5 points is within
  // plateau_min_improvement (relative) of the mean of the same-size block plateau_window points
  // earlier: flat, neither improving nor rising (a rise is divergence's business). 0 disables.
  int plateau_window = 2000;
  double plateau_min_improvement = 0.005;

  // ---- Throughput regression: the median of the last throughput_short_window values is below
  // (1 - threshold) times the median of the throughput_window values before them, for
  // throughput_sustain consecutive points (step times are compared as 1/time). The threshold
  // adapts to the series' own jitter: max(throughput_drop, throughput_jitter_k x the median
  // point-to-point change over the trailing window, relative to the trailing median), capped at
  // max(throughput_drop, 0.5) so a halving is always news. 0 for the k turns adaptation off. The
  // episode ends after throughput_sustain consecutive points back within half the threshold.
  int throughput_window = 100;
  int throughput_min_points = 20;
  int throughput_short_window = 5;
  double throughput_drop = 0.04;
  int throughput_sustain = 5;
  double throughput_jitter_k = 3.0;

  // ---- Memory growth: over the last memory_window points cut in four blocks, block means
  // strictly increasing and the newest at least (1 + memory_growth_rel) times the oldest.
  int memory_window = 200;
  double memory_growth_rel = 0.1;

  // ---- Hang: no output line and no new step for max(hang_factor * median interval between
  // logged steps, hang_floor_seconds) seconds; before the first step, hang_startup_seconds. When
  // the caller reports CPU time and the process group used at least hang_cpu_busy_cores during
  // the silence (at most its last hang_cpu_window_seconds), the silence is allowed hang_cpu_busy_factor times longer
  // (a busy-waiting NCCL deadlock still fires; a long silent computation gets more room).
  double hang_floor_seconds = 300;
  double hang_factor = 10;
  int hang_min_intervals = 5;
  double hang_startup_seconds = 1800;
  double hang_cpu_busy_cores = 0.05;
  double hang_cpu_window_seconds = 60;
  double hang_cpu_busy_factor = 3;

  // ---- Straggler (multi-rank jobs, detect/straggler_detector.h): a rank whose median step time
  // over its last straggler_window steps is at least (1 + straggler_threshold) times the median
  // of the other ranks' medians (and at least straggler_min_seconds slower), for
  // straggler_sustain consecutive steps of that rank, once it and one other rank have
  // straggler_min_points steps each. The episode ends after straggler_sustain consecutive steps
  // below (1 + straggler_threshold / 2) times the others' median. straggler_window = 0 disables.
  int straggler_window = 20;
  int straggler_min_points = 8;
  double straggler_threshold = 0.2;
  double straggler_min_seconds = 0.002;
  int straggler_sustain = 5;
};

// Reads the [detect] table `detect` of the inloop.toml at `path` (the path only names the file in
// messages) into *out, which keeps its values for absent fields. Unknown fields, wrong types and
// out-of-range values are Invalid, naming path:line:col and the field.
Status LoadDetectConfig(const toml::table& detect, const std::string& path, DetectConfig* out);

// Checks ranges (windows positive, thresholds non-negative, ...); Invalid names the field.
Status ValidateDetectConfig(const DetectConfig& c);

}  // namespace inloop::detect
