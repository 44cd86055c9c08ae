// WandbApi: the part of W&B's wire protocol a training script's client uses, on `inloop serve`,
// so that W&B's clients (WANDB_BASE_URL=http://HOST:PORT, an inloop API token as
// WANDB_API_KEY, sent as HTTP basic auth `api:KEY`) log into inloop unchanged.
//
//   POST /graphql                               GraphQL (graphql.h). Answered:
//       viewer, serverInfo, upsertBucket (run create / resume / config / name / tags / summary),
//       model/project { bucket/run(name) } (resume state), __type probes, __typename.
//     Any other field (file uploads, artifacts, sweeps, reports, ...) makes the whole operation
//     answer a GraphQL error naming the operation and field as not supported by inloop; nothing
//     of it is applied.
//   POST /files/{entity}/{project}/{run}/file_stream
//       history rows, summary, console output, and the end of the run (`complete`, `exitcode`).
// The mapping is in wandb_translate.h; docs/http_api.md has the table of what is implemented.
// Writes go through IngestRuns (the same writers and lanes as /api/v1 and MLflow); a request is
// checked whole first and its points are flushed (durable) before the answer.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/router.h"
#include "http/store_pool.h"
#include "store/store.h"

namespace inloop::http {

class IngestRuns;

namespace wandb {

// POST /graphql or /files/{entity}/{project}/{run}/file_stream (any method: the API answers 405).
bool IsWandbPath(const std::vector<std::string>& segments);

}  // namespace wandb

class WandbApi {
 public:
  WandbApi(StorePool* pool, IngestRuns* ingest);
  // A request whose path IsWandbPath; sets response.route.
  HttpResponse Handle(const HttpRequest& r);

  // The inloop run of W&B run PROJECT/RUN_NAME (by `id` first when not empty): OK with *out,
  // NotFound when there is none. Remembers what it found.
  Status FindRun(store::Store* st, const std::string& id, const std::string& project,
                 const std::string& run_name, store::RunRecord* out);

 private:
  HttpResponse Graphql(const HttpRequest& r);
  HttpResponse FileStream(const HttpRequest& r);

  StorePool* pool_;
  IngestRuns* ingest_;
  std::mutex mu_;
  std::map<std::string, std::string> run_of_;  // "PROJECT/RUN_NAME" -> inloop run id
};

}  // namespace inloop::http
