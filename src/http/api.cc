// The JSON endpoints (api.h). The run listing's filters, sort and pages are the store's
// (Store::ListRunsPage); `last=` values come from Store::LastValues (the series index and the
// WAL tail of running runs), never from decoding chunks. Series go through query::QuerySeries (M4 over chunk
// summaries); aligned series of several runs are read in parallel, each thread with its own Store.
#include "http/api.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "http/goodput_metrics.h"
#include "http/ingest.h"
#include "http/json_views.h"
#include "http/log_api.h"
#include "http/mlflow_api.h"
#include "http/wandb_api.h"
#include "http/loop_view.h"
#include "http/model_view.h"
#include "http/nodes_view.h"
#include "http/repair_view.h"
#include "query/m4.h"
#include "query/series_query.h"
#include "remedy/timeline.h"
#include "report/timeline_filter.h"
#include "store/catalog.h"

namespace inloop::http {
namespace {

constexpr int64_t kMaxWidth = 10000;
constexpr int64_t kDefaultWidth = 1000;
constexpr int64_t kMaxRunsPerPage = 10000;
constexpr size_t kMaxAlignedRuns = 1000;

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One row of the runs table as the listing reads it.
struct RunRow {
  std::string id, name, status, command_json;
  double started_at = 0, ended_at = 0;
  int attempts = 0;
  std::optional<int> exit_code;
};

RunRow RowOf(const store::RunRecord& rec) {
  RunRow r;
  r.id = rec.id;
  r.name = rec.name;
  r.status = rec.status;
  JsonWriter w;
  w.BeginArray();
  for (auto& a : rec.command) w.String(a);
  w.EndArray();
  r.command_json = w.Take();
  r.started_at = rec.started_at;
  r.ended_at = rec.ended_at;
  r.attempts = rec.attempts;
  r.exit_code = rec.exit_code;
  return r;
}

void WriteRunJson(JsonWriter& w, const RunRow& r, const std::vector<std::string>& tags,
                  const std::vector<std::pair<std::string, std::string>>& params,
                  const std::vector<std::pair<std::string, const Point*>>& last, double now) {
  w.BeginObject().Key("id").String(r.id).Key("name").String(r.name);
  w.Key("status").String(r.status).Key("created_at").Number(r.started_at).Key("ended_at");
  if (r.ended_at > 0)
    w.Number(r.ended_at);
  else
    w.Null();
  double end = r.ended_at > 0 ? r.ended_at : now;
  w.Key("duration_s").Number(std::max(0.0, end - r.started_at));
  w.Key("attempts").Int(r.attempts).Key("exit_code");
  if (r.exit_code)
    w.Int(*r.exit_code);
  else
    w.Null();
  w.Key("command");
  WriteStoredJson(w, r.command_json, "[]");
  w.Key("tags").BeginArray();
  for (auto& t : tags) w.String(t);
  w.EndArray().Key("params").BeginObject();
  for (auto& [k, v] : params) w.Key(k).String(v);
  w.EndObject().Key("last").BeginObject();
  for (auto& [k, p] : last) {
    w.Key(k);
    if (p)
      w.Number(p->value);
    else
      w.Null();
  }
  w.EndObject().EndObject();
}

bool KnownStatus(std::string_view s) {
  return s == store::kRunning || s == store::kFinished || s == store::kFailed ||
         s == store::kStopped || s == store::kInterrupted;
}

bool KnownActionState(std::string_view s) {
  return s == store::kActionPending || s == store::kActionApproved || s == store::kActionDenied ||
         s == store::kActionApplied || s == store::kActionObserved || s == store::kActionExpired;
}

// Run names by id, looked up once each.
class RunNames {
 public:
  explicit RunNames(store::Store* st) : st_(st) {}
  const std::string& Of(const std::string& id) {
    auto it = names_.find(id);
    if (it != names_.end()) return it->second;
    store::RunRecord r;
    std::string name = st_->FindRun(id, &r).ok() && r.id == id ? r.name : "";
    return names_.emplace(id, name).first->second;
  }

