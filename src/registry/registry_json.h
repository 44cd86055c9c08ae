// The one JSON form of the registry's records (store/model_records.h): `inloop model ... --json`
// and GET /api/v1/models use these. Shapes: see docs/model_registry.md.
#pragma once

#include <string>
#include <vector>

#include "common/json_writer.h"
#include "store/model_records.h"

namespace inloop::registry {

// {"name","version","stage","run_id","artifact","artifact_step"|null,"eval_path","audit",
//  "audit_detail","params":{k:v},"metrics":{k:number},"created_at","created_by"}
void WriteVersionJson(const store::ModelVersionRecord& v, JsonWriter* w);
// {"id","name","version","from","to","at","by","reason","override","gate":{...}}
void WriteStageChangeJson(const store::ModelStageChange& c, JsonWriter* w);
// {"name","champion":N|null,"versions":[...],"changes":[...]} for one model.
void WriteModelJson(const std::string& name, const std::vector<store::ModelVersionRecord>& versions,
                    const std::vector<store::ModelStageChange>& changes, JsonWriter* w);

}  // namespace inloop::registry
