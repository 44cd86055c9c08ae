// IngestRuns: runs reported over HTTP by a training process on another host (POST /api/v1/runs,
// .../points, .../finish). Holds one RunWriter per open run; a batch of points is validated
// whole before any is appended, and flushed (durable) before the answer. Never runs anything a
// request names. Runs replicated from other stores (POST /api/v1/sync/runs, sync/protocol.h)
// are written here too, by the same writers (sync_api.cc).
//
// Lanes: a Store is one-thread-at-a-time, so the writers live in lanes, each one Store (one
// database connection) with its own mutex, and a run always goes to the lane its id hashes to.
// The embedded store has one lane (its flushes are appends to the run's WAL file); PostgreSQL
// has kPgLanes, so that batches of different runs commit (and wait for the server's WAL flush)
// in parallel instead of one after another. Nothing holds two lanes at once except Locked,
// which takes them all in order.
#pragma once

#include <atomic>
#include <chrono>
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

  // Lanes a PostgreSQL store gets (connections held by ingest).
  static constexpr int kPgLanes = 8;
  int lanes() const { return static_cast<int>(lanes_.size()); }

  // The same stores, writers and lanes for another front end of ingest (mlflow_api.h), so that
  // a run has one writer whichever API feeds it. Valid only inside Locked's function.
  class Session {
   public:
    store::Store* store() { return owner_->lanes_[0]->store.get(); }
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
    // Runs `append` on the run's writer (opened on first use), then flushes; drops the writer
    // that failed; counts `points`.
    Status AppendWith(const std::string& run_id, size_t points,
                      const std::function<Status(store::RunWriter*)>& append);
    IngestRuns* owner_;
  };
  // Runs fn with the stores open, holding every lane; the stores' open error otherwise.
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
  // One Store with the writers (and replication state) of the runs whose id hashes to it.
  // Everything but `mu` is guarded by it; `store` is set once, by OpenStores.
  struct Lane {
    std::mutex mu;
    std::unique_ptr<store::Store> store;
    std::map<std::string, std::unique_ptr<store::RunWriter>> writers;  // by run id
    std::map<std::string, SyncState> sync;                              // by run id
    // When a run with an open writer here was last read as running (by run id): a batch within
    // kRunRecheck of that needs no read of the run (one round trip to a database server).
    std::map<std::string, std::chrono::steady_clock::time_point> seen_running;
  };
  static constexpr std::chrono::milliseconds kRunRecheck{1000};
  // Holds the lane of `run_ref` and gives the run as Points needs it: from seen_running when the
  // ref is the id of a run with an open writer read as running within kRunRecheck, else read
  // (LockRunLane).
  Status LockRunningRun(const std::string& run_ref, std::unique_lock<std::mutex>* lock,
                        Lane** lane, store::RunRecord* run);
  // The lane of a run id (or of any other key: an import key, a run's name).
  Lane& LaneOf(std::string_view key);
  // Opens every lane's store, all together on first use (so that no store's open recovers a
  // run another lane is writing); the open error otherwise, and the next call tries again.
  Status OpenStores();
  // Holds the lane of the run `run_ref` names (an id or a name) and reads the run there: looks
  // in the lane of `run_ref` first, then moves to the lane of the run's id when that differs.
  Status LockRunLane(const std::string& run_ref, std::unique_lock<std::mutex>* lock, Lane** lane,
                     store::RunRecord* run);
  // The writer of `run_id` in `lane`, opened on first use. REQUIRES: lane.mu held.
  Status WriterIn(Lane& lane, const std::string& run_id, store::RunWriter** out);

  // The parts of Sync (sync_api.cc), each REQUIRES the lane's mu held. SyncRunFor: the server's
  // run of the batch's (origin, origin run), made on first sight (in the lane of the import
  // key, so two batches of one new run make one run). RefuseGaps: the 409 (or 400) for a batch
  // that would leave a hole. ApplyLogs / ApplyPoints: append what is new, durably.
  Status SyncRunFor(Lane& lane, const sync::SyncBatch& b, store::RunRecord* run);
  std::optional<HttpResponse> RefuseGaps(const sync::SyncBatch& b, const store::RunRecord& run,
                                         const SyncState& st) const;
  Status ApplyLogs(Lane& lane, const std::string& run_id, const sync::SyncBatch& b,
                   SyncState* st);
  Status ApplyPoints(Lane& lane, const std::string& run_id, const sync::SyncBatch& b,
                     SyncState* st);
  // The run's SyncState, loaded when not cached (sync_api.cc).
  Status LoadSyncState(Lane& lane, const store::RunRecord& run, const std::string& origin_status,
                       SyncState** out);
  sync::SyncMarks MarksOf(const store::RunRecord& run, const SyncState& st) const;

  std::string dir_;
  ServerMetrics* metrics_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // fixed at construction
  std::mutex open_mu_;
  std::atomic<bool> open_{false};        // every lane's store is set
  std::atomic<uint64_t> next_create_{0};  // spreads CreateRun's catalog writes over the lanes
};

}  // namespace inloop::http