 private:
  store::Store* st_;
  std::unordered_map<std::string, std::string> names_;
};

// One run's curve for the aligned view: [x, value] pairs.
struct AlignedCurve {
  std::string run_id, name;
  int64_t total_points = 0;
  bool downsampled = false;
  std::vector<std::pair<double, double>> points;
  std::vector<AbandonedPart> abandoned;  // with abandoned=1 (repair_view.h)
};

enum class XAxis { kStep, kTime, kRelative };

// M4 over an x that is not the step (wall or relative time): x in microseconds as the "step" of
// an in-memory chunk, so the one M4 implementation serves both axes.
Status M4OverX(std::vector<Point> pts, double xlo, double xhi, int width, std::vector<Point>* out) {
  std::stable_sort(pts.begin(), pts.end(),
                   [](const Point& a, const Point& b) { return a.step < b.step; });
  out->clear();
  if (pts.empty()) return Status::OK();
  int64_t lo = static_cast<int64_t>(std::floor(xlo * 1e6));
  int64_t hi = static_cast<int64_t>(std::ceil(xhi * 1e6));
  query::ChunkView v;
  v.summary = store::Summarize(pts);
  v.load = [&pts](std::vector<Point>* o) {
    o->insert(o->end(), pts.begin(), pts.end());
    return Status::OK();
  };
  return query::M4({v}, lo, hi, width, out);
}

Status ReadAligned(store::Store* st, const std::string& run_id, const std::string& key, XAxis x,
                   std::optional<double> from, std::optional<double> to, int width,
                   AlignedCurve* out) {
  out->points.clear();
  query::SeriesResult res;
  if (x == XAxis::kStep) {
    query::SeriesQuery q;
    if (from) q.lo = static_cast<int64_t>(std::ceil(*from));
    if (to) q.hi = static_cast<int64_t>(std::floor(*to));
    q.max_points = 4 * width;
    Status s = query::QuerySeries(st, run_id, key, q, &res);
    if (s.code() == Status::Code::kNotFound) return Status::OK();  // empty points
    INLOOP_RETURN_IF_ERROR(s);
    out->total_points = res.total_points;
    out->downsampled = res.downsampled;
    for (auto& p : res.points) out->points.emplace_back(static_cast<double>(p.step), p.value);
    return Status::OK();
  }
  // Time axes: an oversampled M4 by step over the whole series finds the first point (the zero of
  // relative time) and the steps that bound the requested time range; that step range is read
  // again at full resolution and M4-downsampled by time. Extremes survive both passes.
  constexpr int kOversample = 8;
  query::SeriesQuery whole;
  whole.max_points = 4 * width * kOversample;
  Status s = query::QuerySeries(st, run_id, key, whole, &res);
  if (s.code() == Status::Code::kNotFound) return Status::OK();
  INLOOP_RETURN_IF_ERROR(s);
  if (res.points.empty()) return Status::OK();
  double zero = x == XAxis::kRelative ? res.points.front().wall_time : 0;
  double xlo = from ? *from : -std::numeric_limits<double>::infinity();
  double xhi = to ? *to : std::numeric_limits<double>::infinity();
  if (from || to) {
    int64_t lo_step = res.points.front().step, hi_step = res.points.back().step;
    for (auto& p : res.points) {
      if (p.wall_time - zero < xlo) lo_step = p.step;
    }
    for (size_t i = res.points.size(); i-- > 0;) {
      if (res.points[i].wall_time - zero > xhi) hi_step = res.points[i].step;
    }
    query::SeriesQuery q;
    q.lo = lo_step;
    q.hi = hi_step;
    q.max_points = 4 * width * kOversample;
    INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run_id, key, q, &res));
  }
  std::vector<Point> shifted;
  shifted.reserve(res.points.size());
  int64_t in_range = 0;
  for (auto& p : res.points) {
    double xv = p.wall_time - zero;
    if (xv < xlo || xv > xhi) continue;
    ++in_range;
    shifted.push_back(Point{static_cast<int64_t>(std::llround(xv * 1e6)), p.wall_time, p.value});
  }
  if (shifted.empty()) return Status::OK();
  double lo = std::isfinite(xlo) ? xlo : shifted.front().step / 1e6;
  double hi = std::isfinite(xhi) ? xhi : shifted.back().step / 1e6;
  for (auto& p : shifted) {
    lo = std::min(lo, p.step / 1e6);
    hi = std::max(hi, p.step / 1e6);
  }
  std::vector<Point> picked;
  INLOOP_RETURN_IF_ERROR(M4OverX(std::move(shifted), lo, hi, width, &picked));
  out->total_points = res.downsampled ? res.total_points : in_range;
  out->downsampled = res.downsampled || static_cast<int64_t>(picked.size()) < in_range;
  for (auto& p : picked) out->points.emplace_back(p.wall_time - zero, p.value);
  return Status::OK();
}

// A large series is downsampled in parallel: its step range is cut at pixel-column boundaries of
// the requested grid into one part per thread, each part M4-downsampled by QuerySeries over its
// own columns (first/min/max/last kept in every column, spikes and non-finite points included).
// A part's column edges can fall one step off the whole grid's when the span does not divide
// evenly; below kParallelChunks chunks the query is one exact call.
constexpr int64_t kParallelChunks = 128;

