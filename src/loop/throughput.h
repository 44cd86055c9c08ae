// The research loop's pace and cost, from its finished rounds: experiments per hour, kept
// improvements per hour, and CPU-hours (GPU-hours when the rounds were given devices) per kept
// improvement. Pure arithmetic over RoundRecords (the repository's rounds.jsonl, or the
// `loop_round` events `inloop serve` reads); shown by `loop status`, the dashboard's loop view
// and serve's /metrics.
//
// Definitions (docs/loop.md):
// - experiments: rounds that ran or were judged (every verdict but baseline and interrupted);
// - hours: the wall time covered by at least one round (the union of the rounds' start-end
//   intervals, baseline included), so parallel rounds are not counted twice and the time
//   between two `loop run`s not at all;
// - cpu_hours: the CPU time of the rounds' processes (runs, agent) that the loop measured;
// - gpu_hours: the wall time of the rounds that were given a device (--parallel with
//   CUDA_VISIBLE_DEVICES), one device each.
#pragma once

#include <optional>
#include <vector>

#include "common/json_writer.h"
#include "loop/loop_state.h"

namespace inloop::loop {

struct Throughput {
  int64_t experiments = 0;
  int64_t kept = 0;
  double hours = 0;
  double experiments_per_hour = 0;  // 0 while hours is 0
  double kept_per_hour = 0;
  double cpu_hours = 0;
  double gpu_hours = 0;
  std::optional<double> cpu_hours_per_kept;  // none before the first kept round
  std::optional<double> gpu_hours_per_kept;  // also none when no round had a device
};

Throughput ComputeThroughput(const std::vector<RoundRecord>& rounds);

// {"experiments","kept","hours","experiments_per_hour","kept_per_hour","cpu_hours",
//  "gpu_hours","cpu_hours_per_kept","gpu_hours_per_kept"} (null when unknown).
void WriteThroughputJson(const Throughput& t, JsonWriter* w);

// CPU seconds of this process's children that have been waited for (RUSAGE_CHILDREN).
double ChildCpuSeconds();

}  // namespace inloop::loop
