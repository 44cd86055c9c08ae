// JsonMetrics: the strict (simdjson) and loose (Python dict print) grammars on one object.
// Contract: never crashes; keys are non-empty; the sink never exceeds kMaxMetricsPerLine.
#include <string>

#include "fuzz_util.h"
#include "ingest/json_metrics.h"
#include "ingest/line_parser.h"
#include "ingest/metric_sink.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::ingest;
  static JsonMetrics json;
  // The parser is handed objects: make one of any input (the line parser checks the braces).
  std::string obj = "{";
  obj.append(reinterpret_cast<const char*>(data), size);
  obj += "}";
  if (size >= 2 && data[0] == '{' && data[size - 1] == '}') obj.assign(reinterpret_cast<const char*>(data), size);
  ParsedLine out;
  for (int mode = 0; mode < 3; ++mode) {
    MetricSink sink(&out);
    sink.Reset();
    if (mode == 0) json.Parse(obj, &sink);
    if (mode == 1) json.ParseStrict(obj, &sink);
    if (mode == 2) json.ParseLoose(obj, &sink);
    FUZZ_CHECK(out.metrics.size() <= kMaxMetricsPerLine, "more metrics than kMaxMetricsPerLine");
    for (auto& m : out.metrics) FUZZ_CHECK(!m.key.empty(), "empty metric key");
  }
  return 0;
}
