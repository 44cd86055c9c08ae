// JSON Lines: one JSON object per line, read with ingest::JsonMetrics (the parser `inloop run`
// uses), so nested keys join with '/', numeric strings and NaN/Infinity count, and step keys
// (global_step > num_updates > step > iteration > iter > update; then W&B's `_step`) set the
// step. A top-level `time`, `timestamp`, `wall_time` or `_timestamp` gives the wall time and is
// not a series. Lines without a step use a per-series counter (0, 1, 2, ...).
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads `path` into one run of format "jsonl" named after the file stem. Blank lines are
// ignored; a line that is not a JSON object is an issue with its line number and is skipped.
// Returns non-OK only when the file cannot be read.
Status ReadJsonl(const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
