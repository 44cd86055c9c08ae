// The one JSON form of each timeline payload (see timeline.h).
#include "remedy/timeline.h"

#include <cmath>

#include <simdjson.h>

#include "common/json_number.h"
#include "common/json_writer.h"

namespace inloop::remedy {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Lenient field access on a parsed object.
class Reader {
 public:
  explicit Reader(std::string_view json) {
    if (json.empty()) return;
    element doc;
    if (parser_.parse(json.data(), json.size()).get(doc)) return;
    if (doc.get(obj_)) return;
    ok_ = true;
  }
  bool ok() const { return ok_; }
  std::optional<element> Get(std::string_view key) const {
    if (!ok_) return std::nullopt;  // a default object has no tape to look in
    return At(obj_, key);
  }
  static std::optional<element> At(const simdjson::dom::object& o, std::string_view key) {
    element e;
    if (o.at_key(key).get(e) || e.is_null()) return std::nullopt;
    return e;
  }
  static std::optional<int64_t> IntOf(const element& e) {
    int64_t i = 0;
    if (e.type() == element_type::INT64 && !e.get(i)) return i;
    auto v = JsonNumberOf(e);
    if (!v || !std::isfinite(*v)) return std::nullopt;
    return static_cast<int64_t>(std::llround(*v));
  }
  void Num(std::string_view key, double* out) const {
    if (auto e = Get(key)) {
      if (auto v = JsonNumberOf(*e)) *out = *v;
    }
  }
  template <typename I>
  void Int(std::string_view key, I* out) const {
    if (auto e = Get(key)) {
      if (auto v = IntOf(*e)) *out = static_cast<I>(*v);
    }
  }
  void OptInt(std::string_view key, std::optional<int64_t>* out) const {
    if (auto e = Get(key)) *out = IntOf(*e);
  }
  void Text(std::string_view key, std::string* out) const {
    std::string_view s;
    if (auto e = Get(key); e && !e->get(s)) *out = std::string(s);
  }
  void Bool(std::string_view key, bool* out) const {
    bool b = false;
    if (auto e = Get(key); e && !e->get(b)) *out = b;
  }
  std::vector<std::string> Strings(std::string_view key) const {
    std::vector<std::string> out;
    simdjson::dom::array arr;
    if (auto e = Get(key); !e || e->get(arr)) return out;
    for (element x : arr) {
      std::string_view s;
      if (!x.get(s)) out.emplace_back(s);
    }
    return out;
  }
  static std::optional<std::pair<int64_t, int64_t>> PairOf(const element& e) {
    simdjson::dom::array arr;
    if (e.get(arr) || arr.size() != 2) return std::nullopt;
    auto lo = IntOf(arr.at(0).value_unsafe());
    auto hi = IntOf(arr.at(1).value_unsafe());
    if (!lo || !hi) return std::nullopt;
    return std::pair{*lo, *hi};
  }
  std::optional<CheckpointRef> Checkpoint() const {
    simdjson::dom::object o;
    auto e = Get("checkpoint");
    if (!e || e->get(o)) return std::nullopt;
    CheckpointRef c;
    std::string_view s;
    if (auto p = At(o, "path"); p && !p->get(s)) c.path = std::string(s);
    if (auto p = At(o, "step")) c.step = IntOf(*p).value_or(0);
    if (auto p = At(o, "source"); p && !p->get(s)) c.source = std::string(s);
    return c;
  }
 private:
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  bool ok_ = false;
};

void OptInt(JsonWriter& w, std::string_view key, const std::optional<int64_t>& v) {
  w.Key(key);
  v ? w.Int(*v) : w.Null();
}

void WriteCheckpoint(JsonWriter& w, const std::optional<CheckpointRef>& c) {
  w.Key("checkpoint");
  if (!c) {
    w.Null();
    return;
  }
  w.BeginObject().Key("path").String(c->path).Key("step").Int(c->step);
  w.Key("source").String(c->source).EndObject();
}

}  // namespace

// ---- findings ----

