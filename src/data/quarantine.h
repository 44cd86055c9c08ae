// Quarantine: records of a pipeline output (JSONL or text lines) that must not reach the next
// version, kept in the project at .inloop/data/quarantine.json as 64-bit hashes of the record's
// bytes with the line they were taken from and why. `inloop data quarantine OUTPUT --lines A-B`
// adds them; after the producing step's command succeeds the runner removes matching records
// from the output (ApplyQuarantine) before hashing and validating it, and the step's cache key
// includes the list, so adding to it rebuilds the step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop::data {

struct QuarantinedRecord {
  uint64_t hash = 0;  // Hash64 of the line without its newline
  int64_t line = 0;   // where it was when quarantined (1-based)
  std::string reason;
};

using QuarantineList = std::map<std::string, std::vector<QuarantinedRecord>>;  // by output path

Status LoadQuarantine(const std::string& data_dir, QuarantineList* q);
Status SaveQuarantine(const std::string& data_dir, const QuarantineList& q);

// "3-5,9" -> {{3, 5}, {9, 9}}. Invalid names the bad part.
Status ParseLineRanges(const std::string& text, std::vector<std::pair<int64_t, int64_t>>* out);

// Adds the records on `ranges` of the file at `path` (the output `output`) to `q`; *added is how
// many new ones. NotFound when a range is past the end of the file.
Status QuarantineLines(const std::string& path, const std::string& output,
                       const std::vector<std::pair<int64_t, int64_t>>& ranges,
                       const std::string& reason, QuarantineList* q, int64_t* added);

// Rewrites `path` without the lines whose hash is quarantined (atomically); *removed counts them.
Status ApplyQuarantine(const std::string& path, const std::vector<QuarantinedRecord>& records,
                       int64_t* removed);

}  // namespace inloop::data
