// MLflow tracking API (mlflow_api.h): the endpoint table and the experiments. Runs and metrics
// are in mlflow_runs.cc, the request and answer forms in mlflow_translate.h.
#include "http/mlflow_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/ingest.h"
#include "http/mlflow_internal.h"

namespace inloop::http {
namespace mlflow {
namespace {

int64_t MsOf(double seconds) { return std::llround(seconds * 1000.0); }

ExperimentView ViewOf(const store::ExperimentRecord& e) {
  ExperimentView v;
  v.id = e.id;
  v.name = e.name;
  v.artifact_location = ArtifactLocation(e);
  v.lifecycle = e.lifecycle;
  v.creation_time_ms = MsOf(e.created_at);
  v.last_update_time_ms = MsOf(e.updated_at);
  return v;
}

HttpResponse ExperimentAnswer(const store::ExperimentRecord& e) {
  return JsonResponse(fmt::format(R"({{"experiment":{}}})", ExperimentJson(ViewOf(e))));
}

std::optional<HttpResponse> ValidExperimentName(const std::string& name) {
  if (name.empty() || name.size() > kMaxExperimentNameLength) {
    return BadParam(
        fmt::format("name: an experiment name of 1 to {} characters", kMaxExperimentNameLength));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return BadParam("name: control characters are not allowed");
  }
  return std::nullopt;
}

HttpResponse CreateExperiment(Context& c, const Fields& f) {
  std::string name;
  if (auto bad = f.Required("name", &name)) return *bad;
  if (auto bad = ValidExperimentName(name)) return *bad;
  std::string location = f.String("artifact_location").value_or("");
  if (location.size() > 4096) return BadParam("artifact_location: at most 4096 characters");
  store::ExperimentRecord e;
  bool exists = false;
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    INLOOP_RETURN_IF_ERROR(EnsureDefaultExperiment(st));
    store::ExperimentRecord same;
    Status found = st->FindExperimentByName(name, &same);
    if (found.ok()) {
      exists = true;
      return Status::OK();
    }
    if (found.code() != Status::Code::kNotFound) return found;
    e.name = name;
    e.artifact_location = location;
    e.created_at = e.updated_at = NowMs() / 1000.0;
    return st->CreateExperiment(&e);
  });
  if (!s.ok()) return ErrorOf(s);
  if (exists) {
    return Error("RESOURCE_ALREADY_EXISTS",
                 fmt::format("Experiment(name={}) already exists.", name.substr(0, 500)));
  }
  return JsonResponse(fmt::format(R"({{"experiment_id":"{}"}})", e.id));
}

HttpResponse GetExperiment(Context& c, const Fields& f) {
  std::string text;
  if (auto bad = f.Required("experiment_id", &text)) return *bad;
  int64_t id = 0;
  if (auto bad = ExperimentIdOf(text, &id)) return *bad;
  StorePool::Lease st;
  Status s = c.pool->Acquire(&st);
  store::ExperimentRecord e;
  if (s.ok()) s = LoadExperiment(st.get(), id, &e);
  if (!s.ok()) return ErrorOf(s);
  return ExperimentAnswer(e);
}

HttpResponse GetExperimentByName(Context& c, const Fields& f) {
  std::string name;
  if (auto bad = f.Required("experiment_name", &name)) return *bad;
  StorePool::Lease st;
  Status s = c.pool->Acquire(&st);
  store::ExperimentRecord e;
  if (s.ok()) s = st->FindExperimentByName(name, &e);
  if (s.code() == Status::Code::kNotFound && name == "Default") s = LoadExperiment(st.get(), 0, &e);
  if (s.code() == Status::Code::kNotFound) {
    return Error("RESOURCE_DOES_NOT_EXIST",
                 fmt::format("Could not find experiment with name '{}'", name.substr(0, 500)));
  }
  if (!s.ok()) return ErrorOf(s);
  return ExperimentAnswer(e);
}

// experiments/search's order_by: one of name, experiment_id, creation_time, last_update_time
// (optionally "attributes."), then ASC or DESC. Absent: creation_time DESC.
std::optional<HttpResponse> ExperimentOrder(const Fields& f, std::string* order_key,
                                            bool* ascending) {
  std::vector<std::string> order_items;
  if (auto bad = f.Strings("order_by", &order_items)) return bad;
  if (order_items.size() > 1) return BadParam("order_by: one key at most");
  if (order_items.empty()) return std::nullopt;
  std::string item = order_items[0];
  size_t sp = item.find(' ');
  *order_key = item.substr(0, sp);
  if (order_key->rfind("attributes.", 0) == 0) *order_key = order_key->substr(11);
  std::string dir = sp == std::string::npos ? "ASC" : item.substr(sp + 1);
  for (char& ch : dir) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if ((*order_key != "name" && *order_key != "experiment_id" && *order_key != "creation_time" &&
       *order_key != "last_update_time") ||
      (dir != "ASC" && dir != "DESC")) {
    return BadParam(
        "order_by: name, experiment_id, creation_time or last_update_time, then ASC or DESC");
  }
  *ascending = dir == "ASC";
  return std::nullopt;
}

// experiments/search (and the older experiments/list): filter on the name only
// (name = != LIKE ILIKE 'TEXT', joined by AND), order by name, experiment_id, creation_time or
// last_update_time.
HttpResponse SearchExperiments(Context& c, const Fields& f) {
  std::vector<Clause> clauses;
  Status s = ParseFilter(f.String("filter").value_or(""), &clauses);
  if (!s.ok()) return ErrorOf(s);
  for (auto& cl : clauses) {
    if (cl.entity != Clause::Entity::kAttribute || cl.key != "run_name" || cl.op == "IN") {
      return BadParam(
          "filter: experiments are searched by name only (name = != LIKE ILIKE 'TEXT')");
    }
  }
  std::string order_key = "creation_time";
  bool ascending = false;
  if (auto bad = ExperimentOrder(f, &order_key, &ascending)) return *bad;
  std::string view_type;
  if (!ViewTypeOf(f.String("view_type"), &view_type)) {
    return BadParam("view_type: use ACTIVE_ONLY, DELETED_ONLY or ALL (or 1, 2, 3)");
  }
  std::optional<int64_t> max_results;
  if (auto bad = f.Int("max_results", &max_results)) return *bad;
  if (max_results && (*max_results < 1 || *max_results > kMaxSearchResults)) {
    return BadParam(fmt::format("max_results: from 1 to {}", kMaxSearchResults));
  }
  int64_t offset = 0;
  s = OffsetOfToken(f.String("page_token"), &offset);
  StorePool::Lease st;
  if (s.ok()) s = c.pool->Acquire(&st);
  std::vector<store::ExperimentRecord> all;
  if (s.ok()) s = st->ListExperiments(&all);
  if (!s.ok()) return ErrorOf(s);
  if (std::none_of(all.begin(), all.end(), [](auto& e) { return e.id == 0; })) {
    store::ExperimentRecord d;
    if (LoadExperiment(st.get(), 0, &d).ok()) all.insert(all.begin(), d);
  }
  std::vector<store::ExperimentRecord> hits;
  for (auto& e : all) {
    if (!InView(view_type, e.lifecycle)) continue;
    RunView probe;
    probe.run_name = e.name;
    if (Matches(clauses, probe)) hits.push_back(e);
  }
  std::stable_sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
    int cmp = 0;
    if (order_key == "name")
      cmp = a.name.compare(b.name);
    else if (order_key == "experiment_id")
      cmp = a.id < b.id ? -1 : (a.id > b.id ? 1 : 0);
    else if (order_key == "creation_time")
      cmp = a.created_at < b.created_at ? -1 : (a.created_at > b.created_at ? 1 : 0);
    else
      cmp = a.updated_at < b.updated_at ? -1 : (a.updated_at > b.updated_at ? 1 : 0);
    if (cmp == 0) return a.id > b.id;
    return ascending ? cmp < 0 : cmp > 0;
  });
  size_t limit = static_cast<size_t>(max_results.value_or(kDefaultSearchResults));
  size_t begin = std::min(hits.size(), static_cast<size_t>(offset));
  size_t end = std::min(hits.size(), begin + limit);
  std::string body = R"({"experiments":[)";
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) body += ',';
    body += ExperimentJson(ViewOf(hits[i]));
  }
  body += ']';
  if (end < hits.size()) body += fmt::format(R"(,"next_page_token":"{}")", end);
  body += '}';
  return JsonResponse(std::move(body));
}

