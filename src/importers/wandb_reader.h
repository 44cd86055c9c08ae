// Weights & Biases run directories (wandb/run-* and wandb/offline-run-*), read without the wandb
// package. One run per `run-<id>.wandb` file (clients 0.10 and later; framing in wandb_log.h,
// records in wandb_record.h), or per run directory of the pre-0.10 layout (wandb-history.jsonl,
// one JSON object per row, beside wandb-summary.json and config.yaml).
//
// What becomes of it (format "wandb"):
//  - history rows: every numeric value is a point of the series named by its key; a logged dict
//    is flattened with '.' between levels (as the W&B UI names them; wandb-core's nested_key
//    parts are joined the same way). The step is the row's `_step` (else HistoryRecord.step,
//    else the previous row's + 1); the wall time is `_timestamp` (else start time + `_runtime`).
//    `_step`, `_runtime` and `_timestamp` are not series. NaN and infinities are points.
//    Strings, booleans, lists and media/histogram dicts (a `_type` member; wandb-core's split
//    leaves of one are folded back into one value) are not series: each is counted in the
//    batch's `skipped` as "wandb:<kind>" (e.g. "wandb:dict:histogram").
//  - config (ConfigRecords and the run record's config, in order; else config.yaml with its
//    {desc, value} wrapping removed): params named by the key, nested keys joined with '.';
//    `_wandb` (client internals) is left out.
//  - summary (SummaryRecords, then files/wandb-summary.json over them): params "summary/<key>"
//    for numbers, strings and booleans; keys starting with '_' are left out.
//  - the run record: the run's name (display name, else the run id, else the directory's id),
//    start time, and params wandb/run_id, wandb/project, wandb/entity, wandb/group,
//    wandb/job_type, wandb/host, wandb/notes; its tags become tags. The exit record gives
//    wandb/exit_code, the status (exit code 0: finished, else failed; a log without an exit
//    record: interrupted) and the end time (start + runtime, or the last row's time if later);
//    telemetry gives wandb/cli_version and wandb/python_version; files/wandb-metadata.json
//    gives wandb/program, wandb/git.commit, ... (and the start time and project for the old
//    layout).
// Damaged chunks and records are issues with their byte offset (wandb_log.h says what is
// skipped); a bad JSON value or history line is an issue and is skipped; the rest is kept.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// True when `dir` is a W&B run directory: it holds a *.wandb file, or a wandb-history.jsonl,
// or a wandb-summary.json with config.yaml or wandb-metadata.json beside it (directly or in
// files/).
bool IsWandbRunDir(const std::filesystem::path& dir);

// The .wandb files directly in `dir`, sorted.
std::vector<std::string> WandbLogFiles(const std::filesystem::path& dir);

// The files of `dir` the reader takes besides the .wandb file (history, summary, config and
// metadata, those present), for the import's content key.
std::vector<std::string> WandbSideFiles(const std::filesystem::path& dir);

// Reads `path`: a .wandb file (with the files/ folder beside it), or a run directory (each of its
// .wandb files, else the pre-0.10 layout). NotFound when it does not exist; Io when the .wandb
// file cannot be read.
// *non_numeric (may be null) gets the non-numeric history values of the runs read, by key and
// kind ("string", "bool", "list", "null", "dict:<_type>", "dict").
struct WandbNonNumeric {
  std::map<std::string, std::map<std::string, int64_t>> by_key;
};
Status ReadWandbRun(const std::string& path, ImportBatch* out,
                    WandbNonNumeric* non_numeric = nullptr);

// As ReadWandbRun for one .wandb file's bytes already in memory (the fuzz target, tests):
// `path` names it in issues; side files are not read. *non_numeric may be null.
void ReadWandbBytes(std::string_view bytes, const std::string& path, ImportBatch* out,
                    WandbNonNumeric* non_numeric);

}  // namespace inloop::importers
