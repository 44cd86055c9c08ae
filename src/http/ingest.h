// IngestRuns: runs reported over HTTP by a training process on another host (POST /api/v1/runs,
// .../points, .../finish). Holds one RunWriter per open run, all on one Store behind one mutex
// (a Store is one-thread-at-a-time); a batch of points is validated whole before any is
// appended, and flushed (durable) before the answer. Never runs anything a request names.
// Runs replicated from other stores (POST /api/v1/sync/runs, sync/protocol.h) are written here
// too, by the same writers under the same mutex (sync_api.cc).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "http/ingest_body.h"
#include "http/router.h"
#include "http/server_metrics.h"
#include "store/store.h"
#include "sync/protocol.h"

namespace inloop::http {

class IngestRuns {
 public:
  IngestRuns(std::string store_dir, ServerMetrics* metrics);
  ~IngestRuns();

  // Body {"name","command":[...],"params":{...},"tags":[...]} -> {"id","name"}.
  HttpResponse Create(const std::string& body);
  // Body {"points":[{"key","step","wall_time","value"},...]} -> {"accepted": N}.
  HttpResponse Points(const std::string& run_ref, const std::string& body);
  // Body {"status":"finished"|"failed","exit_code":N} -> {"id","status"}.
  HttpResponse Finish(const std::string& run_ref, const std::string& body);
  // Body: a sync::SyncBatch -> the server's sync::SyncMarks of the run after applying it. A batch
  // that would leave a hole is 409 with the marks (and "error"), nothing applied (sync_api.cc).
  HttpResponse Sync(const std::string& body);
  // Seals and closes every open writer (the runs stay as they are).
  void CloseAll();

  // The same store, writers and mutex for another front end of ingest (mlflow_api.h), so that a
  // run has one writer whichever API feeds it. Valid only inside Locked's function.
  class Session {
   public:
    store::Store* store() { return owner_->store_.get(); }
    // Appends to the run's writer (opened on first use) and flushes: durable when OK. A failed
    // writer is dropped (a new one recovers from the WAL).
    Status Append(const std::string& run_id, const std::vector<IngestPoint>& points);
    // The same for points that name their keys by index into `keys` (no string per point).
    Status Append(const std::string& run_id, const std::vector<std::string>& keys,
                  const std::vector<KeyedPoint>& points);
    // Seals and closes the run's writer, if one is open.
    Status CloseWriter(const std::string& run_id);

   private:
    friend class IngestRuns;
    explicit Session(IngestRuns* owner) : owner_(owner) {}
    // The run's open writer (opened on first use), or the error that kept it from opening.
    Status Writer(const std::string& run_id, store::RunWriter** out);
    // After appending: flushes, or drops the writer that failed; counts the points.
    Status Finish(const std::string& run_id, Status appended, size_t points);
    IngestRuns* owner_;
  };
  // Runs fn with the store open, under the mutex; the store's open error otherwise.
  Status Locked(const std::function<Status(Session&)>& fn);

 private:
  // What the server holds of a replicated run, derived from its data on first use and then kept
  // up to date by Sync (the writer of the run is this object's, so nothing else changes it).
  struct SyncState {
    std::map<std::string, sync::SegmentCounter> series;
    int64_t events = 0;
    // Attempt logs by (attempt, stream): bytes held, and the path the attempt record names.
    std::map<std::pair<int, store::LogStream>, int64_t> log_bytes;
    std::map<std::pair<int, store::LogStream>, std::string> log_paths;
  };
  // The parts of Sync (sync_api.cc), each REQUIRES mu_ held. SyncRunFor: the server's run of
  // the batch's (origin, origin run), made on first sight. RefuseGaps: the 409 (or 400) for a
  // batch that would leave a hole. ApplyLogs / ApplyPoints: append what is new, durably.
  Status SyncRunFor(const sync::SyncBatch& b, store::RunRecord* run);
  std::optional<HttpResponse> RefuseGaps(const sync::SyncBatch& b, const store::RunRecord& run,
                                         const SyncState& st) const;
  Status ApplyLogs(const std::string& run_id, const sync::SyncBatch& b, SyncState* st);
  Status ApplyPoints(const std::string& run_id, const sync::SyncBatch& b, SyncState* st);
  Status OpenStore();  // REQUIRES: mu_ held
  // REQUIRES: mu_ held. The run's SyncState, loaded when not cached (sync_api.cc).
  Status LoadSyncState(const store::RunRecord& run, const std::string& origin_status,
                       SyncState** out);
  Status WriterFor(const std::string& run_id, store::RunWriter** out);  // REQUIRES: mu_ held
  sync::SyncMarks MarksOf(const store::RunRecord& run, const SyncState& st) const;

  std::string dir_;
  ServerMetrics* metrics_;
  std::mutex mu_;
  std::unique_ptr<store::Store> store_;
  std::map<std::string, std::unique_ptr<store::RunWriter>> writers_;  // by run id
  std::map<std::string, SyncState> sync_;                              // by run id
};

}  // namespace inloop::http