// experiments/update (new_name), delete and restore (lifecycle).
HttpResponse ChangeExperiment(Context& c, const Fields& f, const char* what) {
  std::string text;
  if (auto bad = f.Required("experiment_id", &text)) return *bad;
  int64_t id = 0;
  if (auto bad = ExperimentIdOf(text, &id)) return *bad;
  std::string new_name;
  if (std::string_view(what) == "update") {
    if (auto bad = f.Required("new_name", &new_name)) return *bad;
    if (auto bad = ValidExperimentName(new_name)) return *bad;
  } else if (id == 0 && std::string_view(what) == "delete") {
    return BadParam(
        "Cannot delete the default experiment '0'. This is an internally reserved "
        "experiment.");
  }
  Status s = c.ingest->Locked([&](IngestRuns::Session& ss) {
    store::Store* st = ss.store();
    INLOOP_RETURN_IF_ERROR(EnsureDefaultExperiment(st));
    store::ExperimentRecord e;
    INLOOP_RETURN_IF_ERROR(LoadExperiment(st, id, &e));
    if (!new_name.empty()) {
      if (e.lifecycle != store::kLifecycleActive) {
        return Status::Invalid(
            fmt::format("Cannot rename a non-active experiment {} (restore it first).", e.id));
      }
      e.name = new_name;
    } else {
      e.lifecycle =
          std::string_view(what) == "delete" ? store::kLifecycleDeleted : store::kLifecycleActive;
    }
    e.updated_at = NowMs() / 1000.0;
    return st->UpdateExperiment(e);
  });
  if (!s.ok()) return ErrorOf(s);
  return JsonResponse("{}");
}

