// The data index of a training run: which records of a dataset each data batch consumed
// (docs/data.md, "Which records a batch read"). The SDK's inloop.batch(index, ids) buffers
// (data index, record ids) pairs and sends them as one "batches" message; the supervisor stores
// each as a "data_batches" event whose data_json is BatchLogJson: the dataset's name and absolute
// path and the batches, each a data index with its records as half-open ranges of 0-based record
// numbers (record i is line i+1 of a JSONL or text file). With the skip windows the doctor applied
// (remedy::AttemptStartData), SkippedDataRanges and SplitRecords name the records of the skipped
// window and those of the run's normal batches. Pure: nothing here reads the store or files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inloop::data {

inline constexpr const char* kDataBatchesEvent = "data_batches";

using IdRanges = std::vector<std::pair<int64_t, int64_t>>;  // [lo, hi), sorted, disjoint

struct BatchEntry {
  int64_t index = 0;  // the data index (the step when nothing was skipped)
  IdRanges records;
};

struct BatchLog {
  std::string dataset;  // the name given to inloop.dataset() ("" when none was)
  std::string path;     // absolute ("" when the dataset was never declared)
  std::vector<BatchEntry> batches;
};

std::string BatchLogJson(const BatchLog& b);
// False when `json` is not a batch log; bad entries inside one are skipped.
bool ParseBatchLog(std::string_view json, BatchLog* out);

// Sorted, merged [lo, hi) ranges of `ids` (any order, repeats allowed; negatives dropped).
IdRanges ToRanges(std::vector<int64_t> ids);
int64_t CountIds(const IdRanges& r);

// The data indices the skip windows left out, as merged [lo, hi) ranges. `windows` are [from, to)
// in the order applied, each in the steps of the timeline the earlier ones made (the SDK's
// data_index): window j skips data_index(s, windows[0..j)) for s in [from_j, to_j).
IdRanges SkippedDataRanges(const std::vector<std::pair<int64_t, int64_t>>& windows);

// The SDK's data_index(step, windows).
int64_t DataIndexOf(int64_t step, const std::vector<std::pair<int64_t, int64_t>>& windows);

// The records of one dataset's batches, split by whether the batch's data index is in `skipped`:
// `window` holds the records of skipped batches, `normal` those of the others not in `window`.
struct RecordSplit {
  std::string dataset, path;
  IdRanges window, normal;
  IdRanges window_indices;  // the skipped data indices that have batches recorded
  int64_t window_batches = 0, normal_batches = 0;
};

// One split per dataset path that has batches, in order of first appearance; a data index logged
// twice (a rerun attempt) counts once.
std::vector<RecordSplit> SplitRecords(const std::vector<BatchLog>& logs, const IdRanges& skipped);

bool InRanges(const IdRanges& r, int64_t x);

}  // namespace inloop::data
