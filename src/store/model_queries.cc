// The model registry in the catalog (store.h, "Model registry"; model_records.h): model versions
// and the trail of their stage changes, over SQLite. The PostgreSQL side is pg_models.cc; the
// JSON columns' codec and the shared rules (store_internal.h) are here.
#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <limits>

#include "common/json_writer.h"
#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {

namespace internal {

std::string ModelParamsToJson(const std::vector<Param>& params) {
  JsonWriter w;
  w.BeginArray();
  for (const Param& p : params) {
    w.BeginObject().Key("key").String(p.key).Key("value").String(p.value);
    w.Key("source").String(p.source).EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::vector<Param> ModelParamsFromJson(const std::string& json) {
  std::vector<Param> out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(json).get_array().get(arr)) return out;
  for (simdjson::dom::element e : arr) {
    std::string_view k, v, s;
    if (e["key"].get_string().get(k)) continue;
    if (e["value"].get_string().get(v)) v = "";
    if (e["source"].get_string().get(s)) s = "";
    out.push_back(Param{std::string(k), std::string(v), std::string(s)});
  }
  return out;
}

std::string ModelMetricsToJson(const std::vector<std::pair<std::string, double>>& metrics) {
  JsonWriter w;
  w.BeginArray();
  for (const auto& [k, v] : metrics) w.BeginArray().String(k).Number(v).EndArray();
  w.EndArray();
  return w.Take();
}

std::vector<std::pair<std::string, double>> ModelMetricsFromJson(const std::string& json) {
  std::vector<std::pair<std::string, double>> out;
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(json).get_array().get(arr)) return out;
  for (simdjson::dom::element e : arr) {
    std::string_view k, text;
    if (e.at(0).get_string().get(k)) continue;
    double v = 0;
    int64_t i = 0;
    if (e.at(1).get_double().get(v) == simdjson::SUCCESS) {
    } else if (e.at(1).get_int64().get(i) == simdjson::SUCCESS) {
      v = static_cast<double>(i);
    } else if (e.at(1).get_string().get(text) == simdjson::SUCCESS) {  // JsonWriter's NaN/Inf
      v = text == "Infinity"    ? std::numeric_limits<double>::infinity()
          : text == "-Infinity" ? -std::numeric_limits<double>::infinity()
                                : std::numeric_limits<double>::quiet_NaN();
    } else {
      continue;
    }
    out.emplace_back(std::string(k), v);
  }
  return out;
}

Status CheckModelStage(const ModelStageChange& c) {
  for (const std::string* s : {&c.from_stage, &c.to_stage}) {
    if (*s != kStageCandidate && *s != kStageChampion && *s != kStageRetired) {
      return Status::Invalid(fmt::format(
          "'{}' is not a model stage (candidate, champion or retired)", *s));
    }
  }
  if (c.from_stage == c.to_stage) {
    return Status::Invalid(fmt::format("{} v{} is {} already", c.name, c.version, c.to_stage));
  }
  return Status::OK();
}

std::string RetiredReason(int64_t new_champion) {
  return fmt::format("replaced by v{}", new_champion);
}

Status CheckExpectedChampion(const ModelStageChange& c, int64_t champion) {
  if (c.expect_champion < 0 || c.expect_champion == champion) return Status::OK();
  return Status::Invalid(fmt::format(
      "the champion of {} changed meanwhile (now {}); judge v{} again against it", c.name,
      champion > 0 ? fmt::format("v{}", champion) : "none", c.version));
}

}  // namespace internal

namespace {

constexpr const char* kVersionColumns =
    "name, version, run_id, stage, artifact, artifact_step, eval_path, audit, audit_detail, "
    "params, metrics, created_at, created_by";
constexpr const char* kChangeColumns =
    "id, name, version, from_stage, to_stage, changed_at, changed_by, reason, overridden, gate";

void ReadVersion(Stmt& s, ModelVersionRecord* v) {
  v->name = s.Text(0);
  v->version = s.Int(1);
  v->run_id = s.Text(2);
  v->stage = s.Text(3);
  v->artifact = s.Text(4);
  v->artifact_step = s.IsNull(5) ? -1 : s.Int(5);
  v->eval_path = s.Text(6);
  v->audit = s.Text(7);
  v->audit_detail = s.Text(8);
  v->params = internal::ModelParamsFromJson(s.Text(9));
  v->metrics = internal::ModelMetricsFromJson(s.Text(10));
  v->created_at = s.Double(11);
  v->created_by = s.Text(12);
}

void ReadChange(Stmt& s, ModelStageChange* c) {
  c->id = s.Int(0);
  c->name = s.Text(1);
  c->version = s.Int(2);
  c->from_stage = s.Text(3);
  c->to_stage = s.Text(4);
  c->at = s.Double(5);
  c->by = s.Text(6);
  c->reason = s.Text(7);
  c->override_gate = s.Int(8) != 0;
  c->gate_json = s.Text(9);
  if (c->gate_json.empty()) c->gate_json = "{}";
}

}  // namespace