HttpResponse NotImplemented(std::string_view endpoint) {
  return Error("NOT_IMPLEMENTED",
               fmt::format("{}: inloop stores runs, metrics, params and tags; this call is not "
                           "supported and nothing was stored",
                           endpoint));
}

}  // namespace

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<HttpResponse> ExperimentIdOf(const std::string& text, int64_t* id) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *id);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || *id < 0) {
    return BadParam(fmt::format("experiment_id '{}': must be an experiment id such as \"0\"",
                                text.substr(0, 40)));
  }
  return std::nullopt;
}

Status LoadExperiment(store::Store* st, int64_t id, store::ExperimentRecord* out) {
  Status s = st->GetExperiment(id, out);
  if (s.code() == Status::Code::kNotFound) {
    if (id == 0) {
      *out = store::ExperimentRecord{0, "Default", store::kLifecycleActive, "", 0, 0};
      return Status::OK();
    }
    return Status::NotFound(fmt::format("No Experiment with id={} exists", id));
  }
  return s;
}

Status EnsureDefaultExperiment(store::Store* st) {
  store::ExperimentRecord e;
  Status s = st->GetExperiment(0, &e);
  if (s.code() != Status::Code::kNotFound) return s;
  e = store::ExperimentRecord{0,  "Default",        store::kLifecycleActive,
                              "", NowMs() / 1000.0, NowMs() / 1000.0};
  s = st->CreateExperiment(&e);
  // A user's own experiment already named "Default" keeps its name; id 0 is still MLflow's.
  if (s.code() == Status::Code::kInvalid) {
    e.id = 0;
    e.name = "Default (inloop)";
    s = st->CreateExperiment(&e);
  }
  return s;
}

std::string ArtifactLocation(const store::ExperimentRecord& e) {
  if (!e.artifact_location.empty()) return e.artifact_location;
  return fmt::format("mlflow-artifacts:/{}", e.id);
}

size_t EndpointStart(const std::vector<std::string>& seg) {
  if (seg.size() < 3 || (seg[0] != "api" && seg[0] != "ajax-api") || seg[1] != "2.0") return 0;
  if (seg[2] == "mlflow") return 3;
  if (seg.size() >= 4 && seg[2] == "preview" && seg[3] == "mlflow") return 4;  // MLflow 1.x
  return 0;
}

bool IsMlflowPath(const std::vector<std::string>& seg) { return EndpointStart(seg) > 0; }

bool IsReadOnlyPost(const std::vector<std::string>& seg) {
  size_t b = EndpointStart(seg);
  return b > 0 && seg.size() == b + 2 && seg[b + 1] == "search" &&
         (seg[b] == "runs" || seg[b] == "experiments");
}

}  // namespace mlflow

MlflowApi::MlflowApi(StorePool* pool, IngestRuns* ingest) : pool_(pool), ingest_(ingest) {}

