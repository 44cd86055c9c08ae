// The repair view from the run report: attempts and remedies give the abandoned steps and the
// skipped windows, the collapsed timeline gives the episodes, checkpoint events the checkpoints.
#include "report/repair_view.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "common/duration_text.h"
#include "report/recommendations.h"
#include "report/sentences.h"

namespace inloop::report {
namespace {

// The attempt number in an event's data ("attempt"), 0 when absent.
int AttemptOf(const std::string& data_json) {
  if (data_json.empty()) return 0;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(data_json).get(doc)) return 0;
  int64_t n = 0;
  if (doc["attempt"].get(n)) return 0;
  return static_cast<int>(n);
}

// "NaN" or "Inf" for a non-finite trigger (what its finding's evidence counted), else the noun of
// the finding kind or crash class ("loss spike", "hang", "segfault").
std::string FaultWord(const RunReport& r, const RemedyFacts& f) {
  if (f.trigger != "nonfinite") return KindNoun(f.trigger, 1);
  for (const FindingFacts& g : r.findings) {
    if (g.kind != "nonfinite" || g.step_lo != std::optional<int64_t>(f.onset)) continue;
    double nan = 0, inf = 0;
    for (const Evidence& e : g.evidence) {
      if (e.name == "nan") nan = e.value;
      if (e.name == "inf") inf = e.value;
    }
    if (nan == 0 && inf > 0) return "Inf";
    break;
  }
  return "NaN";
}

// What one applied remedy did, in the words of the line above the charts.
std::string DidWords(const RemedyFacts& f) {
  std::string from = f.checkpoint_step ? fmt::format("from {}", *f.checkpoint_step)
                     : f.start_step    ? fmt::format("at {}", *f.start_step)
                                       : std::string("from the beginning");
  if (f.action == "stop") return "stopped the run";
  if (f.action == "rollback_skip") {
    std::string out = f.checkpoint_step ? fmt::format("rolled back to {}", *f.checkpoint_step)
                                        : "restarted " + from;
    if (f.skip) out += fmt::format(", skipped {}-{}", f.skip->first, f.skip->second - 1);
    return out;
  }
  if (f.action == "resume") return "resumed " + from;
  if (f.action == "lr_cut")
    return fmt::format("cut the learning rate{}, restarted {}",
                       f.lr_scale ? " x" + Num(*f.lr_scale) : std::string(), from);
  if (f.action == "shrink_batch")
    return fmt::format("restarted {} with {}", from,
                       f.micro_batch ? fmt::format("micro-batch {}", *f.micro_batch)
                                     : std::string("a smaller micro-batch"));
  return f.action + " " + from;
}

void GatherAttempts(const RunReport& r, RepairView* v) {
  std::optional<int64_t> run_first;
  for (const SeriesSummary& s : r.series)
    if (r.metric && s.key == r.metric->key) run_first = s.first_step;
  for (const AttemptFacts& a : r.attempts) {
    RepairAttempt x;
    x.number = a.number;
    x.reason = a.reason;
    x.started_at = a.started_at;
    x.ended_at = a.ended_at;
    x.first_step = a.number > 1 ? a.start_step : run_first;
    x.last_step = a.last_step;
    v->attempts.push_back(std::move(x));
  }
  std::sort(v->attempts.begin(), v->attempts.end(),
            [](const RepairAttempt& a, const RepairAttempt& b) { return a.number < b.number; });
  // An attempt's steps from the earliest restart step of a later attempt on were run again.
  for (size_t i = 0; i < v->attempts.size(); ++i) {
    const RepairAttempt& a = v->attempts[i];
    if (!a.last_step) continue;
    std::optional<int64_t> cut;
    int by = 0;
    for (size_t j = i + 1; j < v->attempts.size(); ++j) {
      const auto& s = v->attempts[j].first_step;
      if (!s || *s > *a.last_step) continue;
      if (!by) by = v->attempts[j].number;
      cut = cut ? std::min(*cut, *s) : *s;
    }
    if (!cut) continue;
    int64_t lo = a.first_step ? std::max(*cut, *a.first_step) : *cut;
    if (lo <= *a.last_step) v->abandoned.push_back({a.number, by, lo, *a.last_step});
  }
}

void GatherEpisodes(const RunReport& r, RepairView* v) {
  for (const TimelineEntry& t : r.timeline_collapsed) {
    // A head of findings (or a crash) is in the report's findings; closing updates are not.
    auto f = std::find_if(r.findings.begin(), r.findings.end(),
                          [&](const FindingFacts& x) { return x.event_id == t.event_id; });
    if (f == r.findings.end()) continue;
    Episode e;
    e.kind = f->kind;
    e.severity = f->severity;
    e.key = f->series;
    e.count = std::max(1, t.count);
    e.step_lo = t.step_lo;
    e.step_hi = t.step_hi ? t.step_hi : t.step_lo;
    if (f->closed_hi && e.step_hi) e.step_hi = std::max(*e.step_hi, *f->closed_hi);
    e.time = f->time;
    e.message = f->message;
    v->episodes.push_back(std::move(e));
  }
}

}  // namespace

