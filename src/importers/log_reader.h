// Plain training logs (.log, .txt, .out): every line goes through one ingest::LineParser, as
// `inloop run` feeds a process's output to it (so a Megatron record wrapped over two lines is
// read), and points get steps the same way: the line's step, else the series' previous step + 1
// (0 first). Logs carry no wall time for the parser; a line that starts with an ISO-8601
// timestamp ("2024-05-01 12:00:00,123 ...", optionally in [brackets]) gives its points that
// time, read as UTC when it names no offset. Other points have wall time 0.
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads `path` into one run of format "log" named after the file stem (none when no line held a
// metric; that is counted as skipped "log:no metrics"). Returns non-OK only when the file cannot
// be read.
Status ReadLog(const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
