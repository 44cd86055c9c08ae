// CSV records (RFC 4180 with recovery from an unclosed quote), then wide and long tables.
#include "importers/csv_reader.h"

#include <fmt/format.h>

#include <filesystem>
#include <unordered_map>

#include "ingest/metric_sink.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

constexpr size_t kMaxRecordLines = 10000;

bool IsBlank(const CsvRecordReader::Record& r) {
  return r.error.empty() && r.fields.size() == 1 && ingest::TrimSpace(r.fields[0]).empty();
}

std::string_view Cell(const std::vector<std::string>& fields, int col) {
  if (col < 0 || static_cast<size_t>(col) >= fields.size()) return {};
  return ingest::TrimSpace(fields[static_cast<size_t>(col)]);
}

// Reads the first non-blank record as the header. False (with an issue) when there is none.
bool ReadHeader(const std::string& path, CsvRecordReader* reader, ImportBatch* out,
                std::vector<std::string>* header, int64_t* header_line) {
  CsvRecordReader::Record rec;
  while (reader->Next(&rec)) {
    if (IsBlank(rec)) continue;
    if (!rec.error.empty()) {
      out->Issue(path, -1, rec.line, fmt::format("header: {}; file not imported", rec.error));
      return false;
    }
    header->clear();
    for (size_t i = 0; i < rec.fields.size(); ++i) {
      std::string name(ingest::TrimSpace(rec.fields[i]));
      if (name.empty()) name = fmt::format("column_{}", i + 1);
      header->push_back(std::move(name));
    }
    *header_line = rec.line;
    return true;
  }
  out->Issue(path, -1, 0, "empty file: no header row; nothing imported");
  return false;
}

// Reports a row whose cell count differs from the header's; the row is still read.
void CheckRagged(const std::string& path, const CsvRecordReader::Record& rec, size_t want,
                 ImportBatch* out) {
  if (rec.fields.size() == want) return;
  out->Issue(path, -1, rec.line,
             fmt::format("row has {} cells but the header has {}; {}", rec.fields.size(), want,
                         rec.fields.size() < want ? "missing cells read as empty"
                                                  : "extra cells ignored"));
  ++out->skipped["csv:ragged row"];
}

// The column whose name ranks highest as a step key ("step", "global_step", ...), or -1.
int RankedStepColumn(const std::vector<std::string>& header) {
  int best = -1, best_rank = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    int r = ingest::StepKeyRank(header[i]);
    if (r > best_rank) {
      best_rank = r;
      best = static_cast<int>(i);
    }
  }
  return best;
}

int FindStepColumn(const std::vector<std::string>& header) {
  if (int best = RankedStepColumn(header); best >= 0) return best;
  for (std::string_view fallback : {"_step", "epoch"}) {
    for (size_t i = 0; i < header.size(); ++i)
      if (ingest::EqualsIgnoreCase(header[i], fallback)) return static_cast<int>(i);
  }
  return -1;
}

int FindTimeColumn(const std::vector<std::string>& header) {
  for (size_t i = 0; i < header.size(); ++i)
    if (IsWallTimeKey(header[i])) return static_cast<int>(i);
  return -1;
}

int FindColumn(const std::vector<std::string>& header, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names)
    for (size_t i = 0; i < header.size(); ++i)
      if (ingest::EqualsIgnoreCase(header[i], n)) return static_cast<int>(i);
  return -1;
}

// Parses a step cell; reports and returns false when it is not a whole number >= 0.
bool StepCell(const std::string& path, int64_t line, std::string_view column,
              std::string_view cell, int64_t* step, ImportBatch* out) {
  double v;
  if (ingest::ParseNumericString(cell, &v) && ingest::AsStep(v, step)) return true;
  out->Issue(path, -1, line,
             fmt::format("column '{}': {} is not a step (a whole number >= 0); row skipped",
                         Excerpt(column), cell.empty() ? "an empty cell" : "'" + Excerpt(cell) + "'"));
  ++out->skipped["csv:bad step"];
  return false;
}

double TimeCell(const std::string& path, int64_t line, std::string_view column,
                std::string_view cell, ImportBatch* out) {
  double t = 0;
  if (cell.empty() || ParseWallTime(cell, &t)) return t;
  out->Issue(path, -1, line,
             fmt::format("column '{}': '{}' is not a time (epoch seconds or ISO-8601); wall "
                         "time 0 for this row",
                         Excerpt(column), Excerpt(cell)));
  ++out->skipped["csv:bad time"];
  return 0;
}

