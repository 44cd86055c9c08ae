// The model registry on PostgreSQL (store.h, "Model registry"; the SQLite side and the shared
// codec of the JSON columns are model_queries.cc): model versions and their stage changes.
#include <fmt/format.h>

#include "store/pg_conn.h"
#include "store/pg_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using pg::Params;
using pg::Result;
using pg::Txn;
namespace {

constexpr const char* kVersionColumns =
    "name, version, run_id, stage, artifact, artifact_step, eval_path, audit, audit_detail, "
    "params, metrics, created_at, created_by";
constexpr const char* kChangeColumns =
    "id, name, version, from_stage, to_stage, changed_at, changed_by, reason, overridden, gate";

ModelVersionRecord VersionAt(const Result& r, int i) {
  ModelVersionRecord v;
  v.name = std::string(r.Text(i, 0));
  v.version = r.Int(i, 1);
  v.run_id = std::string(r.Text(i, 2));
  v.stage = std::string(r.Text(i, 3));
  v.artifact = std::string(r.Text(i, 4));
  v.artifact_step = r.IsNull(i, 5) ? -1 : r.Int(i, 5);
  v.eval_path = std::string(r.Text(i, 6));
  v.audit = std::string(r.Text(i, 7));
  v.audit_detail = std::string(r.Text(i, 8));
  v.params = internal::ModelParamsFromJson(std::string(r.Text(i, 9)));
  v.metrics = internal::ModelMetricsFromJson(std::string(r.Text(i, 10)));
  v.created_at = r.Double(i, 11);
  v.created_by = std::string(r.Text(i, 12));
  return v;
}

ModelStageChange ChangeAt(const Result& r, int i) {
  ModelStageChange c;
  c.id = r.Int(i, 0);
  c.name = std::string(r.Text(i, 1));
  c.version = r.Int(i, 2);
  c.from_stage = std::string(r.Text(i, 3));
  c.to_stage = std::string(r.Text(i, 4));
  c.at = r.Double(i, 5);
  c.by = std::string(r.Text(i, 6));
  c.reason = std::string(r.Text(i, 7));
  c.override_gate = r.Text(i, 8) == "t";
  c.gate_json = std::string(r.Text(i, 9));
  if (c.gate_json.empty()) c.gate_json = "{}";
  return c;
}

Status InsertChange(pg::PgConn* conn, ModelStageChange* c) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn->Exec(
      "INSERT INTO model_stage_changes(name, version, from_stage, to_stage, changed_at, "
      "changed_by, reason, overridden, gate) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
      Params().Text(c->name).Int(c->version).Text(c->from_stage).Text(c->to_stage)
          .Double(c->at).Text(c->by).Text(c->reason).Text(c->override_gate ? "true" : "false")
          .Text(c->gate_json),
      &r));
  c->id = r.Int(0, 0);
  return Status::OK();
}

}  // namespace

Status PgStore::AddModelVersion(ModelVersionRecord* v) {
  if (v->name.empty()) return Status::Invalid("a model version needs a name");
  if (v->created_at == 0) v->created_at = internal::NowSeconds();
  // The table lock makes the number's read and its insert one step for concurrent registrations.
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  INLOOP_RETURN_IF_ERROR(conn_->Exec("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE"));
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name=$1",
      Params().Text(v->name), &r));
  int64_t next = r.Int(0, 0);
  Params p;
  p.Text(v->name).Int(next).Text(v->run_id).Text(v->stage).Text(v->artifact);
  if (v->artifact_step >= 0) {
    p.Int(v->artifact_step);
  } else {
    p.Null();
  }
  p.Text(v->eval_path).Text(v->audit).Text(v->audit_detail);
  p.Text(internal::ModelParamsToJson(v->params)).Text(internal::ModelMetricsToJson(v->metrics));
  p.Double(v->created_at).Text(v->created_by);
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("INSERT INTO model_versions({}) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,"
                  "$13)",
                  kVersionColumns),
      p));
  INLOOP_RETURN_IF_ERROR(t.Commit());
  v->version = next;
  return Status::OK();
}

Status PgStore::GetModelVersion(std::string_view name, int64_t version, ModelVersionRecord* v) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM model_versions WHERE name=$1 AND version=$2", kVersionColumns),
      Params().Text(name).Int(version), &r));
  if (r.rows() == 0) return Status::NotFound(fmt::format("model {} has no version {}", name, version));
  *v = VersionAt(r, 0);
  return Status::OK();
}

Status PgStore::ListModelVersions(std::string_view name, std::vector<ModelVersionRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM model_versions WHERE $1 = '' OR name = $1 "
                  "ORDER BY name COLLATE \"C\", version",
                  kVersionColumns),
      Params().Text(name), &r));
  for (int i = 0; i < r.rows(); ++i) out->push_back(VersionAt(r, i));
  return Status::OK();
}

Status PgStore::ChangeModelStage(ModelStageChange* c) {
  INLOOP_RETURN_IF_ERROR(internal::CheckModelStage(*c));
  if (c->at == 0) c->at = internal::NowSeconds();
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  // Rows of the name locked: a second promotion of the same name waits for this one and then
  // sees its result (the stage test below fails or passes on what this one committed).
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT version, stage FROM model_versions WHERE name=$1 ORDER BY version FOR UPDATE",
      Params().Text(c->name), &r));
  std::string stage;
  bool found = false;
  std::vector<int64_t> champions;
  for (int i = 0; i < r.rows(); ++i) {
    if (r.Int(i, 0) == c->version) {
      found = true;
      stage = std::string(r.Text(i, 1));
    } else if (r.Text(i, 1) == kStageChampion) {
      champions.push_back(r.Int(i, 0));
    }
  }
  if (!found) return Status::NotFound(fmt::format("model {} has no version {}", c->name, c->version));
  if (stage != c->from_stage) {
    return Status::Invalid(
        fmt::format("{} v{} is {} now, not {}", c->name, c->version, stage, c->from_stage));
  }
  INLOOP_RETURN_IF_ERROR(
      internal::CheckExpectedChampion(*c, champions.empty() ? 0 : champions.back()));
  if (c->to_stage == kStageChampion) {
    for (int64_t v : champions) {
      INLOOP_RETURN_IF_ERROR(conn_->Exec(
          "UPDATE model_versions SET stage=$1 WHERE name=$2 AND version=$3",
          Params().Text(kStageRetired).Text(c->name).Int(v)));
      ModelStageChange old;
      old.name = c->name;
      old.version = v;
      old.from_stage = kStageChampion;
      old.to_stage = kStageRetired;
      old.at = c->at;
      old.by = c->by;
      old.reason = internal::RetiredReason(c->version);
      INLOOP_RETURN_IF_ERROR(InsertChange(conn_.get(), &old));
    }
  }
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "UPDATE model_versions SET stage=$1 WHERE name=$2 AND version=$3",
      Params().Text(c->to_stage).Text(c->name).Int(c->version)));
  INLOOP_RETURN_IF_ERROR(InsertChange(conn_.get(), c));
  return t.Commit();
}

Status PgStore::ListModelStageChanges(std::string_view name, std::vector<ModelStageChange>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM model_stage_changes WHERE $1 = '' OR name = $1 ORDER BY id",
                  kChangeColumns),
      Params().Text(name), &r));
  for (int i = 0; i < r.rows(); ++i) out->push_back(ChangeAt(r, i));
  return Status::OK();
}

}  // namespace inloop::store
