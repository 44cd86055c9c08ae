// MlflowApi: the MLflow tracking REST API 2.0 on `inloop serve`, under /api/2.0/mlflow/ and
// /ajax-api/2.0/mlflow/ (and MLflow 1.x's /api/2.0/preview/mlflow/), so that MLflow's clients
// (MLFLOW_TRACKING_URI=http://HOST:PORT, the token as MLFLOW_TRACKING_TOKEN, sent as
// `Authorization: Bearer`) log into inloop unchanged.
//
// Endpoints (docs/http_api.md, "MLflow tracking API"):
//   experiments/ create, get, get-by-name, search (GET or POST), list, update, delete, restore
//   runs/ create, get, update, delete, restore, search, log-metric, log-parameter, set-tag,
//         delete-tag, log-batch
//   metrics/get-history
// Anything else answers MLflow's ENDPOINT_NOT_FOUND (404) or, for calls a client makes that
// inloop does not store (artifacts, models, inputs, experiment tags), NOT_IMPLEMENTED (501) naming
// what was not stored. Errors are MLflow's {"error_code", "message"} with its HTTP status.
//
// Writes go through IngestRuns (one RunWriter per run, the same lanes as /api/v1's ingest); a
// request is validated whole first and its points are flushed (durable) before the answer.
// Reads borrow a Store from the pool. The translation rules are in mlflow_translate.h.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "http/router.h"
#include "http/store_pool.h"

namespace inloop::http {

class IngestRuns;

namespace mlflow {

// Where the endpoint starts in decoded path segments under /api/2.0/mlflow/, /ajax-api/2.0/mlflow/
// or MLflow 1.x's /api/2.0/preview/mlflow/ (3 or 4); 0 for any other path.
size_t EndpointStart(const std::vector<std::string>& segments);
bool IsMlflowPath(const std::vector<std::string>& segments);
// Whether a POST to that path only reads (runs/search, experiments/search): the read scope
// suffices for it; every other MLflow POST needs ingest.
bool IsReadOnlyPost(const std::vector<std::string>& segments);

}  // namespace mlflow

class MlflowApi {
 public:
  MlflowApi(StorePool* pool, IngestRuns* ingest);
  // A request whose path IsMlflowPath; sets response.route.
  HttpResponse Handle(const HttpRequest& r);

 private:
  StorePool* pool_;
  IngestRuns* ingest_;
};

}  // namespace inloop::http