std::string ToJson(const FindingData& d) {
  JsonWriter w;
  w.BeginObject().Key("series").String(d.series).Key("update").Bool(d.update);
  w.Key("evidence").BeginObject();
  for (auto& [k, v] : d.evidence) w.Key(k).Number(v);
  w.EndObject();
  if (!d.related.empty()) {
    w.Key("related").BeginArray();
    for (auto& k : d.related) w.String(k);
    w.EndArray();
  }
  if (d.rank >= 0) w.Key("rank").Int(d.rank);
  if (!d.host.empty()) w.Key("host").String(d.host);
  w.EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, FindingData* d) {
  Reader r(json);
  r.Text("series", &d->series);
  r.Bool("update", &d->update);
  simdjson::dom::object o;
  if (auto e = r.Get("evidence"); e && !e->get(o)) {
    for (auto field : o) {
      if (auto v = JsonNumberOf(field.value)) d->evidence.emplace_back(field.key, *v);
    }
  }
  d->related = r.Strings("related");
  r.Int("rank", &d->rank);
  r.Text("host", &d->host);
  return r.ok();
}

// ---- actions ----

std::string ToJson(const ActionData& d) {
  JsonWriter w;
  w.BeginObject();
  if (d.action_id) w.Key("action_id").Int(d.action_id);
  w.Key("action").String(d.action).Key("mode").String(d.mode);
  w.Key("trigger").String(d.trigger).Key("family").String(d.family);
  OptInt(w, "step", d.step);
  if (d.restarts) {
    WriteCheckpoint(w, d.checkpoint);
    w.Key("resume_step").Int(d.resume_step).Key("start_step").Int(d.start_step);
    w.Key("skip");
    if (d.skip) {
      w.BeginArray().Int(d.skip->first).Int(d.skip->second).EndArray();
    } else {
      w.Null();
    }
    if (d.skip && d.skip_deliverable) w.Key("skip_deliverable").Bool(*d.skip_deliverable);
    w.Key("lr_scale").Number(d.lr_scale.value_or(1.0));
    OptInt(w, "micro_batch", d.micro_batch);
    w.Key("delay_seconds").Number(d.delay_seconds);
  }
  if (d.in_process) w.Key("in_process").Bool(true);
  w.Key("reason").String(d.reason).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, ActionData* d) {
  Reader r(json);
  r.Int("action_id", &d->action_id);
  r.Text("action", &d->action);
  r.Text("mode", &d->mode);
  r.Text("trigger", &d->trigger);
  r.Text("family", &d->family);
  r.OptInt("step", &d->step);
  d->restarts = r.Get("resume_step").has_value();
  d->checkpoint = r.Checkpoint();
  r.Int("resume_step", &d->resume_step);
  r.Int("start_step", &d->start_step);
  if (auto e = r.Get("skip")) d->skip = Reader::PairOf(*e);
  if (auto e = r.Get("skip_deliverable")) {
    bool b = true;
    if (!e->get(b)) d->skip_deliverable = b;
  }
  if (auto e = r.Get("lr_scale")) d->lr_scale = JsonNumberOf(*e);
  r.OptInt("micro_batch", &d->micro_batch);
  r.Num("delay_seconds", &d->delay_seconds);
  if (auto e = r.Get("in_process")) {
    bool b = false;
    if (!e->get(b)) d->in_process = b;
  }
  r.Text("reason", &d->reason);
  return r.ok();
}

std::string ToJson(const ProposalData& d) {
  JsonWriter w;
  w.BeginObject().Key("source").String(d.source).Key("action").String(d.action);
  w.Key("model").String(d.model).Key("question").String(d.question);
  w.Key("plan").BeginObject();
  if (d.checkpoint_step) w.Key("checkpoint_step").Int(*d.checkpoint_step);
  if (d.skip) w.Key("skip").BeginArray().Int(d.skip->first).Int(d.skip->second).EndArray();
  if (d.lr_scale) w.Key("lr_scale").Number(*d.lr_scale);
  if (d.micro_batch) w.Key("micro_batch").Int(*d.micro_batch);
  if (!d.params.empty()) {
    w.Key("params").BeginObject();
    for (auto& [k, v] : d.params) w.Key(k).String(v);
    w.EndObject();
  }
  w.EndObject();
  w.Key("reason").String(d.reason).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, ProposalData* d) {
  Reader r(json);
  r.Text("source", &d->source);
  r.Text("action", &d->action);
  r.Text("model", &d->model);
  r.Text("question", &d->question);
  r.Text("reason", &d->reason);
  simdjson::dom::object plan;
  if (auto e = r.Get("plan"); !e || e->get(plan)) return r.ok();
  if (auto e = Reader::At(plan, "checkpoint_step")) d->checkpoint_step = Reader::IntOf(*e);
  if (auto e = Reader::At(plan, "skip")) d->skip = Reader::PairOf(*e);
  if (auto e = Reader::At(plan, "lr_scale")) d->lr_scale = JsonNumberOf(*e);
  if (auto e = Reader::At(plan, "micro_batch")) d->micro_batch = Reader::IntOf(*e);
  simdjson::dom::object params;
  if (auto e = Reader::At(plan, "params"); e && !e->get(params)) {
    for (auto field : params) {
      std::string_view v;
      if (!field.value.get(v)) d->params.emplace_back(field.key, v);
    }
  }
  return r.ok();
}

