// W&B runs (wandb_api.h): upsertBucket (create, resume, config, name, tags, summary), the run as
// W&B's `bucket`, and the file stream (history, summary, console, the end of the run). Writes run
// under IngestRuns' lanes (all of them, in order: IngestRuns::Locked).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/ingest.h"
#include "http/mlflow_internal.h"
#include "http/wandb_internal.h"
#include "supervise/run_context.h"

namespace inloop::http::wandb {
namespace {

using graphql::Value;

double Now() { return static_cast<double>(mlflow::NowMs()) / 1000.0; }

// W&B's run state for an inloop status.
const char* StateOf(std::string_view status) {
  if (status == store::kRunning) return "running";
  if (status == store::kFinished) return "finished";
  if (status == store::kFailed) return "failed";
  if (status == store::kStopped) return "killed";
  return "crashed";
}

int64_t IntParam(const std::vector<store::Param>& params, std::string_view key) {
  for (const store::Param& p : params) {
    if (p.key != key) continue;
    char* end = nullptr;
    long long v = std::strtoll(p.value.c_str(), &end, 10);
    return end != p.value.c_str() && v > 0 ? static_cast<int64_t>(v) : 0;
  }
  return 0;
}

// The experiment named `project` (made when missing): W&B's project is MLflow's experiment.
Status ExperimentOf(store::Store* st, const std::string& project, store::ExperimentRecord* e) {
  INLOOP_RETURN_IF_ERROR(mlflow::EnsureDefaultExperiment(st));
  Status s = st->FindExperimentByName(project, e);
  if (s.code() != Status::Code::kNotFound) return s;
  *e = store::ExperimentRecord{};
  e->name = project;
  e->created_at = e->updated_at = Now();
  return st->CreateExperiment(e);
}

Status CreateRun(store::Store* st, const RunUpsert& up, store::RunRecord* run) {
  store::ExperimentRecord e;
  INLOOP_RETURN_IF_ERROR(ExperimentOf(st, up.project, &e));
  run->name = up.display_name && !up.display_name->empty() ? *up.display_name : up.run_name;
  run->status = store::kRunning;
  run->started_at = Now();
  run->attempts = 1;
  run->supervisor_pid = ::getpid();
  run->supervisor_host = supervise::HostName();
  INLOOP_RETURN_IF_ERROR(st->CreateRun(run));
  store::AttemptRecord a;
  a.run_id = run->id;
  a.number = 1;
  a.reason = "start";
  a.started_at = run->started_at;
  INLOOP_RETURN_IF_ERROR(st->PutAttempt(a));
  store::EventRecord ev;
  ev.run_id = run->id;
  ev.time = run->started_at;
  ev.kind = "run_start";
  ev.severity = "info";
  ev.message = fmt::format("run created by a W&B client as {}/{}/{}", up.entity, up.project,
                           up.run_name);
  ev.data_json = R"({"source":"wandb"})";
  INLOOP_RETURN_IF_ERROR(st->AddEvent(&ev));
  INLOOP_RETURN_IF_ERROR(
      st->SetRunExperiment(store::RunExperiment{run->id, e.id, store::kLifecycleActive}));
  return st->SetParams(run->id, {{"wandb/run_id", up.run_name, kParamSource},
                                 {"wandb/entity", up.entity, kParamSource},
                                 {"wandb/project", up.project, kParamSource}});
}

// Ends a running run as `status`: its writer sealed, its attempt closed, an event.
Status EndRun(IngestRuns::Session& ss, store::RunRecord* run, const char* status,
              std::optional<int64_t> exit_code) {
  store::Store* st = ss.store();
  INLOOP_RETURN_IF_ERROR(ss.CloseWriter(run->id));
  double ended = Now();
  run->status = status;
  run->ended_at = ended;
  if (exit_code && *exit_code >= INT32_MIN && *exit_code <= INT32_MAX) {
    run->exit_code = static_cast<int>(*exit_code);
  }
  INLOOP_RETURN_IF_ERROR(st->UpdateRun(*run));
  std::vector<store::AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(st->ListAttempts(run->id, &attempts));
  if (!attempts.empty()) {
    store::AttemptRecord a = attempts.back();
    a.ended_at = ended;
    a.exit_code = run->exit_code;
    INLOOP_RETURN_IF_ERROR(st->PutAttempt(a));
  }
  store::EventRecord ev;
  ev.run_id = run->id;
  ev.time = ended;
  ev.kind = "run_end";
  ev.severity = std::string_view(status) == store::kFinished ? "info" : "error";
  ev.message = exit_code ? fmt::format("run {} with exit code {} (reported by a W&B client)",
                                       status, *exit_code)
                         : fmt::format("run {} (reported by a W&B client)", status);
  ev.data_json = R"({"source":"wandb"})";
  return st->AddEvent(&ev);
}

// Appends console lines to the run's stdout log (attempt 1's, made on first use).
Status AppendOutput(store::Store* st, const std::string& run_id, const std::string& text,
                    int64_t lines) {
  std::vector<store::AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(st->ListAttempts(run_id, &attempts));
  if (attempts.empty()) return Status::NotFound(fmt::format("run {} has no attempt", run_id));
  store::AttemptRecord a = attempts.back();
  std::unique_ptr<store::LogWriter> log;
  std::string rel;
  INLOOP_RETURN_IF_ERROR(st->OpenAttemptLog(run_id, a.number, store::LogStream::kStdout, &log,
                                            &rel));
  INLOOP_RETURN_IF_ERROR(log->Append(text));
  INLOOP_RETURN_IF_ERROR(log->Close());
  a.stdout_path = rel;
  a.lines += lines;
  return st->PutAttempt(a);
}

}  // namespace

Status BucketValue(store::Store* st, const store::RunRecord& run, Value* out) {
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::vector<store::SeriesStats> stats;
  INLOOP_RETURN_IF_ERROR(st->GetParams(run.id, &params));
  INLOOP_RETURN_IF_ERROR(st->GetTags(run.id, &tags));
  INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run.id, &stats));
  std::string run_name = run.id, project = "uncategorized", entity = kDefaultEntity, notes;
  JsonWriter summary;
  summary.BeginObject();
  for (const store::Param& p : params) {
    if (p.key == "wandb/run_id") run_name = p.value;
    if (p.key == "wandb/project") project = p.value;
    if (p.key == "wandb/entity") entity = p.value;
    if (p.key == "wandb/notes") notes = p.value;
    if (p.key.rfind("summary/", 0) == 0) {
      summary.Key(p.key.substr(8));
      char* end = nullptr;
      double d = std::strtod(p.value.c_str(), &end);
      if (!p.value.empty() && end == p.value.c_str() + p.value.size() && std::isfinite(d))
        summary.Number(d);
      else
        summary.String(p.value);
    }
  }
  summary.EndObject();
  int64_t history_lines = IntParam(params, kHistoryLinesParam);
  bool any_step = false;
  int64_t last_step = 0;
  for (const store::SeriesStats& s : stats) {
    if (s.points == 0) continue;
    last_step = any_step ? std::max(last_step, s.last_step) : s.last_step;
    any_step = true;
  }
  *out = Value::Object();
  out->Set("id", Value::String(run.id));
  out->Set("name", Value::String(run_name));
  out->Set("displayName", Value::String(run.name));
  out->Set("description", notes.empty() ? Value::Null() : Value::String(notes));
  out->Set("notes", notes.empty() ? Value::Null() : Value::String(notes));
  out->Set("config", Value::String(ConfigJsonOf(params)));
  out->Set("summaryMetrics", Value::String(summary.Take()));
  out->Set("sweepName", Value::Null());
  out->Set("state", Value::String(StateOf(run.status)));
  out->Set("historyLineCount", Value::Number(static_cast<double>(history_lines)));
  out->Set("logLineCount",
           Value::Number(static_cast<double>(IntParam(params, kOutputLinesParam))));
  out->Set("eventsLineCount", Value::Number(0));
  // The last row's step, so that a resumed client goes on from it.
  out->Set("historyTail", Value::String(any_step ? fmt::format(R"(["{{\"_step\": {}}}"])",
                                                               last_step)
                                                 : "[]"));
  out->Set("eventsTail", Value::String("[]"));
  Value& tag_list = out->Set("tags", Value::List());
  for (const std::string& t : tags) tag_list.list.push_back(Value::String(t));
  Value& p = out->Set("project", Value::Object());
  p.Set("id", Value::String(project));
  p.Set("name", Value::String(project));
  Value& e = p.Set("entity", Value::Object());
  e.Set("id", Value::String(entity));
  e.Set("name", Value::String(entity));
  return Status::OK();
}

