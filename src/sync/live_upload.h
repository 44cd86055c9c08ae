// LiveUpload: the thread of `inloop run --server URL` that streams the run being supervised to
// the server while it runs. The supervisor is unchanged and never waits for it: it writes the
// local store as always, and this thread, with a Store object of its own, finds the run this
// process supervises (its supervisor pid and host) and replicates it (replicator.h) about once a
// second. When the server is unreachable it backs off (exponential, capped) and keeps the points
// in the local store, which is the spool; when the server returns it continues from the server's
// marks. Finish() drains for a bounded time after the command ended and says what is left.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sync/replicator.h"

namespace inloop::sync {

struct LiveUploadOptions {
  std::string store_dir;
  std::string url;    // http(s)://host:port
  std::string token;  // may be empty
  // `inloop run --continue-run KEY`: the run it continues keeps the record of its first
  // supervisor, so it is found by the key the supervisor records as param inloop.continue_key.
  std::string continue_key;
  double poll_s = 1.0;
  double backoff_cap_s = 15;
};

class LiveUpload {
 public:
  explicit LiveUpload(LiveUploadOptions options);
  ~LiveUpload();  // stops the thread (Finish(0) if Finish was not called)

  // Starts the thread, with every signal blocked in it (the supervisor takes its signals from a
  // signalfd; a signal delivered to this thread would end the process).
  void Start();
  // Keeps uploading until the run is complete on the server or `drain_s` passed, then stops the
  // thread. `run_id`: the run the supervisor reported (empty when none), used when the thread
  // has not found it yet. Returns one line for the user: what was uploaded, or what is not yet
  // and how to finish it (`inloop sync`).
  std::string Finish(double drain_s, const std::string& run_id = "");

 private:
  void Loop();
  // One replication pass; false when the server could not be reached.
  bool PassOnce();
  bool FindRun();
  void Say(const std::string& line);

  LiveUploadOptions opts_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<RunReplicator> replicator_;
  std::string origin_;
  double started_at_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  bool finishing_ = false;
  std::string reported_run_;  // Finish's run_id
  bool stop_ = false;
  // Shared with Finish (under mu_).
  RunProgress progress_;
  bool found_run_ = false;
  bool unreachable_ = false;
  bool done_ = false;     // a pass begun after finishing_ found the run complete on the server
  bool gave_up_ = false;  // finishing, and more waiting cannot help (no run, or refused)
  std::string last_error_;
  std::thread thread_;
};

}  // namespace inloop::sync
