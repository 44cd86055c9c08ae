// Plain training logs (.log, .txt, .out): every line goes through one ingest::LineParser, as
// `inloop run` feeds a process's output to it (so a Megatron record wrapped over two lines is
// read), and points get steps the same way: the line's step, else the series' previous step + 1
// (0 first). Logs carry no wall time for the parser; a line that starts with an ISO-8601
// timestamp ("2024-05-01 12:00:00,123 ...", optionally in [brackets]) gives its points that
// time, read as UTC when it names no offset. Other points have wall time 0.
// Not every number is a metric (log_blocks.h): a configuration echo block (Caffe's "...
// from parameters:" prototxt) gives params; "key: number" lines alone before the first line with
// a step ("base_lr: 0.01", "max_iter: 10000") are params when a line with a step follows, and
// stay metrics when none does or when their key is logged again first; a tab-separated table
// ("step<TAB>loss" and its rows) is read by column. .tsv files are read as logs.
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads `path` into one run of format "log" named after the file stem (none when no line held a
// metric or param; that is counted as skipped "log:no metrics"). Returns non-OK only when the
// file cannot be read.
Status ReadLog(const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