Status Upsert(WandbApi* api, IngestRuns* ingest, const RunUpsert& up, Value* out) {
  return ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    store::RunRecord run;
    Status found = api->FindRun(st, up.id, up.project, up.run_name, &run);
    bool inserted = found.code() == Status::Code::kNotFound;
    if (inserted) {
      if (up.run_name.empty()) return found;  // resuming an id inloop does not have
      INLOOP_RETURN_IF_ERROR(CreateRun(st, up, &run));
    } else {
      INLOOP_RETURN_IF_ERROR(found);
    }
    if (!inserted && up.display_name && !up.display_name->empty() &&
        *up.display_name != run.name) {
      run.name = *up.display_name;
      INLOOP_RETURN_IF_ERROR(st->UpdateRun(run));
    }
    std::vector<store::Param> params = up.meta;
    if (up.config) params.insert(params.end(), up.config->begin(), up.config->end());
    if (up.summary) params.insert(params.end(), up.summary->begin(), up.summary->end());
    INLOOP_RETURN_IF_ERROR(st->SetParams(run.id, params));
    if (up.tags) {
      std::vector<std::string> have;
      INLOOP_RETURN_IF_ERROR(st->GetTags(run.id, &have));
      std::set<std::string> known(have.begin(), have.end());
      std::vector<std::string> add;
      for (const std::string& t : *up.tags) {
        if (known.insert(t).second) add.push_back(t);
      }
      INLOOP_RETURN_IF_ERROR(st->AddTags(run.id, add));
    }
    Value bucket;
    INLOOP_RETURN_IF_ERROR(BucketValue(st, run, &bucket));
    *out = Value::Object();
    out->Set("bucket", std::move(bucket));
    out->Set("inserted", Value::Bool(inserted));
    out->Set("updateAvailable", Value::Bool(false));
    out->Set("serverMessages", Value::List());
    return Status::OK();
  });
}