Status SqliteStore::AddModelVersion(ModelVersionRecord* v) {
  if (v->name.empty()) return Status::Invalid("a model version needs a name");
  if (v->created_at == 0) v->created_at = internal::NowSeconds();
  // BEGIN IMMEDIATE: the number is read and taken under the write lock, so two registrations
  // of one name (two processes) get two numbers.
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto fail = [&](Status st) {
    db_->Exec("ROLLBACK");
    return st;
  };
  Stmt q;
  Status st = db_->Prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name=?", &q);
  if (!st.ok()) return fail(st);
  q.Bind(1, v->name);
  if (!q.Step()) return fail(q.status().ok() ? Status::Io("model_versions: no next version") : q.status());
  int64_t next = q.Int(0);
  q = Stmt();
  Stmt s;
  st = db_->Prepare(fmt::format("INSERT INTO model_versions({}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                kVersionColumns),
                    &s);
  if (!st.ok()) return fail(st);
  s.Bind(1, v->name).Bind(2, next).Bind(3, v->run_id).Bind(4, v->stage).Bind(5, v->artifact);
  if (v->artifact_step >= 0) {
    s.Bind(6, v->artifact_step);
  } else {
    s.BindNull(6);
  }
  s.Bind(7, v->eval_path).Bind(8, v->audit).Bind(9, v->audit_detail);
  s.Bind(10, internal::ModelParamsToJson(v->params));
  s.Bind(11, internal::ModelMetricsToJson(v->metrics));
  s.Bind(12, v->created_at).Bind(13, v->created_by);
  if (!(st = s.Run()).ok()) return fail(st);
  INLOOP_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  v->version = next;
  return Status::OK();
}

Status SqliteStore::GetModelVersion(std::string_view name, int64_t version,
                                    ModelVersionRecord* v) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM model_versions WHERE name=? AND version=?", kVersionColumns), &s));
  s.Bind(1, name).Bind(2, version);
  if (s.Step()) {
    ReadVersion(s, v);
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound(fmt::format("model {} has no version {}", name, version));
}

Status SqliteStore::ListModelVersions(std::string_view name, std::vector<ModelVersionRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM model_versions WHERE ?1 = '' OR name = ?1 ORDER BY name, version",
                  kVersionColumns),
      &s));
  s.Bind(1, name);
  while (s.Step()) {
    ModelVersionRecord v;
    ReadVersion(s, &v);
    out->push_back(std::move(v));
  }
  return s.status();
}

namespace {

Status InsertChange(Db* db, ModelStageChange* c) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db->Prepare(
      "INSERT INTO model_stage_changes(name, version, from_stage, to_stage, changed_at, "
      "changed_by, reason, overridden, gate) VALUES(?,?,?,?,?,?,?,?,?)",
      &s));
  s.Bind(1, c->name).Bind(2, c->version).Bind(3, c->from_stage).Bind(4, c->to_stage);
  s.Bind(5, c->at).Bind(6, c->by).Bind(7, c->reason).Bind(8, c->override_gate ? 1 : 0);
  s.Bind(9, c->gate_json);
  INLOOP_RETURN_IF_ERROR(s.Run());
  c->id = db->LastInsertId();
  return Status::OK();
}

Status SetStage(Db* db, const std::string& name, int64_t version, const std::string& stage) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db->Prepare("UPDATE model_versions SET stage=? WHERE name=? AND version=?", &s));
  s.Bind(1, stage).Bind(2, name).Bind(3, version);
  return s.Run();
}

}  // namespace

Status SqliteStore::ChangeModelStage(ModelStageChange* c) {
  INLOOP_RETURN_IF_ERROR(internal::CheckModelStage(*c));
  if (c->at == 0) c->at = internal::NowSeconds();
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  Status st = [&]() -> Status {
    ModelVersionRecord now;
    INLOOP_RETURN_IF_ERROR(GetModelVersion(c->name, c->version, &now));
    if (now.stage != c->from_stage) {
      return Status::Invalid(
          fmt::format("{} v{} is {} now, not {}", c->name, c->version, now.stage, c->from_stage));
    }
    Stmt q;
    INLOOP_RETURN_IF_ERROR(db_->Prepare(
        "SELECT version FROM model_versions WHERE name=? AND stage=? AND version<>? "
        "ORDER BY version",
        &q));
    q.Bind(1, c->name).Bind(2, kStageChampion).Bind(3, c->version);
    std::vector<int64_t> old;
    while (q.Step()) old.push_back(q.Int(0));
    INLOOP_RETURN_IF_ERROR(q.status());
    INLOOP_RETURN_IF_ERROR(internal::CheckExpectedChampion(*c, old.empty() ? 0 : old.back()));
    if (c->to_stage == kStageChampion) {
      for (int64_t v : old) {
        INLOOP_RETURN_IF_ERROR(SetStage(db_.get(), c->name, v, kStageRetired));
        ModelStageChange r;
        r.name = c->name;
        r.version = v;
        r.from_stage = kStageChampion;
        r.to_stage = kStageRetired;
        r.at = c->at;
        r.by = c->by;
        r.reason = internal::RetiredReason(c->version);
        INLOOP_RETURN_IF_ERROR(InsertChange(db_.get(), &r));
      }
    }
    INLOOP_RETURN_IF_ERROR(SetStage(db_.get(), c->name, c->version, c->to_stage));
    return InsertChange(db_.get(), c);
  }();
  if (!st.ok()) {
    db_->Exec("ROLLBACK");
    return st;
  }
  return db_->Exec("COMMIT");
}

Status SqliteStore::ListModelStageChanges(std::string_view name,
                                          std::vector<ModelStageChange>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM model_stage_changes WHERE ?1 = '' OR name = ?1 ORDER BY id",
                  kChangeColumns),
      &s));
  s.Bind(1, name);
  while (s.Step()) {
    ModelStageChange c;
    ReadChange(s, &c);
    out->push_back(std::move(c));
  }
  return s.status();
}

}  // namespace inloop::store