namespace mlflow {
namespace {

// One endpoint: its path after the prefix, the methods it takes, and its handler (the request is
// passed for the write parsers, which read the body whole).
struct Route {
  const char* endpoint;
  bool get, post;
  HttpResponse (*handle)(Context&, const Fields&, const HttpRequest&);
};

// A write: its body parsed whole into a Batch first, then logged.
template <std::optional<HttpResponse> (*Parse)(const std::string&, Batch*)>
HttpResponse Write(Context& c, const Fields&, const HttpRequest& r) {
  Batch b;
  if (auto bad = Parse(r.body, &b)) return std::move(*bad);
  return LogBatch(c, std::move(b));
}
std::optional<HttpResponse> ParseBatchNow(const std::string& body, Batch* b) {
  return ParseLogBatch(body, NowMs(), b);
}
std::optional<HttpResponse> ParseMetricNow(const std::string& body, Batch* b) {
  return ParseLogMetric(body, NowMs(), b);
}
HttpResponse Unsupported(Context&, const Fields&, const HttpRequest& r) {
  return NotImplemented(r.path.substr(0, 200));
}

constexpr Route kRoutes[] = {
    {"experiments/create", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return CreateExperiment(c, f); }},
    {"experiments/get", true, false,
     [](Context& c, const Fields& f, const HttpRequest&) { return GetExperiment(c, f); }},
    {"experiments/get-by-name", true, false,
     [](Context& c, const Fields& f, const HttpRequest&) { return GetExperimentByName(c, f); }},
    {"experiments/search", true, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return SearchExperiments(c, f); }},
    {"experiments/list", true, false,
     [](Context& c, const Fields& f, const HttpRequest&) { return SearchExperiments(c, f); }},
    {"experiments/update", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) {
       return ChangeExperiment(c, f, "update");
     }},
    {"experiments/delete", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) {
       return ChangeExperiment(c, f, "delete");
     }},
    {"experiments/restore", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) {
       return ChangeExperiment(c, f, "restore");
     }},
    {"runs/create", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return CreateRun(c, f); }},
    {"runs/get", true, false,
     [](Context& c, const Fields& f, const HttpRequest&) { return GetRun(c, f); }},
    {"runs/update", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return UpdateRun(c, f); }},
    {"runs/delete", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) {
       return SetRunLifecycle(c, f, store::kLifecycleDeleted);
     }},
    {"runs/restore", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) {
       return SetRunLifecycle(c, f, store::kLifecycleActive);
     }},
    {"runs/search", true, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return SearchRuns(c, f); }},
    {"runs/log-metric", false, true, Write<ParseMetricNow>},
    {"runs/log-parameter", false, true, Write<ParseLogParam>},
    {"runs/set-tag", false, true, Write<ParseSetTag>},
    {"runs/log-batch", false, true, Write<ParseBatchNow>},
    {"runs/delete-tag", false, true,
     [](Context& c, const Fields& f, const HttpRequest&) { return DeleteTag(c, f); }},
    {"metrics/get-history", true, false,
     [](Context& c, const Fields& f, const HttpRequest&) { return MetricHistory(c, f); }},
    // Calls clients make that inloop does not store: answered clearly, nothing kept.
    {"experiments/set-experiment-tag", false, true, Unsupported},
    {"experiments/delete-experiment-tag", false, true, Unsupported},
    {"runs/log-inputs", false, true, Unsupported},
    {"runs/log-model", false, true, Unsupported},
    {"runs/log-outputs", false, true, Unsupported},
};

}  // namespace
}  // namespace mlflow

HttpResponse MlflowApi::Handle(const HttpRequest& r) {
  using namespace mlflow;
  std::string endpoint;
  size_t first = EndpointStart(r.segments);
  for (size_t i = first; i < r.segments.size(); ++i) {
    if (i > first) endpoint += '/';
    endpoint += r.segments[i];
  }
  const Route* route = nullptr;
  for (auto& rt : kRoutes) {
    if (endpoint == rt.endpoint) route = &rt;
  }
  HttpResponse resp;
  if (route == nullptr) {
    resp = Error("ENDPOINT_NOT_FOUND", fmt::format("{} {}: not an MLflow endpoint inloop serves",
                                                   r.method, r.path.substr(0, 200)));
    resp.route = "/api/2.0/mlflow/{unknown}";
    return resp;
  }
  std::string route_name = fmt::format("/api/2.0/mlflow/{}", route->endpoint);
  bool get = r.method == "GET", post = r.method == "POST";
  Fields f;
  if (!((get && route->get) || (post && route->post))) {
    resp = Error("BAD_REQUEST", fmt::format("{} {}: method not allowed (use {})", r.method,
                                            r.path.substr(0, 200), route->get ? "GET" : "POST"));
    resp.status = 405;
  } else if (auto bad = Fields::Of(r, &f)) {
    resp = std::move(*bad);
  } else {
    Context c{pool_, ingest_};
    resp = route->handle(c, f, r);
  }
  resp.route = std::move(route_name);
  return resp;
}

}  // namespace inloop::http
