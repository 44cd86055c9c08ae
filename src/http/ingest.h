// IngestRuns: runs reported over HTTP by a training process on another host (POST /api/v1/runs,
// .../points, .../finish). Holds one RunWriter per open run, all on one Store behind one mutex
// (a Store is one-thread-at-a-time); a batch of points is validated whole before any is
// appended, and flushed (durable) before the answer. Never runs anything a request names.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/ingest_body.h"
#include "http/router.h"
#include "http/server_metrics.h"
#include "store/store.h"

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
    // Seals and closes the run's writer, if one is open.
    Status CloseWriter(const std::string& run_id);

   private:
    friend class IngestRuns;
    explicit Session(IngestRuns* owner) : owner_(owner) {}
    IngestRuns* owner_;
  };
  // Runs fn with the store open, under the mutex; the store's open error otherwise.
  Status Locked(const std::function<Status(Session&)>& fn);

 private:
  Status OpenStore();  // REQUIRES: mu_ held

  std::string dir_;
  ServerMetrics* metrics_;
  std::mutex mu_;
  std::unique_ptr<store::Store> store_;
  std::map<std::string, std::unique_ptr<store::RunWriter>> writers_;  // by run id
};

}  // namespace inloop::http
