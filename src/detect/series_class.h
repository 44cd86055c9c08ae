// SeriesClass: which detectors watch a metric key, decided once per key from the configurable
// pattern lists of DetectConfig (docs/detect.md "Series"). Must never look at values.
#pragma once

#include <string>
#include <string_view>

#include "detect/detect_config.h"

namespace inloop::detect {

enum class SeriesClass {
  kOther,       // not watched
  kLoss,        // training loss: non-finite, spike, divergence, plateau
  kEvalLoss,    // validation loss: non-finite, divergence (trend)
  kGradNorm,    // non-finite, gradient explosion
  kThroughput,  // higher is better: non-finite, throughput regression
  kStepTime,    // lower is better: non-finite, throughput regression on 1/value
  kMemory,      // non-finite, memory growth
};

std::string_view SeriesClassName(SeriesClass c);

// Lower-cases `key` and turns every run of characters other than [a-z0-9] into one '_'.
std::string NormalizeKey(std::string_view key);

// True when `pattern` (normalized the same way) occurs in the normalized key on '_' boundaries.
bool KeyMatches(std::string_view normalized_key, std::string_view pattern);

// Order: ignore_keys, grad_norm_keys, loss_keys (eval_markers make it kEvalLoss), step_time_keys,
// throughput_keys, memory_keys, else kOther.
SeriesClass ClassifyKey(std::string_view key, const DetectConfig& config);

}  // namespace inloop::detect
