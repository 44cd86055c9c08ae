// Waiting on a loss spike before acting on it (spike_patience.h).
#include "remedy/spike_patience.h"

#include <algorithm>
#include <cmath>

#include "stats/descriptive.h"

namespace inloop::remedy {
namespace {

// Points kept per series: the level window, plus room for the points that arrive between a
// spike and the moment the caller holds it (they are judged then).
constexpr size_t kKeep = SpikePatience::kLevelPoints + 64;


}  // namespace

SpikeVerdict SpikePatience::MakeVerdict(const std::string& name, const Held& h, int64_t step) {
  SpikeVerdict v;
  v.series = name;
  v.onset = h.onset;
  v.step = step;
  v.points = h.points;
  v.level = h.level;
  v.noise = h.noise;
  v.band = h.band;
  v.peak = h.peak;
  return v;
}

bool SpikePatience::Judge(const std::string& name, Series& s, int64_t step, double value,
                          std::vector<SpikeVerdict>* verdicts) {
  Held& h = *s.held;
  ++h.points;
  h.peak = std::max(h.peak, value);
  bool healed = value <= h.band;
  if (!healed && h.points < patience_) return false;
  SpikeVerdict v = MakeVerdict(name, h, step);
  if (healed) v.kind = SpikeVerdict::Kind::kHealed;
  verdicts->push_back(std::move(v));
  s.held.reset();
  return true;
}

void SpikePatience::Observe(std::string_view series, int64_t step, double value,
                            std::vector<SpikeVerdict>* verdicts) {
  if (!std::isfinite(value)) return;
  auto it = series_.find(series);
  if (it == series_.end()) it = series_.emplace(std::string(series), Series{}).first;
  Series& s = it->second;
  // A step before the newest kept one is a rewind (a restarted attempt): start over.
  if (!s.recent.empty() && step < s.recent.back().first) {
    s.recent.clear();
    s.held.reset();
  }
  s.recent.emplace_back(step, value);
  if (s.recent.size() > kKeep) s.recent.pop_front();
  if (s.held && step > s.held->onset) Judge(it->first, s, step, value, verdicts);
}

bool SpikePatience::Hold(std::string_view series, int64_t onset,
                         std::vector<SpikeVerdict>* verdicts) {
  auto it = series_.find(series);
  if (it == series_.end()) it = series_.emplace(std::string(series), Series{}).first;
  Series& s = it->second;
  if (s.held) return false;
  std::vector<double> before;
  for (auto r = s.recent.rbegin(); r != s.recent.rend() && before.size() < kLevelPoints; ++r) {
    if (r->first < onset) before.push_back(r->second);
  }
  std::reverse(before.begin(), before.end());
  Held h;
  h.onset = onset;
  if (!before.empty()) {
    std::vector<double> diffs;
    for (size_t i = 1; i < before.size(); ++i) diffs.push_back(std::fabs(before[i] - before[i - 1]));
    h.level = stats::Median(before);
    h.noise = diffs.empty() ? 0 : stats::Median(diffs);
    h.band = h.level + std::max(kNoiseFactor * h.noise, kMinRelBand * std::fabs(h.level));
  }
  for (auto& [step, value] : s.recent) {
    if (step == onset) h.peak = std::max(h.peak, value);
  }
  if (h.peak == 0 && !s.recent.empty()) h.peak = s.recent.back().second;
  s.held = h;
  if (before.empty() || patience_ == 0) {
    // No level to come back to, or no patience: the spike gets its remedy now.
    verdicts->push_back(MakeVerdict(it->first, h, onset));
    s.held.reset();
    return true;
  }
  for (auto& [step, value] : s.recent) {
    if (step > onset && Judge(it->first, s, step, value, verdicts)) break;
  }
  return true;
}

bool SpikePatience::holding(std::string_view series) const {
  auto it = series_.find(series);
  return it != series_.end() && it->second.held.has_value();
}

bool SpikePatience::holding_any() const {
  for (auto& [name, s] : series_) {
    if (s.held) return true;
  }
  return false;
}

void SpikePatience::Forget() {
  for (auto& [name, s] : series_) s.held.reset();
}

}  // namespace inloop::remedy
