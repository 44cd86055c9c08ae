// Goodput of one run, the number large-scale training reports (Llama 3: >90% effective training
// time; ByteDance: 97% ETTR): ETTR, the effective training time ratio (wall time of the steps that
// survived / wall time), and for each fault that restarted the run the steps and time it lost, the
// time to detect it and the time to repair it (MTTR: from the fault to the restarted run being back
// at the pre-fault step). Pure: a function of the points, attempts and faults given, no store, no
// clock; the report and `inloop show` build the input from the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/point.h"

namespace inloop::report {

struct GoodputInput {
  double started_at = 0, ended_at = 0;  // the run's wall-clock span (ended_at: now if running)
  std::vector<double> attempt_starts;   // start time of each attempt, ascending
  // Every stored point of the primary series (abandoned tails included), in the order logged
  // (ascending wall time). Non-finite values count like any other: the step ran.
  std::vector<Point> points;
  struct Fault {
    std::string trigger;   // "nonfinite", "loss_spike", "segfault", "hang", ...
    int64_t step = 0;      // the pre-fault step: the anomaly's onset, or the last step logged
    double action_at = 0;  // when the supervisor acted on it (the detection)
    int64_t restart_step = 0;  // the first step the restarted attempt was told to run
    double restart_at = 0;     // when the restarted attempt began
  };
  std::vector<Fault> faults;  // restarts, in time order
};

struct FaultCost {
  std::string trigger;
  int64_t step = 0;
  double fault_at = 0;        // first point at or past the fault step, else the last point before
                              // the action (a crash or hang: the process was last seen then)
  double time_to_detect = 0;  // action_at - fault_at
  int64_t lost_steps = 0;     // steps the abandoned attempt logged from restart_step on
  double lost_seconds = 0;    // from the first of them (or the action) to the restarted attempt's
                              // first point
  std::optional<double> mttr;  // fault_at to the first later point at or past `step`
};

struct Goodput {
  double wall_seconds = 0;
  double productive_seconds = 0;  // wall time of the steps that survived
  double ettr = 0;                // productive / wall (0 when wall is 0)
  int64_t steps_survived = 0;     // points that survived (logged steps, not every step)
  int64_t lost_steps = 0;         // summed over faults
  double lost_seconds = 0;
  std::vector<FaultCost> faults;
  std::optional<double> mean_time_to_detect, mttr;  // means over the faults that have one
};

// A point survives when no later point (in log order) has a step <= its step (no rewind
// abandoned it). Its wall time is the interval since the previous point of the same attempt, or
// since its attempt's start for the first point of an attempt.
Goodput ComputeGoodput(const GoodputInput& in);

// {"ettr": .., "wall_seconds": .., ..., "faults": [...]}.
void WriteGoodputJson(const Goodput& g, JsonWriter* w);

// "ETTR 93.1% (1m02s of 1m07s in steps that survived); 1 fault: 80 steps / 5.0s lost, detected
// in 0.1s, back at the pre-fault step 6.2s later (MTTR)".
std::string GoodputText(const Goodput& g);

}  // namespace inloop::report