namespace {

// The file stream's writes, under IngestRuns' lanes: points, console, counts, summary, the end.
Status WriteFileStream(IngestRuns::Session& ss, WandbApi* api, const std::string& entity,
                       const std::string& project, const std::string& run_name,
                       const std::string& body, store::RunRecord* run, FileStreamUpdate* u) {
  store::Store* st = ss.store();
  Status found = api->FindRun(st, "", project, run_name, run);
  if (found.code() == Status::Code::kNotFound) {
    return Status::NotFound(fmt::format(
        "W&B run {}/{}/{} is not known to inloop: the client creates it with upsertBucket "
        "(wandb.init) before its file stream",
        entity.substr(0, 80), project.substr(0, 80), run_name.substr(0, 80)));
  }
  INLOOP_RETURN_IF_ERROR(found);
  std::vector<store::Param> params;
  INLOOP_RETURN_IF_ERROR(st->GetParams(run->id, &params));
  FileStreamState have{IntParam(params, kHistoryLinesParam), IntParam(params, kOutputLinesParam)};
  INLOOP_RETURN_IF_ERROR(ParseFileStream(body, have, run->started_at, Now(), u));
  if (!u->points.empty()) {
    INLOOP_RETURN_IF_ERROR(ss.Append(run->id, u->keys, u->points));
    // A run that already ended keeps no open writer: its points are sealed now.
    if (run->status != store::kRunning) INLOOP_RETURN_IF_ERROR(ss.CloseWriter(run->id));
  }
  if (!u->output.empty()) {
    INLOOP_RETURN_IF_ERROR(
        AppendOutput(st, run->id, u->output, u->output_lines - have.output_lines));
  }
  // The counts are saved after the points are durable: a crash between the two can store a
  // resent chunk twice, never lose one.
  // The client sends the whole summary with every request: only the values that changed are
  // written (with 1,500 per-task keys, most are the same from one request to the next).
  std::vector<store::Param> changed;
  if (u->summary) {
    std::unordered_map<std::string_view, const store::Param*> stored;
    stored.reserve(params.size());
    for (const store::Param& p : params) stored.emplace(p.key, &p);
    for (store::Param& p : *u->summary) {
      auto it = stored.find(p.key);
      if (it == stored.end() || it->second->value != p.value || it->second->source != p.source)
        changed.push_back(std::move(p));
    }
  }
  if (u->history_lines != have.history_lines) {
    changed.push_back({kHistoryLinesParam, std::to_string(u->history_lines), kParamSource});
  }
  if (u->output_lines != have.output_lines) {
    changed.push_back({kOutputLinesParam, std::to_string(u->output_lines), kParamSource});
  }
  INLOOP_RETURN_IF_ERROR(st->SetParams(run->id, changed));
  if (u->preempting) {
    store::EventRecord ev;
    ev.run_id = run->id;
    ev.time = Now();
    ev.kind = "preempting";
    ev.severity = "warning";
    ev.message = "the W&B client reported that the run is being preempted";
    ev.data_json = R"({"source":"wandb"})";
    INLOOP_RETURN_IF_ERROR(st->AddEvent(&ev));
  }
  if (u->complete && run->status == store::kRunning) {
    INLOOP_RETURN_IF_ERROR(EndRun(ss, run, StatusOfExit(u->exit_code), u->exit_code));
  }
  return Status::OK();
}

}  // namespace

HttpResponse ApplyFileStream(WandbApi* api, IngestRuns* ingest, const std::string& entity,
                             const std::string& project, const std::string& run_name,
                             const std::string& body) {
  FileStreamUpdate u;
  store::RunRecord run;
  Status s = ingest->Locked([&](IngestRuns::Session& ss) {
    return WriteFileStream(ss, api, entity, project, run_name, body, &run, &u);
  });
  if (!s.ok()) return FileStreamError(s);
  // W&B's answer, and what inloop did with the request (so that nothing is dropped unsaid).
  JsonWriter w;
  w.BeginObject().Key("exitcode").Null().Key("limits").BeginObject().EndObject();
  w.Key("inloop").BeginObject();
  w.Key("run").String(run.id);
  w.Key("points").Int(static_cast<int64_t>(u.points.size()));
  w.Key("history_lines").Int(u.history_lines);
  w.Key("resent_lines_skipped").Int(u.resent_lines);
  w.Key("non_numeric_values_skipped").Int(u.non_numeric);
  w.Key("files_not_stored").BeginArray();
  for (const std::string& f : u.ignored_files) w.String(f);
  w.EndArray().EndObject().EndObject();
  return JsonResponse(w.Take());
}

}  // namespace inloop::http::wandb
