// CSV importers: "wide" tables (a header of column names, one row per step: step,loss,lr) and
// "long" tables (one value per row: run,key,step,value[,timestamp]). RFC 4180 quoting (quoted
// fields may hold commas, doubled quotes and line breaks), LF/CRLF/CR line ends and a UTF-8 BOM
// are accepted. A bad cell or row is reported with its line and skipped; every good one is kept.
// The Lightning reader reads its metrics.csv through ReadWideCsvInto.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "importers/imported_run.h"
#include "importers/text_input.h"

namespace inloop::importers {

// Splits a line-oriented stream into CSV records. A quoted field left open at the end of the
// file (or open for more than 10,000 lines) is reported as an error on the record's first line
// and the lines after it are read again as records of their own.
class CsvRecordReader {
 public:
  explicit CsvRecordReader(LineReader* lines) : lines_(lines) {}

  struct Record {
    int64_t line = 0;                 // line the record starts on
    std::vector<std::string> fields;  // cells, unquoted; empty when `error` is set
    std::string error;                // why the record could not be read ("" when it could)
  };
  // Fills *rec with the next record; false at the end of the input.
  bool Next(Record* rec);

 private:
  bool NextLine(int64_t* line_no, std::string* text, bool* too_long);

  LineReader* lines_;
  std::deque<std::pair<int64_t, std::string>> pushed_back_;
};

// Whether a header names a long table: a `key` (or `metric`) column and a `value` column
// (case-insensitive). `run`, `step` and a time column (`timestamp`, `wall_time`, `time`) are
// optional; without `run` every row belongs to one run named after the file.
bool LooksLikeLongCsv(const std::vector<std::string>& header);

// Reads a wide or long CSV file (the header decides, see LooksLikeLongCsv) into *out, format
// "csv". Wide: one run named after the file stem; the step column is the one with the highest
// ingest::StepKeyRank, else `_step`, else `epoch`, else the 0-based data row number; a time
// column (`time`, `timestamp`, `wall_time`, `_timestamp`) gives wall time; every other column is
// a series; empty cells are skipped. Long: one run per distinct `run` value, in order of first
// appearance. Returns non-OK only when the file cannot be read at all.
Status ReadCsv(const std::string& path, ImportBatch* out);

// The wide-table reader on its own: appends the rows of `path` to *run (whose name, format and
// source the caller sets) and issues/counts to *out. *rows is set to the number of data rows.
Status ReadWideCsvInto(const std::string& path, ImportedRun* run, ImportBatch* out,
                       int64_t* rows);

}  // namespace inloop::importers
