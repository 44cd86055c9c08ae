// SpikePatience: whether a loss spike healed on its own before inloop acts on it. Many spikes are
// one bad batch whose loss is back to normal on the next logged step (the weights were barely
// moved); rolling back for those costs a checkpoint interval and gains nothing. llm-foundry's
// KillLossSpike waits several steps before acting; OLMo-core and Levanter skip the step in process.
// Pure: no I/O, no clock; the supervisor feeds it the points of its loss series and asks it.
//
// Contract:
// - Observe() takes every finite point of a loss series, in order, and keeps its newest points
//   (per series; bounded: the level window plus 64). The caller holds a spike before more than
//   64 later points of its series were observed (the supervisor holds it at its own point).
// - Hold() starts waiting on a spike found at `onset` on that series: the pre-spike level is the
//   median of the (up to) kLevelPoints values logged before the onset, the point-to-point noise
//   the median of their absolute successive differences, and the spike has healed when a later
//   value is <= level + max(kNoiseFactor * noise, kMinRelBand * |level|).
// - The points after the onset (those already observed and those to come) are judged one by one:
//   the first value back within that band heals the spike (kHealed); `patience` points after the
//   onset without one, the spike persists (kPersisted) and gets its remedy. patience 0: persisted
//   at once. Only loss spikes wait: a non-finite value or a divergence never does (the caller
//   does not hold them).
// - One spike per series is held at a time; Hold() on a series that already holds one is refused
//   (false). Forget() drops every held spike (a new attempt started).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::remedy {

struct SpikeVerdict {
  enum class Kind { kHealed, kPersisted };
  Kind kind = Kind::kPersisted;
  std::string series;
  int64_t onset = 0;   // the spike's step
  int64_t step = 0;    // the step that decided it (healed: the first value back in the band)
  int points = 0;      // points after the onset that were judged
  double level = 0;    // pre-spike level (median)
  double noise = 0;    // point-to-point noise (median absolute difference)
  double band = 0;     // healed at or below this
  double peak = 0;     // the highest value from the onset on
};

class SpikePatience {
 public:
  static constexpr size_t kLevelPoints = 8;
  static constexpr double kNoiseFactor = 3.0;
  static constexpr double kMinRelBand = 0.05;

  // patience: logged points after the onset to wait for the loss to come back (>= 0).
  explicit SpikePatience(int patience) : patience_(patience < 0 ? 0 : patience) {}

  // A finite point of a loss series. Appends a verdict when it decides a held spike.
  void Observe(std::string_view series, int64_t step, double value,
               std::vector<SpikeVerdict>* verdicts);

  // Starts waiting on a spike of `series` at step `onset`. Points already observed after the
  // onset are judged at once (a verdict may be appended). False when the series already holds a
  // spike (nothing changes).
  bool Hold(std::string_view series, int64_t onset, std::vector<SpikeVerdict>* verdicts);

  bool holding(std::string_view series) const;
  bool holding_any() const;
  void Forget();
  int patience() const { return patience_; }

 private:
  struct Held {
    int64_t onset = 0;
    int points = 0;
    double level = 0, noise = 0, band = 0, peak = 0;
  };
  struct Series {
    std::deque<std::pair<int64_t, double>> recent;  // last points, bounded
    std::optional<Held> held;
  };
  // The verdict on held spike `h` of series `name`, decided at `step` (kind: persisted).
  static SpikeVerdict MakeVerdict(const std::string& name, const Held& h, int64_t step);
  // Judges one point after the onset; true when it decided the spike (verdict appended).
  bool Judge(const std::string& name, Series& s, int64_t step, double value,
             std::vector<SpikeVerdict>* verdicts);

  int patience_;
  std::map<std::string, Series, std::less<>> series_;
};

}  // namespace inloop::remedy
