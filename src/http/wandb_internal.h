// Shared by wandb_api.cc (routing, GraphQL) and wandb_runs.cc (upsertBucket, the file stream, the
// run's GraphQL view). Internal to src/http/.
#pragma once

#include <string>

#include "common/status.h"
#include "http/graphql.h"
#include "http/router.h"
#include "http/store_pool.h"
#include "http/wandb_api.h"
#include "http/wandb_translate.h"
#include "store/store.h"

namespace inloop::http::wandb {

// The answer's JSON for a Status: {"error": MESSAGE} with 400 (Invalid), 404 (NotFound) or 500.
HttpResponse FileStreamError(const Status& s);

// upsertBucket: creates or updates the run; *out is upsertBucket's value ({bucket, inserted}).
Status Upsert(WandbApi* api, IngestRuns* ingest, const RunUpsert& up, graphql::Value* out);

// The run as W&B's `bucket` / `run` object (id, name, displayName, config, summaryMetrics,
// historyLineCount, historyTail, tags, state, project {...}).
Status BucketValue(store::Store* st, const store::RunRecord& run, graphql::Value* out);

// The file stream of `project`/`run_name` (body: ParseFileStream's); the answer.
HttpResponse ApplyFileStream(WandbApi* api, IngestRuns* ingest, const std::string& entity,
                             const std::string& project, const std::string& run_name,
                             const std::string& body);

}  // namespace inloop::http::wandb
