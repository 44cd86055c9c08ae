// Writing one imported run to the store (import_driver.cc): a PointSink that takes the run's
// points as its reader hands them over (streaming, so a run of any length holds a bounded number
// of points) or all at once, through the store writer's series handles
// (store/bulk_writer.h: no key lookup per point). The run is created at the first points; Finish
// writes the rest and the run's record as its source describes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "importers/import_driver.h"
#include "importers/imported_run.h"
#include "store/bulk_writer.h"
#include "store/store.h"

namespace inloop::importers {

class RunSink : public PointSink {
 public:
  // `on_points` is told the points this sink has written so far, now and then.
  RunSink(store::Store* st, size_t limit, std::function<void(int64_t)> on_points);

  size_t limit() const override { return limit_; }
  void Take(const ImportedRun& run, size_t buffered) override;

  // After the reader returned: writes what `r` still holds, then the run's record (named
  // `name`, dated by the source or its points, finished unless the source says otherwise),
  // params, tags, the `import` event and, last, `content_key` (so that a run cut short by a crash
  // is not taken for a finished import).
  Status Finish(const ImportedRun& r, const std::string& name, const ImportOptions& opts,
                const std::string& content_key, ImportedRunResult* res);
  // The reader failed after points were written: the run is closed as failed, with an event
  // saying why, and is not recorded as imported.
  void Abandon(const Status& why);

  bool started() const { return writer_ != nullptr; }
  int64_t points() const { return points_; }
  // The most points a reader held at once before handing them over (the structural memory
  // bound that tests check: never above limit()).
  int64_t peak_buffered() const { return peak_buffered_; }

 private:
  Status Start(const ImportedRun& run);
  Status Write(const ImportedRun& run);

  store::Store* st_;
  size_t limit_;
  std::function<void(int64_t)> on_points_;
  std::unique_ptr<store::RunWriter> writer_;
  store::BulkAppender* bulk_ = nullptr;  // writer_'s bulk side (store/bulk_writer.h), if any
  store::RunRecord record_;
  std::vector<int32_t> handles_;  // by series index of the run; -1 before resolved
  double lo_, hi_ = 0;            // the points' wall times (finite, > 0)
  int64_t points_ = 0;
  int64_t peak_buffered_ = 0;
  Status status_;
};

}  // namespace inloop::importers
