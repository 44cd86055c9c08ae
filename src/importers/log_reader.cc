// Plain logs: LineReader -> ingest::LineParser -> StepCounter, plus a leading timestamp.
#include "importers/log_reader.h"

#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "importers/text_input.h"
#include "ingest/line_parser.h"
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
    if (!parser->Parse(line, &parsed)) continue;
    double wall = 0;
    LeadingTime(line, &wall);
    for (const ingest::Metric& m : parsed.metrics)
      run.Add(m.key, counter.Assign(m.key, parsed.has_step, parsed.step), wall, m.value);
  }
  out->bytes += lines.bytes();
  if (run.points() > 0) {
    out->runs.push_back(std::move(run));
  } else if (lines.status().ok()) {
    ++out->skipped["log:no metrics"];
  }
  return lines.status();
}

}  // namespace inloop::importers