std::string ToJson(const DecisionData& d) {
  JsonWriter w;
  w.BeginObject().Key("action_id").Int(d.action_id).Key("action").String(d.action);
  w.Key("by").String(d.by).Key("note").String(d.note).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, DecisionData* d) {
  Reader r(json);
  r.Int("action_id", &d->action_id);
  r.Text("action", &d->action);
  r.Text("by", &d->by);
  r.Text("note", &d->note);
  return r.ok();
}

std::string ToJson(const OutcomeData& d) {
  JsonWriter w;
  w.BeginObject().Key("action_id").Int(d.action_id).Key("action").String(d.action);
  w.Key("attempt").Int(d.attempt).Key("result").String(d.result).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, OutcomeData* d) {
  Reader r(json);
  r.Int("action_id", &d->action_id);
  r.Text("action", &d->action);
  r.Int("attempt", &d->attempt);
  r.Text("result", &d->result);
  return r.ok();
}

// ---- attempts ----

std::string ToJson(const AttemptStartData& d) {
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(d.attempt).Key("pid").Int(d.pid);
  w.Key("reason").String(d.reason);
  if (d.restarted) {
    WriteCheckpoint(w, d.checkpoint);
    w.Key("resume_step").Int(d.resume_step).Key("start_step").Int(d.start_step);
    w.Key("skip_windows").BeginArray();
    for (auto& [a, b] : d.skip_windows) w.BeginArray().Int(a).Int(b).EndArray();
    w.EndArray();
    w.Key("lr_scale").Number(d.lr_scale);
    OptInt(w, "micro_batch", d.micro_batch);
  }
  w.Key("argv").BeginArray();
  for (auto& a : d.argv) w.String(a);
  w.EndArray().EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, AttemptStartData* d) {
  Reader r(json);
  r.Int("attempt", &d->attempt);
  r.Int("pid", &d->pid);
  r.Text("reason", &d->reason);
  d->restarted = r.Get("start_step").has_value();
  d->checkpoint = r.Checkpoint();
  r.Int("resume_step", &d->resume_step);
  r.Int("start_step", &d->start_step);
  simdjson::dom::array arr;
  if (auto e = r.Get("skip_windows"); e && !e->get(arr)) {
    for (element x : arr) {
      if (auto p = Reader::PairOf(x)) d->skip_windows.push_back(*p);
    }
  }
  r.Num("lr_scale", &d->lr_scale);
  r.OptInt("micro_batch", &d->micro_batch);
  d->argv = r.Strings("argv");
  return r.ok();
}

std::string ToJson(const AttemptExitData& d) {
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(d.attempt).Key("exit_code").Int(d.exit_code);
  if (d.signal) w.Key("signal").Int(d.signal);
  OptInt(w, "last_step", d.last_step);
  w.Key("lines").Int(d.lines).Key("truncated_lines").Int(d.truncated_lines);
  w.EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, AttemptExitData* d) {
  Reader r(json);
  r.Int("attempt", &d->attempt);
  r.Int("exit_code", &d->exit_code);
  r.Int("signal", &d->signal);
  r.OptInt("last_step", &d->last_step);
  r.Int("lines", &d->lines);
  r.Int("truncated_lines", &d->truncated_lines);
  return r.ok();
}

