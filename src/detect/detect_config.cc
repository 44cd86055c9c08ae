// Loading and validating the [detect] table of inloop.toml with toml++. Owns the table of field
// names; must never accept a field it does not know or silently clamp a value. Only non-throwing
// toml++ calls are used here (the table is already parsed), so no exception leaves this file.
#include "detect/detect_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <string_view>

#include "config/toml_fields.h"

namespace inloop::detect {
namespace {

using config::TomlField;

// The fields of DetectConfig: their names in [detect] and where they live.
std::vector<TomlField> Fields(DetectConfig* c) {
  return {
      {"ignore_keys", &c->ignore_keys},
      {"grad_norm_keys", &c->grad_norm_keys},
      {"loss_keys", &c->loss_keys},
      {"eval_markers", &c->eval_markers},
      {"step_time_keys", &c->step_time_keys},
      {"throughput_keys", &c->throughput_keys},
      {"memory_keys", &c->memory_keys},
      {"spike_window", &c->spike_window},
      {"spike_min_points", &c->spike_min_points},
      {"spike_z", &c->spike_z},
      {"spike_min_rel_jump", &c->spike_min_rel_jump},
      {"spike_sigma_floor", &c->spike_sigma_floor},
      {"spike_cold_ratio", &c->spike_cold_ratio},
      {"spike_cold_min_points", &c->spike_cold_min_points},
      {"divergence_recover_steps", &c->divergence_recover_steps},
      {"divergence_recover_points", &c->divergence_recover_points},
      {"divergence_recover_z", &c->divergence_recover_z},
      {"divergence_window", &c->divergence_window},
      {"divergence_trend_rel", &c->divergence_trend_rel},
      {"eval_divergence_window", &c->eval_divergence_window},
      {"grad_window", &c->grad_window},
      {"grad_min_points", &c->grad_min_points},
      {"grad_z", &c->grad_z},
      {"grad_min_ratio", &c->grad_min_ratio},
      {"grad_ratio", &c->grad_ratio},
      {"grad_ratio_min_points", &c->grad_ratio_min_points},
      {"plateau_window", &c->plateau_window},
      {"plateau_min_improvement", &c->plateau_min_improvement},
      {"throughput_window", &c->throughput_window},
      {"throughput_min_points", &c->throughput_min_points},
      {"throughput_short_window", &c->throughput_short_window},
      {"throughput_drop", &c->throughput_drop},
      {"throughput_sustain", &c->throughput_sustain},
      {"throughput_jitter_k", &c->throughput_jitter_k},
      {"memory_window", &c->memory_window},
      {"straggler_window", &c->straggler_window},
      {"straggler_min_points", &c->straggler_min_points},
      {"straggler_threshold", &c->straggler_threshold},
      {"straggler_min_seconds", &c->straggler_min_seconds},
      {"straggler_sustain", &c->straggler_sustain},
      {"memory_growth_rel", &c->memory_growth_rel},
      {"hang_floor_seconds", &c->hang_floor_seconds},
      {"hang_factor", &c->hang_factor},
      {"hang_min_intervals", &c->hang_min_intervals},
      {"hang_startup_seconds", &c->hang_startup_seconds},
      {"hang_cpu_busy_cores", &c->hang_cpu_busy_cores},
      {"hang_cpu_window_seconds", &c->hang_cpu_window_seconds},
      {"hang_cpu_busy_factor", &c->hang_cpu_busy_factor},
  };
}

// Windows cut into blocks need a minimum length; 0 disables the detector.
Status AtLeastOrZero(std::string_view name, int v, int min) {
  if (v == 0 || v >= min) return Status::OK();
  return Status::Invalid(fmt::format("detect.{} must be 0 (off) or >= {} (got {})", name, min, v));
}

}  // namespace

Status LoadDetectConfig(const toml::table& detect, const std::string& path, DetectConfig* out) {
  DetectConfig c = *out;
  std::vector<TomlField> fields = Fields(&c);
  INLOOP_RETURN_IF_ERROR(config::LoadTomlFields(detect, path, "detect", fields));
  Status s = ValidateDetectConfig(c);
  if (!s.ok()) return config::LocateTomlError(s, detect, path, "detect", fields);
  *out = std::move(c);
  return Status::OK();
}

Status ValidateDetectConfig(const DetectConfig& c) {
  auto positive = [](std::string_view name, double v) {
    return v > 0 ? Status::OK()
                 : Status::Invalid(fmt::format("detect.{} must be > 0 (got {})", name, v));
  };
  auto non_negative = [](std::string_view name, double v) {
    return v >= 0 ? Status::OK()
                  : Status::Invalid(fmt::format("detect.{} must be >= 0 (got {})", name, v));
  };
  INLOOP_RETURN_IF_ERROR(positive("spike_window", c.spike_window));
  INLOOP_RETURN_IF_ERROR(positive("spike_min_points", c.spike_min_points));
  if (c.spike_min_points > c.spike_window) {
    return Status::Invalid(fmt::format("detect.spike_min_points must be <= spike_window ({} > {})",
                                       c.spike_min_points, c.spike_window));
  }
  INLOOP_RETURN_IF_ERROR(positive("spike_z", c.spike_z));
  INLOOP_RETURN_IF_ERROR(non_negative("spike_min_rel_jump", c.spike_min_rel_jump));
  INLOOP_RETURN_IF_ERROR(non_negative("spike_sigma_floor", c.spike_sigma_floor));
  INLOOP_RETURN_IF_ERROR(non_negative("spike_cold_ratio", c.spike_cold_ratio));
  INLOOP_RETURN_IF_ERROR(positive("spike_cold_min_points", c.spike_cold_min_points));
  INLOOP_RETURN_IF_ERROR(positive("divergence_recover_steps", c.divergence_recover_steps));
  INLOOP_RETURN_IF_ERROR(positive("divergence_recover_points", c.divergence_recover_points));
  INLOOP_RETURN_IF_ERROR(non_negative("divergence_recover_z", c.divergence_recover_z));
  INLOOP_RETURN_IF_ERROR(non_negative("divergence_window", c.divergence_window));
  INLOOP_RETURN_IF_ERROR(AtLeastOrZero("divergence_window", c.divergence_window, 3));
  INLOOP_RETURN_IF_ERROR(positive("divergence_trend_rel", c.divergence_trend_rel));
  INLOOP_RETURN_IF_ERROR(non_negative("eval_divergence_window", c.eval_divergence_window));
  INLOOP_RETURN_IF_ERROR(AtLeastOrZero("eval_divergence_window", c.eval_divergence_window, 3));
  INLOOP_RETURN_IF_ERROR(positive("grad_window", c.grad_window));
  INLOOP_RETURN_IF_ERROR(positive("grad_min_points", c.grad_min_points));
  if (c.grad_min_points > c.grad_window) {
    return Status::Invalid(fmt::format("detect.grad_min_points must be <= grad_window ({} > {})",
                                       c.grad_min_points, c.grad_window));
  }
  INLOOP_RETURN_IF_ERROR(positive("grad_z", c.grad_z));
  if (c.grad_min_ratio < 1) {
    return Status::Invalid(
        fmt::format("detect.grad_min_ratio must be >= 1 (got {})", c.grad_min_ratio));
  }
  if (c.grad_ratio != 0 && c.grad_ratio < 1) {
    return Status::Invalid(
        fmt::format("detect.grad_ratio must be >= 1, or 0 to disable (got {})", c.grad_ratio));
  }
  INLOOP_RETURN_IF_ERROR(positive("grad_ratio_min_points", c.grad_ratio_min_points));
  if (c.grad_ratio_min_points > c.grad_window) {
    return Status::Invalid(
        fmt::format("detect.grad_ratio_min_points must be <= grad_window ({} > {})",
                    c.grad_ratio_min_points, c.grad_window));
  }
  INLOOP_RETURN_IF_ERROR(non_negative("plateau_window", c.plateau_window));
  INLOOP_RETURN_IF_ERROR(AtLeastOrZero("plateau_window", c.plateau_window, 10));
  INLOOP_RETURN_IF_ERROR(non_negative("plateau_min_improvement", c.plateau_min_improvement));
  INLOOP_RETURN_IF_ERROR(positive("throughput_window", c.throughput_window));
  INLOOP_RETURN_IF_ERROR(positive("throughput_min_points", c.throughput_min_points));
  if (c.throughput_min_points > c.throughput_window) {
    return Status::Invalid(
        fmt::format("detect.throughput_min_points must be <= throughput_window ({} > {})",
                    c.throughput_min_points, c.throughput_window));
  }
  INLOOP_RETURN_IF_ERROR(positive("throughput_short_window", c.throughput_short_window));
  if (c.throughput_drop <= 0 || c.throughput_drop >= 1) {
    return Status::Invalid(
        fmt::format("detect.throughput_drop must be in (0, 1) (got {})", c.throughput_drop));
  }
  INLOOP_RETURN_IF_ERROR(positive("throughput_sustain", c.throughput_sustain));
  INLOOP_RETURN_IF_ERROR(non_negative("throughput_jitter_k", c.throughput_jitter_k));
  INLOOP_RETURN_IF_ERROR(non_negative("memory_window", c.memory_window));
  INLOOP_RETURN_IF_ERROR(AtLeastOrZero("memory_window", c.memory_window, 4));
  INLOOP_RETURN_IF_ERROR(positive("memory_growth_rel", c.memory_growth_rel));
  INLOOP_RETURN_IF_ERROR(non_negative("straggler_window", c.straggler_window));
  INLOOP_RETURN_IF_ERROR(positive("straggler_min_points", c.straggler_min_points));
  if (c.straggler_window > 0 && c.straggler_min_points > c.straggler_window) {
    return Status::Invalid(
        fmt::format("detect.straggler_min_points must be <= straggler_window ({} > {})",
                    c.straggler_min_points, c.straggler_window));
  }
  INLOOP_RETURN_IF_ERROR(positive("straggler_threshold", c.straggler_threshold));
  INLOOP_RETURN_IF_ERROR(non_negative("straggler_min_seconds", c.straggler_min_seconds));
  INLOOP_RETURN_IF_ERROR(positive("straggler_sustain", c.straggler_sustain));
  INLOOP_RETURN_IF_ERROR(positive("hang_floor_seconds", c.hang_floor_seconds));
  INLOOP_RETURN_IF_ERROR(non_negative("hang_factor", c.hang_factor));
  INLOOP_RETURN_IF_ERROR(positive("hang_min_intervals", c.hang_min_intervals));
  INLOOP_RETURN_IF_ERROR(non_negative("hang_startup_seconds", c.hang_startup_seconds));
  INLOOP_RETURN_IF_ERROR(non_negative("hang_cpu_busy_cores", c.hang_cpu_busy_cores));
  INLOOP_RETURN_IF_ERROR(positive("hang_cpu_window_seconds", c.hang_cpu_window_seconds));
  if (c.hang_cpu_busy_factor < 1) {
    return Status::Invalid(
        fmt::format("detect.hang_cpu_busy_factor must be >= 1 (got {})", c.hang_cpu_busy_factor));
  }
  return Status::OK();
}

}  // namespace inloop::detect
