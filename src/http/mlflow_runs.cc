// MLflow runs and metrics (mlflow_api.h): create, get, update, delete/restore, the writes
// (log-metric, log-parameter, set-tag, log-batch: all one Batch), delete-tag, search, and
// metrics/get-history. Writes run under IngestRuns' lanes (Locked); reads use the pool.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/mlflow_internal.h"
#include "supervise/run_context.h"

namespace inloop::http::mlflow {
namespace {

constexpr const char* kRunNameTag = "mlflow.runName";
constexpr const char* kUserTag = "mlflow.user";
constexpr size_t kMaxRunNameLength = 250;
constexpr int64_t kMaxHistoryResults = 25000000;

int64_t Ms(double seconds) { return std::llround(seconds * 1000.0); }

// The answer for a Status from inside a locked write: MLflow's error code for it.
HttpResponse Answer(const Status& s, std::string body) {
  if (!s.ok()) return ErrorOf(s);
  return JsonResponse(std::move(body));
}

store::RunExperiment LinkOf(store::Store* st, const std::string& run_id, Status* s) {
  store::RunExperiment link;
  *s = st->GetRunExperiment(run_id, &link);
  if (s->code() == Status::Code::kNotFound) {
    *s = Status::OK();
    link = store::RunExperiment{run_id, 0, store::kLifecycleActive};
  }
  return link;
}

RunView ViewOf(const store::RunRecord& run, const store::RunExperiment& link,
               const std::string& artifact_location, const std::vector<store::Param>& params,
               const std::vector<std::string>& tags, const std::vector<store::SeriesStats>& stats) {
  RunView v;
  v.run_id = run.id;
  v.run_name = run.name;
  v.experiment_id = link.experiment_id;
  v.lifecycle = link.lifecycle;
  v.status = run.status;
  v.start_time_ms = Ms(run.started_at);
  if (run.ended_at > 0) v.end_time_ms = Ms(run.ended_at);
  v.artifact_uri = fmt::format("{}/{}/artifacts", artifact_location, run.id);
  for (auto& p : params) v.params[p.key] = p.value;
  for (auto& t : tags) {
    auto [k, val] = SplitTag(t);
    v.tags[k] = val;
  }
  auto user = v.tags.find(kUserTag);
  if (user != v.tags.end()) v.user_id = user->second;
  for (auto& s : stats) {
    if (s.points == 0) continue;
    v.metrics.push_back(MetricPoint{s.key, s.last.value, Ms(s.last.wall_time), s.last.step});
  }
  return v;
}

// The inloop tags of `key` among `tags` ("key=..."), to replace or delete.
std::vector<std::string> TagsOfKey(const std::vector<std::string>& tags, std::string_view key) {
  std::vector<std::string> out;
  for (auto& t : tags) {
    if (SplitTag(t).first == key) out.push_back(t);
  }
  return out;
}

Status RequireActive(store::Store* st, const std::string& run_id) {
  Status s;
  store::RunExperiment link = LinkOf(st, run_id, &s);
  INLOOP_RETURN_IF_ERROR(s);
  if (link.lifecycle != store::kLifecycleActive) {
    return Status::Invalid(fmt::format(
        "The run {} must be in the 'active' state. Current state is {} (restore it first).", run_id,
        link.lifecycle));
  }
  return Status::OK();
}

// Ends a running run as `status` at `ended_at`: its writer sealed, its attempt closed, an event.
Status EndRun(IngestRuns::Session& ss, store::RunRecord* run, const std::string& status,
              double ended_at) {
  store::Store* st = ss.store();
  INLOOP_RETURN_IF_ERROR(ss.CloseWriter(run->id));
  run->status = status;
  run->ended_at = ended_at;
  std::vector<store::AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(st->ListAttempts(run->id, &attempts));
  if (!attempts.empty()) {
    store::AttemptRecord a = attempts.back();
    a.ended_at = ended_at;
    INLOOP_RETURN_IF_ERROR(st->PutAttempt(a));
  }
  store::EventRecord ev;
  ev.run_id = run->id;
  ev.time = ended_at;
  ev.kind = "run_end";
  ev.severity = status == store::kFinished ? "info" : "error";
  ev.message = fmt::format("run {} (reported by an MLflow client)", status);
  ev.data_json = R"({"source":"mlflow"})";
  return st->AddEvent(&ev);
}

// Replaces the tags of the batch's keys; renames the run for mlflow.runName.
Status WriteTags(store::Store* st, store::RunRecord* run,
                 const std::vector<std::pair<std::string, std::string>>& tags) {
  if (tags.empty()) return Status::OK();
  std::vector<std::string> existing, removed, added;
  INLOOP_RETURN_IF_ERROR(st->GetTags(run->id, &existing));
  bool renamed = false;
  for (auto& [k, v] : tags) {
    for (auto& old : TagsOfKey(existing, k)) removed.push_back(old);
    added.push_back(TagOf(k, v));
    if (k == kRunNameTag && !v.empty() && v.size() <= kMaxRunNameLength && v != run->name) {
      run->name = v;
      renamed = true;
    }
  }
  INLOOP_RETURN_IF_ERROR(st->RemoveTags(run->id, removed));
  INLOOP_RETURN_IF_ERROR(st->AddTags(run->id, added));
  if (renamed) INLOOP_RETURN_IF_ERROR(st->UpdateRun(*run));
  return Status::OK();
}

// Params are immutable in MLflow: a key logged again with another value is refused, before any
// part of the request is written. *fresh gets the params not yet logged.
Status CheckParams(store::Store* st, const Batch& b, std::vector<store::Param>* fresh) {
  std::vector<store::Param> existing;
  INLOOP_RETURN_IF_ERROR(st->GetParams(b.run_id, &existing));
  std::unordered_map<std::string, std::string> known;
  for (auto& p : existing) known[p.key] = p.value;
  for (auto& [k, v] : b.params) {
    auto it = known.find(k);
    if (it != known.end()) {
      if (it->second == v) continue;
      return Status::Invalid(fmt::format(
          "Changing param values is not allowed. Param with key='{}' was already logged with "
          "value='{}' for run ID='{}'. Attempted logging new value '{}'.",
          k, it->second.substr(0, 200), b.run_id, v.substr(0, 200)));
    }
    known.emplace(k, v);
    fresh->push_back(store::Param{k, v, "mlflow"});
  }
  return Status::OK();
}

// The runs of `exp_ids` (every experiment when empty) in `view_type` that pass the filter, as
// MLflow shows them; runs without an experiment link are experiment 0's.
Status MatchingRuns(store::Store* st, const std::set<int64_t>& exp_ids,
                    const std::string& view_type, const std::vector<Clause>& clauses,
                    std::vector<RunView>* views) {
  std::vector<store::RunRecord> runs;
  std::vector<store::RunExperiment> links;
  std::vector<store::ExperimentRecord> experiments;
  INLOOP_RETURN_IF_ERROR(st->ListRuns(&runs));
  INLOOP_RETURN_IF_ERROR(st->ListRunExperiments(&links));
  INLOOP_RETURN_IF_ERROR(st->ListExperiments(&experiments));
  std::unordered_map<std::string, store::RunExperiment> link_of;
  for (auto& l : links) link_of[l.run_id] = l;
  std::map<int64_t, std::string> location_of;
  location_of[0] = "mlflow-artifacts:/0";
  for (auto& e : experiments) location_of[e.id] = ArtifactLocation(e);
  std::vector<store::RunRecord> candidates;
  std::vector<std::string> ids;
  for (auto& r : runs) {
    auto it = link_of.find(r.id);
    store::RunExperiment link =
        it != link_of.end() ? it->second : store::RunExperiment{r.id, 0, store::kLifecycleActive};
    if (!exp_ids.empty() && !exp_ids.count(link.experiment_id)) continue;
    if (!InView(view_type, link.lifecycle)) continue;
    link_of[r.id] = link;
    candidates.push_back(r);
    ids.push_back(r.id);
  }
  std::unordered_map<std::string, store::RunLabels> labels;
  if (!ids.empty()) INLOOP_RETURN_IF_ERROR(st->RunLabelsOf(ids, &labels));
  for (const auto& r : candidates) {
    std::vector<store::SeriesStats> stats;
    INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(r.id, &stats));
    const store::RunLabels& l = labels[r.id];
    const store::RunExperiment& link = link_of[r.id];
    RunView v = ViewOf(r, link, location_of[link.experiment_id], l.params, l.tags, stats);
    if (Matches(clauses, v)) views->push_back(std::move(v));
  }
  return Status::OK();
}

}  // namespace

