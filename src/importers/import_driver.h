// ImportPaths: `inloop import` below the CLI. Walks the given files and directories, decides each
// file's format (detect_format.h), groups what belongs to one run (every event file of a
// TensorBoard directory; an MLflow run directory), reads each group with its reader and writes the
// runs it yields to the store: a finished run per group with its params, tags, every series and an
// `import` event. Idempotent: a group's content key (XXH3-128 of its bytes) is recorded with the
// run, and importing the same bytes again reports the existing run instead of making a copy. A
// stat key (path, inode, size, modification and change times) is recorded beside it, so that
// importing unchanged files again reads nothing (changed or copied files are hashed again).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "importers/imported_run.h"
#include "store/store.h"

namespace inloop::importers {

struct ImportOptions {
  std::string name;               // run name; with several runs, "NAME/<their own name>"
  std::vector<std::string> tags;  // added to every run
  // Called now and then with the bytes read so far of the total, and the points written.
  std::function<void(int64_t bytes_done, int64_t bytes_total, int64_t points)> progress;
  // A run read from a single-run input (TensorBoard directory, MLflow run, W&B run, JSONL file)
  // is written while it is read, this many points at a time: what an import holds stays bounded
  // by this, whatever the size of its files.
  size_t stream_points = size_t{1} << 16;
};

struct ImportedRunResult {
  std::string run_id;
  std::string name;
  std::string format;
  std::string source;
  int64_t points = 0;
  int64_t series = 0;
  bool already_imported = false;  // the same bytes were imported before as run_id
};

// A path the import looked at and did not make a run of. `reason` is one of:
//  "superseded"    an older copy of a run imported from `detail`'s path (HF checkpoint-N/,
//                  last-checkpoint/ beside a newer trainer_state.json);
//  "unrecognized"  no format inloop reads;
//  "duplicate"     the same bytes as another input of this import (detail names it);
//  "empty"         read, but it held no metric, param or tag (detail says what it held).
struct SkippedPath {
  std::string path;
  std::string reason;
  std::string detail;  // one line for people
};

// Everything that happened in one directory: runs made from inputs in it and paths skipped.
struct DirectoryReport {
  std::string dir;                       // the folder holding each source ("." for the cwd)
  std::vector<size_t> runs;              // indexes into ImportSummary::runs
  std::vector<size_t> skipped;           // indexes into ImportSummary::skipped_paths
};

struct ImportSummary {
  std::vector<ImportedRunResult> runs;
  std::vector<ImportIssue> issues;
  std::vector<SkippedPath> skipped_paths;  // every input that did not become a run, with why
  std::map<std::string, int64_t> skipped;  // by kind, including "file:unrecognized"
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t records = 0;
  int64_t points = 0;
  // The most points a streamed run held at once before handing them to the store (never above
  // ImportOptions::stream_points).
  int64_t peak_buffered_points = 0;
};

// The summary's runs and skipped paths grouped by the directory that holds each source (a run
// read from a directory, such as an MLflow run or a TensorBoard log folder, belongs to that
// directory's parent), directories in name order.
std::vector<DirectoryReport> ByDirectory(const ImportSummary& s);

// Fails with NotFound when a path does not exist, Invalid when a file named explicitly has no
// known format; a file named explicitly is imported even when it is a superseded copy. Problems
// inside files are issues in *out and do not stop the import.
Status ImportPaths(store::Store* st, const std::vector<std::string>& paths,
                   const ImportOptions& opts, ImportSummary* out);

}  // namespace inloop::importers
