// DetectorSet: the streaming detectors of one run, one set per metric key, created on the key's
// first point from its SeriesClass (cached). Observe is the per-point entry point of detect/:
// O(1) amortised, no allocation per point once a key is known. Not thread-safe: one owner feeds
// it in point order. Must never block, do I/O, or keep references to the caller's key or points.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/point.h"
#include "detect/detect_config.h"
#include "detect/finding.h"
#include "detect/series_class.h"

namespace inloop::detect {

class ThroughputGroup;

class DetectorSet {
 public:
  // REQUIRES: ValidateDetectConfig(config).ok().
  explicit DetectorSet(DetectConfig config);
  ~DetectorSet();
  DetectorSet(const DetectorSet&) = delete;
  DetectorSet& operator=(const DetectorSet&) = delete;

  // Feeds one point of series `key` (points of one key in step order; a step lower than the
  // previous one of that key is a rewind, e.g. a resumed attempt, and forgets open episodes).
  // Appends any findings to *out (never clears it).
  void Observe(std::string_view key, const Point& p, std::vector<Finding>* out);

  // A new attempt started: forget open episodes and the short windows that a restart's slow first
  // steps would fool; keep the baselines (medians) learned so far.
  void OnRestart();

  // A new attempt restarts the training at `step` (a rollback or resume to the checkpoint of that
  // step): every series' detectors are rebuilt from its surviving points (step <= `step`), so the
  // points of the abandoned future never serve as a baseline. Each series keeps a ring of its
  // newest points as long as its longest window (bounded memory, allocated with the series);
  // their replay reports nothing (it was reported when they came). Throughput and memory then
  // forget their short windows as OnRestart does (a new process starts slow and small).
  // StartFresh(): a restart from the beginning, judged as a fresh start (no point survives).
  void RewindTo(int64_t step);
  void StartFresh() { RewindTo(INT64_MIN); }

  // The class of `key` as Observe treats it (registers the key).
  SeriesClass ClassOf(std::string_view key);
  size_t series_count() const { return series_.size(); }
  const DetectConfig& config() const { return config_; }

 private:
  struct Series;
  Series* Lookup(std::string_view key);
  Series* Insert(std::string_view key, uint64_t hash);

  struct Slot {
    uint64_t hash = 0;
    uint32_t index_plus_one = 0;  // 0: empty
  };

  DetectConfig config_;
  std::vector<std::unique_ptr<Series>> series_;
  std::vector<Slot> slots_;  // open addressing, power-of-two size, load <= 1/2
  // The throughput and step-time series' regressions are one fact: one episode, one finding.
  std::unique_ptr<ThroughputGroup> throughput_group_;
};

}  // namespace inloop::detect
