// A RunReport's one JSON form (`inloop report --json`, the API's repair view and the assistant
// read it): WriteReportJson, declared in run_report.h.
#include <optional>
#include <type_traits>

#include "common/json_writer.h"
#include "report/run_report.h"

namespace inloop::report {
namespace {

void EvidenceJson(JsonWriter* w, const char* key, const std::vector<Evidence>& ev) {
  w->Key(key).BeginObject();
  for (auto& e : ev) w->Key(e.name).Number(e.value);
  w->EndObject();
}

void PointsJson(JsonWriter* w, const char* key, const std::vector<Point>& pts) {
  w->Key(key).BeginArray();
  for (auto& p : pts) w->BeginArray().Int(p.step).Number(p.value).EndArray();
  w->EndArray();
}

template <typename T>
void Opt(JsonWriter* w, const char* key, const std::optional<T>& v) {
  w->Key(key);
  if (!v) {
    w->Null();
  } else if constexpr (std::is_integral_v<T>) {
    w->Int(*v);
  } else {
    w->Number(*v);
  }
}

void PointJson(JsonWriter* w, const char* key, const std::optional<Point>& p) {
  w->Key(key);
  if (!p) {
    w->Null();
    return;
  }
  w->BeginObject().Key("step").Int(p->step).Key("value").Number(p->value).EndObject();
}

}  // namespace

void WriteReportJson(const RunReport& r, JsonWriter* w) {
  w->BeginObject();
  w->Key("run").BeginObject();
  w->Key("id").String(r.run.id).Key("name").String(r.run.name).Key("status").String(r.run.status);
  w->Key("command").BeginArray();
  for (auto& a : r.run.command) w->String(a);
  w->EndArray();
  w->Key("started_at").Number(r.run.started_at);
  w->Key("ended_at");
  r.run.ended_at > 0 ? w->Number(r.run.ended_at) : w->Null();
  w->Key("duration_s").Number(r.duration);
  w->Key("exit_code");
  r.run.exit_code ? w->Int(*r.run.exit_code) : w->Null();
  w->Key("attempts").Int(r.run.attempts);
  w->Key("host").String(r.run.host).Key("git_commit").String(r.run.git_commit);
  w->EndObject();
  w->Key("params").BeginObject();
  for (auto& p : r.params) w->Key(p.key).String(p.value);
  w->EndObject();
  w->Key("tags").BeginArray();
  for (auto& t : r.tags) w->String(t);
  w->EndArray();
  w->Key("attempts").BeginArray();
  for (auto& a : r.attempts) {
    w->BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
    w->Key("started_at").Number(a.started_at).Key("ended_at").Number(a.ended_at);
    Opt(w, "exit_code", std::optional<int64_t>(a.exit_code ? std::optional<int64_t>(*a.exit_code)
                                                           : std::nullopt));
    w->Key("signal").Int(a.signal).Key("crash_class").String(a.crash_class);
    Opt(w, "start_step", a.start_step);
    Opt(w, "last_step", a.last_step);
    Opt(w, "micro_batch", a.micro_batch);
    Opt(w, "lr_scale", a.lr_scale);
    w->EndObject();
  }
  w->EndArray();
  w->Key("series").BeginArray();
  for (auto& s : r.series) {
    w->BeginObject().Key("key").String(s.key).Key("points").Int(s.points);
    w->Key("segments").Int(s.segments).Key("first_step").Int(s.first_step);
    w->Key("last_step").Int(s.last_step).Key("last").Number(s.last);
    w->Key("min");
    s.has_finite ? w->Number(s.min) : w->Null();
    w->Key("max");
    s.has_finite ? w->Number(s.max) : w->Null();
    w->Key("nonfinite").Int(s.nonfinite).EndObject();
  }
  w->EndArray();
  w->Key("metric");
  if (r.metric) {
    const auto& m = *r.metric;
    w->BeginObject().Key("key").String(m.key).Key("goal").String(m.goal);
    w->Key("points").Int(m.points).Key("nonfinite").Int(m.nonfinite);
    PointJson(w, "first", m.first);
    PointJson(w, "final", m.last);
    PointJson(w, "best", m.best);
    PointsJson(w, "chart", m.chart);
    w->EndObject();
  } else {
    w->Null();
  }
  w->Key("headline").String(r.headline);
  w->Key("finding_groups").BeginArray();
  for (auto& g : r.finding_groups) {
    w->BeginObject().Key("kind").String(g.kind).Key("severity").String(g.severity);
    w->Key("count").Int(g.count).Key("closed").Int(g.closed);
    Opt(w, "step_lo", g.step_lo);
    Opt(w, "step_hi", g.step_hi);
    w->Key("series").BeginArray();
    for (auto& k : g.series) w->String(k);
    w->EndArray().Key("related").BeginArray();
    for (auto& k : g.related) w->String(k);
    w->EndArray();
    w->Key("attempts").Int(g.attempts).Key("first_message").String(g.first_message);
    w->EndObject();
  }
  w->EndArray();
  w->Key("findings").BeginArray();
  for (auto& f : r.findings) {
    w->BeginObject().Key("event_id").Int(f.event_id).Key("time").Number(f.time);
    w->Key("kind").String(f.kind).Key("severity").String(f.severity).Key("series").String(f.series);
    Opt(w, "step_lo", f.step_lo);
    Opt(w, "step_hi", f.closed_hi ? f.closed_hi : f.step_hi);
    w->Key("closed").Bool(f.closed).Key("attempt").Int(f.attempt);
    w->Key("message").String(f.message);
    EvidenceJson(w, "evidence", f.evidence);
    EvidenceJson(w, "closing", f.closing);
    w->Key("related").BeginArray();
    for (auto& k : f.related) w->String(k);
    w->EndArray();
    w->EndObject();
  }
  w->EndArray();
  w->Key("data_checks").BeginArray();
  for (auto& c : r.data_checks) w->Raw(data::CheckResultJson(c));
  w->EndArray();
  w->Key("spike_data").BeginArray();
  for (auto& d : r.spike_data) data::WriteSpikeDataJson(d, w);
  w->EndArray();
  w->Key("timeline").BeginArray();
  for (auto& t : r.timeline) {
    w->BeginObject().Key("event_id").Int(t.event_id).Key("time").Number(t.time);
    w->Key("offset_s").Number(t.offset).Key("kind").String(t.kind).Key("severity").String(t.severity);
    Opt(w, "step_lo", t.step_lo);
    Opt(w, "step_hi", t.step_hi);
    w->Key("message").String(t.message);
    EvidenceJson(w, "evidence", t.evidence);
    w->EndObject();
  }
  w->EndArray();
  w->Key("checkpoints").Int(r.checkpoints);
  w->Key("remedies").BeginArray();
  for (auto& f : r.remedies) {
    w->BeginObject().Key("action_id").Int(f.action_id).Key("action").String(f.action);
    w->Key("trigger").String(f.trigger).Key("state").String(f.state);
    w->Key("decided_by").String(f.decided_by).Key("note").String(f.note);
    w->Key("reason").String(f.reason);
    Opt(w, "trigger_step", f.trigger_step);
    Opt(w, "checkpoint_step", f.checkpoint_step);
    Opt(w, "start_step", f.start_step);
    w->Key("skip");
    if (f.skip) {
      w->BeginArray().Int(f.skip->first).Int(f.skip->second).EndArray();
    } else {
      w->Null();
    }
    Opt(w, "lr_scale", f.lr_scale);
    Opt(w, "micro_batch", f.micro_batch);
    w->Key("next_attempt").Int(f.next_attempt).Key("verdict").String(f.verdict);
    if (f.in_process) w->Key("in_process").Bool(true);
    w->Key("outcome");
    if (f.measured) {
      w->BeginObject().Key("metric").String(f.metric).Key("onset").Int(f.onset);
      w->Key("pre_level").Number(f.pre_level).Key("pre_points").Int(f.pre_points);
      w->Key("restart_step").Int(f.restart_step).Key("window_end").Int(f.window_end);
      w->Key("steps_observed").Int(f.steps_observed);
      w->Key("recovered").Bool(f.recovered_step.has_value());
      Opt(w, "recovered_step", f.recovered_step);
      Opt(w, "recovered_value", f.recovered_value);
      w->Key("steps_to_recover");
      f.recovered_step ? w->Int(f.steps_to_recover) : w->Null();
      Opt(w, "recurred_step", f.recurred_step);
      if (f.cost_known) {
        w->Key("lost_steps").Int(f.lost_steps).Key("lost_seconds").Number(f.lost_seconds);
      }
      w->EndObject();
    } else {
      w->Null();
    }
    w->EndObject();
  }
  w->EndArray();
  w->Key("audit").BeginArray();
  for (const remedy::AuditData& a : r.audit) w->Raw(remedy::ToJson(a));
  w->EndArray();
  w->Key("goodput");
  if (r.goodput) {
    WriteGoodputJson(*r.goodput, w);
  } else {
    w->Null();
  }
  w->Key("throughput");
  if (r.throughput) {
    const auto& t = *r.throughput;
    w->BeginObject().Key("key").String(t.key).Key("kind").String(t.kind);
    w->Key("points").Int(t.points).Key("median").Number(t.median);
    w->Key("material_drop").Number(t.material_drop);
    w->Key("regressions").BeginArray();
    for (auto& g : t.regressions) {
      w->BeginObject().Key("key").String(g.key).Key("step_lo").Int(g.step_lo);
      w->Key("step_hi").Int(g.step_hi).Key("before").Number(g.before);
      w->Key("during").Number(g.during).Key("drop").Number(g.drop);
      w->Key("source").String(g.source).EndObject();
    }
    w->EndArray();
    PointsJson(w, "chart", t.chart);
    w->EndObject();
  } else {
    w->Null();
  }
  w->Key("lr");
  if (r.lr) {
    const auto& l = *r.lr;
    w->BeginObject().Key("key").String(l.key).Key("first").Number(l.first);
    w->Key("first_step").Int(l.first_step).Key("peak").Number(l.peak);
    w->Key("peak_step").Int(l.peak_step).Key("last").Number(l.last);
    w->Key("last_step").Int(l.last_step);
    w->Key("at_onsets").BeginObject();
    for (auto& [s, v] : l.at) w->Key(std::to_string(s)).Number(v);
    w->EndObject().EndObject();
  } else {
    w->Null();
  }
  w->Key("baseline");
  if (r.baseline) {
    const auto& b = *r.baseline;
    w->BeginObject().Key("run_id").String(b.run_id).Key("name").String(b.name);
    w->Key("how").String(b.how).Key("candidates").Int(b.candidates);
    Opt(w, "final_value", b.final_value);
    w->Key("error");
    b.error.empty() ? w->Null() : w->String(b.error);
    if (b.error.empty()) {
      w->Key("range").BeginArray().Number(b.lo).Number(b.hi).EndArray();
      w->Key("final_baseline").Number(b.final_a).Key("final_run").Number(b.final_b);
      w->Key("final_diff").Number(b.final_diff).Key("area").Number(b.area);
      w->Key("mean_gap").Number(b.mean_gap).Key("max_abs_diff").Number(b.max_abs_diff);
      w->Key("max_abs_at").Number(b.max_abs_at).Key("leader").String(b.leader);
      Opt(w, "leads_since", b.leads_since);
      w->Key("crossings").Int(b.crossings);
    }
    w->EndObject();
  } else {
    w->Null();
  }
  w->Key("recommendations").BeginArray();
  for (auto& x : r.recommendations)
    w->BeginObject().Key("rule").String(x.rule).Key("text").String(x.text).EndObject();
  w->EndArray();
  w->EndObject();
}

}  // namespace inloop::report