Status QueryLargeSeries(StorePool* pool, store::Store* st, const std::string& run_id,
                        const std::string& key, const query::SeriesQuery& q, int width,
                        query::SeriesResult* out) {
  unsigned threads = std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<store::SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(st->ReadSegments(run_id, key, &segs));
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  int64_t chunks = 0;
  for (auto& seg : segs) {
    for (auto& c : seg.chunks) {
      if (c.last_step >= q.lo && c.first_step <= q.hi) ++chunks;
      lo = std::min(lo, c.first_step);
      hi = std::max(hi, c.last_step);
    }
    for (auto& p : seg.tail) {
      lo = std::min(lo, p.step);
      hi = std::max(hi, p.step);
    }
  }
  lo = std::max(lo, q.lo);
  hi = std::min(hi, q.hi);
  if (segs.empty() || chunks < kParallelChunks || threads < 2 || hi < lo || q.max_points <= 0 ||
      width < static_cast<int>(threads)) {
    return query::QuerySeries(st, run_id, key, q, out);
  }
  using i128 = __int128;
  const i128 span = static_cast<i128>(hi) - lo + 1;
  // The first step of column c: steps s with floor((s - lo) * width / span) == c.
  auto column_start = [&](int64_t c) {
    return lo + static_cast<int64_t>((static_cast<i128>(c) * span + width - 1) / width);
  };
  std::vector<query::SeriesQuery> parts;
  for (unsigned k = 0; k < threads; ++k) {
    int64_t c0 = static_cast<int64_t>(k) * width / threads;
    int64_t c1 = static_cast<int64_t>(k + 1) * width / threads;
    if (c1 <= c0) continue;
    query::SeriesQuery part = q;
    part.lo = column_start(c0);
    part.hi = k + 1 == threads ? hi : column_start(c1) - 1;
    part.max_points = static_cast<int>(4 * (c1 - c0));
    if (part.hi >= part.lo) parts.push_back(part);
  }
  std::vector<query::SeriesResult> results(parts.size());
  std::vector<Status> errors(parts.size());
  std::vector<std::thread> workers;
  for (size_t i = 1; i < parts.size(); ++i) {
    workers.emplace_back([&, i] {
      StorePool::Lease own;
      errors[i] = pool->Acquire(&own);
      if (errors[i].ok())
        errors[i] = query::QuerySeries(own.get(), run_id, key, parts[i], &results[i]);
    });
  }
  errors[0] = query::QuerySeries(st, run_id, key, parts[0], &results[0]);
  for (auto& t : workers) t.join();
  *out = query::SeriesResult{};
  for (size_t i = 0; i < parts.size(); ++i) {
    INLOOP_RETURN_IF_ERROR(errors[i]);
    auto& r = results[i];
    out->points.insert(out->points.end(), r.points.begin(), r.points.end());
    out->total_points += r.total_points;
    out->downsampled = out->downsampled || r.downsampled;
    out->m4.chunks_summarized += r.m4.chunks_summarized;
    out->m4.chunks_decoded += r.m4.chunks_decoded;
  }
  return Status::OK();
}

Status ParseWidth(const HttpRequest& r, int* width) {
  std::optional<int64_t> w;
  INLOOP_RETURN_IF_ERROR(IntParam(r, "width", 1, kMaxWidth, &w));
  *width = static_cast<int>(w.value_or(kDefaultWidth));
  return Status::OK();
}

Status ParseBody(const std::string& body, simdjson::dom::parser& parser,
                 simdjson::dom::element* doc) {
  if (body.empty()) return Status::Invalid("body: empty (send a JSON object)");
  if (parser.parse(body).get(*doc) || !doc->is_object()) {
    return Status::Invalid("body: not a JSON object");
  }
  return Status::OK();
}

}  // namespace

Api::Api(StorePool* pool, ServerMetrics* metrics)
    : pool_(pool),
      metrics_(metrics),
      ingest_(std::make_unique<IngestRuns>(pool->dir(), metrics)),
      mlflow_(std::make_unique<MlflowApi>(pool, ingest_.get())),
      wandb_(std::make_unique<WandbApi>(pool, ingest_.get())) {}

Api::~Api() = default;

void Api::CloseWriters() { ingest_->CloseAll(); }

HttpResponse Api::Handle(const HttpRequest& r) {
  HttpResponse resp = Route(r);
  if (resp.route.empty()) resp.route = "other";
  return resp;
}