std::string ToJson(const CrashData& d) {
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(d.attempt).Key("class").String(d.crash_class);
  w.Key("transient").Bool(d.transient);
  w.Key("retry").String(d.retry).Key("signature").String(d.signature);
  if (!d.exception_type.empty()) {
    w.Key("exception_type").String(d.exception_type);
    w.Key("exception_message").String(d.exception_message);
  }
  w.EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, CrashData* d) {
  Reader r(json);
  r.Int("attempt", &d->attempt);
  r.Text("class", &d->crash_class);
  r.Bool("transient", &d->transient);
  r.Text("retry", &d->retry);
  r.Text("signature", &d->signature);
  r.Text("exception_type", &d->exception_type);
  r.Text("exception_message", &d->exception_message);
  return r.ok();
}

// ---- the rest ----

std::string ToJson(const CheckpointData& d) {
  JsonWriter w;
  w.BeginObject().Key("path").String(d.path);
  if (d.step) w.Key("step").Int(*d.step);
  w.Key("attempt").Int(d.attempt).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, CheckpointData* d) {
  Reader r(json);
  r.Text("path", &d->path);
  r.OptInt("step", &d->step);
  r.Int("attempt", &d->attempt);
  return r.ok();
}

std::string ToJson(const SpikeData& d) {
  JsonWriter w;
  w.BeginObject().Key("series").String(d.series).Key("onset").Int(d.onset);
  w.Key("step").Int(d.step).Key("points").Int(d.points).Key("patience").Int(d.patience);
  w.Key("level").Number(d.level).Key("noise").Number(d.noise).Key("band").Number(d.band);
  w.Key("peak").Number(d.peak).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, SpikeData* d) {
  Reader r(json);
  r.Text("series", &d->series);
  r.Int("onset", &d->onset);
  r.Int("step", &d->step);
  r.Int("points", &d->points);
  r.Int("patience", &d->patience);
  r.Num("level", &d->level);
  r.Num("noise", &d->noise);
  r.Num("band", &d->band);
  r.Num("peak", &d->peak);
  return r.ok();
}

std::string ToJson(const WithheldData& d) {
  JsonWriter w;
  w.BeginObject().Key("trigger").String(d.trigger);
  OptInt(w, "step", d.step);
  w.Key("reason").String(d.reason).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, WithheldData* d) {
  Reader r(json);
  r.Text("trigger", &d->trigger);
  r.OptInt("step", &d->step);
  r.Text("reason", &d->reason);
  return r.ok();
}

std::string ToJson(const SourceData& d) {
  JsonWriter w;
  w.BeginObject().Key("canonical").String(d.canonical).Key("sdk_key").String(d.sdk_key);
  w.Key("printed_key").String(d.printed_key).Key("source").String(d.source);
  w.Key("printed_since_sdk").Int(d.printed_since_sdk).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, SourceData* d) {
  Reader r(json);
  r.Text("canonical", &d->canonical);
  r.Text("sdk_key", &d->sdk_key);
  r.Text("printed_key", &d->printed_key);
  r.Text("source", &d->source);
  r.Int("printed_since_sdk", &d->printed_since_sdk);
  return r.ok();
}

std::string ToJson(const AuditData& d) {
  JsonWriter w;
  w.BeginObject().Key("context").String(d.context).Key("file").String(d.file);
  w.Key("rule").String(d.rule).Key("severity").String(d.severity);
  w.Key("message").String(d.message).Key("fix").String(d.fix);
  if (d.line > 0) w.Key("line").Int(d.line);
  w.Key("policy").String(d.policy).Key("blocked").Bool(d.blocked).EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, AuditData* d) {
  Reader r(json);
  r.Text("context", &d->context);
  r.Text("file", &d->file);
  r.Text("rule", &d->rule);
  r.Text("severity", &d->severity);
  r.Text("message", &d->message);
  r.Text("fix", &d->fix);
  r.Int("line", &d->line);
  r.Text("policy", &d->policy);
  if (auto e = r.Get("blocked")) {
    bool b = false;
    if (!e->get(b)) d->blocked = b;
  }
  return r.ok();
}

std::string TimelineEvent::DataJson() const {
  return std::visit(
      [](const auto& d) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(d)>, std::monostate>) {
          return "{}";
        } else {
          return ToJson(d);
        }
      },
      data);
}

TimelineEvent MakeEvent(std::string_view kind, std::string_view severity, std::string message,
                        EventData data, std::optional<int64_t> step) {
  TimelineEvent e;
  e.kind = std::string(kind);
  e.severity = std::string(severity);
  e.message = std::move(message);
  e.data = std::move(data);
  e.step_lo = e.step_hi = step;
  return e;
}

}  // namespace inloop::remedy
