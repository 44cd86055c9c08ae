// MetricSink: the one way the line parsers write into a ParsedLine. It applies the rules that
// hold for every shape: one entry per key (the last value wins), a cap on entries per line, and
// which step key wins when a line has several. Allocates only while ParsedLine's pool warms up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/line_parser.h"

namespace inloop::ingest {

// The most metrics one line may yield; the rest of a larger line is ignored.
inline constexpr size_t kMaxMetricsPerLine = 1024;
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

  // Offers a step from a key of rank `rank` (> 0): a higher rank replaces a lower one, an equal
  // rank replaces (last wins).
  void OfferStep(int rank, int64_t step);

  bool full() const { return out_->metrics.size() >= kMaxMetricsPerLine; }
  size_t size() const { return out_->metrics.size(); }
  bool has_step() const { return out_->has_step; }
  int64_t step() const { return out_->step; }

 private:
  ParsedLine* out_;
  int step_rank_ = 0;
};

}  // namespace inloop::ingest