HttpResponse Api::Route(const HttpRequest& r) {
  const auto& seg = r.segments;
  auto with_route = [](HttpResponse resp, const char* route) {
    resp.route = route;
    return resp;
  };
  auto method_not_allowed = [&](const char* allowed, const char* route) {
    return with_route(JsonError(405, fmt::format("{} {}: method not allowed (use {})", r.method,
                                                 r.path.substr(0, 200), allowed)),
                      route);
  };
  bool get = r.method == "GET";
  bool post = r.method == "POST";
  if (seg.size() == 1 && seg[0] == "metrics") {
    if (!get) return method_not_allowed("GET", "/metrics");
    HttpResponse resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = metrics_->Text();
    // The newest runs' goodput (report/goodput.h), when the store can be read.
    StorePool::Lease st;
    if (pool_->Acquire(&st).ok()) {
      resp.body += GoodputMetricsText(NewestRunsGoodput(st.get(), 20));
      resp.body += LoopMetricsText(st.get());  // the research loops' pace (loop/throughput.h)
    }
    return with_route(std::move(resp), "/metrics");
  }
  if (mlflow::IsMlflowPath(seg)) return mlflow_->Handle(r);
  if (wandb::IsWandbPath(seg)) return wandb_->Handle(r);
  if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v1") {
    if (!get) return method_not_allowed("GET", "static");
    return ServeAsset(r.path);
  }
  size_t n = seg.size();
  if (n == 3 && seg[2] == "health") {
    if (!get) return method_not_allowed("GET", "/api/v1/health");
    JsonWriter w;
    w.BeginObject().Key("ok").Bool(true).Key("version").String(INLOOP_VERSION).EndObject();
    return with_route(JsonResponse(w.Take()), "/api/v1/health");
  }
  if (n == 3 && seg[2] == "runs") {
    if (get) return with_route(ListRuns(r), "/api/v1/runs");
    if (post) return with_route(ingest_->Create(r.body), "/api/v1/runs");
    return method_not_allowed("GET or POST", "/api/v1/runs");
  }
  if (n == 4 && seg[2] == "sync" && seg[3] == "runs") {
    if (!post) return method_not_allowed("POST", "/api/v1/sync/runs");
    return with_route(ingest_->Sync(r.body), "/api/v1/sync/runs");
  }
  if (n == 4 && seg[2] == "runs") {
    if (!get) return method_not_allowed("GET", "/api/v1/runs/{id}");
    return with_route(GetRun(seg[3]), "/api/v1/runs/{id}");
  }
  if (n == 5 && seg[2] == "runs") {
    const std::string& what = seg[4];
    if (what == "events") {
      if (!get) return method_not_allowed("GET", "/api/v1/runs/{id}/events");
      return with_route(RunEvents(seg[3]), "/api/v1/runs/{id}/events");
    }
    if (what == "logs") {
      if (!get) return method_not_allowed("GET", "/api/v1/runs/{id}/logs");
      StorePool::Lease st;
      Status s = pool_->Acquire(&st);
      if (!s.ok()) return with_route(ErrorFor(s), "/api/v1/runs/{id}/logs");
      return with_route(RunLogs(st.get(), seg[3], r), "/api/v1/runs/{id}/logs");
    }
    if (what == "series") {
      if (!get) return method_not_allowed("GET", "/api/v1/runs/{id}/series");
      return with_route(RunSeries(seg[3], r), "/api/v1/runs/{id}/series");
    }
    if (what == "repair") {
      if (!get) return method_not_allowed("GET", "/api/v1/runs/{id}/repair");
      StorePool::Lease st;
      Status s = pool_->Acquire(&st);
      if (!s.ok()) return with_route(ErrorFor(s), "/api/v1/runs/{id}/repair");
      return with_route(RunRepair(st.get(), seg[3]), "/api/v1/runs/{id}/repair");
    }
    if (what == "points") {
      if (!post) return method_not_allowed("POST", "/api/v1/runs/{id}/points");
      return with_route(ingest_->Points(seg[3], r.body), "/api/v1/runs/{id}/points");
    }
    if (what == "finish") {
      if (!post) return method_not_allowed("POST", "/api/v1/runs/{id}/finish");
      return with_route(ingest_->Finish(seg[3], r.body), "/api/v1/runs/{id}/finish");
    }
  }
  if (n == 3 && seg[2] == "loops") {
    if (!get) return method_not_allowed("GET", "/api/v1/loops");
    StorePool::Lease st;
    Status s = pool_->Acquire(&st);
    if (!s.ok()) return with_route(ErrorFor(s), "/api/v1/loops");
    return with_route(ListLoops(st.get()), "/api/v1/loops");
  }
  if (n == 3 && seg[2] == "nodes") {
    if (!get) return method_not_allowed("GET", "/api/v1/nodes");
    StorePool::Lease st;
    Status s = pool_->Acquire(&st);
    if (!s.ok()) return with_route(ErrorFor(s), "/api/v1/nodes");
    return with_route(ListNodes(st.get()), "/api/v1/nodes");
  }
  if (n == 4 && seg[2] == "loops") {
    if (!get) return method_not_allowed("GET", "/api/v1/loops/{name}");
    StorePool::Lease st;
    Status s = pool_->Acquire(&st);
    if (!s.ok()) return with_route(ErrorFor(s), "/api/v1/loops/{name}");
    return with_route(LoopRounds(st.get(), seg[3]), "/api/v1/loops/{name}");
  }
  if ((n == 3 || n == 4) && seg[2] == "models") {
    const char* route = n == 3 ? "/api/v1/models" : "/api/v1/models/{name}";
    if (!get) return method_not_allowed("GET", route);
    StorePool::Lease st;
    Status s = pool_->Acquire(&st);
    if (!s.ok()) return with_route(ErrorFor(s), route);
    return with_route(n == 3 ? ListModels(st.get()) : GetModel(st.get(), seg[3]), route);
  }
  if (n == 3 && seg[2] == "series") {
    if (!get) return method_not_allowed("GET", "/api/v1/series");
    return with_route(AlignedSeries(r), "/api/v1/series");
  }
  if (n == 3 && seg[2] == "params") {
    if (!get) return method_not_allowed("GET", "/api/v1/params");
    return with_route(ParamKeys(), "/api/v1/params");
  }
  if (n == 3 && seg[2] == "keys") {
    if (!get) return method_not_allowed("GET", "/api/v1/keys");
    return with_route(SeriesKeys(r), "/api/v1/keys");
  }
  if (n == 3 && seg[2] == "actions") {
    if (!get) return method_not_allowed("GET", "/api/v1/actions");
    return with_route(ListActions(r), "/api/v1/actions");
  }
  if (n == 5 && seg[2] == "actions" && (seg[4] == "approve" || seg[4] == "deny")) {
    if (!post) return method_not_allowed("POST", "/api/v1/actions/{id}/decide");
    return with_route(Decide(seg[3], seg[4] == "approve", r), "/api/v1/actions/{id}/decide");
  }
  return with_route(
      JsonError(404, fmt::format("no endpoint {} (see docs/http_api.md)", r.path.substr(0, 200))),
      "unknown");
}

