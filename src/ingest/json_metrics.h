// JsonMetrics: metrics from one JSON object (simdjson On-Demand, the fast path) or from what
// Python prints for a dict (a tolerant scanner: single quotes, NaN/inf/nan bare, True/None,
// tensor(2.31, device='cuda:0'), trailing commas), which is also the fallback for JSON that
// simdjson rejects. Never throws; allocates nothing once its buffers have grown to the line size.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ingest/metric_sink.h"

namespace inloop::ingest {

class JsonMetrics {
 public:
  JsonMetrics();
  ~JsonMetrics();
  JsonMetrics(const JsonMetrics&) = delete;
  JsonMetrics& operator=(const JsonMetrics&) = delete;

  // `object` starts with '{' and ends with '}'. Returns false when it is not an object in either
  // grammar (the sink is then reset); true otherwise, whether or not it held a metric.
  // Numbers and numeric strings are metrics; nested objects join keys with '/'; arrays,
  // booleans, null and other strings are ignored; a top-level step key with a whole value sets
  // the step. Keys keep their case.
  bool Parse(std::string_view object, MetricSink* sink);

  // The two grammars on their own (for tests that check they agree).
  bool ParseStrict(std::string_view object, MetricSink* sink);
  bool ParseLoose(std::string_view object, MetricSink* sink);

 private:
  struct Strict;
  class Loose;
  std::unique_ptr<Strict> strict_;
  std::string key_;      // the dotted path being built ('/'-joined)
  std::string decoded_;  // an escaped key, decoded
};

// A JSON object's key (one level) that may become part of a metric name: non-empty, valid
// UTF-8, no control characters.
bool IsUsableJsonKey(std::string_view key);

}  // namespace inloop::ingest
