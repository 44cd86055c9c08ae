// Which importer reads a path, judged from its name and, for .csv and .json, its first bytes.
// It reads at most 64 KiB of a file and never fails: an unreadable file is judged by its name.
#pragma once

#include <filesystem>
#include <string>

namespace inloop::importers {

// Returns the format for `p`:
//  "mlflow"        a directory that IsMlflowRunDir accepts;
//  "wandb"         a directory that IsWandbRunDir accepts (other directories: ""), a .wandb
//                  file, or wandb-history.jsonl (W&B before 0.10);
//  "tfevents"      a file named events.out.tfevents.*;
//  "trainer_state" trainer_state.json, or a .json object with "log_history" in its first 64 KiB;
//  "lightning"     metrics.csv with hparams.yaml beside it, or a .csv whose header has `epoch`
//                  and `step` columns and whose first rows leave some cells empty (sparse);
//  "csv"           any other .csv;
//  "jsonl"         .jsonl or .ndjson, or a .json whose first two non-blank lines are each a
//                  whole {...} object (a single-object .json is a document, not a log);
//  "log"           .log, .txt, .out, .tsv (the log reader reads tab-separated tables);
//  ""              anything else (skip it). Extensions are compared case-insensitively.
std::string DetectFormat(const std::filesystem::path& p);

}  // namespace inloop::importers
