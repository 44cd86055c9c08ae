// MLflow compatibility in the catalog (store.h, "MLflow compatibility"): experiments, the run ->
// experiment link, and tag removal. Used only by http/mlflow_api; one group so that another
// backend ports it as a unit.
#include <fmt/format.h>

#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {
namespace {

constexpr const char* kExperimentColumns =
    "id, name, lifecycle, artifact_location, created_at, updated_at";

void ReadExperiment(Stmt& s, ExperimentRecord* e) {
  e->id = s.Int(0);
  e->name = s.Text(1);
  e->lifecycle = s.Text(2);
  e->artifact_location = s.Text(3);
  e->created_at = s.Double(4);
  e->updated_at = s.Double(5);
}

}  // namespace

Status SqliteStore::CreateExperiment(ExperimentRecord* e) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("INSERT OR IGNORE INTO experiments({}) VALUES(?,?,?,?,?,?)", kExperimentColumns),
      &s));
  if (e->id >= 0) {
    s.Bind(1, e->id);
  } else {
    s.BindNull(1);
  }
  s.Bind(2, e->name).Bind(3, e->lifecycle).Bind(4, e->artifact_location).Bind(5, e->created_at);
  s.Bind(6, e->updated_at);
  INLOOP_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() == 0) {
    return Status::Invalid(fmt::format("experiment '{}' already exists", e->name));
  }
  e->id = db_->LastInsertId();
  return Status::OK();
}

Status SqliteStore::GetExperiment(int64_t id, ExperimentRecord* e) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare(fmt::format("SELECT {} FROM experiments WHERE id=?", kExperimentColumns), &s));
  s.Bind(1, id);
  if (s.Step()) {
    ReadExperiment(s, e);
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound(fmt::format("no experiment with id {}", id));
}

Status SqliteStore::FindExperimentByName(std::string_view name, ExperimentRecord* e) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare(fmt::format("SELECT {} FROM experiments WHERE name=?", kExperimentColumns), &s));
  s.Bind(1, name);
  if (s.Step()) {
    ReadExperiment(s, e);
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound(fmt::format("no experiment named '{}'", name));
}

Status SqliteStore::ListExperiments(std::vector<ExperimentRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare(fmt::format("SELECT {} FROM experiments ORDER BY id", kExperimentColumns), &s));
  while (s.Step()) {
    ExperimentRecord e;
    ReadExperiment(s, &e);
    out->push_back(std::move(e));
  }
  return s.status();
}

Status SqliteStore::UpdateExperiment(const ExperimentRecord& e) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE OR IGNORE experiments SET name=?, lifecycle=?, updated_at=? WHERE id=?", &s));
  s.Bind(1, e.name).Bind(2, e.lifecycle).Bind(3, e.updated_at).Bind(4, e.id);
  INLOOP_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() > 0) return Status::OK();
  ExperimentRecord existing;
  INLOOP_RETURN_IF_ERROR(GetExperiment(e.id, &existing));
  return Status::Invalid(fmt::format("experiment '{}' already exists", e.name));
}

Status SqliteStore::SetRunExperiment(const RunExperiment& link) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR REPLACE INTO run_experiments(run_id, experiment_id, lifecycle) VALUES(?,?,?)",
      &s));
  s.Bind(1, link.run_id).Bind(2, link.experiment_id).Bind(3, link.lifecycle);
  return s.Run();
}

Status SqliteStore::ListRunExperiments(std::vector<RunExperiment>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT run_id, experiment_id, lifecycle FROM run_experiments", &s));
  while (s.Step()) out->push_back(RunExperiment{s.Text(0), s.Int(1), s.Text(2)});
  return s.status();
}

Status SqliteStore::GetRunExperiment(const std::string& run_id, RunExperiment* out) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT run_id, experiment_id, lifecycle FROM run_experiments WHERE run_id=?", &s));
  s.Bind(1, run_id);
  if (s.Step()) {
    *out = RunExperiment{s.Text(0), s.Int(1), s.Text(2)};
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound(fmt::format("run {} has no experiment", run_id));
}

Status SqliteStore::RemoveTags(const std::string& run_id, const std::vector<std::string>& tags) {
  if (tags.empty()) return Status::OK();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("DELETE FROM tags WHERE run_id=? AND tag=?", &s));
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (auto& t : tags) {
    s.Bind(1, run_id).Bind(2, t);
    Status st = s.Run();
    if (!st.ok()) {
      db_->Exec("ROLLBACK");
      return st;
    }
  }
  return db_->Exec("COMMIT");
}

}  // namespace inloop::store
