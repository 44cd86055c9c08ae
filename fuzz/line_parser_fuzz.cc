// LineParser (the one `inloop run` feeds every output line to): the input is split into lines
// and parsed in order by one parser, so Megatron records wrapped over lines keep their state.
// Contract: true <=> at least one metric; no empty key; at most kMaxMetricsPerLine entries.
#include <memory>
#include <string_view>

#include "fuzz_util.h"
#include "ingest/line_parser.h"
#include "ingest/metric_sink.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::ingest;
  // A fresh parser per input (its Megatron continuation is state), so a saved crash input
  // reproduces on its own. One custom pattern as inloop.toml would give it: PCRE2 runs too.
  std::unique_ptr<LineParser> parser;
  if (!LineParser::Create({{"eval", "^EVAL (?<step>\\d+) acc=(?<eval_acc>[0-9.eE+-]+)"}}, &parser).ok())
    std::abort();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ParsedLine out;
  size_t start = 0;
  while (start <= in.size()) {
    size_t nl = in.find('\n', start);
    std::string_view line = in.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    bool found = parser->Parse(line, &out);
    FUZZ_CHECK(found == !out.metrics.empty(), "Parse() result disagrees with metrics");
    FUZZ_CHECK(out.metrics.size() <= kMaxMetricsPerLine, "more metrics than kMaxMetricsPerLine");
    for (auto& m : out.metrics) FUZZ_CHECK(!m.key.empty(), "empty metric key");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return 0;
}
