// Autoscaler decisions (see the header): window means over samples, panic mode, stepwise
// scale-down. Pure; the caller supplies time.
#include "gateway/autoscaler.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace inloop::gateway {

void Autoscaler::Observe(double t, double in_flight) {
  if (first_sample_ < 0) first_sample_ = t;
  samples_.emplace_back(t, in_flight);
  double keep = std::max(config_.stable_window_s, config_.panic_window_s);
  while (!samples_.empty() && samples_.front().first < t - keep) samples_.pop_front();
}

double Autoscaler::MeanSince(double from) const {
  double sum = 0;
  int n = 0;
  for (auto it = samples_.rbegin(); it != samples_.rend() && it->first > from; ++it) {
    sum += it->second;
    ++n;
  }
  return n ? sum / n : 0;
}

int Autoscaler::Want(double avg) const {
  int want = static_cast<int>(std::ceil(avg / config_.target_in_flight - 1e-9));
  return std::clamp(want, config_.min_replicas, config_.max_replicas);
}

bool Autoscaler::Decide(double now, int current, ScaleDecision* d) {
  ScaleDecision x;
  x.time = now;
  x.from = current;
  x.stable_avg = MeanSince(now - config_.stable_window_s);
  x.panic_avg = MeanSince(now - config_.panic_window_s);
  x.stable_want = Want(x.stable_avg);
  x.panic_want = Want(x.panic_avg);
  x.capacity = current * config_.target_in_flight;

  // Outside [min, max] (start-up, a changed bound): fix that first.
  if (current < config_.min_replicas || current > config_.max_replicas) {
    x.to = std::clamp(current, config_.min_replicas, config_.max_replicas);
    x.reason = fmt::format("replicas {} outside [{}, {}]", current, config_.min_replicas,
                           config_.max_replicas);
    *d = x;
    return true;
  }

  bool panic_hit = x.panic_avg >= config_.panic_threshold * x.capacity && x.panic_avg > 0;
  if (panic_hit) {
    last_panic_hit_ = now;
    if (panic_since_ < 0) panic_since_ = now;
  } else if (panic_since_ >= 0 && now - last_panic_hit_ >= config_.stable_window_s) {
    panic_since_ = -1;  // a full stable window without the panic condition: leave panic mode
  }

  if (panic_since_ >= 0) {
    // Panic: scale up at once to what the short window needs; never down while panicking.
    below_since_ = -1;
    x.panic = true;
    int want = std::max(current, x.panic_want);
    if (want > current) {
      x.to = want;
      x.reason = fmt::format("panic: {:.2f} in flight over {}s >= {} x capacity {:.1f}",
                             x.panic_avg, config_.panic_window_s, config_.panic_threshold,
                             x.capacity);
      *d = x;
      return true;
    }
    return false;
  }

  if (x.stable_want > current) {
    below_since_ = -1;
    x.to = x.stable_want;
    x.reason = fmt::format("stable: {:.2f} in flight over {}s needs {} at target {}",
                           x.stable_avg, config_.stable_window_s, x.stable_want,
                           config_.target_in_flight);
    *d = x;
    return true;
  }
  if (x.stable_want < current) {
    if (below_since_ < 0) below_since_ = now;
    // A full stable window of data, all of it below the current count, before one step down.
    if (now - below_since_ >= config_.stable_window_s &&
        now - first_sample_ >= config_.stable_window_s) {
      below_since_ = now;  // the next step waits another full window
      x.to = current - 1;
      x.reason = fmt::format("stable: {:.2f} in flight over {}s needs {} < {} for a full window; "
                             "one step down", x.stable_avg, config_.stable_window_s,
                             x.stable_want, current);
      *d = x;
      return true;
    }
    return false;
  }
  below_since_ = -1;
  return false;
}

}  // namespace inloop::gateway
