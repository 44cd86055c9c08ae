// MLflow's file store, one run directory (mlruns/<experiment_id>/<run_id>/): meta.yaml,
// metrics/<key> files of "timestamp_ms value [step]" lines (a key with '/' is a nested folder),
// params/<key> and tags/<key> files whose content is the value, artifacts/. Metrics become series
// keyed by their path under metrics/ with wall time timestamp_ms / 1000 (a line without a step
// has step 0, as MLflow reads it); params become params; every tag (mlflow.* ones included)
// becomes a "key=value" tag. meta.yaml dates the run (start_time, end_time in ms), gives its
// status (RUNNING/SCHEDULED -> interrupted: it never closed; FINISHED; FAILED; KILLED ->
// stopped) and user (tag "user=<user_id>"); the experiment folder's meta.yaml name becomes tag
// "experiment=<name>"; a run in MLflow's trash (lifecycle_stage: deleted) is tagged
// "lifecycle=deleted". TensorBoard event files under artifacts/ (Keras autolog writes
// artifacts/tensorboard_logs/{train,validation}/) are read into the same run, their series keyed
// by the event file's folder under artifacts/ and the tag ("tensorboard_logs/train/epoch_loss");
// other artifacts are counted in skipped ("mlflow:artifact (not metrics)").
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// True when `dir` holds a run's meta.yaml: one with run_uuid, or run_id and experiment_id or
// artifact_uri (a model registry version has run_id alone), or any other meta.yaml that is not an
// experiment's (which has artifact_location) beside a metrics/ or params/ folder. A run that logged only tags, or nothing, is still a run: git keeps no empty
// folders, so a committed store often has meta.yaml alone.
bool IsMlflowRunDir(const std::filesystem::path& dir);

// True when dir/meta.yaml describes an MLflow experiment (it has artifact_location): its name
// is read with the experiment's runs.
bool IsMlflowExperimentDir(const std::filesystem::path& dir);

// Reads the run in `run_dir` into one run of format "mlflow", named by the mlflow.runName tag,
// else meta.yaml's run_name, else the run id (meta.yaml's run_id, else the folder name). Params
// mlflow.run_id and mlflow.experiment_id are added (from meta.yaml, else the folder names). A
// bad metric line is an issue with its file and line and is skipped. A trailing line end in a
// param or tag file is dropped. Returns NotFound when `run_dir` is not a directory.
Status ReadMlflowRun(const std::string& run_dir, ImportBatch* out);

}  // namespace inloop::importers