// Counts a record and reports it when malformed (skipped: false) or ragged (kept: true).
bool TakeRecord(const std::string& path, const CsvRecordReader::Record& rec, size_t columns,
                ImportBatch* out) {
  ++out->records;
  if (!rec.error.empty()) {
    out->Issue(path, -1, rec.line, fmt::format("{}; row skipped", rec.error));
    ++out->skipped["csv:bad row"];
    return false;
  }
  CheckRagged(path, rec, columns, out);
  return true;
}

void WideRows(const std::string& path, const std::vector<std::string>& header,
              CsvRecordReader* reader, ImportedRun* run, ImportBatch* out, int64_t* rows) {
  const int step_col = FindStepColumn(header);
  const int time_col = FindTimeColumn(header);
  int64_t row = 0;
  CsvRecordReader::Record rec;
  while (reader->Next(&rec)) {
    if (IsBlank(rec) || !TakeRecord(path, rec, header.size(), out)) continue;
    const int64_t index = row++;
    int64_t step = index;
    if (step_col >= 0 &&
        !StepCell(path, rec.line, header[step_col], Cell(rec.fields, step_col), &step, out)) {
      continue;
    }
    double wall = time_col >= 0 ? TimeCell(path, rec.line, header[time_col],
                                           Cell(rec.fields, time_col), out)
                                : 0;
    const size_t n = std::min(rec.fields.size(), header.size());
    for (size_t c = 0; c < n; ++c) {
      if (static_cast<int>(c) == step_col || static_cast<int>(c) == time_col) continue;
      std::string_view cell = ingest::TrimSpace(rec.fields[c]);
      if (cell.empty()) continue;
      double v;
      if (ingest::ParseNumericString(cell, &v)) {
        run->Add(header[c], step, wall, v);
      } else {
        out->Issue(path, -1, rec.line,
                   fmt::format("column {} '{}': '{}' is not a number; cell skipped", c + 1,
                               Excerpt(header[c]), Excerpt(cell)));
        ++out->skipped["csv:non-numeric cell"];
      }
    }
  }
  *rows = row;
}

void LongRows(const std::string& path, const std::vector<std::string>& header,
              CsvRecordReader* reader, ImportBatch* out, int64_t* rows) {
  const int run_col = FindColumn(header, {"run"});
  const int key_col = FindColumn(header, {"key", "metric"});
  const int value_col = FindColumn(header, {"value"});
  const int step_col = RankedStepColumn(header);
  const int time_col = FindColumn(header, {"timestamp", "wall_time", "time", "_timestamp"});
  const std::string stem = std::filesystem::path(path).stem().string();

  std::vector<ImportedRun> runs;
  std::unordered_map<std::string, size_t> by_name;
  std::vector<StepCounter> counters;
  int64_t row = 0;
  CsvRecordReader::Record rec;
  while (reader->Next(&rec)) {
    if (IsBlank(rec) || !TakeRecord(path, rec, header.size(), out)) continue;
    ++row;
    std::string_view name = run_col >= 0 ? Cell(rec.fields, run_col) : std::string_view(stem);
    std::string_view key = Cell(rec.fields, key_col);
    std::string_view value = Cell(rec.fields, value_col);
    if (name.empty() || key.empty()) {
      out->Issue(path, -1, rec.line,
                 fmt::format("empty '{}' cell; row skipped",
                             name.empty() ? header[run_col] : header[key_col]));
      ++out->skipped["csv:bad row"];
      continue;
    }
    if (value.empty()) {
      ++out->skipped["csv:empty value"];
      continue;
    }
    double v;
    if (!ingest::ParseNumericString(value, &v)) {
      out->Issue(path, -1, rec.line,
                 fmt::format("column '{}': '{}' is not a number; row skipped", header[value_col],
                             Excerpt(value)));
      ++out->skipped["csv:non-numeric cell"];
      continue;
    }
    int64_t step = 0;
    bool has_step = step_col >= 0;
    if (has_step &&
        !StepCell(path, rec.line, header[step_col], Cell(rec.fields, step_col), &step, out)) {
      continue;
    }
    double wall = time_col >= 0 ? TimeCell(path, rec.line, header[time_col],
                                           Cell(rec.fields, time_col), out)
                                : 0;
    auto it = by_name.find(std::string(name));
    if (it == by_name.end()) {
      it = by_name.emplace(std::string(name), runs.size()).first;
      ImportedRun r;
      r.name = std::string(name);
      r.format = "csv";
      r.source = path;
      runs.push_back(std::move(r));
      counters.emplace_back();
    }
    step = counters[it->second].Assign(key, has_step, step);
    runs[it->second].Add(key, step, wall, v);
  }
  *rows = row;
  for (auto& r : runs) out->runs.push_back(std::move(r));
}

}  // namespace