Status Api::LookupToken(const std::string& sha256_hex, store::TokenRecord* out) {
  StorePool::Lease st;
  INLOOP_RETURN_IF_ERROR(pool_->Acquire(&st));
  return st->FindToken(sha256_hex, out);
}

Status Api::ResolveRuns(const std::vector<std::string>& refs, std::vector<std::string>* ids) {
  StorePool::Lease st;
  INLOOP_RETURN_IF_ERROR(pool_->Acquire(&st));
  ids->clear();
  for (auto& ref : refs) {
    store::RunRecord rec;
    INLOOP_RETURN_IF_ERROR(st->FindRun(ref, &rec));
    ids->push_back(rec.id);
  }
  return Status::OK();
}

HttpResponse Api::ListRuns(const HttpRequest& r) {
  // Parameters first: every mistake is a 400 naming the parameter.
  std::optional<int64_t> limit, offset;
  Status ps = IntParam(r, "limit", 1, kMaxRunsPerPage, &limit);
  if (ps.ok()) ps = IntParam(r, "offset", 0, std::numeric_limits<int32_t>::max(), &offset);
  if (!ps.ok()) return ErrorFor(ps);
  std::string sort = r.Param("sort") ? *r.Param("sort") : "created_at";
  std::string order = r.Param("order") ? *r.Param("order") : "desc";
  if (order != "asc" && order != "desc") {
    return JsonError(400, fmt::format("order: '{}' is not asc or desc", order.substr(0, 40)));
  }
  bool sort_last = sort.starts_with("last.") && sort.size() > 5;
  bool sort_param = sort.starts_with("param.") && sort.size() > 6;
  if (!sort_last && !sort_param && sort != "created_at" && sort != "name" && sort != "status" &&
      sort != "duration_s") {
    return JsonError(400, fmt::format("sort: '{}' is not one of created_at, name, status, "
                                      "duration_s, last.KEY, param.KEY",
                                      sort.substr(0, 60)));
  }
  std::vector<std::string> statuses = ListParam(r, "status");
  for (auto& s : statuses) {
    if (!KnownStatus(s)) {
      return JsonError(400, fmt::format("status: '{}' is not one of running, finished, failed, "
                                        "stopped, interrupted",
                                        s.substr(0, 40)));
    }
  }
  std::vector<std::string> last_keys = ListParam(r, "last");
  if (sort_last &&
      std::find(last_keys.begin(), last_keys.end(), sort.substr(5)) == last_keys.end()) {
    last_keys.push_back(sort.substr(5));
  }

  store::RunListQuery q;
  if (const std::string* name = r.Param("name"); name && !name->empty()) q.filter.name_glob = *name;
  q.filter.statuses = statuses;
  for (const std::string& tag : r.Params("tag")) {
    if (!tag.empty()) q.filter.tags.push_back(tag);
  }
  for (auto& [k, v] : r.query) {
    if (k.starts_with("param.") && k.size() > 6) q.filter.params.emplace_back(k.substr(6), v);
  }
  double now = Now();
  q.now = now;
  q.ascending = order == "asc";
  if (sort == "created_at") {
    q.sort = store::RunSort::kCreatedAt;
  } else if (sort == "name") {
    q.sort = store::RunSort::kName;
  } else if (sort == "status") {
    q.sort = store::RunSort::kStatus;
  } else if (sort == "duration_s") {
    q.sort = store::RunSort::kDuration;
  } else if (sort_param) {
    q.sort = store::RunSort::kParam;
    q.sort_key = sort.substr(6);
  } else {
    q.sort = store::RunSort::kLastValue;
    q.sort_key = sort.substr(5);
  }
  int64_t lim = limit.value_or(100), off = offset.value_or(0);
  q.limit = lim;
  q.offset = off;

  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  store::RunListPage page;
  if (s.ok()) s = st->ListRunsPage(q, &page);
  if (!s.ok()) return ErrorFor(s);
  int64_t total = page.total;
  std::vector<RunRow> rows;
  std::vector<std::string> ids;
  for (auto& rec : page.runs) {
    rows.push_back(RowOf(rec));
    ids.push_back(rec.id);
  }
  std::vector<std::unordered_map<std::string, Point>> last(last_keys.size());
  for (size_t k = 0; k < last_keys.size(); ++k) {
    s = st->LastValues(ids, last_keys[k], &last[k]);
    if (!s.ok()) return ErrorFor(s);
  }
  std::unordered_map<std::string, store::RunLabels> labels;
  s = st->RunLabelsOf(ids, &labels);
  if (!s.ok()) return ErrorFor(s);

  JsonWriter w;
  w.BeginObject().Key("total").Int(total).Key("offset").Int(off).Key("limit").Int(lim);
  w.Key("runs").BeginArray();
  static const store::RunLabels kNoLabels;
  for (auto& row : rows) {
    std::vector<std::pair<std::string, const Point*>> lv;
    for (size_t k = 0; k < last_keys.size(); ++k) {
      auto it = last[k].find(row.id);
      lv.emplace_back(last_keys[k], it == last[k].end() ? nullptr : &it->second);
    }
    auto l = labels.find(row.id);
    const store::RunLabels& lab = l == labels.end() ? kNoLabels : l->second;
    std::vector<std::pair<std::string, std::string>> pv;
    for (auto& p : lab.params) pv.emplace_back(p.key, p.value);
    WriteRunJson(w, row, lab.tags, pv, lv, now);
  }
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::GetRun(const std::string& ref) {
  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  store::RunRecord rec;
  std::vector<store::AttemptRecord> attempts;
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::vector<store::SeriesStats> series;
  std::vector<store::EventRecord> events;
  std::vector<store::ActionRecord> actions;
  if (s.ok()) s = st->FindRun(ref, &rec);
  if (s.ok()) s = st->ListAttempts(rec.id, &attempts);
  if (s.ok()) s = st->GetParams(rec.id, &params);
  if (s.ok()) s = st->GetTags(rec.id, &tags);
  if (s.ok()) s = st->SeriesStatsFor(rec.id, &series);
  if (s.ok()) s = st->ListEvents(rec.id, &events);
  if (s.ok()) s = st->ListActions(rec.id, "", &actions);
  if (!s.ok()) return ErrorFor(s);
  double now = Now();
  RunRow row = RowOf(rec);
  std::vector<std::pair<std::string, std::string>> pv;
  for (auto& p : params) pv.emplace_back(p.key, p.value);
  std::vector<std::pair<std::string, const Point*>> last;
  for (auto& se : series) last.emplace_back(se.key, &se.last);
  JsonWriter w;
  w.BeginObject().Key("run");
  WriteRunJson(w, row, tags, pv, last, now);
  w.Key("cwd").String(rec.cwd).Key("host").String(rec.host).Key("git_commit");
  if (rec.git_commit.empty())
    w.Null();
  else
    w.String(rec.git_commit);
  w.Key("params").BeginObject();
  for (auto& p : params) w.Key(p.key).String(p.value);
  w.EndObject().Key("tags").BeginArray();
  for (auto& t : tags) w.String(t);
  w.EndArray().Key("attempts").BeginArray();
  for (auto& a : attempts) {
    w.BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
    w.Key("started_at").Number(a.started_at).Key("ended_at");
    if (a.ended_at > 0)
      w.Number(a.ended_at);
    else
      w.Null();
    w.Key("pid").Int(a.pid).Key("exit_code");
    if (a.exit_code)
      w.Int(*a.exit_code);
    else
      w.Null();
    w.Key("signal").Int(a.signal).Key("crash_class").String(a.crash_class);
    w.Key("lines").Int(a.lines).Key("stderr_tail").String(a.stderr_tail).EndObject();
  }
  w.EndArray().Key("series").BeginArray();
  for (auto& se : series) {
    w.BeginObject().Key("key").String(se.key).Key("points").Int(se.points);
    w.Key("first_step").Int(se.first_step).Key("last_step").Int(se.last_step);
    w.Key("last_value").Number(se.last.value).Key("last_wall_time").Number(se.last.wall_time);
    if (se.has_finite) {
      w.Key("min").Number(se.min).Key("max").Number(se.max);
    } else {
      w.Key("min").Null().Key("max").Null();
    }
    w.Key("nonfinite").Int(se.nonfinite).Key("segments").Int(se.segments).EndObject();
  }
  // The run panel's timeline: the data index (data_batches, one per logged step) is counted,
  // not listed; GET .../events has every event.
  report::FilteredTimeline timeline = report::FilterTimeline(std::move(events), {});
  w.EndArray().Key("events").BeginArray();
  for (auto& e : timeline.shown) WriteEventJson(w, e);
  w.EndArray().Key("hidden_events").BeginObject();
  for (auto& [kind, n] : timeline.hidden) w.Key(kind).Int(n);
  w.EndObject().Key("actions").BeginArray();
  for (auto& a : actions) WriteActionJson(w, a, rec.name);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::RunEvents(const std::string& ref) {
  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  store::RunRecord rec;
  std::vector<store::EventRecord> events;
  if (s.ok()) s = st->FindRun(ref, &rec);
  if (s.ok()) s = st->ListEvents(rec.id, &events);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("run").String(rec.id).Key("events").BeginArray();
  for (auto& e : events) WriteEventJson(w, e);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::RunSeries(const std::string& ref, const HttpRequest& r) {
  const std::string* key = r.Param("key");
  if (!key || key->empty())
    return JsonError(400, "key: required (the series key, e.g. train/loss)");
  std::optional<int64_t> from, to;
  int width = 0;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Status s = IntParam(r, "from", kMin, kMax, &from);
  if (s.ok()) s = IntParam(r, "to", kMin, kMax, &to);
  if (s.ok()) s = ParseWidth(r, &width);
  if (!s.ok()) return ErrorFor(s);
  if (from && to && *from > *to) {
    return JsonError(400, fmt::format("from: {} is after to {} (give from <= to)", *from, *to));
  }
  StorePool::Lease st;
  s = pool_->Acquire(&st);
  store::RunRecord rec;
  if (s.ok()) s = st->FindRun(ref, &rec);
  query::SeriesQuery q;
  if (from) q.lo = *from;
  if (to) q.hi = *to;
  q.max_points = 4 * width;
  query::SeriesResult res;
  if (s.ok()) s = QueryLargeSeries(pool_, st.get(), rec.id, *key, q, width, &res);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("run").String(rec.id).Key("key").String(*key);
  w.Key("total_points").Int(res.total_points).Key("downsampled").Bool(res.downsampled);
  w.Key("points").BeginArray();
  for (auto& p : res.points) {
    w.BeginArray().Int(p.step).Number(p.wall_time).Number(p.value).EndArray();
  }
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::AlignedSeries(const HttpRequest& r) {
  std::vector<std::string> refs = ListParam(r, "runs");
  if (refs.empty()) return JsonError(400, "runs: required (comma-separated run ids or names)");
  if (refs.size() > kMaxAlignedRuns) {
    return JsonError(400, fmt::format("runs: {} runs is more than the {} one request may overlay",
                                      refs.size(), kMaxAlignedRuns));
  }
  const std::string* key = r.Param("key");
  if (!key || key->empty())
    return JsonError(400, "key: required (the series key, e.g. train/loss)");
  std::string xname = r.Param("x") ? *r.Param("x") : "step";
  XAxis x;
  if (xname == "step") {
    x = XAxis::kStep;
  } else if (xname == "time") {
    x = XAxis::kTime;
  } else if (xname == "relative") {
    x = XAxis::kRelative;
  } else {
    return JsonError(
        400, fmt::format("x: '{}' is not one of step, time, relative", xname.substr(0, 40)));
  }
  std::optional<double> from, to;
  int width = 0;
  Status s = DoubleParam(r, "from", &from);
  if (s.ok()) s = DoubleParam(r, "to", &to);
  if (s.ok()) s = ParseWidth(r, &width);
  if (!s.ok()) return ErrorFor(s);
  if (from && to && *from > *to) {
    return JsonError(400, fmt::format("from: {} is after to {} (give from <= to)", *from, *to));
  }
  const std::string* abandoned_param = r.Param("abandoned");
  const bool abandoned = abandoned_param && (*abandoned_param == "1" || *abandoned_param == "true");
  std::vector<AlignedCurve> curves(refs.size());
  {
    StorePool::Lease st;
    s = pool_->Acquire(&st);
    for (size_t i = 0; s.ok() && i < refs.size(); ++i) {
      store::RunRecord rec;
      s = st->FindRun(refs[i], &rec);
      curves[i].run_id = rec.id;
      curves[i].name = rec.name;
    }
    if (!s.ok()) return ErrorFor(s);
  }
  // Runs are independent: a few threads, each with its own Store, take them in turn.
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  Status first_error;
  auto work = [&] {
    StorePool::Lease st;
    Status ls = pool_->Acquire(&st);
    for (size_t i = next++; i < curves.size(); i = next++) {
      if (ls.ok())
        ls = ReadAligned(st.get(), curves[i].run_id, *key, x, from, to, width, &curves[i]);
      if (ls.ok() && abandoned)
        ls = ReadAbandonedPoints(st.get(), curves[i].run_id, *key, xname, from, to, width,
                                 &curves[i].abandoned);
      if (!ls.ok()) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (first_error.ok()) first_error = ls;
      }
    }
  };
  size_t threads = std::min<size_t>(
      {4, std::max(1u, std::thread::hardware_concurrency()), (curves.size() + 3) / 4});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (!first_error.ok()) return ErrorFor(first_error);
  JsonWriter w;
  w.BeginObject().Key("key").String(*key).Key("x").String(xname).Key("series").BeginArray();
  for (auto& c : curves) {
    w.BeginObject().Key("run").String(c.run_id).Key("name").String(c.name);
    w.Key("total_points").Int(c.total_points).Key("downsampled").Bool(c.downsampled);
    w.Key("points").BeginArray();
    for (auto& [xv, v] : c.points) w.BeginArray().Number(xv).Number(v).EndArray();
    w.EndArray();
    if (abandoned) {
      w.Key("abandoned").BeginArray();
      for (auto& part : c.abandoned) {
        w.BeginObject().Key("segment").Int(part.segment).Key("points").BeginArray();
        for (auto& [xv, v] : part.points) w.BeginArray().Number(xv).Number(v).EndArray();
        w.EndArray().EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::ParamKeys() {
  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  std::vector<std::string> keys;
  if (s.ok()) s = st->ParamKeys(&keys);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("keys").BeginArray();
  for (auto& k : keys) w.String(k);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::SeriesKeys(const HttpRequest& r) {
  std::vector<std::string> ids;
  Status s = ResolveRuns(ListParam(r, "runs"), &ids);
  if (!s.ok()) return ErrorFor(s);
  StorePool::Lease st;
  s = pool_->Acquire(&st);
  std::vector<std::string> keys;
  if (s.ok()) s = st->SeriesKeys(ids, &keys);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("keys").BeginArray();
  for (auto& k : keys) w.String(k);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::ListActions(const HttpRequest& r) {
  std::string state = r.Param("state") ? *r.Param("state") : "";
  if (!state.empty() && !KnownActionState(state)) {
    return JsonError(400, fmt::format("state: '{}' is not one of pending, approved, denied, "
                                      "applied, observed, expired",
                                      state.substr(0, 40)));
  }
  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  store::RunRecord rec;
  if (s.ok() && r.Param("run") && !r.Param("run")->empty()) s = st->FindRun(*r.Param("run"), &rec);
  std::vector<store::ActionRecord> actions;
  if (s.ok()) s = st->ListActions(rec.id, state, &actions);
  if (!s.ok()) return ErrorFor(s);
  RunNames names(st.get());
  JsonWriter w;
  w.BeginObject().Key("actions").BeginArray();
  for (auto& a : actions) WriteActionJson(w, a, names.Of(a.run_id));
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse Api::Decide(const std::string& id_text, bool approve, const HttpRequest& r) {
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (id_text.empty() || ec != std::errc() || ptr != id_text.data() + id_text.size() || id <= 0) {
    return JsonError(
        400, fmt::format("action id: '{}' is not a positive integer", id_text.substr(0, 40)));
  }
  std::string note;
  if (!r.body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    Status bs = ParseBody(r.body, parser, &doc);
    if (!bs.ok()) return ErrorFor(bs);
    simdjson::dom::element n;
    if (!doc["note"].get(n)) {
      std::string_view sv;
      if (n.get_string().get(sv)) return JsonError(400, "note: must be a string");
      note = std::string(sv);
    }
  }
  StorePool::Lease st;
  Status s = pool_->Acquire(&st);
  if (!s.ok()) return ErrorFor(s);
  const char* state = approve ? store::kActionApproved : store::kActionDenied;
  store::ActionRecord a;
  // Who decided: "http:NAME" of the token (auth.h), the audit trail's answer to "who approved".
  std::string by = r.audit_name.empty() ? "http" : r.audit_name;
  s = st->DecideAction(id, state, by, note, &a);
  if (s.code() == Status::Code::kInvalid) return JsonError(409, s.message());
  if (!s.ok()) {
    if (s.code() == Status::Code::kNotFound) return JsonError(404, s.message());
    return ErrorFor(s);
  }
  // The decision is committed; its timeline event is the record of it (as `inloop approve`).
  store::EventRecord e;
  e.run_id = a.run_id;
  e.kind = approve ? remedy::event_kind::kActionApproved : remedy::event_kind::kActionDenied;
  e.severity = approve ? "info" : "warning";
  e.step_lo = a.step;
  e.message = fmt::format("{} (action {}) {} over HTTP by {}{}", a.action, a.id, state, by,
                          note.empty() ? "" : ": " + note);
  e.data_json = remedy::ToJson(remedy::DecisionData{a.id, a.action, a.decided_by, note});
  (void)st->AddEvent(&e);  // a missing record of a committed decision is not a failed decision
  RunNames names(st.get());
  JsonWriter w;
  WriteActionJson(w, a, names.Of(a.run_id));
  return JsonResponse(w.Take());
}

}  // namespace inloop::http
