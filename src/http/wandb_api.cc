// W&B's wire protocol (wandb_api.h): routing, the GraphQL endpoint and its root fields. The run
// writes are in wandb_runs.cc, the request forms in wandb_translate.h.
#include "http/wandb_api.h"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "http/ingest.h"
#include "http/mlflow_internal.h"
#include "http/wandb_internal.h"

namespace inloop::http {
namespace wandb {
namespace {

using graphql::Value;

constexpr const char* kSupported =
    "inloop answers viewer, serverInfo, upsertBucket, model/project { bucket/run } and __type; "
    "it stores runs, config, history, summary and console output, not files, artifacts, sweeps "
    "or reports (docs/http_api.md)";

// The fields of Query and Mutation inloop answers (for __type probes: a feature whose field is
// not listed is off).
const char* const kQueryFields[] = {"viewer", "serverInfo", "model", "project"};
const char* const kMutationFields[] = {"upsertBucket"};

HttpResponse GraphqlError(int status, std::string_view message, std::string_view code) {
  JsonWriter w;
  w.BeginObject().Key("data").Null().Key("errors").BeginArray().BeginObject();
  w.Key("message").String(message);
  w.Key("extensions").BeginObject().Key("code").String(code).EndObject();
  w.EndObject().EndArray().EndObject();
  HttpResponse resp = JsonResponse(w.Take());
  resp.status = status;
  return resp;
}

HttpResponse ErrorOf(const Status& s) {
  if (s.code() == Status::Code::kInvalid) return GraphqlError(400, s.message(), "BAD_USER_INPUT");
  if (s.code() == Status::Code::kNotFound) return GraphqlError(200, s.message(), "NOT_FOUND");
  return GraphqlError(500, s.message(), "INTERNAL_SERVER_ERROR");
}

bool Supported(const graphql::Operation& op, const graphql::Field& f) {
  if (f.name == "__typename") return true;
  if (op.type == "mutation") return f.name == "upsertBucket";
  if (op.type != "query") return false;
  return f.name == "viewer" || f.name == "serverInfo" || f.name == "model" ||
         f.name == "project" || f.name == "__type";
}

Value Viewer() {
  Value v = Value::Object();
  v.Set("id", Value::String("inloop-viewer"));
  v.Set("entity", Value::String(kDefaultEntity));
  v.Set("username", Value::String(kDefaultEntity));
  v.Set("flags", Value::String("{}"));
  v.Set("admin", Value::Bool(false));
  v.Set("teams", Value::Object()).Set("edges", Value::List());
  Value& entity = v.Set("defaultEntity", Value::Object());
  entity.Set("id", Value::String(kDefaultEntity));
  entity.Set("name", Value::String(kDefaultEntity));
  return v;
}

Value ServerInfo() {
  Value v = Value::Object();
  v.Set("cliVersionInfo", Value::Null());
  v.Set("latestLocalVersionInfo", Value::Null());
  v.Set("features", Value::List());
  v.Set("availableBucketProviders", Value::List());
  return v;
}

// __type(name: "Query" | "Mutation" | anything): the fields inloop answers; none for other types.
Value TypeOf(const graphql::Field& f) {
  std::string name(f.Arg("name") ? f.Arg("name")->StringOr("") : "");
  Value v = Value::Object();
  v.Set("name", Value::String(name));
  v.Set("kind", Value::String(name == "Query" || name == "Mutation" ? "OBJECT" : "INPUT_OBJECT"));
  Value& fields = v.Set("fields", Value::List());
  auto add = [&](const char* field) {
    Value fv = Value::Object();
    fv.Set("name", Value::String(field));
    fv.Set("args", Value::List());
    fields.list.push_back(std::move(fv));
  };
  if (name == "Query") {
    for (const char* q : kQueryFields) add(q);
  } else if (name == "Mutation") {
    for (const char* m : kMutationFields) add(m);
  }
  v.Set("inputFields", Value::List());
  v.Set("enumValues", Value::List());
  return v;
}

// model(name: PROJECT, entityName: E) / project(...) { ... bucket(name: RUN) / run(name: RUN) }.
Status ProjectOf(WandbApi* api, StorePool* pool, const graphql::Field& f, Value* out) {
  std::string project(f.Arg("name") ? f.Arg("name")->StringOr("") : "");
  std::string entity(f.Arg("entityName") ? f.Arg("entityName")->StringOr(kDefaultEntity)
                                         : kDefaultEntity);
  if (project.empty()) project = "uncategorized";
  *out = Value::Object();
  out->Set("id", Value::String(project));
  out->Set("name", Value::String(project));
  out->Set("entityName", Value::String(entity));
  Value& e = out->Set("entity", Value::Object());
  e.Set("id", Value::String(entity));
  e.Set("name", Value::String(entity));
  for (const graphql::Field& sub : f.selection) {
    if (sub.name != "bucket" && sub.name != "run") continue;
    std::string run_name(sub.Arg("name") ? sub.Arg("name")->StringOr("") : "");
    Value bucket;
    if (!run_name.empty()) {
      StorePool::Lease st;
      INLOOP_RETURN_IF_ERROR(pool->Acquire(&st));
      store::RunRecord run;
      Status s = api->FindRun(st.get(), "", project, run_name, &run);
      if (s.ok()) {
        INLOOP_RETURN_IF_ERROR(BucketValue(st.get(), run, &bucket));
      } else if (s.code() != Status::Code::kNotFound) {
        return s;
      }
    }
    out->Set(sub.name, std::move(bucket));
  }
  return Status::OK();
}

}  // namespace

bool IsWandbPath(const std::vector<std::string>& seg) {
  if (seg.size() == 1 && seg[0] == "graphql") return true;
  return seg.size() == 5 && seg[0] == "files" && seg[4] == "file_stream";
}

HttpResponse FileStreamError(const Status& s) {
  int status = s.code() == Status::Code::kInvalid    ? 400
               : s.code() == Status::Code::kNotFound ? 404
                                                     : 500;
  return JsonError(status, s.message());
}

}  // namespace wandb

WandbApi::WandbApi(StorePool* pool, IngestRuns* ingest) : pool_(pool), ingest_(ingest) {}

HttpResponse WandbApi::Handle(const HttpRequest& r) {
  bool graphql = r.segments.size() == 1;
  const char* route = graphql ? "/graphql" : "/files/{entity}/{project}/{run}/file_stream";
  HttpResponse resp;
  if (r.method != "POST") {
    resp = JsonError(405, fmt::format("{} {}: method not allowed (use POST)", r.method,
                                      r.path.substr(0, 200)));
  } else {
    resp = graphql ? Graphql(r) : FileStream(r);
  }
  resp.route = route;
  return resp;
}

Status WandbApi::FindRun(store::Store* st, const std::string& id, const std::string& project,
                         const std::string& run_name, store::RunRecord* out) {
  if (!id.empty()) {
    Status s = mlflow::FindRunExactly(st, id, out);
    if (s.code() != Status::Code::kNotFound) return s;
  }
  if (run_name.empty()) return Status::NotFound(fmt::format("no run with id {}", id.substr(0, 80)));
  std::string path = project + "/" + run_name;
  std::string cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = run_of_.find(path);
    if (it != run_of_.end()) cached = it->second;
  }
  if (!cached.empty()) {
    Status s = mlflow::FindRunExactly(st, cached, out);
    if (s.code() != Status::Code::kNotFound) return s;
  }
  // Not seen by this server yet: the runs of the project's experiment whose wandb/run_id is it.
  Status not_found = Status::NotFound(fmt::format("W&B run {} is not known to inloop", path));
  store::ExperimentRecord e;
  Status s = st->FindExperimentByName(project, &e);
  if (s.code() == Status::Code::kNotFound) return not_found;
  INLOOP_RETURN_IF_ERROR(s);
  std::vector<store::RunExperiment> links;
  INLOOP_RETURN_IF_ERROR(st->ListRunExperiments(&links));
  std::vector<std::string> ids;
  for (const auto& l : links) {
    if (l.experiment_id == e.id) ids.push_back(l.run_id);
  }
  if (ids.empty()) return not_found;
  std::unordered_map<std::string, store::RunLabels> labels;
  INLOOP_RETURN_IF_ERROR(st->RunLabelsOf(ids, &labels));
  std::string found;
  for (const auto& [run_id, l] : labels) {
    for (const store::Param& p : l.params) {
      // Run ids sort by creation time: the newest run of that name wins.
      if (p.key == "wandb/run_id" && p.value == run_name && run_id > found) found = run_id;
    }
  }
  if (found.empty()) return not_found;
  INLOOP_RETURN_IF_ERROR(mlflow::FindRunExactly(st, found, out));
  std::lock_guard<std::mutex> lock(mu_);
  run_of_[path] = found;
  return Status::OK();
}

