// MetricSink: the one way the line parsers write into a ParsedLine. It applies the rules that
// hold for every shape: one entry per key (the last value wins), a cap on entries per line, and
// which step key wins when a line has several. Allocates only while ParsedLine's pool warms up,
// and for a line of more than kIndexFrom metrics (a hash index keeps de-duplication linear).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "ingest/line_parser.h"

namespace inloop::ingest {

// The most metrics one line may yield. Real per-task evaluation logs and W&B history rows carry
// thousands of keys, so the bound is far above them; past it the rest of the line is dropped and
// ParsedLine::dropped says how many (readers report that as an issue, never silently).
inline constexpr size_t kMaxMetricsPerLine = 100000;
// Longer keys are not metrics (they are data, not names).
inline constexpr size_t kMaxKeyLength = 256;

// Rank of a step key, 0 when `key` is not one (case-insensitive). When a line carries several,
// the highest rank sets the step: global_step > num_updates > step > iteration > iter > update
// (fairseq's "update" is a fractional epoch while "num_updates" counts optimizer steps).
int StepKeyRank(std::string_view key);

class MetricSink {
 public:
  explicit MetricSink(ParsedLine* out) : out_(out) {}

  // Empties the ParsedLine and forgets the step.
  void Reset();

  // Sets or overwrites metric `key` (which must be non-empty).
  void Add(std::string_view key, double value);

  // Whether metric `key` is already on the line.
  bool Has(std::string_view key);

  // Offers a step from a key of rank `rank` (> 0): a higher rank replaces a lower one, an equal
  // rank replaces (last wins).
  void OfferStep(int rank, int64_t step);

  // True once a metric was refused for the cap (each refused one is counted in `dropped`).
  bool full() const { return out_->dropped > 0; }
  size_t size() const { return out_->metrics.size(); }
  bool has_step() const { return out_->has_step; }
  int64_t step() const { return out_->step; }

 private:
  // Lines with at least this many metrics find keys through index_ instead of a scan.
  static constexpr size_t kIndexFrom = 32;
  static constexpr size_t kNone = static_cast<size_t>(-1);

  // The position of `key` (with hash `hash`) in out_->metrics, or kNone.
  size_t Find(std::string_view key, size_t hash);

  ParsedLine* out_;
  int step_rank_ = 0;
  // Hash of a key -> its position in out_->metrics (positions stay valid, views would not).
  std::unordered_multimap<size_t, size_t> index_;
};

}  // namespace inloop::ingest
