// Autoscaler: how many replicas a pool should have, from samples of its in-flight requests,
// the way Knative's KPA decides: a stable window average against a target per replica, and a
// short panic window that scales up at once when demand reaches `panic_threshold` x capacity.
// Scale-down waits a full stable window of lower demand and removes one replica at a time.
// A pure state machine over (time, sample) pairs: no clock, no I/O, so tests replay timelines.
#pragma once

#include <deque>
#include <string>

namespace inloop::gateway {

struct AutoscaleConfig {
  double target_in_flight = 4;   // wanted concurrent requests per replica
  double stable_window_s = 60;
  double panic_window_s = 6;
  double panic_threshold = 2;    // panic when panic-window demand >= this x current capacity
  int min_replicas = 1;
  int max_replicas = 4;
};

// One decision with the numbers behind it (becomes a scaling event).
struct ScaleDecision {
  double time = 0;
  int from = 0;
  int to = 0;
  bool panic = false;         // made in panic mode
  double stable_avg = 0;      // mean in-flight over the stable window
  double panic_avg = 0;       // mean in-flight over the panic window
  int stable_want = 0;        // ceil(stable_avg / target), bounded by min/max
  int panic_want = 0;
  double capacity = 0;        // from x target
  std::string reason;
};

class Autoscaler {
 public:
  explicit Autoscaler(const AutoscaleConfig& config) : config_(config) {}

  // Records the pool's total in-flight requests at time t (seconds, non-decreasing).
  void Observe(double t, double in_flight);
  // Given the current replica count, returns true and fills *d when the count should change.
  bool Decide(double now, int current, ScaleDecision* d);

  bool in_panic() const { return panic_since_ >= 0; }
  const AutoscaleConfig& config() const { return config_; }

 private:
  double MeanSince(double from) const;
  int Want(double avg) const;

  AutoscaleConfig config_;
  std::deque<std::pair<double, double>> samples_;
  double first_sample_ = -1;
  double panic_since_ = -1;     // when panic mode began (-1: not in panic)
  double last_panic_hit_ = -1;  // last time the panic condition held
  double below_since_ = -1;     // since when the stable want has been below the current count
};

}  // namespace inloop::gateway