HttpResponse WandbApi::Graphql(const HttpRequest& r) {
  using namespace wandb;
  Value body;
  if (!graphql::ValueOfJson(r.body, &body).ok() || body.kind != Value::Kind::kObject) {
    return GraphqlError(400, "POST /graphql: the body must be a JSON object {query, variables}",
                        "BAD_REQUEST");
  }
  const Value* query = body.Get("query");
  if (query == nullptr || query->kind != Value::Kind::kString) {
    return GraphqlError(400, "POST /graphql: `query` (the GraphQL document) is missing",
                        "BAD_REQUEST");
  }
  Value variables = Value::Object();
  if (const Value* v = body.Get("variables"); v != nullptr && !v->is_null()) {
    if (v->kind != Value::Kind::kObject) {
      return GraphqlError(400, "POST /graphql: `variables` must be an object", "BAD_REQUEST");
    }
    variables = *v;
  }
  std::string op_name;
  if (const Value* n = body.Get("operationName"); n != nullptr) op_name = n->StringOr("");
  graphql::Operation op;
  Status s = graphql::Parse(query->text, op_name, variables, &op);
  if (!s.ok()) return GraphqlError(400, s.message(), "GRAPHQL_PARSE_FAILED");
  // Every root field is checked before any is run: an operation is answered whole or not at all.
  for (const graphql::Field& f : op.selection) {
    if (!Supported(op, f)) {
      return GraphqlError(
          200,
          fmt::format("the W&B GraphQL {} '{}' (field '{}') is not supported by inloop: {}",
                      op.type, op.name.empty() ? "(anonymous)" : op.name.substr(0, 80),
                      f.name.substr(0, 80), kSupported),
          "NOT_SUPPORTED_BY_INLOOP");
    }
  }
  JsonWriter w;
  w.BeginObject().Key("data").BeginObject();
  for (const graphql::Field& f : op.selection) {
    Value v;
    if (f.name == "__typename") {
      v = Value::String(op.type == "mutation" ? "Mutation" : "Query");
    } else if (f.name == "viewer") {
      v = Viewer();
    } else if (f.name == "serverInfo") {
      v = ServerInfo();
    } else if (f.name == "__type") {
      v = TypeOf(f);
    } else if (f.name == "model" || f.name == "project") {
      s = ProjectOf(this, pool_, f, &v);
    } else if (f.name == "upsertBucket") {
      RunUpsert up;
      const Value* input = f.Arg("input");
      s = ParseUpsert(input ? *input : Value::Null(), &up);
      if (s.ok()) s = Upsert(this, ingest_, up, &v);
    }
    if (!s.ok()) return ErrorOf(s);
    w.Key(f.alias);
    graphql::Project(v, f.selection, &w);
  }
  w.EndObject().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse WandbApi::FileStream(const HttpRequest& r) {
  const auto& seg = r.segments;
  return wandb::ApplyFileStream(this, ingest_, seg[1], seg[2], seg[3], r.body);
}

}  // namespace inloop::http
