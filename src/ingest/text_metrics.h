// TextMetrics: metrics from non-JSON lines: key/value prose ("step 100 | loss 2.34",
// "loss: 2.34, acc: 0.81", "step=100 loss=2.34"), nanoGPT, Megatron-LM (including records
// wrapped over several physical lines), and tqdm / PyTorch Lightning progress bars. The rules
// that keep ordinary prose from becoming metrics are written down in line_parser.cc.
// Not thread-safe; keeps scratch buffers and one pending wrapped record between calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ingest/metric_sink.h"

namespace inloop::ingest {

class TextMetrics {
 public:
  TextMetrics();

  // `line` has no trailing whitespace. Adds what it finds to `sink` and returns true when that
  // is at least one metric; on false the sink may hold a step but no metric.
  bool Parse(std::string_view line, MetricSink* sink);

  // Forgets a Megatron record waiting for its continuation line.
  void ResetContinuation() { pending_ = false; }

 private:
  // One "KEY SEP VALUE [UNIT]" found in a segment. Views point into the line or into joined_.
  struct Pair {
    std::string_view key;    // the key's words as written ("elapsed time per iteration")
    std::string_view paren;  // a unit in parentheses after the key ("ms"), or empty
    std::string_view unit;   // a unit after the value ("ms", "it/s", "%"), or empty
    double value = 0;
    int64_t step = 0;
    int step_rank = 0;         // > 0: a step key with a whole value (sets the step, no metric)
    bool strong = false;       // separated by ':' or '='
    bool first_item = false;   // the first item of the line (a head such as "iter 100:")
    bool closed_head = false;  // ... followed by ':' or by the end of its segment
    bool is_epoch = false;
    bool has_total = false;  // "100/500000"
    bool ignored = false;    // an identifier such as "version" or "pid": never a metric
  };

  bool ParseProgressBar(std::string_view s, MetricSink* sink, bool* is_bar);
  bool ParseCaffe(std::string_view s, MetricSink* sink, bool* handled);
  void DistinctKey(MetricSink* sink);
  void SplitSegments(std::string_view s);
  bool ParseSegment(std::string_view seg, bool first_of_line);
  bool ParseItem(std::string_view s, size_t* pos, bool head_allowed, Pair* p);
  bool ParseItemAs(std::string_view s, size_t* pos, bool head_allowed, bool nan_ends_key, Pair* p);
  bool ParsePart(std::string_view part, bool try_items);
  bool ParseAtStep(std::string_view seg);
  bool ParseKeyValueTokens(std::string_view seg);
  void Classify(Pair* p);
  void BuildKey(const Pair& p);

  std::vector<std::string_view> segments_;
  size_t bars_ = 0;  // '|' characters in the line SplitSegments last saw
  std::vector<Pair> pairs_;
  std::string key_;     // scratch: a normalised key
  std::string joined_;  // a wrapped record's tail joined with its continuation
  std::string pass_;    // the pass word ("val") of the line's latest key that began with one
  std::unordered_map<std::string, int> repeats_;  // a repeated key -> its last number
  // Caffe: the step of the latest "Iteration N" line, for the net output lines that follow it.
  int64_t caffe_step_ = 0;
  bool has_caffe_step_ = false;
  // A Megatron record whose line ended before its closing '|'.
  bool pending_ = false;
  int64_t pending_step_ = 0;
  bool pending_tail_ends_space_ = false;
  std::string pending_tail_;
};

// Strips a log prefix: launcher rank tags ("[default7]:", "rank0:"), "[...]" groups, ISO dates
// and times, level words (INFO, WARNING, ...; "INFO:name:"), and the separators between them.
std::string_view StripLogPrefix(std::string_view line);

// Whether `unit` (as written after a number) is one the parser folds into a key.
bool IsKnownUnit(std::string_view unit);

}  // namespace inloop::ingest
