// Plain logs: LineReader -> ingest::LineParser -> StepCounter, plus a leading timestamp.
#include "importers/log_reader.h"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "importers/log_blocks.h"
#include "importers/text_input.h"
#include "ingest/line_parser.h"
#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

// A timestamp at the start of a line: "2024-05-01 12:00:00[,.]fff[Z|+hh:mm]", maybe bracketed.
bool LeadingTime(std::string_view line, double* t) {
  size_t i = 0;
  if (i < line.size() && line[i] == '[') ++i;
  if (line.size() < i + 19 || line[i + 4] != '-' || line[i + 7] != '-' ||
      !ingest::IsDigit(line[i])) {
    return false;
  }
  size_t e = i + 19;  // through the seconds
  if (e < line.size() && (line[e] == '.' || line[e] == ',')) {
    ++e;
    while (e < line.size() && ingest::IsDigit(line[e])) ++e;
  }
  if (e < line.size() && (line[e] == 'Z' || line[e] == 'z')) {
    ++e;
  } else if (e + 6 <= line.size() && (line[e] == '+' || line[e] == '-') &&
             ingest::IsDigit(line[e + 1]) && line[e + 3] == ':') {
    e += 6;
  }
  if (e < line.size() && line[e] != ' ' && line[e] != ']' && line[e] != '\t' && line[e] != '|')
    return false;
  return ParseWallTime(line.substr(i, e - i), t);
}

}  // namespace

namespace {

// "key: number" lines met before the first line with a step: a configuration echo (params) when
// a line with a step comes next, metrics when none does or when the key is logged again without
// a step first (so the points keep their order).
class HeldSettings {
 public:
  struct Setting {
    std::string key;    // the metric's key ("base_lr")
    std::string param;  // the key as written
    std::string text;   // the value as written
    double value;
    double wall;
  };
  void Hold(Setting s) { held_.push_back(std::move(s)); }
  bool empty() const { return held_.empty(); }
  bool Holds(std::string_view key) const {
    for (auto& h : held_)
      if (h.key == key) return true;
    return false;
  }
  void AsParams(ImportedRun* run) {
    for (auto& h : held_) run->SetParam(h.param, h.text);
    held_.clear();
  }
  void AsMetrics(ImportedRun* run, StepCounter* counter) {
    for (auto& h : held_) run->Add(h.key, counter->Assign(h.key, false, 0), h.wall, h.value);
    held_.clear();
  }

 private:
  std::vector<Setting> held_;
};

}  // namespace

Status ReadLog(const std::string& path, ImportBatch* out) {
  LineReader lines;
  INLOOP_RETURN_IF_ERROR(lines.Open(path));
  std::unique_ptr<ingest::LineParser> parser;
  INLOOP_RETURN_IF_ERROR(ingest::LineParser::Create({}, &parser));
  ImportedRun run;
  run.name = std::filesystem::path(path).stem().string();
  run.format = "log";
  run.source = path;

  ingest::ParsedLine parsed;
  StepCounter counter;
  ConfigEcho echo;
  TabTable table;
  HeldSettings held;
  bool seen_step = false;
  std::string_view line;
  int64_t no = 0;
  bool too_long = false;
  while (lines.Next(&line, &no, &too_long)) {
    ++out->records;
    if (too_long) {
      out->Issue(path, -1, no, fmt::format("line longer than {} bytes; skipped", kMaxLineBytes));
      ++out->skipped["log:long line"];
      continue;
    }
    double wall = 0;
    LeadingTime(line, &wall);
    if (echo.Consume(line, &run)) continue;
    if (table.Consume(line, wall, &run, &counter)) {
      seen_step = true;  // a table is the training's own record: settings before it are config
      if (!held.empty()) held.AsParams(&run);
      continue;
    }
    if (!parser->Parse(line, &parsed)) continue;
    if (parsed.dropped > 0) {
      out->Issue(path, -1, no,
                 fmt::format("{} metrics on one line: the {} past the first {} were dropped",
                             parsed.metrics.size() + parsed.dropped, parsed.dropped,
                             ingest::kMaxMetricsPerLine));
      out->skipped["log:metrics past the per-line bound"] += static_cast<int64_t>(parsed.dropped);
    }
    std::string_view key, text;
    if (!seen_step && !parsed.has_step && parsed.metrics.size() == 1 &&
        BareSetting(line, &key, &text) && !held.Holds(parsed.metrics[0].key)) {
      held.Hold({parsed.metrics[0].key, std::string(key), std::string(text),
                 parsed.metrics[0].value, wall});
      continue;
    }
    if (!held.empty()) {
      bool again = false;
      for (const ingest::Metric& m : parsed.metrics) again = again || held.Holds(m.key);
      if (again) held.AsMetrics(&run, &counter);
      else if (parsed.has_step) held.AsParams(&run);
    }
    seen_step = seen_step || parsed.has_step;
    for (const ingest::Metric& m : parsed.metrics)
      run.Add(m.key, counter.Assign(m.key, parsed.has_step, parsed.step), wall, m.value);
  }
  held.AsMetrics(&run, &counter);  // no line with a step came: they were metrics after all
  out->bytes += lines.bytes();
  if (run.points() > 0 || !run.params.empty()) {
    out->runs.push_back(std::move(run));
  } else if (lines.status().ok()) {
    ++out->skipped["log:no metrics"];
  }
  return lines.status();
}

}  // namespace inloop::importers
