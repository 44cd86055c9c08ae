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
#include <vector>

#include "common/status.h"

namespace inloop::ingest {

struct Metric {
  std::string key;  // normalised: lower-case words joined by '_', nesting joined by '/'
  double value = 0;  // NaN / +-Inf allowed
};

struct ParsedLine {
  bool has_step = false;  // a step/iter/iteration/update/global_step field was present
  int64_t step = 0;
  std::vector<Metric> metrics;  // size() is the number of valid entries; step keys excluded
  void Clear() {
    has_step = false;
    step = 0;
    metrics.clear();
  }
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
  // was found. Custom patterns are tried first, then the built-in shapes.
  bool Parse(std::string_view line, ParsedLine* out);

 private:
  LineParser();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inloop::ingest
