// LineParser: turns one line of a training process's output into metric values, with no
// configuration for the common shapes (JSON objects, HF Trainer dict prints, key/value prose,
// nanoGPT, Megatron-LM, fairseq/metaseq JSON logs, Lightning progress bars) plus user regexes
// with named groups from inloop.toml. It never invents metrics from ordinary prose.
// Not thread-safe; one parser per stream. Parse() allocates nothing in steady state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop::ingest {

struct Metric {
  // Text shapes: lower-case words joined by '_', a unit appended ("time_ms"), e.g. "lm_loss".
  // JSON and dict shapes: the keys as written, nesting joined by '/' ("train/loss").
  std::string key;
  double value = 0;  // NaN / +-Inf allowed
};

struct ParsedLine {
  bool has_step = false;  // a step/iter/iteration/update/global_step/num_updates field was present
  int64_t step = 0;
  std::vector<Metric> metrics;  // size() is the number of valid entries; step keys excluded
  size_t dropped = 0;  // metrics past kMaxMetricsPerLine (metric_sink.h) that were not kept

  void Clear() {
    has_step = false;
    step = 0;
    dropped = 0;
    // Cleared entries move to a pool so their key strings keep their capacity: a parser that
    // refills this object allocates nothing once the pool has warmed up.
    while (!metrics.empty()) {
      spare_.push_back(std::move(metrics.back()));
      metrics.pop_back();
    }
  }

  // Appends an entry to `metrics`, reusing a cleared one (its key is to be overwritten).
  Metric& AddMetric() {
    if (spare_.empty()) return metrics.emplace_back();
    metrics.push_back(std::move(spare_.back()));
    spare_.pop_back();
    return metrics.back();
  }

 private:
  std::vector<Metric> spare_;
};

// A user shape: a PCRE2 regex whose named groups become metrics (group `step` is the step).
struct CustomPattern {
  std::string name;   // for error messages
  std::string regex;  // e.g. "^EVAL (?<step>\\d+) acc=(?<eval_acc>[0-9.]+)"
};

class LineParser {
 public:
  // Fails with Status::Invalid naming the pattern when a regex does not compile.
  static Status Create(std::vector<CustomPattern> patterns, std::unique_ptr<LineParser>* out);
  ~LineParser();

  // Parses `line` (no trailing newline). Returns true and fills *out when at least one metric
  // was found; otherwise returns false with *out cleared. Custom patterns are tried first, then
  // the built-in shapes. The parser keeps one piece of state across calls: the unfinished tail
  // of a Megatron-LM record that was wrapped onto the next physical line (see line_parser.cc).
  bool Parse(std::string_view line, ParsedLine* out);

 private:
  LineParser();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inloop::ingest