std::string RepairSummary(const RunReport& r) {
  std::string out;
  for (const RemedyFacts& f : r.remedies) {
    if (f.state != store::kActionApplied) continue;
    // A finding's onset as the report measured it; a crash or hang: the last step it logged.
    const bool finding = std::any_of(r.findings.begin(), r.findings.end(),
                                     [&](const FindingFacts& g) { return g.kind == f.trigger; });
    std::optional<int64_t> at =
        f.measured && finding ? std::optional<int64_t>(f.onset) : f.trigger_step;
    std::string clause = FaultWord(r, f);
    if (at) clause += fmt::format(" at {}", *at);
    clause += " → " + DidWords(f);
    if (f.cost_known) {
      clause += fmt::format(", cost {} {} / {}", f.lost_steps, f.lost_steps == 1 ? "step" : "steps",
                            DurationText(f.lost_seconds));
    }
    out += (out.empty() ? "" : "; ") + clause;
  }
  return out;
}

RepairView RepairViewOf(const RunReport& r, const std::vector<store::EventRecord>& events) {
  RepairView v;
  v.run_id = r.run.id;
  v.name = r.run.name;
  v.started_at = r.run.started_at;
  if (r.metric) v.metric = r.metric->key;
  GatherAttempts(r, &v);
  for (const RemedyFacts& f : r.remedies)
    if (f.state == store::kActionApplied && f.skip && f.skip->second > f.skip->first)
      v.skipped.push_back({f.action_id, f.skip->first, f.skip->second - 1});
  std::set<int64_t> seen;
  for (const store::EventRecord& e : events) {
    if (e.kind != "checkpoint" || !e.step_lo || !seen.insert(*e.step_lo).second) continue;
    v.checkpoints.push_back({*e.step_lo, e.time, AttemptOf(e.data_json)});
  }
  std::sort(v.checkpoints.begin(), v.checkpoints.end(),
            [](const CheckpointMark& a, const CheckpointMark& b) { return a.step < b.step; });
  GatherEpisodes(r, &v);
  v.summary = RepairSummary(r);
  v.goodput = r.goodput;
  return v;
}

Status BuildRepairView(store::Store* st, const std::string& run_ref, RepairView* out) {
  ReportOptions o;
  o.run = run_ref;
  o.auto_baseline = false;
  o.chart_columns = 1;  // the view draws no chart of its own
  RunReport r;
  INLOOP_RETURN_IF_ERROR(BuildRunReport(st, o, &r));
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEvents(r.run.id, &events));
  *out = RepairViewOf(r, events);
  return Status::OK();
}

namespace {

void OptInt(JsonWriter* w, const char* key, const std::optional<int64_t>& v) {
  w->Key(key);
  v ? w->Int(*v) : w->Null();
}

}  // namespace

void WriteRepairViewJson(const RepairView& v, JsonWriter* w) {
  w->BeginObject().Key("run").String(v.run_id).Key("name").String(v.name);
  w->Key("metric").String(v.metric).Key("started_at").Number(v.started_at);
  w->Key("attempts").BeginArray();
  for (const RepairAttempt& a : v.attempts) {
    w->BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
    w->Key("started_at").Number(a.started_at).Key("ended_at");
    a.ended_at > 0 ? w->Number(a.ended_at) : w->Null();
    OptInt(w, "first_step", a.first_step);
    OptInt(w, "last_step", a.last_step);
    w->EndObject();
  }
  w->EndArray().Key("abandoned").BeginArray();
  for (const AbandonedRange& a : v.abandoned) {
    w->BeginObject().Key("attempt").Int(a.attempt).Key("redone_by").Int(a.redone_by);
    w->Key("step_lo").Int(a.lo).Key("step_hi").Int(a.hi).EndObject();
  }
  w->EndArray().Key("skipped").BeginArray();
  for (const SkipWindow& s : v.skipped) {
    w->BeginObject().Key("action_id").Int(s.action_id).Key("lo").Int(s.lo).Key("hi").Int(s.hi);
    w->EndObject();
  }
  w->EndArray().Key("checkpoints").BeginArray();
  for (const CheckpointMark& c : v.checkpoints) {
    w->BeginObject().Key("step").Int(c.step).Key("time").Number(c.time);
    w->Key("attempt").Int(c.attempt).EndObject();
  }
  w->EndArray().Key("episodes").BeginArray();
  for (const Episode& e : v.episodes) {
    w->BeginObject().Key("kind").String(e.kind).Key("severity").String(e.severity);
    w->Key("key").String(e.key).Key("count").Int(e.count);
    OptInt(w, "step_lo", e.step_lo);
    OptInt(w, "step_hi", e.step_hi);
    w->Key("time").Number(e.time).Key("message").String(e.message).EndObject();
  }
  w->EndArray().Key("summary").String(v.summary).Key("goodput");
  if (v.goodput) {
    WriteGoodputJson(*v.goodput, w);
  } else {
    w->Null();
  }
  w->EndObject();
}

}  // namespace inloop::report
