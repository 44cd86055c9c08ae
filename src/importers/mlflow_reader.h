// MLflow's file store, one run directory (mlruns/<experiment_id>/<run_id>/): meta.yaml,
// metrics/<key> files of "timestamp_ms value [step]" lines (a key with '/' is a nested folder),
// params/<key> and tags/<key> files whose content is the value. Metrics become series keyed by
// their path under metrics/ with wall time timestamp_ms / 1000 (a line without a step has step
// 0, as MLflow reads it); params become params; tags named mlflow.* become params under their
// own name (mlflow.source.name, mlflow.user, ...), other tags become "key=value" tags.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// True when `dir` holds a meta.yaml and a metrics/ or params/ folder (an experiment folder has
// meta.yaml and maybe tags/, but neither of those).
bool IsMlflowRunDir(const std::filesystem::path& dir);

// Reads the run in `run_dir` into one run of format "mlflow", named by the mlflow.runName tag,
// else meta.yaml's run_name, else the run id (meta.yaml's run_id, else the folder name). Params
// mlflow.run_id and mlflow.experiment_id are added (from meta.yaml, else the folder names). A
// bad metric line is an issue with its file and line and is skipped. A trailing line end in a
// param or tag file is dropped. Returns NotFound when `run_dir` is not a directory.
Status ReadMlflowRun(const std::string& run_dir, ImportBatch* out);

}  // namespace inloop::importers
