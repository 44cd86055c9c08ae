// Shared by mlflow_api.cc (routing, experiments) and mlflow_runs.cc (runs, metrics): the handlers
// and the store lookups they have in common. Internal to src/http/.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "http/ingest.h"
#include "http/mlflow_translate.h"
#include "http/store_pool.h"
#include "store/store.h"

namespace inloop::http::mlflow {

struct Context {
  StorePool* pool;
  IngestRuns* ingest;
};

int64_t NowMs();
// "0", "17" -> id; INVALID_PARAMETER_VALUE answer otherwise.
std::optional<HttpResponse> ExperimentIdOf(const std::string& text, int64_t* id);
// The experiment, or MLflow's Default (id 0) even before it is stored; NotFound otherwise.
Status LoadExperiment(store::Store* st, int64_t id, store::ExperimentRecord* out);
// Stores the Default experiment (id 0) when it is not yet there.
Status EnsureDefaultExperiment(store::Store* st);
// "mlflow-artifacts:/ID" when the experiment has no location of its own.
std::string ArtifactLocation(const store::ExperimentRecord& e);
// The run as MLflow shows it (its experiment link, params, tags, latest metric values).
Status LoadRunView(store::Store* st, const std::string& run_id, RunView* out);
// The run `run_id` exactly (not a name or prefix); NotFound naming it otherwise.
Status FindRunExactly(store::Store* st, const std::string& run_id, store::RunRecord* out);

HttpResponse CreateRun(Context& c, const Fields& f);
HttpResponse GetRun(Context& c, const Fields& f);
HttpResponse UpdateRun(Context& c, const Fields& f);
HttpResponse SetRunLifecycle(Context& c, const Fields& f, const char* lifecycle);
HttpResponse LogBatch(Context& c, Batch batch);
HttpResponse DeleteTag(Context& c, const Fields& f);
HttpResponse SearchRuns(Context& c, const Fields& f);
HttpResponse MetricHistory(Context& c, const Fields& f);

}  // namespace inloop::http::mlflow
