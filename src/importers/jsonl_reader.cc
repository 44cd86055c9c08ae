// JSONL: LineReader for the lines, JsonMetrics for each object, StepCounter for step-less lines.
#include "importers/jsonl_reader.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>
#include <utility>

#include "importers/text_input.h"
#include "ingest/json_metrics.h"
#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

// A top-level time field written as text ("2024-05-01T12:00:00Z"), which JsonMetrics ignores.
bool TextTime(simdjson::ondemand::parser* parser, std::string_view line, double* t) {
  if (line.find("time") == std::string_view::npos || line.size() > (1u << 20)) return false;
  simdjson::padded_string padded(line);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser->iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    return false;
  }
  for (auto field_or : obj) {
    simdjson::ondemand::field field;
    std::string_view key, s;
    if (std::move(field_or).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return false;
    }
    if (!IsWallTimeKey(key)) continue;
    if (field.value().get_string().get(s) == simdjson::SUCCESS && ParseWallTime(s, t)) return true;
  }
  return false;
}

}  // namespace

Status ReadJsonl(const std::string& path, ImportBatch* out) {
  LineReader lines;
  INLOOP_RETURN_IF_ERROR(lines.Open(path));
  ImportedRun run;
  run.name = std::filesystem::path(path).stem().string();
  run.format = "jsonl";
  run.source = path;
  run.StreamTo(std::exchange(out->stream, nullptr));  // one run per file: streamed when asked

  ingest::JsonMetrics json;
  simdjson::ondemand::parser time_parser;
  ingest::ParsedLine parsed;
  ingest::MetricSink sink(&parsed);
  StepCounter counter;
  std::string_view line;
  int64_t no = 0;
  bool too_long = false, any_line = false;
  int64_t counted = 0;  // of lines.bytes(), already in out->bytes (the progress bar reads it)
  while (lines.Next(&line, &no, &too_long)) {
    if ((no & 0xFFF) == 0) {
      out->bytes += lines.bytes() - counted;
      counted = lines.bytes();
    }
    if (too_long) {
      ++out->records;
      out->Issue(path, -1, no, fmt::format("line longer than {} bytes; skipped", kMaxLineBytes));
      ++out->skipped["jsonl:bad line"];
      continue;
    }
    line = ingest::TrimSpace(line);
    if (line.empty()) continue;
    any_line = true;
    ++out->records;
    sink.Reset();
    if (line.front() != '{' || line.back() != '}' || !json.Parse(line, &sink)) {
      out->Issue(path, -1, no,
                 fmt::format("not a JSON object ('{}'); line skipped", Excerpt(line, 40)));
      ++out->skipped["jsonl:bad line"];
      continue;
    }
    if (parsed.dropped > 0) {
      out->Issue(path, -1, no,
                 fmt::format("{} metrics on one line: the {} past the first {} were dropped",
                             parsed.metrics.size() + parsed.dropped, parsed.dropped,
                             ingest::kMaxMetricsPerLine));
      out->skipped["jsonl:metrics past the per-line bound"] += static_cast<int64_t>(parsed.dropped);
    }
    // Wall time and W&B's `_step` come out of the metrics; neither is a series.
    double wall = 0;
    bool has_wall = false;
    bool has_step = parsed.has_step;
    int64_t step = parsed.step;
    for (const ingest::Metric& m : parsed.metrics) {
      if (IsWallTimeKey(m.key)) {
        double t;
        if (!has_wall && WallTimeFromNumber(m.value, &t)) {
          wall = t;
          has_wall = true;
        }
      } else if (m.key == "_step" && !has_step) {
        has_step = ingest::AsStep(m.value, &step);
      }
    }
    if (!has_wall) TextTime(&time_parser, line, &wall);
    for (const ingest::Metric& m : parsed.metrics) {
      if (IsWallTimeKey(m.key) || (m.key == "_step" && !parsed.has_step && has_step)) continue;
      run.Add(m.key, counter.Assign(m.key, has_step, step), wall, m.value);
    }
  }
  out->bytes += lines.bytes() - counted;
  if (!any_line && lines.status().ok()) out->Issue(path, -1, 0, "empty file; nothing imported");
  if (run.points() > 0) out->runs.push_back(std::move(run));
  return lines.status();
}

}  // namespace inloop::importers