Status FindRunExactly(store::Store* st, const std::string& run_id, store::RunRecord* out) {
  Status s = st->FindRun(run_id, out);
  if (s.code() == Status::Code::kNotFound || (s.ok() && out->id != run_id)) {
    return Status::NotFound(fmt::format("Run with id={} not found", run_id.substr(0, 100)));
  }
  return s;
}

Status LoadRunView(store::Store* st, const std::string& run_id, RunView* out) {
  store::RunRecord run;
  INLOOP_RETURN_IF_ERROR(FindRunExactly(st, run_id, &run));
  Status s;
  store::RunExperiment link = LinkOf(st, run.id, &s);
  INLOOP_RETURN_IF_ERROR(s);
  store::ExperimentRecord e;
  INLOOP_RETURN_IF_ERROR(LoadExperiment(st, link.experiment_id, &e));
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::vector<store::SeriesStats> stats;
  INLOOP_RETURN_IF_ERROR(st->GetParams(run.id, &params));
  INLOOP_RETURN_IF_ERROR(st->GetTags(run.id, &tags));
  INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run.id, &stats));
  *out = ViewOf(run, link, ArtifactLocation(e), params, tags, stats);
  return Status::OK();
}

HttpResponse CreateRun(Context& c, const Fields& f) {
  int64_t exp_id = 0;
  if (auto bad = ExperimentIdOf(f.String("experiment_id").value_or("0"), &exp_id)) return *bad;
  std::optional<int64_t> start_time;
  if (auto bad = f.Int("start_time", &start_time)) return *bad;
  std::string user = f.String("user_id").value_or("");
  std::string name = f.String("run_name").value_or("");
  std::vector<std::pair<std::string, std::string>> tags;
  if (auto bad = ParseTagList(f.body(), &tags)) return *bad;
  for (auto& [k, v] : tags) {
    if (k == kRunNameTag && name.empty()) name = v;
  }
  if (name.size() > kMaxRunNameLength) {
    return BadParam(fmt::format("run_name: at most {} characters", kMaxRunNameLength));
  }
  if (name.empty()) name = "mlflow-run";
  bool has_name_tag = false, has_user_tag = false;
  for (auto& [k, v] : tags) {
    has_name_tag = has_name_tag || k == kRunNameTag;
    has_user_tag = has_user_tag || k == kUserTag;
  }
  if (!has_name_tag) tags.emplace_back(kRunNameTag, name);
  if (!has_user_tag && !user.empty()) tags.emplace_back(kUserTag, user);
  RunView view;
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    INLOOP_RETURN_IF_ERROR(EnsureDefaultExperiment(st));
    store::ExperimentRecord e;
    INLOOP_RETURN_IF_ERROR(LoadExperiment(st, exp_id, &e));
    if (e.lifecycle != store::kLifecycleActive) {
      return Status::Invalid(
          fmt::format("The experiment {} must be in the 'active' state. Current state is {}.", e.id,
                      e.lifecycle));
    }
    store::RunRecord run;
    run.name = name;
    run.status = store::kRunning;
    run.started_at = start_time ? static_cast<double>(*start_time) / 1000.0 : NowMs() / 1000.0;
    run.attempts = 1;
    run.supervisor_pid = ::getpid();
    run.supervisor_host = supervise::HostName();
    INLOOP_RETURN_IF_ERROR(st->CreateRun(&run));
    store::AttemptRecord a;
    a.run_id = run.id;
    a.number = 1;
    a.reason = "start";
    a.started_at = run.started_at;
    INLOOP_RETURN_IF_ERROR(st->PutAttempt(a));
    store::EventRecord ev;
    ev.run_id = run.id;
    ev.time = run.started_at;
    ev.kind = "run_start";
    ev.severity = "info";
    ev.message = fmt::format("run created by an MLflow client in experiment {}", e.name);
    ev.data_json = R"({"source":"mlflow"})";
    INLOOP_RETURN_IF_ERROR(st->AddEvent(&ev));
    INLOOP_RETURN_IF_ERROR(
        st->SetRunExperiment(store::RunExperiment{run.id, e.id, store::kLifecycleActive}));
    std::vector<std::string> inloop_tags;
    for (auto& [k, v] : tags) inloop_tags.push_back(TagOf(k, v));
    INLOOP_RETURN_IF_ERROR(st->AddTags(run.id, inloop_tags));
    return LoadRunView(st, run.id, &view);
  });
  if (!s.ok()) return ErrorOf(s);
  return JsonResponse(fmt::format(R"({{"run":{}}})", RunJson(view)));
}

