// What was special about the data behind a loss spike (docs/data.md, "Data behind a spike"):
// the records of the batches the doctor skipped (batch_index.h's RecordSplit), read back from the
// dataset (JSONL or text lines) and held to the pipeline's own validation (ValidateOutput:
// exact and near duplicates by MinHash, lengths) next to a sample of the run's normal batches,
// plus exact and near duplicates against the rest of the data, repeated word 8-grams and words the normal
// batches never hold. Each
// measure says whether it stands out, with numbers; the records it points at are `flagged`, for
// `inloop data quarantine --from-run`. One JSON form (SpikeDataJson).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "data/batch_index.h"
#include "data/check_result.h"

namespace inloop::data {

struct SpikeMeasure {
  // near_duplicates | duplicates | duplicates_elsewhere | near_duplicates_elsewhere | length |
  // repeated_ngrams | unusual_words
  std::string name;
  double window = 0;  // on the window's records
  double normal = 0;  // on the normal batches' sample
  bool stands_out = false;
  std::string text;  // one sentence with both numbers
};

struct SpikeData {
  std::string dataset, path;
  std::string format;  // "jsonl" or "text"
  std::string field;   // the JSONL text field looked at ("" for text lines)
  IdRanges data_indices;      // the skipped data indices that have batches recorded
  IdRanges window;            // the window's records (0-based record numbers)
  int64_t window_batches = 0, normal_batches = 0;
  int64_t window_records = 0;    // distinct records in the window
  int64_t window_analysed = 0;   // of them, read and checked (a sample past kMaxWindowRecords)
  int64_t normal_records = 0;    // distinct records of the normal batches
  int64_t normal_analysed = 0;   // the sample of them checked
  std::vector<SpikeMeasure> measures;
  std::vector<std::string> unusual_words;  // most frequent first
  std::vector<int64_t> flagged;            // 0-based records a standing-out measure points at
  std::string summary;  // one line: what stands out, or that nothing does
  std::string error;    // why the data could not be analysed ("" when it was)
  std::vector<CheckResult> window_checks, normal_checks;  // ValidateOutput's results
};

inline constexpr int64_t kMaxWindowRecords = 20000;
inline constexpr int64_t kMaxNormalRecords = 2000;

// Reads split.path and analyses it. A file that cannot be read, or an empty window, sets `error`
// (the returned status is always OK: the report shows why).
SpikeData AnalyzeSpikeData(const RecordSplit& split);

// "1501-1700,1802" (1-based lines) of 0-based records; ParseLineRanges reads it back.
std::string LineRangesText(const std::vector<int64_t>& records);
std::string LineRangesText(const IdRanges& records);

void WriteSpikeDataJson(const SpikeData& d, JsonWriter* w);

}  // namespace inloop::data
