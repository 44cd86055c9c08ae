// What every importer produces: runs read from files other tools wrote (TensorBoard, Hugging Face,
// Lightning, CSV, JSONL, MLflow, plain logs), before they are written to the store, plus the
// problems met on the way (each with the file and byte offset or line) and counts of what was
// read and skipped. Readers never stop at the first bad record: they keep every readable one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/point.h"
#include "store/catalog.h"

namespace inloop::importers {

class ImportedRun;

// Where a streaming import sends a run's points while it is read (import_writer.h writes them to
// the store): a reader that streams attaches its run with ImportedRun::StreamTo and appends as
// usual; once `limit()` points are buffered the run hands them all over and keeps only its keys,
// so a run of any length holds at most limit() points (plus what the store's writer seals).
class PointSink {
 public:
  virtual ~PointSink() = default;
  virtual size_t limit() const = 0;
  // Takes the buffered points of every series of `run` (in series order); the run clears them
  // after. Errors are the sink's to keep (the reader goes on; the driver asks the sink).
  virtual void Take(const ImportedRun& run, size_t buffered) = 0;
};

struct ImportedSeries {
  std::string key;
  std::vector<Point> points;  // in file order; a step going back starts a new segment in the store
};

struct ImportedRun {
  std::string name;    // default run name: the event/run directory, the file stem, a CSV run column
  std::string format;  // "tfevents", "trainer_state", "lightning", "csv", "jsonl", "mlflow", "log",
                       // "wandb"
  std::string source;  // the file or directory it came from
  std::vector<store::Param> params;  // source "import"
  std::vector<std::string> tags;     // e.g. MLflow tags as "key=value"
  std::vector<ImportedSeries> series;
  // What the source says about the run itself (MLflow's meta.yaml, W&B's run record). Unset
  // (0 / ""): the driver dates the run by its points' wall times, else the file, and marks it
  // finished.
  double started_at = 0;  // seconds since the epoch
  double ended_at = 0;
  std::string status;  // a store status (store/catalog.h: finished, failed, stopped, interrupted)
  std::string host;    // the machine the run ran on, when the source says (W&B's run record)

  // Appends a point to series `key`, creating the series on first use.
  void Add(std::string_view key, int64_t step, double wall_time, double value) {
    Push(SeriesIndex(key), Point{step, wall_time, value});
  }
  // Appends a point to series[i] (an index from SeriesIndex).
  void Push(size_t i, const Point& p) {
    series[i].points.push_back(p);
    if (sink_ != nullptr && ++buffered_ >= sink_->limit()) Spill();
  }
  // Streaming: from now on the points go to `sink` every sink->limit() points (readers of one
  // run per input call this when ImportBatch::stream is set). Spill hands over what is left.
  void StreamTo(PointSink* sink) { sink_ = sink; }
  PointSink* sink() const { return sink_; }
  void Spill() {
    if (sink_ == nullptr || buffered_ == 0) return;
    sink_->Take(*this, buffered_);
    for (auto& s : series) s.points.clear();
    spilled_ += static_cast<int64_t>(buffered_);
    buffered_ = 0;
  }
  // The position of series `key` in `series`, creating it empty on first use. A reader that meets
  // the same keys again and again resolves each once and appends to series[i].points directly.
  size_t SeriesIndex(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(std::string(key), series.size()).first;
      series.push_back(ImportedSeries{std::string(key), {}});
    }
    return it->second;
  }
  void SetParam(std::string key, std::string value) {
    for (auto& p : params)
      if (p.key == key) { p.value = std::move(value); return; }
    params.push_back(store::Param{std::move(key), std::move(value), "import"});
  }
  // Every point added, those handed to a sink included.
  int64_t points() const {
    int64_t n = spilled_;
    for (auto& s : series) n += static_cast<int64_t>(s.points.size());
    return n;
  }

 private:
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>> index_;
  PointSink* sink_ = nullptr;
  size_t buffered_ = 0;  // points added since the last Spill (counted only while streaming)
  int64_t spilled_ = 0;  // points handed to the sink
};

// A problem in an input file: a bad CRC, a truncated record, a line that does not parse.
// offset >= 0 for binary files (byte offset of the record), line >= 1 for text files.
struct ImportIssue {
  std::string path;
  int64_t offset = -1;
  int64_t line = 0;
  std::string message;  // one line: what is wrong and what was done ("record skipped")
};

// The result of reading one input (a file, or a directory for MLflow runs).
struct ImportBatch {
  std::vector<ImportedRun> runs;
  std::vector<ImportIssue> issues;
  int64_t records = 0;  // records/lines/rows read
  int64_t bytes = 0;    // bytes of input consumed
  std::map<std::string, int64_t> skipped;  // what was skipped and how often, e.g. "plugin:images"
  // Set by the driver for a streaming import: a reader that makes one run of its input attaches
  // it (ImportedRun::StreamTo) before adding points. Null: runs are kept whole.
  PointSink* stream = nullptr;

  void Issue(const std::string& path, int64_t offset, int64_t line, std::string message) {
    issues.push_back(ImportIssue{path, offset, line, std::move(message)});
  }
};

}  // namespace inloop::importers