HttpResponse GetRun(Context& c, const Fields& f) {
  std::string run_id = f.String("run_id").value_or(f.String("run_uuid").value_or(""));
  if (run_id.empty()) return BadParam("run_id: missing, a non-empty string");
  StorePool::Lease st;
  Status s = c.pool->Acquire(&st);
  RunView view;
  if (s.ok()) s = LoadRunView(st.get(), run_id, &view);
  if (!s.ok()) return ErrorOf(s);
  return JsonResponse(fmt::format(R"({{"run":{}}})", RunJson(view)));
}

HttpResponse UpdateRun(Context& c, const Fields& f) {
  std::string run_id = f.String("run_id").value_or(f.String("run_uuid").value_or(""));
  if (run_id.empty()) return BadParam("run_id: missing, a non-empty string");
  std::optional<std::string> status_name = f.String("status");
  std::string status;
  if (status_name && !InloopStatus(*status_name, &status)) {
    return BadParam(fmt::format("status '{}': use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED",
                                status_name->substr(0, 40)));
  }
  std::optional<int64_t> end_time;
  if (auto bad = f.Int("end_time", &end_time)) return *bad;
  std::optional<std::string> name = f.String("run_name");
  if (name && name->size() > kMaxRunNameLength) {
    return BadParam(fmt::format("run_name: at most {} characters", kMaxRunNameLength));
  }
  RunView view;
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    store::RunRecord run;
    INLOOP_RETURN_IF_ERROR(FindRunExactly(st, run_id, &run));
    if (name && !name->empty()) {
      INLOOP_RETURN_IF_ERROR(WriteTags(st, &run, {{kRunNameTag, *name}}));
    }
    if (!status.empty() && status != store::kRunning && run.status == store::kRunning) {
      double ended = end_time ? static_cast<double>(*end_time) / 1000.0 : NowMs() / 1000.0;
      INLOOP_RETURN_IF_ERROR(EndRun(ss, &run, status, ended));
    } else if (!status.empty()) {
      run.status = status;
      if (status == store::kRunning)
        run.ended_at = 0;
      else if (end_time)
        run.ended_at = static_cast<double>(*end_time) / 1000.0;
    }
    INLOOP_RETURN_IF_ERROR(st->UpdateRun(run));
    return LoadRunView(st, run.id, &view);
  });
  if (!s.ok()) return ErrorOf(s);
  return JsonResponse(fmt::format(R"({{"run_info":{}}})", RunInfoJson(view)));
}

