// The tool registry, schema validation and the handlers of inloop's own tools.
#include "assist/tools.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "common/display_text.h"
#include "common/json_writer.h"
#include "compare/run_compare.h"
#include "insights/insights.h"
#include "query/series_query.h"
#include "store/catalog_json.h"
#include "remedy/policy.h"
#include "remedy/timeline.h"
#include "report/render_markdown.h"
#include "report/run_report.h"
#include "report/timeline_filter.h"

namespace inloop::assist {
namespace {

const char* TypeOf(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: return "an integer";
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

bool NumberOf(simdjson::dom::element v, double* d) {
  int64_t i;
  uint64_t u;
  if (v.get_int64().get(i) == simdjson::SUCCESS) {
    *d = static_cast<double>(i);
    return true;
  }
  if (v.get_uint64().get(u) == simdjson::SUCCESS) {
    *d = static_cast<double>(u);
    return true;
  }
  return v.get_double().get(*d) == simdjson::SUCCESS;
}

std::string Where(const std::string& path) { return path.empty() ? "arguments" : path; }

void WriteSchema(JsonWriter& w, const Schema& s, bool nullable) {
  w.BeginObject().Key("type");
  if (nullable) {
    w.BeginArray().String(s.type).String("null").EndArray();
  } else {
    w.String(s.type);
  }
  if (!s.description.empty()) w.Key("description").String(s.description);
  if (!s.enum_values.empty()) {
    w.Key("enum").BeginArray();
    for (auto& e : s.enum_values) w.String(e);
    if (nullable) w.Null();
    w.EndArray();
  }
  if (s.minimum) w.Key("minimum").Number(*s.minimum);
  if (s.maximum) w.Key("maximum").Number(*s.maximum);
  if (s.max_length) w.Key("maxLength").Int(*s.max_length);
  if (s.max_items) w.Key("maxItems").Int(*s.max_items);
  if (s.type == "object") {
    w.Key("properties").BeginObject();
    for (auto& p : s.properties) {
      w.Key(p.name);
      WriteSchema(w, p.schema, !p.required);
    }
    w.EndObject();
    w.Key("required").BeginArray();
    for (auto& p : s.properties) w.String(p.name);
    w.EndArray();
    w.Key("additionalProperties").Bool(false);
  }
  if (s.type == "array" && !s.items.empty()) {
    w.Key("items");
    WriteSchema(w, s.items.front(), false);
  }
  w.EndObject();
}

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// The last `lines` lines of text, at most `bytes` bytes.
std::string Tail(const std::string& text, int lines, size_t bytes) {
  size_t pos = text.size();
  int n = 0;
  while (pos > 0 && n <= lines) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    if (nl + 1 < text.size()) ++n;
    if (n > lines) break;
    pos = nl;
  }
  std::string out = text.substr(pos);
  if (!out.empty() && out.front() == '\n') out.erase(0, 1);
  if (out.size() > bytes) out = out.substr(out.size() - bytes);
  return out;
}

Status FindRunArg(ToolContext& ctx, const ToolArgs& args, const char* name, store::RunRecord* r) {
  std::string ref = args.Str(name).value_or(ctx.focus_run_id);
  if (ref.empty()) return Status::Invalid(fmt::format("give '{}' (a run id, id prefix or name)", name));
  return ctx.store->FindRun(ref, r);
}

// ---- handlers ----

const std::vector<std::string> kStatuses = {store::kRunning, store::kFinished, store::kFailed,
                                            store::kStopped, store::kInterrupted};

Status ListRuns(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  std::vector<store::RunRecord> runs;
  INLOOP_RETURN_IF_ERROR(ctx.store->ListRuns(&runs));
  auto pattern = args.Str("name_pattern");
  auto status = args.Str("status");
  int64_t limit = args.Int("limit").value_or(20);
  JsonWriter w;
  w.BeginObject().Key("runs").BeginArray();
  int64_t matching = 0;
  for (auto& r : runs) {
    if (pattern && fnmatch(pattern->c_str(), r.name.c_str(), 0) != 0) continue;
    if (status && r.status != *status) continue;
    if (++matching > limit) continue;
    w.BeginObject().Key("id").String(r.id).Key("name").String(r.name);
    w.Key("status").String(r.status).Key("attempts").Int(r.attempts);
    w.Key("exit_code");
    r.exit_code ? w.Int(*r.exit_code) : w.Null();
    w.Key("started_at").String(UtcTimeText(r.started_at));
    w.Key("duration_s").Number(std::round(((r.ended_at > 0 ? r.ended_at : NowSeconds()) -
                                           r.started_at) * 10) / 10);
    w.Key("command").BeginArray();
    for (auto& a : r.command) w.String(a);
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.Key("matching").Int(matching).Key("shown").Int(std::min(matching, limit));
  w.Key("total_runs").Int(static_cast<int64_t>(runs.size())).Key("order").String("newest first");
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

Status ShowRun(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(FindRunArg(ctx, args, "run", &r));
  std::vector<store::AttemptRecord> attempts;
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::vector<store::SeriesStats> series;
  std::vector<store::ActionRecord> pending;
  INLOOP_RETURN_IF_ERROR(ctx.store->ListAttempts(r.id, &attempts));
  INLOOP_RETURN_IF_ERROR(ctx.store->GetParams(r.id, &params));
  INLOOP_RETURN_IF_ERROR(ctx.store->GetTags(r.id, &tags));
  INLOOP_RETURN_IF_ERROR(ctx.store->SeriesStatsFor(r.id, &series));
  INLOOP_RETURN_IF_ERROR(ctx.store->ListActions(r.id, store::kActionPending, &pending));
  JsonWriter w;
  w.BeginObject().Key("id").String(r.id).Key("name").String(r.name).Key("status").String(r.status);
  w.Key("exit_code");
  r.exit_code ? w.Int(*r.exit_code) : w.Null();
  w.Key("signal").Int(r.signal);
  w.Key("command").BeginArray();
  for (auto& a : r.command) w.String(a);
  w.EndArray();
  w.Key("cwd").String(r.cwd).Key("host").String(r.host);
  w.Key("git_commit").String(r.git_commit);
  w.Key("started_at").String(UtcTimeText(r.started_at)).Key("ended_at").String(UtcTimeText(r.ended_at));
  w.Key("params").BeginObject();
  for (auto& p : params) w.Key(p.key).String(p.value);
  w.EndObject();
  w.Key("tags").BeginArray();
  for (auto& t : tags) w.String(t);
  w.EndArray();
  w.Key("attempts").BeginArray();
  for (auto& a : attempts) {
    w.BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
    w.Key("exit_code");
    a.exit_code ? w.Int(*a.exit_code) : w.Null();
    w.Key("signal").Int(a.signal).Key("crash_class").String(a.crash_class);
    w.Key("started_at").String(UtcTimeText(a.started_at)).Key("ended_at").String(UtcTimeText(a.ended_at));
    w.Key("stderr_tail").String(Tail(a.stderr_tail, 20, 2000));
    w.EndObject();
  }
  w.EndArray();
  w.Key("series").BeginArray();
  for (auto& s : series) store::WriteSeriesStatsJson(s, &w);
  w.EndArray();
  w.Key("pending_actions").Int(static_cast<int64_t>(pending.size()));
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

Status QuerySeriesTool(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(FindRunArg(ctx, args, "run", &r));
  query::SeriesQuery q;
  if (auto v = args.Int("from_step")) q.lo = *v;
  if (auto v = args.Int("to_step")) q.hi = *v;
  if (q.hi < q.lo) return Status::Invalid("to_step is before from_step");
  q.max_points = static_cast<int>(args.Int("max_points").value_or(200));
  query::SeriesResult res;
  std::string key = *args.Str("key");
  INLOOP_RETURN_IF_ERROR(query::QuerySeries(ctx.store, r.id, key, q, &res));
  JsonWriter w;
  w.BeginObject().Key("run").String(r.id).Key("key").String(key);
  w.Key("total_points").Int(res.total_points).Key("downsampled").Bool(res.downsampled);
  if (res.downsampled) {
    w.Key("method").String(fmt::format("M4 over {} columns: first, min, max, last of each",
                                       std::max(1, q.max_points / 4)));
  }
  w.Key("points_format").String("[step, value]").Key("points").BeginArray();
  for (auto& p : res.points) w.BeginArray().Int(p.step).Number(p.value).EndArray();
  w.EndArray();
  w.Key("segments").BeginArray();
  for (auto& s : res.segments) {
    w.BeginObject().Key("segment").Int(s.segment).Key("points").Int(s.points);
    w.Key("first_step").Int(s.first_step).Key("last_step").Int(s.last_step).EndObject();
  }
  w.EndArray().EndObject();
  *out = w.Take();
  return Status::OK();
}

Status EventsTool(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(FindRunArg(ctx, args, "run", &r));
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(ctx.store->ListEvents(r.id, &events));
  // The human timeline's filter: the data index's per-step bookkeeping would otherwise be the
  // newest 50 events of any run that reports its batches; it is counted, and asked for by kind.
  report::TimelineFilter filter;
  if (auto kind = args.Str("kind")) filter.kinds.push_back(*kind);
  report::FilteredTimeline timeline = report::FilterTimeline(std::move(events), filter);
  events = std::move(timeline.shown);
  int64_t limit = args.Int("limit").value_or(50);
  size_t first = events.size() > static_cast<size_t>(limit) ? events.size() - limit : 0;
  JsonWriter w;
  w.BeginObject().Key("run").String(r.id).Key("matching").Int(static_cast<int64_t>(events.size()));
  w.Key("shown").Int(static_cast<int64_t>(events.size() - first));
  w.Key("order").String("oldest first; the newest when more match than the limit");
  if (!timeline.hidden.empty()) {
    w.Key("hidden").BeginObject();
    for (const auto& [k, n] : timeline.hidden) w.Key(k).Int(n);
    w.EndObject();
  }
  w.Key("events").BeginArray();
  for (size_t i = first; i < events.size(); ++i) {
    auto& e = events[i];
    w.BeginObject().Key("id").Int(e.id).Key("time").String(UtcTimeText(e.time));
    w.Key("kind").String(e.kind).Key("severity").String(e.severity);
    w.Key("step_lo");
    e.step_lo ? w.Int(*e.step_lo) : w.Null();
    w.Key("step_hi");
    e.step_hi ? w.Int(*e.step_hi) : w.Null();
    w.Key("message").String(e.message);
    // Evidence is kept when small; transcripts and large payloads are left out.
    if (e.kind != "assistant_transcript" && e.data_json.size() <= 1024) {
      w.Key("data").Raw(e.data_json.empty() ? "{}" : e.data_json);
    } else {
      w.Key("data_bytes_omitted").Int(static_cast<int64_t>(e.data_json.size()));
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  *out = w.Take();
  return Status::OK();
}

Status CompareTool(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord ra, rb;
  INLOOP_RETURN_IF_ERROR(ctx.store->FindRun(*args.Str("run_a"), &ra));
  INLOOP_RETURN_IF_ERROR(ctx.store->FindRun(*args.Str("run_b"), &rb));
  if (ra.id == rb.id) return Status::Invalid("run_a and run_b are the same run");
  compare::CompareOptions opts;
  if (auto a = args.Str("align")) compare::ParseAlign(*a, &opts.align);
  opts.grid = 50;
  std::string key = args.Str("key").value_or("");
  if (key.empty()) INLOOP_RETURN_IF_ERROR(compare::ChooseKey(ctx.store, {ra.id, rb.id}, &key));
  std::vector<compare::Curve> a(1), b(1);
  INLOOP_RETURN_IF_ERROR(compare::LoadCurve(ctx.store, ra.id, key, opts, &a[0]));
  INLOOP_RETURN_IF_ERROR(compare::LoadCurve(ctx.store, rb.id, key, opts, &b[0]));
  compare::CompareResult res;
  INLOOP_RETURN_IF_ERROR(compare::Compare(a, b, key, opts, &res));
  JsonWriter w;
  w.BeginObject().Key("key").String(res.key).Key("align").String(compare::AlignName(res.align));
  w.Key("goal").String(res.goal == compare::Goal::kMin ? "min" : "max");
  w.Key("a").BeginObject().Key("id").String(ra.id).Key("name").String(ra.name);
  w.Key("final").Number(res.a.mean).EndObject();
  w.Key("b").BeginObject().Key("id").String(rb.id).Key("name").String(rb.name);
  w.Key("final").Number(res.b.mean).EndObject();
  w.Key("common_range").BeginArray().Number(res.lo).Number(res.hi).EndArray();
  w.Key("final_diff_b_minus_a").Number(res.final_diff);
  w.Key("matched_points").Int(res.matched).Key("mean_diff").Number(res.mean_diff);
  w.Key("mean_abs_diff").Number(res.mean_abs_diff).Key("max_abs_diff").Number(res.max_abs_diff);
  w.Key("max_abs_diff_at").Number(res.max_abs_at).Key("area_b_minus_a").Number(res.area);
  w.Key("mean_gap").Number(res.mean_gap).Key("leader").String(res.leader);
  w.Key("leads_since");
  res.leads_since ? w.Number(*res.leads_since) : w.Null();
  w.Key("crossings").Int(res.crossings);
  w.Key("test").String(res.test).Key("why_no_test").String(res.why_no_test);
  w.Key("summary").String(compare::CompareText(res));
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

// The same report `inloop report RUN` prints, as Markdown: every sentence and table is built
// from the run's measured numbers, which is what the model should quote.
Status ReportTool(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(FindRunArg(ctx, args, "run", &r));
  report::ReportOptions opts;
  opts.run = r.id;
  opts.key = args.Str("key").value_or("");
  if (auto b = args.Str("baseline")) opts.baseline = *b;
  report::RunReport rep;
  INLOOP_RETURN_IF_ERROR(report::BuildRunReport(ctx.store, opts, &rep));
  JsonWriter w;
  w.BeginObject().Key("run").String(r.id).Key("markdown").String(report::RenderMarkdown(rep));
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

// `inloop insights` over the matched runs, as its text (the JSON lists every run id, which would
// use the model's context for nothing).
Status InsightsTool(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  insights::InsightsOptions opts;
  opts.runs = args.Str("runs").value_or("");
  opts.key = args.Str("key").value_or("");
  opts.x_key = args.Str("x").value_or("");
  if (auto g = args.Str("goal")) opts.goal = *g == "max" ? compare::Goal::kMax : compare::Goal::kMin;
  if (auto h = args.Num("horizon")) opts.horizon = *h;
  insights::Insights in;
  INLOOP_RETURN_IF_ERROR(insights::ComputeInsights(ctx.store, opts, &in));
  JsonWriter w;
  w.BeginObject().Key("text").String(insights::RenderInsightsText(in, false)).EndObject();
  *out = w.Take();
  return Status::OK();
}

Status ProposeAction(ToolContext& ctx, const ToolArgs& args, std::string* out) {
  store::RunRecord r;
  INLOOP_RETURN_IF_ERROR(FindRunArg(ctx, args, "run", &r));
  std::string action = *args.Str("action");
  std::string reason = *args.Str("reason");
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::Invalid("reason is empty: say why, in one line");
  for (char& c : reason)
    if (c == '\n' || c == '\r') c = ' ';
  auto plan_e = args.Get("plan");
  simdjson::dom::object plan_o;
  if (!plan_e || plan_e->get_object().get(plan_o) != simdjson::SUCCESS)
    return Status::Invalid("plan must be an object");
  ToolArgs plan(plan_o);
  auto lr = plan.Num("lr_scale");
  auto micro = plan.Int("micro_batch");
  auto skip_from = plan.Int("skip_from"), skip_to = plan.Int("skip_to");
  auto ckpt = plan.Int("checkpoint_step");
  std::vector<std::pair<std::string, std::string>> changes;
  if (auto pe = plan.Get("params")) {
    simdjson::dom::array arr;
    if (pe->get_array().get(arr) == simdjson::SUCCESS) {
      for (simdjson::dom::element it : arr) {
        simdjson::dom::object o;
        if (it.get_object().get(o) != simdjson::SUCCESS) continue;
        ToolArgs kv(o);
        changes.emplace_back(*kv.Str("key"), *kv.Str("value"));
      }
    }
  }
  // What each action needs to be carried out by a person later.
  if (action == "config_change" && changes.empty())
    return Status::Invalid("config_change needs plan.params: the parameters to change");
  if (action == "lr_cut" && (!lr || *lr >= 1))
    return Status::Invalid("lr_cut needs plan.lr_scale below 1 (e.g. 0.5)");
  if (action == "shrink_batch" && !micro)
    return Status::Invalid("shrink_batch needs plan.micro_batch");
  if (action == "rollback_skip" && (!skip_from || !skip_to || *skip_to <= *skip_from))
    return Status::Invalid("rollback_skip needs plan.skip_from < plan.skip_to (steps)");

  remedy::ProposalData d;
  d.action = action;
  d.model = ctx.model;
  d.question = ctx.question;
  d.checkpoint_step = ckpt;
  if (skip_from) d.skip = std::pair<int64_t, int64_t>{*skip_from, *skip_to};
  d.lr_scale = lr;
  d.micro_batch = micro;
  d.params = changes;
  d.reason = reason;

  store::ActionRecord a;
  a.run_id = r.id;
  a.action = action;
  a.trigger = "assistant";
  if (skip_from) a.step = *skip_from;
  else if (ckpt) a.step = *ckpt;
  a.reason = reason;
  a.state = store::kActionPending;
  a.data_json = remedy::ToJson(d);
  INLOOP_RETURN_IF_ERROR(ctx.store->AddAction(&a));
  ctx.proposed_action_ids.push_back(a.id);

  store::EventRecord e;
  e.run_id = r.id;
  e.kind = remedy::event_kind::kActionProposed;
  e.severity = "info";
  e.step_lo = a.step;
  e.message = fmt::format("the assistant proposes {} (action {}), waiting for a person: {}",
                          action, a.id, reason);
  e.data_json = a.data_json;
  INLOOP_RETURN_IF_ERROR(ctx.store->AddEvent(&e));

  JsonWriter w;
  w.BeginObject().Key("action_id").Int(a.id).Key("run").String(r.id);
  w.Key("action").String(action).Key("state").String(a.state);
  w.Key("note").String(fmt::format(
      "recorded only; nothing was executed. A person approves it with `inloop approve {0}` or "
      "denies it with `inloop deny {0}`.", a.id));
  w.EndObject();
  *out = w.Take();
  return Status::OK();
}

std::string Truncate(const std::string& s, size_t cap) {
  if (s.size() <= cap) return s;
  size_t cut = cap;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  return s.substr(0, cut) +
         fmt::format("\n[inloop: result cut to {} of {} bytes; ask for less (a smaller limit or "
                     "max_points, a step range)]", cut, s.size());
}

}  // namespace

// ---- schema ----

Schema StringArg(std::string description, std::vector<std::string> enum_values) {
  Schema s;
  s.type = "string";
  s.description = std::move(description);
  s.enum_values = std::move(enum_values);
  return s;
}

Schema IntegerArg(std::string description, std::optional<double> minimum,
                  std::optional<double> maximum) {
  Schema s;
  s.type = "integer";
  s.description = std::move(description);
  s.minimum = minimum;
  s.maximum = maximum;
  return s;
}

Schema NumberArg(std::string description, std::optional<double> minimum,
                 std::optional<double> maximum) {
  Schema s = IntegerArg(std::move(description), minimum, maximum);
  s.type = "number";
  return s;
}

Schema ObjectArg(std::string description, std::vector<SchemaProperty> properties) {
  Schema s;
  s.type = "object";
  s.description = std::move(description);
  s.properties = std::move(properties);
  return s;
}

Schema ArrayArg(std::string description, Schema items, std::optional<int64_t> max_items) {
  Schema s;
  s.type = "array";
  s.description = std::move(description);
  s.items.push_back(std::move(items));
  s.max_items = max_items;
  return s;
}

std::string SchemaJson(const Schema& s) {
  JsonWriter w;
  WriteSchema(w, s, false);
  return w.Take();
}

std::string Validate(const Schema& s, simdjson::dom::element v, const std::string& path) {
  const std::string where = Where(path);
  if (s.type == "object") {
    simdjson::dom::object o;
    if (v.get_object().get(o) != simdjson::SUCCESS)
      return fmt::format("{}: expected an object, got {}", where, TypeOf(v));
    for (auto field : o) {
      auto it = std::find_if(s.properties.begin(), s.properties.end(),
                             [&](const SchemaProperty& p) { return p.name == field.key; });
      if (it == s.properties.end()) {
        std::vector<std::string> names;
        for (auto& p : s.properties) names.push_back(p.name);
        return fmt::format("{}: unexpected argument '{}' (allowed: {})", where, field.key,
                           fmt::join(names, ", "));
      }
    }
    for (auto& p : s.properties) {
      simdjson::dom::element x;
      std::string sub = path.empty() ? p.name : path + "." + p.name;
      if (o[p.name].get(x) != simdjson::SUCCESS || x.is_null()) {
        if (p.required) return fmt::format("{}: missing required argument", sub);
        continue;
      }
      std::string err = Validate(p.schema, x, sub);
      if (!err.empty()) return err;
    }
    return "";
  }
  if (s.type == "array") {
    simdjson::dom::array a;
    if (v.get_array().get(a) != simdjson::SUCCESS)
      return fmt::format("{}: expected an array, got {}", where, TypeOf(v));
    if (s.max_items && static_cast<int64_t>(a.size()) > *s.max_items)
      return fmt::format("{}: at most {} items, got {}", where, *s.max_items, a.size());
    size_t i = 0;
    for (simdjson::dom::element x : a) {
      if (!s.items.empty()) {
        std::string err = Validate(s.items.front(), x, fmt::format("{}[{}]", where, i));
        if (!err.empty()) return err;
      }
      ++i;
    }
    return "";
  }
  if (s.type == "string") {
    std::string_view str;
    if (v.get_string().get(str) != simdjson::SUCCESS)
      return fmt::format("{}: expected a string, got {}", where, TypeOf(v));
    if (!s.enum_values.empty() &&
        std::find(s.enum_values.begin(), s.enum_values.end(), str) == s.enum_values.end())
      return fmt::format("{}: '{}' is not one of {}", where, str, fmt::join(s.enum_values, ", "));
    if (s.max_length && static_cast<int64_t>(str.size()) > *s.max_length)
      return fmt::format("{}: longer than {} characters", where, *s.max_length);
    return "";
  }
  if (s.type == "boolean") {
    if (!v.is_bool()) return fmt::format("{}: expected a boolean, got {}", where, TypeOf(v));
    return "";
  }
  if (s.type == "integer" || s.type == "number") {
    double d = 0;
    if (!NumberOf(v, &d))
      return fmt::format("{}: expected {}, got {}", where,
                         s.type == "integer" ? "an integer" : "a number", TypeOf(v));
    if (s.type == "integer" &&
        (d != std::floor(d) || std::fabs(d) > 9.0e15))
      return fmt::format("{}: expected an integer, got {}", where, JsonNumber(d));
    if (s.minimum && d < *s.minimum)
      return fmt::format("{}: {} is below the minimum {}", where, JsonNumber(d),
                         JsonNumber(*s.minimum));
    if (s.maximum && d > *s.maximum)
      return fmt::format("{}: {} is above the maximum {}", where, JsonNumber(d),
                         JsonNumber(*s.maximum));
    return "";
  }
  return fmt::format("{}: the schema has an unknown type '{}'", where, s.type);
}

// ---- arguments ----

std::optional<simdjson::dom::element> ToolArgs::Get(std::string_view name) const {
  simdjson::dom::element e;
  if (o_[name].get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::optional<std::string> ToolArgs::Str(std::string_view name) const {
  auto e = Get(name);
  std::string_view s;
  if (!e || e->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return std::string(s);
}

std::optional<double> ToolArgs::Num(std::string_view name) const {
  auto e = Get(name);
  double d;
  if (!e || !NumberOf(*e, &d)) return std::nullopt;
  return d;
}

std::optional<int64_t> ToolArgs::Int(std::string_view name) const {
  auto d = Num(name);
  if (!d) return std::nullopt;
  auto e = Get(name);
  int64_t i;
  if (e->get_int64().get(i) == simdjson::SUCCESS) return i;
  return static_cast<int64_t>(*d);
}

std::string ToolArgs::Json() const { return simdjson::minify(o_); }

// ---- registry ----

void ToolRegistry::Register(Tool t) {
  for (auto& old : tools_) {
    if (old.name == t.name) {
      old = std::move(t);
      return;
    }
  }
  tools_.push_back(std::move(t));
}

const Tool* ToolRegistry::Find(std::string_view name) const {
  for (auto& t : tools_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<ToolSpec> ToolRegistry::Specs() const {
  std::vector<ToolSpec> out;
  for (auto& t : tools_) out.push_back({t.name, t.description, SchemaJson(t.parameters)});
  return out;
}

ToolOutcome ToolRegistry::Call(ToolContext& ctx, std::string_view name,
                               std::string_view arguments_json) const {
  ToolOutcome o;
  auto fail = [&](std::string why) {
    o.ok = false;
    o.error = std::move(why);
    JsonWriter w;
    w.BeginObject().Key("error").String(o.error).EndObject();
    o.result = w.Take();
    o.result_bytes = static_cast<int64_t>(o.result.size());
    return o;
  };
  const Tool* t = Find(name);
  if (!t) {
    std::vector<std::string> names;
    for (auto& x : tools_) names.push_back(x.name);
    return fail(fmt::format("unknown tool '{}'; the tools are: {}", name, fmt::join(names, ", ")));
  }
  // An empty argument string is an empty object (some servers send "" for no arguments).
  std::string_view text = arguments_json;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "{}";
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) {
    std::string snippet(arguments_json.substr(0, 120));
    return fail(fmt::format("{}: the arguments are not valid JSON: '{}'", name, snippet));
  }
  std::string invalid = Validate(t->parameters, root);
  if (!invalid.empty()) return fail(fmt::format("{}: {}", name, invalid));
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)  // Validate checked the type already
    return fail(fmt::format("{}: the arguments must be a JSON object", name));
  std::string result;
  Status s = t->handler(ctx, ToolArgs(obj), &result);
  if (!s.ok()) return fail(fmt::format("{}: {}", name, s.message()));
  o.ok = true;
  o.result_bytes = static_cast<int64_t>(result.size());
  o.truncated = result.size() > result_cap;
  o.result = Truncate(result, result_cap);
  return o;
}

std::vector<std::string> ProposableActions() {
  std::vector<std::string> out;
  for (auto k : {remedy::ActionKind::kResume, remedy::ActionKind::kRollbackSkip,
                 remedy::ActionKind::kLrCut, remedy::ActionKind::kShrinkBatch,
                 remedy::ActionKind::kStop}) {
    out.emplace_back(remedy::ActionName(k));
  }
  out.emplace_back("config_change");
  return out;
}

void RegisterInloopTools(ToolRegistry* r) {
  auto run_arg = [](bool required) {
    return SchemaProperty{"run", required,
                          StringArg(required ? "run id, id prefix or name (the newest run of that "
                                               "name)"
                                             : "run id, id prefix or name; null: the run in focus")};
  };
  r->Register(Tool{
      "list_runs",
      "List recorded training runs, newest first: id, name, status, attempts, exit code, start "
      "time, duration, command.",
      ObjectArg("", {{"name_pattern", false, StringArg("shell glob over run names, e.g. 'seed-*'")},
                     {"status", false, StringArg("only runs in this status", kStatuses)},
                     {"limit", false, IntegerArg("most runs to list (default 20)", 1, 200)}}),
      ListRuns});
  r->Register(Tool{
      "show_run",
      "One run in detail: status, command, params, tags, attempts (exit codes, crash classes, "
      "stderr tails) and every series with its point count, step range, last, min and max.",
      ObjectArg("", {run_arg(false)}), ShowRun});
  r->Register(Tool{
      "query_series",
      "Points [step, value] of one metric series of a run, optionally in a step range; more "
      "points than max_points are M4-downsampled (per column the first, min, max and last point, "
      "so spikes are kept).",
      ObjectArg("", {run_arg(false),
                     {"key", true, StringArg("series key as show_run lists it, e.g. train/loss")},
                     {"from_step", false, IntegerArg("first step (inclusive)")},
                     {"to_step", false, IntegerArg("last step (inclusive)")},
                     {"max_points", false,
                      IntegerArg("at most this many points (default 200)", 4, 2000)}}),
      QuerySeriesTool});
  r->Register(Tool{
      "events",
      "A run's timeline: findings (loss spikes, NaNs, hangs...), attempts starting and exiting, "
      "remedies proposed, approved and applied, with steps and evidence.",
      ObjectArg("", {run_arg(false),
                     {"kind", false, StringArg("only events of this kind, e.g. loss_spike (data_batches, the "
                                                "data index, only when asked for)")},
                     {"limit", false, IntegerArg("the newest this many (default 50)", 1, 500)}}),
      EventsTool});
  r->Register(Tool{
      "compare",
      "Compare one metric of two runs aligned on step, tokens or time: final values, mean and "
      "largest difference, area between the curves, who leads and since when, crossings.",
      ObjectArg("", {{"run_a", true, StringArg("the baseline run")},
                     {"run_b", true, StringArg("the other run")},
                     {"key", false, StringArg("series key; null: a loss both runs log")},
                     {"align", false, StringArg("x axis (default step)", {"step", "tokens", "time"})}}),
      CompareTool});
  r->Register(Tool{
      "report",
      "The run's report as Markdown: what happened (status, duration, attempts, final and best "
      "values), the timeline of findings and actions with evidence, what each remedy achieved, "
      "throughput, the comparison with a baseline run, and recommendations from the data.",
      ObjectArg("", {run_arg(false),
                     {"key", false, StringArg("primary metric; null: the training loss")},
                     {"baseline", false, StringArg("run to compare with; null: the best earlier "
                                                   "finished run of the same command")}}),
      ReportTool});
  r->Register(Tool{
      "insights",
      "Patterns across runs: hyper-parameter importance for a target metric (random-forest "
      "permutation importance with intervals, Spearman correlation), running runs' final values "
      "extrapolated from their curves (and whether they can beat the best), and a power-law "
      "scaling fit of final loss against compute or tokens.",
      ObjectArg("", {{"runs", false, StringArg("which runs: a name glob ('lr-*'), tag:T or "
                                               "status:S; null: every run")},
                     {"key", false, StringArg("target metric; null: the loss key most runs log")},
                     {"goal", false, StringArg("whether lower or higher is better", {"min", "max"})},
                     {"x", false, StringArg("scaling axis: a param or series; null: compute, "
                                            "flops or tokens")},
                     {"horizon", false, NumberArg("extrapolate to this step for runs without a "
                                                  "max_steps-like param", 1, 1e15)}}),
      InsightsTool});
  Schema reason = StringArg("one line: why, citing the evidence");
  reason.max_length = 500;
  Schema param = ObjectArg("", {{"key", true, StringArg("parameter name")},
                                {"value", true, StringArg("its new value")}});
  r->Register(Tool{
      "propose_action",
      "Propose an action on a run for a person to approve or deny with `inloop approve ID` / "
      "`inloop deny ID`. It is only recorded as pending; nothing is executed. Use it for a remedy "
      "(resume, rollback_skip, lr_cut, shrink_batch, stop) or a config_change for the next run.",
      ObjectArg("", {run_arg(true),
                     {"action", true, StringArg("what to do", ProposableActions())},
                     {"reason", true, reason},
                     {"plan", true,
                      ObjectArg("the details the action needs (null where not relevant)",
                                {{"checkpoint_step", false,
                                  IntegerArg("restart from the checkpoint at this step", 0)},
                                 {"skip_from", false, IntegerArg("rollback_skip: first step of "
                                                                 "the data window to skip", 0)},
                                 {"skip_to", false, IntegerArg("rollback_skip: end of the "
                                                               "window (exclusive)", 0)},
                                 {"lr_scale", false,
                                  NumberArg("lr_cut: multiply the learning rate by this", 0, 1)},
                                 {"micro_batch", false,
                                  IntegerArg("shrink_batch: the new micro-batch size", 1)},
                                 {"params", false,
                                  ArrayArg("config_change: parameters to set in the next run",
                                           param, 20)}})}}),
      ProposeAction});
}

}  // namespace inloop::assist
