// MLflow compatibility on PostgreSQL (store.h, "MLflow compatibility"; the SQLite side is
// experiment_queries.cc): experiments, the run -> experiment link, and tag removal.
#include <fmt/format.h>

#include "store/pg_conn.h"
#include "store/pg_store.h"

namespace inloop::store {

using pg::Params;
using pg::Result;
using pg::Txn;
namespace {

constexpr const char* kColumns = "id, name, lifecycle, artifact_location, created_at, updated_at";

ExperimentRecord ExperimentAt(const Result& r, int row) {
  ExperimentRecord e;
  e.id = r.Int(row, 0);
  e.name = std::string(r.Text(row, 1));
  e.lifecycle = std::string(r.Text(row, 2));
  e.artifact_location = std::string(r.Text(row, 3));
  e.created_at = r.Double(row, 4);
  e.updated_at = r.Double(row, 5);
  return e;
}

}  // namespace

Status PgStore::CreateExperiment(ExperimentRecord* e) {
  // A negative id asks for the next one (SQLite's INTEGER PRIMARY KEY gives max+1 the same way).
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  INLOOP_RETURN_IF_ERROR(conn_->Exec("LOCK TABLE experiments IN SHARE ROW EXCLUSIVE MODE"));
  int64_t id = e->id;
  if (id < 0) {
    Result r;
    INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT COALESCE(MAX(id), 0) + 1 FROM experiments", {}, &r));
    id = r.Int(0, 0);
  }
  Result ins;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("INSERT INTO experiments({}) VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                  kColumns),
      Params().Int(id).Text(e->name).Text(e->lifecycle).Text(e->artifact_location)
          .Double(e->created_at).Double(e->updated_at),
      &ins));
  if (ins.Affected() == 0) {
    return Status::Invalid(fmt::format("experiment '{}' already exists", e->name));
  }
  INLOOP_RETURN_IF_ERROR(t.Commit());
  e->id = id;
  return Status::OK();
}

Status PgStore::GetExperiment(int64_t id, ExperimentRecord* e) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM experiments WHERE id=$1", kColumns), Params().Int(id), &r));
  if (r.rows() == 0) return Status::NotFound(fmt::format("no experiment with id {}", id));
  *e = ExperimentAt(r, 0);
  return Status::OK();
}

Status PgStore::FindExperimentByName(std::string_view name, ExperimentRecord* e) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM experiments WHERE name=$1", kColumns), Params().Text(name), &r));
  if (r.rows() == 0) return Status::NotFound(fmt::format("no experiment named '{}'", name));
  *e = ExperimentAt(r, 0);
  return Status::OK();
}

Status PgStore::ListExperiments(std::vector<ExperimentRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec(fmt::format("SELECT {} FROM experiments ORDER BY id", kColumns), {}, &r));
  for (int i = 0; i < r.rows(); ++i) out->push_back(ExperimentAt(r, i));
  return Status::OK();
}

Status PgStore::UpdateExperiment(const ExperimentRecord& e) {
  Result r;
  Status s = conn_->Exec("UPDATE experiments SET name=$1, lifecycle=$2, updated_at=$3 WHERE id=$4",
                         Params().Text(e.name).Text(e.lifecycle).Double(e.updated_at).Int(e.id),
                         &r);
  if (s.ok() && r.Affected() > 0) return Status::OK();
  ExperimentRecord existing;
  INLOOP_RETURN_IF_ERROR(GetExperiment(e.id, &existing));
  return Status::Invalid(fmt::format("experiment '{}' already exists", e.name));
}

Status PgStore::SetRunExperiment(const RunExperiment& link) {
  return conn_->Exec(
      "INSERT INTO run_experiments(run_id, experiment_id, lifecycle) VALUES($1,$2,$3) "
      "ON CONFLICT (run_id) DO UPDATE SET experiment_id=EXCLUDED.experiment_id, "
      "lifecycle=EXCLUDED.lifecycle",
      Params().Text(link.run_id).Int(link.experiment_id).Text(link.lifecycle));
}

Status PgStore::ListRunExperiments(std::vector<RunExperiment>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec("SELECT run_id, experiment_id, lifecycle FROM run_experiments", {}, &r));
  for (int i = 0; i < r.rows(); ++i) {
    out->push_back(RunExperiment{std::string(r.Text(i, 0)), r.Int(i, 1), std::string(r.Text(i, 2))});
  }
  return Status::OK();
}

Status PgStore::GetRunExperiment(const std::string& run_id, RunExperiment* out) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT run_id, experiment_id, lifecycle FROM run_experiments WHERE run_id=$1",
      Params().Text(run_id), &r));
  if (r.rows() == 0) return Status::NotFound(fmt::format("run {} has no experiment", run_id));
  *out = RunExperiment{std::string(r.Text(0, 0)), r.Int(0, 1), std::string(r.Text(0, 2))};
  return Status::OK();
}

Status PgStore::RemoveTags(const std::string& run_id, const std::vector<std::string>& tags) {
  if (tags.empty()) return Status::OK();
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  for (const std::string& tag : tags) {
    INLOOP_RETURN_IF_ERROR(conn_->Exec("DELETE FROM tags WHERE run_id=$1 AND tag=$2",
                                       Params().Text(run_id).Text(tag)));
  }
  return t.Commit();
}

}  // namespace inloop::store