bool CsvRecordReader::NextLine(int64_t* line_no, std::string* text, bool* too_long) {
  if (!pushed_back_.empty()) {
    *line_no = pushed_back_.front().first;
    *text = std::move(pushed_back_.front().second);
    *too_long = false;
    pushed_back_.pop_front();
    return true;
  }
  std::string_view line;
  if (!lines_->Next(&line, line_no, too_long)) return false;
  text->assign(line.data(), line.size());
  return true;
}

bool CsvRecordReader::Next(Record* rec) {
  rec->fields.clear();
  rec->error.clear();
  std::string text;
  bool too_long = false;
  if (!NextLine(&rec->line, &text, &too_long)) return false;
  if (too_long) {
    rec->error = fmt::format("line longer than {} bytes", kMaxLineBytes);
    return true;
  }
  std::vector<std::pair<int64_t, std::string>> more;  // continuation lines, kept for recovery
  std::string field;
  bool in_quotes = false, field_start = true;
  size_t i = 0;
  for (;;) {
    if (i >= text.size()) {
      if (!in_quotes) {
        rec->fields.push_back(std::move(field));
        return true;
      }
      int64_t n;
      std::string next;
      bool long_line = false;
      if (more.size() >= kMaxRecordLines || !NextLine(&n, &next, &long_line) || long_line) {
        // The quote never closes: report this record's first line and re-read the rest.
        if (long_line) pushed_back_.emplace_front(n, std::string());
        for (auto it = more.rbegin(); it != more.rend(); ++it)
          pushed_back_.emplace_front(std::move(*it));
        rec->fields.clear();
        rec->error = "a quoted field is never closed";
        return true;
      }
      field.push_back('\n');
      more.emplace_back(n, next);
      text = std::move(next);
      i = 0;
      continue;
    }
    char c = text[i++];
    if (in_quotes) {
      if (c != '"') {
        field.push_back(c);
      } else if (i < text.size() && text[i] == '"') {
        field.push_back('"');
        ++i;
      } else {
        in_quotes = false;
      }
    } else if (c == ',') {
      rec->fields.push_back(std::move(field));
      field.clear();
      field_start = true;
      continue;
    } else if (c == '"' && field_start) {
      in_quotes = true;
    } else {
      field.push_back(c);
    }
    field_start = false;
  }
}

bool LooksLikeLongCsv(const std::vector<std::string>& header) {
  bool key = false, value = false;
  for (const std::string& h0 : header) {
    std::string_view h = ingest::TrimSpace(h0);
    if (ingest::EqualsIgnoreCase(h, "key") || ingest::EqualsIgnoreCase(h, "metric")) key = true;
    if (ingest::EqualsIgnoreCase(h, "value")) value = true;
  }
  return key && value;
}

Status ReadWideCsvInto(const std::string& path, ImportedRun* run, ImportBatch* out,
                       int64_t* rows) {
  *rows = 0;
  LineReader lines;
  INLOOP_RETURN_IF_ERROR(lines.Open(path));
  CsvRecordReader reader(&lines);
  std::vector<std::string> header;
  int64_t header_line = 0;
  if (ReadHeader(path, &reader, out, &header, &header_line)) {
    WideRows(path, header, &reader, run, out, rows);
    if (*rows == 0) out->Issue(path, -1, header_line, "header only: no data rows");
  }
  out->bytes += lines.bytes();
  return lines.status();
}

Status ReadCsv(const std::string& path, ImportBatch* out) {
  LineReader lines;
  INLOOP_RETURN_IF_ERROR(lines.Open(path));
  CsvRecordReader reader(&lines);
  std::vector<std::string> header;
  int64_t header_line = 0;
  if (ReadHeader(path, &reader, out, &header, &header_line)) {
    int64_t rows = 0;
    if (LooksLikeLongCsv(header)) {
      LongRows(path, header, &reader, out, &rows);
    } else {
      ImportedRun run;
      run.name = std::filesystem::path(path).stem().string();
      run.format = "csv";
      run.source = path;
      WideRows(path, header, &reader, &run, out, &rows);
      if (run.points() > 0) out->runs.push_back(std::move(run));
    }
    if (rows == 0) out->Issue(path, -1, header_line, "header only: no data rows");
  }
  out->bytes += lines.bytes();
  return lines.status();
}

}  // namespace inloop::importers