HttpResponse SetRunLifecycle(Context& c, const Fields& f, const char* lifecycle) {
  std::string run_id = f.String("run_id").value_or(f.String("run_uuid").value_or(""));
  if (run_id.empty()) return BadParam("run_id: missing, a non-empty string");
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    store::RunRecord run;
    INLOOP_RETURN_IF_ERROR(FindRunExactly(st, run_id, &run));
    Status ls;
    store::RunExperiment link = LinkOf(st, run.id, &ls);
    INLOOP_RETURN_IF_ERROR(ls);
    link.lifecycle = lifecycle;
    return st->SetRunExperiment(link);
  });
  return Answer(s, "{}");
}

HttpResponse LogBatch(Context& c, Batch batch) {
  std::vector<IngestPoint> points;
  points.reserve(batch.metrics.size());
  for (auto& m : batch.metrics) {
    points.push_back(
        IngestPoint{m.key, m.step, static_cast<double>(m.timestamp_ms) / 1000.0, m.value});
  }
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    store::RunRecord run;
    INLOOP_RETURN_IF_ERROR(FindRunExactly(st, batch.run_id, &run));
    INLOOP_RETURN_IF_ERROR(RequireActive(st, run.id));
    std::vector<store::Param> fresh;
    INLOOP_RETURN_IF_ERROR(CheckParams(st, batch, &fresh));
    if (!points.empty()) {
      INLOOP_RETURN_IF_ERROR(ss.Append(run.id, points));
      // A run that already ended keeps no open writer: its points are sealed now.
      if (run.status != store::kRunning) INLOOP_RETURN_IF_ERROR(ss.CloseWriter(run.id));
    }
    INLOOP_RETURN_IF_ERROR(st->SetParams(run.id, fresh));
    return WriteTags(st, &run, batch.tags);
  });
  return Answer(s, "{}");
}

HttpResponse DeleteTag(Context& c, const Fields& f) {
  std::string run_id = f.String("run_id").value_or(f.String("run_uuid").value_or(""));
  if (run_id.empty()) return BadParam("run_id: missing, a non-empty string");
  std::string key;
  if (auto bad = f.Required("key", &key)) return *bad;
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    store::RunRecord run;
    INLOOP_RETURN_IF_ERROR(FindRunExactly(st, run_id, &run));
    INLOOP_RETURN_IF_ERROR(RequireActive(st, run.id));
    std::vector<std::string> tags;
    INLOOP_RETURN_IF_ERROR(st->GetTags(run.id, &tags));
    std::vector<std::string> gone = TagsOfKey(tags, key);
    if (gone.empty()) {
      return Status::NotFound(
          fmt::format("No tag with name: {} in run with id {}", key.substr(0, 250), run.id));
    }
    return st->RemoveTags(run.id, gone);
  });
  return Answer(s, "{}");
}

