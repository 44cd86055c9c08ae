// Api: the JSON endpoints of docs/http_api.md over the store (runs, one run, events, series with
// M4, aligned series of several runs, params, keys, actions and decisions, ingest, health,
// /metrics). Takes a parsed, authorised HttpRequest and returns the HttpResponse; no sockets
// (server.cc), no stream (live_hub.h). Thread-safe: each call borrows its own Store from the pool.
// Never builds a command or a file path from request content.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/router.h"
#include "http/server_metrics.h"
#include "http/store_pool.h"

namespace inloop::http {

class IngestRuns;
class MlflowApi;
class WandbApi;

class Api {
 public:
  Api(StorePool* pool, ServerMetrics* metrics);
  ~Api();

  // Every endpoint but /api/v1/stream. Sets response.route to the route pattern.
  HttpResponse Handle(const HttpRequest& r);

  // Run refs (id, unique id prefix or name) to ids; NotFound naming the first unknown ref.
  Status ResolveRuns(const std::vector<std::string>& refs, std::vector<std::string>* ids);

  // A named API token by the SHA-256 hex of its secret (auth.h's lookup); NotFound when none.
  Status LookupToken(const std::string& sha256_hex, store::TokenRecord* out);

  // Closes ingest writers (marks nothing): for shutdown.
  void CloseWriters();

 private:
  HttpResponse Route(const HttpRequest& r);
  HttpResponse ListRuns(const HttpRequest& r);
  HttpResponse GetRun(const std::string& ref);
  HttpResponse RunEvents(const std::string& ref);
  HttpResponse RunSeries(const std::string& ref, const HttpRequest& r);
  HttpResponse AlignedSeries(const HttpRequest& r);
  HttpResponse ParamKeys();
  HttpResponse SeriesKeys(const HttpRequest& r);
  HttpResponse ListActions(const HttpRequest& r);
  HttpResponse Decide(const std::string& id_text, bool approve, const HttpRequest& r);

  StorePool* pool_;
  ServerMetrics* metrics_;
  std::unique_ptr<IngestRuns> ingest_;
  std::unique_ptr<MlflowApi> mlflow_;  // /api/2.0/mlflow/ (mlflow_api.h), on ingest_'s writers
  std::unique_ptr<WandbApi> wandb_;    // W&B's /graphql and file stream (wandb_api.h), likewise
};

}  // namespace inloop::http
