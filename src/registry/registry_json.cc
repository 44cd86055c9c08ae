// JSON of the registry's records (registry_json.h).
#include "registry/registry_json.h"

namespace inloop::registry {

void WriteVersionJson(const store::ModelVersionRecord& v, JsonWriter* w) {
  w->BeginObject().Key("name").String(v.name).Key("version").Int(v.version);
  w->Key("stage").String(v.stage).Key("run_id").String(v.run_id);
  w->Key("artifact").String(v.artifact).Key("artifact_step");
  if (v.artifact_step >= 0) {
    w->Int(v.artifact_step);
  } else {
    w->Null();
  }
  w->Key("eval_path").String(v.eval_path);
  w->Key("audit").String(v.audit).Key("audit_detail").String(v.audit_detail);
  w->Key("params").BeginObject();
  for (const store::Param& p : v.params) w->Key(p.key).String(p.value);
  w->EndObject().Key("metrics").BeginObject();
  for (const auto& [k, x] : v.metrics) w->Key(k).Number(x);
  w->EndObject();
  w->Key("created_at").Number(v.created_at).Key("created_by").String(v.created_by);
  w->EndObject();
}

void WriteStageChangeJson(const store::ModelStageChange& c, JsonWriter* w) {
  w->BeginObject().Key("id").Int(c.id).Key("name").String(c.name).Key("version").Int(c.version);
  w->Key("from").String(c.from_stage).Key("to").String(c.to_stage);
  w->Key("at").Number(c.at).Key("by").String(c.by).Key("reason").String(c.reason);
  w->Key("override").Bool(c.override_gate);
  w->Key("gate").Raw(c.gate_json.empty() ? "{}" : c.gate_json);
  w->EndObject();
}

void WriteModelJson(const std::string& name, const std::vector<store::ModelVersionRecord>& versions,
                    const std::vector<store::ModelStageChange>& changes, JsonWriter* w) {
  w->BeginObject().Key("name").String(name).Key("champion");
  const store::ModelVersionRecord* champion = nullptr;
  for (const auto& v : versions) {
    if (v.stage == store::kStageChampion) champion = &v;
  }
  if (champion) {
    w->Int(champion->version);
  } else {
    w->Null();
  }
  w->Key("versions").BeginArray();
  for (const auto& v : versions) WriteVersionJson(v, w);
  w->EndArray().Key("changes").BeginArray();
  for (const auto& c : changes) WriteStageChangeJson(c, w);
  w->EndArray().EndObject();
}

}  // namespace inloop::registry