HttpResponse MetricHistory(Context& c, const Fields& f) {
  std::string run_id = f.String("run_id").value_or(f.String("run_uuid").value_or(""));
  if (run_id.empty()) return BadParam("run_id: missing, a non-empty string");
  std::string key;
  if (auto bad = f.Required("metric_key", &key)) return *bad;
  std::optional<int64_t> max_results;
  if (auto bad = f.Int("max_results", &max_results)) return *bad;
  if (max_results && (*max_results < 1 || *max_results > kMaxHistoryResults)) {
    return BadParam(fmt::format("max_results: from 1 to {}", kMaxHistoryResults));
  }
  int64_t offset = 0;
  Status s = OffsetOfToken(f.String("page_token"), &offset);
  if (!s.ok()) return ErrorOf(s);
  StorePool::Lease st;
  s = c.pool->Acquire(&st);
  store::RunRecord run;
  if (s.ok()) s = FindRunExactly(st.get(), run_id, &run);
  std::vector<store::SegmentData> segments;
  if (s.ok()) s = st->ReadSegments(run.id, key, &segments);
  std::vector<Point> points;
  for (size_t i = 0; s.ok() && i < segments.size(); ++i) {
    for (auto& chunk : segments[i].chunks) {
      std::vector<Point> pts;
      s = st->ReadChunkPoints(run.id, chunk, &pts);
      if (!s.ok()) break;
      points.insert(points.end(), pts.begin(), pts.end());
    }
    points.insert(points.end(), segments[i].tail.begin(), segments[i].tail.end());
  }
  if (!s.ok()) return ErrorOf(s);
  size_t begin = std::min(points.size(), static_cast<size_t>(offset));
  size_t end = max_results ? std::min(points.size(), begin + static_cast<size_t>(*max_results))
                           : points.size();
  JsonWriter w;
  w.BeginObject().Key("metrics").BeginArray();
  for (size_t i = begin; i < end; ++i) {
    const Point& p = points[i];
    w.BeginObject().Key("key").String(key).Key("value").Number(p.value);
    w.Key("timestamp").Int(Ms(p.wall_time)).Key("step").Int(p.step).EndObject();
  }
  w.EndArray();
  if (end < points.size()) w.Key("next_page_token").String(fmt::format("{}", end));
  w.EndObject();
  return JsonResponse(w.Take());
}

HttpResponse SearchRuns(Context& c, const Fields& f) {
  std::vector<std::string> exp_texts, order_items;
  if (auto bad = f.Strings("experiment_ids", &exp_texts)) return *bad;
  if (auto bad = f.Strings("order_by", &order_items)) return *bad;
  std::set<int64_t> exp_ids;
  for (auto& t : exp_texts) {
    int64_t id = 0;
    if (auto bad = ExperimentIdOf(t, &id)) return *bad;
    exp_ids.insert(id);
  }
  std::vector<Clause> clauses;
  std::vector<OrderKey> order;
  Status s = ParseFilter(f.String("filter").value_or(""), &clauses);
  if (s.ok()) s = ParseOrderBy(order_items, &order);
  if (!s.ok()) return ErrorOf(s);
  std::string view_type;
  if (!ViewTypeOf(f.String("run_view_type"), &view_type)) {
    return BadParam("run_view_type: use ACTIVE_ONLY, DELETED_ONLY or ALL (or 1, 2, 3)");
  }
  std::optional<int64_t> max_results;
  if (auto bad = f.Int("max_results", &max_results)) return *bad;
  if (max_results && (*max_results < 1 || *max_results > kMaxSearchResults)) {
    return BadParam(fmt::format("max_results: from 1 to {}", kMaxSearchResults));
  }
  int64_t offset = 0;
  s = OffsetOfToken(f.String("page_token"), &offset);
  if (!s.ok()) return ErrorOf(s);

  StorePool::Lease st;
  s = c.pool->Acquire(&st);
  std::vector<RunView> views;
  if (s.ok()) s = MatchingRuns(st.get(), exp_ids, view_type, clauses, &views);
  if (!s.ok()) return ErrorOf(s);
  SortRuns(order, &views);
  size_t limit = static_cast<size_t>(max_results.value_or(kDefaultSearchResults));
  size_t begin = std::min(views.size(), static_cast<size_t>(offset));
  size_t end = std::min(views.size(), begin + limit);
  std::string body = R"({"runs":[)";
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) body += ',';
    body += RunJson(views[i]);
  }
  body += ']';
  if (end < views.size()) body += fmt::format(R"(,"next_page_token":"{}")", end);
  body += '}';
  return JsonResponse(std::move(body));
}

}  // namespace inloop::http::mlflow
