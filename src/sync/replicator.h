// RunReplicator: uploads one run of a local store to a server (`inloop run --server`,
// `inloop sync`). The local store is the spool: nothing is queued in memory or in a file of its
// own, so a replicator that dies, a server that is down for an hour or a laptop that was offline
// loses nothing — the next pass asks the server what it holds (sync/protocol.h marks) and sends
// the rest, in order, in bounded batches. Reads the store through its public API only (readers
// beside the run's live writer are allowed); its Store object is its own, used by one thread.
//
// Why not a separate spool file: the store already holds every point durably and in order, with
// its segments; a second copy would double the disk writes of every run and could disagree with
// the store after a crash. The price is re-reading the run's unsealed tail on each pass that has
// something new (SeriesVersionOf says when), which is bounded by the store's WAL rotation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"
#include "sync/protocol.h"
#include "sync/transport.h"

namespace inloop::sync {

struct RunProgress {
  int64_t points_local = 0;   // points the local store holds for the run
  int64_t points_server = 0;  // of which the server holds
  int64_t events_local = 0;
  int64_t events_server = 0;
  int64_t points_sent = 0;  // accepted by the server during this replicator's life
  int64_t events_sent = 0;
  int64_t log_bytes_local = 0;  // attempt logs, all attempts and streams
  int64_t log_bytes_server = 0;
  std::string local_status;
  std::string server_status;
  std::string server_run_id;
  // Everything of a run that has ended is on the server, its final status included.
  bool complete = false;
};

enum class PassOutcome {
  kCaughtUp,     // the server holds everything the store had when the pass began
  kUnreachable,  // no answer (connection refused, timeout): back off and try again
  kRefused,      // the server answered an error (the Status says which); retrying may not help
};

class RunReplicator {
 public:
  // `local` must outlive the replicator and be used by no other thread meanwhile.
  RunReplicator(store::Store* local, Transport* transport, std::string origin, std::string run_id,
                size_t max_batch_points = 50000);

  // Sends batches until the server holds all that the store holds now. On kRefused the Status
  // says what the server answered; on kUnreachable the transport's error.
  PassOutcome Pass(Status* error);
  const RunProgress& progress() const { return progress_; }
  const std::string& run_id() const { return run_id_; }

 private:
  struct LocalSeries {
    std::vector<const store::SegmentData*> segments;  // in segment order
    std::vector<int64_t> counts;
    int64_t total = 0;
  };
  Status ReadLocal();
  // Up to `budget` points of `key` from origin offset `from`.
  Status ReadPoints(const LocalSeries& ls, int64_t from, size_t budget, std::vector<Point>* out);
  Status BuildBatch(SyncBatch* b, bool* has_data);
  PassOutcome Send(const SyncBatch& b, Status* error);
  Status CheckMarks();
  void UpdateProgress();

  store::Store* local_;
  Transport* transport_;
  std::string origin_;
  std::string run_id_;
  size_t max_batch_points_;

  // The local run as last read.
  store::RunRecord run_;
  std::vector<store::Param> params_;
  std::vector<std::string> tags_;
  std::vector<store::AttemptRecord> attempts_;
  std::vector<store::EventRecord> events_;  // every event so far, in id order
  std::optional<store::SeriesVersion> version_;
  std::vector<store::SegmentData> segments_;
  std::map<std::string, LocalSeries> series_;
  struct LocalLog {
    std::string path;  // relative to the store
    int64_t bytes = 0;
  };
  std::map<std::pair<int, store::LogStream>, LocalLog> logs_;
  // What the server acknowledged: its marks, and the metadata it got (encoded, to see changes).
  std::optional<SyncMarks> marks_;
  std::string acked_meta_;
  RunProgress progress_;
};

// Exponential backoff for reconnecting: initial, doubled per failure up to `cap`, scaled by a
// jitter in [0.5, 1] so that many clients of one restarted server do not come back in step.
class Backoff {
 public:
  Backoff(double initial_s, double cap_s) : initial_(initial_s), cap_(cap_s) {}
  // The wait before the next try, given a uniform draw in [0, 1).
  double Next(double draw);
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  double initial_, cap_;
  int failures_ = 0;
};

}  // namespace inloop::sync
