// Gathering a RunReport: one pass over the run's catalog rows (attempts, events, actions), then
// series reads — the primary metric whole (its remedies are measured on it), the throughput
// series whole (a median and regressions need every point), the learning rate M4-downsampled
// (its peak and ends are exact under M4) plus a point lookup per anomaly. Charts are M4 over the
// points already in memory.
#include "report/run_report.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "common/json_number.h"
#include "compare/run_compare.h"
#include "detect/detect_config.h"
#include "detect/series_class.h"
#include "query/m4.h"
#include "query/series_query.h"
#include "report/recommendations.h"
#include "report/sentences.h"
#include "report/spike_data_section.h"
#include "remedy/timeline.h"
#include "supervise/run_context.h"
#include "stats/descriptive.h"

namespace inloop::report {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const std::set<std::string>& FindingKinds() {
  static const std::set<std::string> k = {"nonfinite",     "loss_spike", "divergence",
                                          "grad_explosion", "plateau",   "throughput_regression",
                                          "memory_growth", "hang",      "straggler"};
  return k;
}

bool IsRestart(const std::string& action) {
  return action == "resume" || action == "rollback_skip" || action == "lr_cut" ||
         action == "shrink_batch";
}


// The numbers at the top level of any event's data (its typed form: remedy/timeline.h), shown as
// the evidence of a timeline entry that is not a finding; ids and counts are left out.
std::vector<Evidence> TopNumbers(const std::string& json) {
  std::vector<Evidence> out;
  simdjson::dom::parser parser;
  element doc;
  simdjson::dom::object obj;
  if (json.empty() || parser.parse(json).get(doc) || doc.get(obj)) return out;
  for (auto field : obj) {
    std::string_view k = field.key;
    if (k == "pid" || k == "action_id" || k == "lines" || k == "truncated_lines") continue;
    if (auto v = JsonNumberOf(field.value)) out.push_back({std::string(k), *v});
  }
  return out;
}

using stats::Median;

bool Better(double a, double b, bool minimize) { return minimize ? a < b : a > b; }

std::vector<Point> Chart(const std::vector<Point>& pts, int columns) {
  if (pts.empty()) return {};
  return query::M4Points(pts, pts.front().step, pts.back().step, std::max(1, columns));
}

// The chart of a stored series: M4 over the chunk summaries, decoding only the chunks that
// straddle a column boundary.
Status StoredChart(store::Store* st, const std::string& run_id, const std::string& key,
                   int columns, std::vector<Point>* out) {
  query::SeriesQuery q;
  q.max_points = 4 * std::max(1, columns);
  query::SeriesResult res;
  INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run_id, key, q, &res));
  *out = std::move(res.points);
  return Status::OK();
}

double Now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string LowerKey(const std::string& k) { return detect::NormalizeKey(k); }

bool IsLrKey(const std::string& key) {
  std::string k = LowerKey(key);
  if (k == "lr" || k == "learning_rate") return true;
  auto ends = [&](std::string_view s) {
    return k.size() > s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0;
  };
  return ends("_lr") || ends("_learning_rate");
}

// ---- attempts ----

void GatherAttempts(store::Store* st, RunReport* r, const std::vector<store::EventRecord>& events) {
  std::vector<store::AttemptRecord> atts;
  if (!st->ListAttempts(r->run.id, &atts).ok()) return;
  std::map<std::string, std::string> base;
  for (auto& p : r->params)
    if (p.key.rfind("effective/", 0) != 0) base[p.key] = p.value;
  std::map<int, const store::EventRecord*> starts, exits;
  for (auto& e : events) {
    if (e.kind == remedy::event_kind::kAttemptStart) {
      if (int n = remedy::Parse<remedy::AttemptStartData>(e.data_json).attempt) starts[n] = &e;
    } else if (e.kind == remedy::event_kind::kAttemptExit) {
      if (int n = remedy::Parse<remedy::AttemptExitData>(e.data_json).attempt) exits[n] = &e;
    }
  }
  std::optional<int64_t> micro;
  for (const char* k : {"micro_batch", "micro_batch_size", "micro-batch", "batch_size", "batch-size"}) {
    auto it = base.find(k);
    if (it == base.end()) continue;
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (end != it->second.c_str() && *end == '\0' && v > 0) {
      micro = v;
      break;
    }
  }
  for (auto& a : atts) {
    AttemptFacts f;
    f.number = a.number;
    f.reason = a.reason;
    f.started_at = a.started_at;
    f.ended_at = a.ended_at;
    f.exit_code = a.exit_code;
    f.signal = a.signal;
    f.crash_class = a.crash_class;
    f.params = base;
    if (auto it = starts.find(a.number); it != starts.end()) {
      auto d = remedy::Parse<remedy::AttemptStartData>(it->second->data_json);
      if (a.number > 1 && d.restarted) {
        f.start_step = d.start_step;
        if (d.micro_batch) micro = *d.micro_batch;
        f.lr_scale = d.lr_scale;
      }
      for (auto& p : supervise::ParamsFromArgv(d.argv)) f.params[p.key] = p.value;
    }
    if (micro) {
      f.micro_batch = micro;
      f.params["micro_batch"] = std::to_string(*micro);
    }
    if (auto it = exits.find(a.number); it != exits.end()) {
      f.last_step = remedy::Parse<remedy::AttemptExitData>(it->second->data_json).last_step;
    }
    r->attempts.push_back(std::move(f));
  }
}

// ---- findings and the timeline ----

void GatherTimeline(RunReport* r, const std::vector<store::EventRecord>& events) {
  int attempt = 0;
  std::set<int64_t> auto_decided;  // action ids decided by the policy (their events are noise)
  for (auto& e : events) {
    if (e.kind == remedy::event_kind::kAttemptStart) {
      if (int n = remedy::Parse<remedy::AttemptStartData>(e.data_json).attempt) attempt = n;
    }
    if (e.kind == "checkpoint") {
      ++r->checkpoints;
      continue;
    }
    if (e.kind == remedy::event_kind::kAuditFinding) {
      r->audit.push_back(remedy::Parse<remedy::AuditData>(e.data_json));
      continue;
    }
    if (e.kind == "sdk_connected" || e.kind == "signal_sent") continue;
    if (e.kind == "data_check" && e.severity == "info") continue;
    if (e.kind == data::kDataBatchesEvent) continue;  // the data index: "Data behind the spike"  // passed: the Data checks table has it
    if (e.kind == "attempt_start" && attempt <= 1) continue;
    if (e.kind == remedy::event_kind::kActionApproved &&
        remedy::Parse<remedy::DecisionData>(e.data_json).by.empty()) {
      continue;  // the auto policy's
    }
    if (e.kind == remedy::event_kind::kActionProposed &&
        remedy::Parse<remedy::ActionData>(e.data_json).mode == "auto") {
      continue;
    }
    bool finding = FindingKinds().count(e.kind) > 0;
    remedy::FindingData fd;
    if (finding) remedy::FromJson(e.data_json, &fd);
    TimelineEntry t;
    t.event_id = e.id;
    t.time = e.time;
    t.offset = e.time - r->run.started_at;
    t.kind = e.kind;
    t.severity = e.severity;
    t.step_lo = e.step_lo;
    t.step_hi = e.step_hi;
    t.message = e.message;
    if (finding) {
      for (auto& [name, value] : fd.evidence) t.evidence.push_back({name, value});
    } else {
      t.evidence = TopNumbers(e.data_json);  // any event's numbers, whatever its kind
    }
    if (finding && fd.update) t.kind += "_end";
    r->timeline.push_back(t);
    if (!finding && e.kind != "crash") continue;
    if (finding && fd.update) {
      const std::string& series = fd.series;
      for (auto it = r->findings.rbegin(); it != r->findings.rend(); ++it) {
        if (it->kind == e.kind && it->series == series && it->step_lo == e.step_lo) {
          it->closed = true;
          it->closed_hi = e.step_hi;
          it->closing = t.evidence;
          it->related = fd.related;
          break;
        }
      }
      continue;
    }
    FindingFacts f;
    f.event_id = e.id;
    f.time = e.time;
    f.kind = e.kind;
    f.severity = e.severity;
    f.series = finding ? fd.series : remedy::Parse<remedy::CrashData>(e.data_json).crash_class;
    f.step_lo = e.step_lo;
    f.step_hi = e.step_hi;
    f.message = e.message;
    f.evidence = t.evidence;
    f.attempt = attempt;
    r->findings.push_back(std::move(f));
  }
}

std::string BaseKind(const std::string& k) {
  constexpr std::string_view kEnd = "_end";
  if (k.size() > kEnd.size() && k.compare(k.size() - kEnd.size(), kEnd.size(), kEnd) == 0) {
    std::string base = k.substr(0, k.size() - kEnd.size());
    if (FindingKinds().count(base)) return base;
  }
  return k;
}

void CollapseTimeline(RunReport* r) {
  std::vector<TimelineEntry> out;
  size_t run_start = 0;  // index in `out` of the first entry of the current run of one kind
  int run_count = 0;     // findings (not updates) in the run
  for (const TimelineEntry& t : r->timeline) {
    const std::string base = BaseKind(t.kind);
    const bool finding = FindingKinds().count(base) > 0;
    const bool is_end = base != t.kind;
    if (finding && !out.empty() && run_count > 0 && BaseKind(out[run_start].kind) == base) {
      TimelineEntry& head = out[run_start];
      if (!is_end) ++run_count;
      head.count = run_count;
      if (t.step_lo) head.step_lo = head.step_lo ? std::min(*head.step_lo, *t.step_lo) : *t.step_lo;
      std::optional<int64_t> hi = t.step_hi ? t.step_hi : t.step_lo;
      if (hi) head.step_hi = head.step_hi ? std::max(*head.step_hi, *hi) : *hi;
      if (run_count > 1) head.kind = base;  // several: "loss_spike x3", not one's "_end"
      continue;
    }
    out.push_back(t);
    if (finding && !is_end) {
      run_start = out.size() - 1;
      run_count = 1;
    } else {
      run_count = 0;
    }
  }
  r->timeline_collapsed = std::move(out);
}

int SeverityRank(const std::string& s) { return s == "error" ? 2 : s == "warning" ? 1 : 0; }

void GroupFindings(RunReport* r) {
  std::vector<FindingGroup> groups;
  std::vector<std::set<int>> attempts;
  for (const FindingFacts& f : r->findings) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const FindingGroup& g) { return g.kind == f.kind; });
    if (it == groups.end()) {
      FindingGroup g;
      g.kind = f.kind;
      g.severity = f.severity;
      g.first_event_id = f.event_id;
      g.first_message = f.message;
      groups.push_back(std::move(g));
      attempts.emplace_back();
      it = groups.end() - 1;
    }
    FindingGroup& g = *it;
    ++g.count;
    if (f.closed) ++g.closed;
    if (SeverityRank(f.severity) > SeverityRank(g.severity)) g.severity = f.severity;
    std::optional<int64_t> hi = f.closed_hi ? f.closed_hi : f.step_hi;
    if (f.step_lo) g.step_lo = g.step_lo ? std::min(*g.step_lo, *f.step_lo) : *f.step_lo;
    if (hi || f.step_lo) {
      int64_t h = hi ? *hi : *f.step_lo;
      g.step_hi = g.step_hi ? std::max(*g.step_hi, h) : h;
    }
    auto add = [](std::vector<std::string>* v, const std::string& k) {
      if (!k.empty() && std::find(v->begin(), v->end(), k) == v->end()) v->push_back(k);
    };
    add(&g.series, f.series);
    for (auto& k : f.related) add(&g.related, k);
    if (f.attempt > 0) attempts[static_cast<size_t>(it - groups.begin())].insert(f.attempt);
  }
  for (size_t i = 0; i < groups.size(); ++i) groups[i].attempts = static_cast<int>(attempts[i].size());
  std::stable_sort(groups.begin(), groups.end(), [](const FindingGroup& a, const FindingGroup& b) {
    return SeverityRank(a.severity) > SeverityRank(b.severity);
  });
  r->finding_groups = std::move(groups);
}

// ---- remedies ----

struct SeriesPoints {
  std::vector<Point> effective;  // the stitched curve
  std::vector<Point> segments;   // every stored point of every segment, when there are several
  bool several = false;
  // Every stored point (abandoned tails included), for the wall-time windows of remedies.
  const std::vector<Point>& stored() const { return several ? segments : effective; }
};

void GatherRemedies(store::Store* st, const ReportOptions& opts, RunReport* r,
                    const std::vector<store::EventRecord>& events,
                    const SeriesPoints* primary) {
  std::vector<store::ActionRecord> actions;
  if (!st->ListActions(r->run.id, "", &actions).ok()) return;
  for (auto& a : actions) {
    RemedyFacts f;
    f.action_id = a.id;
    f.action = a.action;
    f.trigger = a.trigger;
    f.state = a.state;
    f.decided_by = a.decided_by;
    f.note = a.note;
    f.reason = a.reason;
    f.trigger_step = a.step;
    f.created_at = a.created_at;
    auto d = remedy::Parse<remedy::ActionData>(a.data_json);
    if (d.checkpoint) f.checkpoint_step = d.checkpoint->step;
    if (d.restarts) f.start_step = d.start_step;
    f.micro_batch = d.micro_batch;
    if (a.action == "lr_cut") f.lr_scale = d.lr_scale;
    if (d.skip) f.skip = *d.skip;
    r->remedies.push_back(std::move(f));
  }
  // Which attempt each applied action started, and the supervisor's verdict.
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const bool outcome = e.kind == remedy::event_kind::kActionOutcome;
    if (e.kind != remedy::event_kind::kActionApplied && !outcome) continue;
    auto o = remedy::Parse<remedy::OutcomeData>(e.data_json);  // action_id, and the result
    if (!o.action_id) continue;
    auto it = std::find_if(r->remedies.begin(), r->remedies.end(),
                           [&](const RemedyFacts& f) { return f.action_id == o.action_id; });
    if (it == r->remedies.end()) continue;
    if (outcome) {
      it->verdict = o.result;
      continue;
    }
    if (remedy::Parse<remedy::ActionData>(e.data_json).in_process) {
      it->in_process = true;
      it->applied_at = e.time;
      continue;
    }
    for (size_t j = i + 1; j < events.size(); ++j) {
      if (events[j].kind != remedy::event_kind::kAttemptStart) continue;
      if (int n = remedy::Parse<remedy::AttemptStartData>(events[j].data_json).attempt) {
        it->next_attempt = n;
      }
      break;
    }
  }
  if (!primary || !r->metric) return;
  const bool minimize = r->metric->goal == "min";
  const double inf = std::numeric_limits<double>::infinity();
  // Every stored point in the order it was logged: storage order is that order unless segments
  // interleave in time, then a stable sort by wall time keeps ties in storage order.
  auto earlier = [](const Point& a, const Point& b) { return a.wall_time < b.wall_time; };
  const std::vector<Point>* by_time = &primary->stored();
  std::vector<Point> sorted;
  if (!std::is_sorted(by_time->begin(), by_time->end(), earlier)) {
    sorted = *by_time;
    std::stable_sort(sorted.begin(), sorted.end(), earlier);
    by_time = &sorted;
  }
  for (size_t i = 0; i < r->remedies.size(); ++i) {
    RemedyFacts& f = r->remedies[i];
    if (f.state != store::kActionApplied || !IsRestart(f.action)) continue;
    // The onset: the finding that triggered it, else the step after the last one logged.
    std::optional<int64_t> onset;
    int64_t trigger_event = 0;
    if (FindingKinds().count(f.trigger)) {
      for (auto it = r->findings.rbegin(); it != r->findings.rend(); ++it) {
        if (it->kind != f.trigger || !it->step_lo || it->time > f.created_at + 1) continue;
        if (f.trigger_step && *it->step_lo > *f.trigger_step) continue;
        onset = it->step_lo;
        trigger_event = it->event_id;
        break;
      }
    }
    if (!onset && f.trigger_step) onset = *f.trigger_step + 1;
    if (!onset) continue;
    f.metric = r->metric->key;
    f.onset = *onset;
    // Before: the last points under the onset that were logged before the action was taken.
    // Before: the last points under the onset that were logged before the action was taken.
    const std::vector<Point>& pts = *by_time;
    auto wall_lt = [](const Point& p, double t) { return p.wall_time < t; };
    size_t cut = static_cast<size_t>(
        std::upper_bound(pts.begin(), pts.end(), f.created_at,
                         [](double t, const Point& p) { return t < p.wall_time; }) -
        pts.begin());
    std::vector<double> vals;
    const size_t k = static_cast<size_t>(std::max(1, opts.pre_window));
    for (size_t j = cut; j-- > 0 && vals.size() < k;)
      if (pts[j].step < *onset && std::isfinite(pts[j].value)) vals.push_back(pts[j].value);
    if (vals.empty()) continue;
    f.pre_level = Median(vals);
    f.pre_points = static_cast<int>(vals.size());
    // After: the points logged after it, until the next restart. The process being stopped may
    // log a few more points: the window opens when the attempt the action started began.
    double until = inf;
    for (size_t j = i + 1; j < r->remedies.size(); ++j) {
      if (r->remedies[j].state == store::kActionApplied && IsRestart(r->remedies[j].action)) {
        until = r->remedies[j].created_at;
        break;
      }
    }
    double from = f.created_at;
    for (auto& a : r->attempts)
      if (a.number == f.next_attempt && a.started_at > from) from = a.started_at;
    const Point *first = nullptr, *last = nullptr, *rec = nullptr;
    for (auto it = std::lower_bound(pts.begin(), pts.end(), from, wall_lt);
         it != pts.end() && it->wall_time <= until; ++it) {
      if (!(it->wall_time > f.created_at)) continue;
      if (!first) first = &*it;
      last = &*it;
      bool back = std::isfinite(it->value) &&
                  (it->value == f.pre_level || Better(it->value, f.pre_level, minimize));
      if (back && !rec) rec = &*it;
    }
    f.measured = true;
    f.restart_step = f.start_step ? *f.start_step : (first ? first->step : *onset);
    f.window_end = last ? last->step : f.restart_step - 1;
    f.steps_observed = last ? f.window_end - f.restart_step + 1 : 0;
    if (rec) {
      f.recovered_step = rec->step;
      f.recovered_value = rec->value;
      f.steps_to_recover = rec->step - f.restart_step + 1;
    }
    // The remedy is judged on the attempt it started: what the stopped process still logged after
    // the action (a NaN that was already on its way) is not a recurrence.
    double next_start = 0;
    for (auto& a : r->attempts)
      if (a.number == f.next_attempt) next_start = a.started_at;
    for (auto& g : r->findings) {
      bool same = g.kind == f.trigger || (g.kind == "crash" && g.series == f.trigger);
      if (!same || g.event_id == trigger_event || !g.step_lo || g.time > until) continue;
      if (f.next_attempt <= 0) continue;  // no attempt followed: nothing to judge
      bool in_next = g.attempt > 0 ? g.attempt >= f.next_attempt : g.time >= next_start;
      if (in_next && g.time >= next_start && g.time > f.created_at) {
        f.recurred_step = g.step_lo;
        break;
      }
    }
    // The cost: the abandoned attempt's points from the restart step on are work done twice.
    if (f.next_attempt > 0 && first) {
      size_t old_end = static_cast<size_t>(
          std::lower_bound(pts.begin(), pts.end(), from, wall_lt) - pts.begin());
      int64_t last_old = std::numeric_limits<int64_t>::min();
      double t0 = f.created_at;
      for (size_t j = old_end; j-- > 0;) {
        if (pts[j].step < f.restart_step) break;
        last_old = std::max(last_old, pts[j].step);
        t0 = pts[j].wall_time;
      }
      f.cost_known = true;
      f.lost_steps = last_old >= f.restart_step ? last_old - f.restart_step + 1 : 0;
      f.lost_seconds = std::max(0.0, first->wall_time - std::min(t0, f.created_at));
    }
  }
}

// ---- goodput ----

void GatherGoodput(RunReport* r, const SeriesPoints* primary) {
  if (!primary) return;
  GoodputInput in;
  in.started_at = r->run.started_at;
  in.ended_at = r->run.started_at + r->duration;
  for (auto& a : r->attempts) in.attempt_starts.push_back(a.started_at);
  std::sort(in.attempt_starts.begin(), in.attempt_starts.end());
  in.points = primary->stored();
  std::stable_sort(in.points.begin(), in.points.end(),
                   [](const Point& a, const Point& b) { return a.wall_time < b.wall_time; });
  for (auto& f : r->remedies) {
    if (f.state != store::kActionApplied || !IsRestart(f.action)) continue;
    if (f.next_attempt <= 0 && !f.in_process) continue;
    GoodputInput::Fault x;
    x.trigger = f.trigger;
    const bool finding = FindingKinds().count(f.trigger) > 0;
    if (finding && f.measured) {
      x.step = f.onset;
    } else if (f.trigger_step) {
      x.step = *f.trigger_step;
    } else {
      continue;
    }
    x.action_at = f.created_at;
    x.restart_step = f.start_step ? *f.start_step : (f.measured ? f.restart_step : x.step);
    x.restart_at = f.in_process ? f.applied_at : f.created_at;
    for (auto& a : r->attempts)
      if (!f.in_process && a.number == f.next_attempt) x.restart_at = a.started_at;
    in.faults.push_back(std::move(x));
  }
  std::stable_sort(in.faults.begin(), in.faults.end(),
                   [](const GoodputInput::Fault& a, const GoodputInput::Fault& b) {
                     return a.action_at < b.action_at;
                   });
  r->goodput = ComputeGoodput(in);
}

// ---- throughput ----

void GatherThroughput(store::Store* st, const ReportOptions& opts, RunReport* r,
                      const SeriesPoints* primary) {
  detect::DetectConfig cfg;
  std::string best, step_time;
  for (auto& s : r->series) {
    // A multi-rank job's per-rank step times (rank/<r>/step_time) are each rank's own work, not
    // the job's pace.
    if (s.key.rfind("rank/", 0) == 0) continue;
    auto cls = detect::ClassifyKey(s.key, cfg);
    if (cls == detect::SeriesClass::kThroughput) {
      if (best.empty() || (LowerKey(best).find("token") == std::string::npos &&
                           LowerKey(s.key).find("token") != std::string::npos))
        best = s.key;
    } else if (cls == detect::SeriesClass::kStepTime && step_time.empty()) {
      step_time = s.key;
    }
  }
  ThroughputFacts t;
  std::vector<Point> pts;
  bool higher = true;
  if (!best.empty() || !step_time.empty()) {
    t.key = !best.empty() ? best : step_time;
    t.kind = !best.empty() ? "throughput" : "step_time";
    higher = !best.empty();
    query::SeriesResult res;
    if (!query::QuerySeries(st, r->run.id, t.key, query::SeriesQuery{}, &res).ok()) return;
    pts = std::move(res.points);
  } else if (primary && primary->effective.size() >= 3) {
    t.key = "steps_per_s";
    t.kind = "derived";
    const auto& e = primary->effective;
    for (size_t i = 1; i < e.size(); ++i) {
      double dt = e[i].wall_time - e[i - 1].wall_time;
      int64_t ds = e[i].step - e[i - 1].step;
      if (e[i - 1].wall_time > 0 && dt > 0 && ds > 0)
        pts.push_back({e[i].step, e[i].wall_time, static_cast<double>(ds) / dt});
    }
  }
  std::erase_if(pts, [](const Point& p) { return !std::isfinite(p.value); });
  if (pts.empty()) return;
  t.points = static_cast<int64_t>(pts.size());
  std::vector<double> v;
  v.reserve(pts.size());
  for (auto& p : pts) v.push_back(p.value);
  t.median = Median(std::move(v));
  if (t.kind == "derived" || !StoredChart(st, r->run.id, t.key, opts.chart_columns, &t.chart).ok())
    t.chart = Chart(pts, opts.chart_columns);
  t.material_drop = opts.regression_drop;
  // The supervisor's detector saw every point live: its findings win over a re-analysis. A step
  // time and a tokens/s series tell the same story twice: the chosen key's findings suffice.
  bool on_key = std::any_of(r->findings.begin(), r->findings.end(), [&](const FindingFacts& f) {
    return f.kind == "throughput_regression" && f.series == t.key;
  });
  for (auto& f : r->findings) {
    if (f.kind != "throughput_regression" || !f.step_lo) continue;
    if (on_key && f.series != t.key) continue;
    RegressionFacts g;
    g.key = f.series;
    for (auto& k : f.related) g.related += (g.related.empty() ? "" : ", ") + k;
    g.step_lo = *f.step_lo;
    g.step_hi = f.closed_hi ? *f.closed_hi : f.step_hi.value_or(*f.step_lo);
    g.source = "detector";
    for (auto& e : f.evidence) {
      if (e.name == "long_median") g.before = e.value;
      if (e.name == "short_median") g.during = e.value;
      if (e.name == "drop") g.drop = e.value;
    }
    for (auto& e : f.closing)
      if (e.name == "worst_drop") g.drop = std::max(g.drop, e.value);
    t.regressions.push_back(g);
  }
  if (t.regressions.empty()) {
    t.regressions = FindRegressions(pts, higher, opts.regression_drop);
    for (auto& g : t.regressions) g.key = t.key;
  }
  r->throughput = std::move(t);
}

// ---- learning rate ----

void GatherLr(store::Store* st, const ReportOptions& opts, RunReport* r) {
  std::string key;
  for (auto& s : r->series)
    if (IsLrKey(s.key) && s.has_finite) {
      key = s.key;
      break;
    }
  if (key.empty()) return;
  query::SeriesQuery q;
  q.max_points = 4 * opts.chart_columns;  // M4 keeps the first, last and extreme points exactly
  query::SeriesResult res;
  if (!query::QuerySeries(st, r->run.id, key, q, &res).ok()) return;
  std::erase_if(res.points, [](const Point& p) { return !std::isfinite(p.value); });
  if (res.points.empty()) return;
  LrFacts lr;
  lr.key = key;
  lr.first = res.points.front().value;
  lr.first_step = res.points.front().step;
  lr.last = res.points.back().value;
  lr.last_step = res.points.back().step;
  lr.peak = res.points.front().value;
  lr.peak_step = res.points.front().step;
  for (auto& p : res.points)
    if (p.value > lr.peak) {
      lr.peak = p.value;
      lr.peak_step = p.step;
    }
  for (auto& f : r->findings) {
    if (!f.step_lo || f.kind == "crash") continue;
    int64_t s = *f.step_lo;
    query::SeriesQuery one;
    one.lo = s;
    one.hi = s;
    query::SeriesResult at;
    if (query::QuerySeries(st, r->run.id, key, one, &at).ok() && !at.points.empty() &&
        std::isfinite(at.points.back().value)) {
      lr.at[s] = at.points.back().value;
      continue;
    }
    // Not logged at that step: the nearest point before it in the (dense enough) M4 view.
    auto it = std::upper_bound(res.points.begin(), res.points.end(), s,
                               [](int64_t x, const Point& p) { return x < p.step; });
    if (it != res.points.begin()) lr.at[s] = std::prev(it)->value;
  }
  r->lr = std::move(lr);
}

// ---- baseline ----

// This run's curve on the step axis as compare::LoadCurve makes it (finite points, one per step,
// the last one logged winning), from the points already read.
compare::Curve CurveOf(const RunReport& r, const std::vector<Point>& effective) {
  compare::Curve c;
  c.run_id = r.run.id;
  c.name = r.run.name;
  c.x.reserve(effective.size());
  c.y.reserve(effective.size());
  for (auto& p : effective) {
    if (!std::isfinite(p.value)) {
      ++c.nonfinite;
      continue;
    }
    double x = static_cast<double>(p.step);
    if (!c.x.empty() && c.x.back() == x) {
      c.y.back() = p.value;
      continue;
    }
    c.x.push_back(x);
    c.y.push_back(p.value);
  }
  return c;
}

Status GatherBaseline(store::Store* st, const ReportOptions& opts, RunReport* r,
                      const std::vector<Point>& effective) {
  if (!r->metric) return Status::OK();
  const std::string& key = r->metric->key;
  const bool minimize = r->metric->goal == "min";
  BaselineFacts b;
  store::RunRecord base;
  if (!opts.baseline.empty()) {
    INLOOP_RETURN_IF_ERROR(st->FindRun(opts.baseline, &base));
    if (base.id == r->run.id)
      return Status::Invalid(fmt::format("--baseline {} is the reported run itself", opts.baseline));
    b.how = "given";
  } else {
    if (!opts.auto_baseline) return Status::OK();
    std::vector<store::RunRecord> runs;
    INLOOP_RETURN_IF_ERROR(st->ListRuns(&runs));
    std::optional<double> best;
    for (auto& c : runs) {
      if (c.id == r->run.id || c.status != store::kFinished || c.command != r->run.command ||
          c.command.empty() || c.started_at >= r->run.started_at)
        continue;
      std::vector<store::SeriesStats> ss;
      if (!st->SeriesStatsFor(c.id, &ss).ok()) continue;
      for (auto& s : ss) {
        if (s.key != key || !std::isfinite(s.last.value)) continue;
        ++b.candidates;
        if (!best || Better(s.last.value, *best, minimize)) {
          best = s.last.value;
          base = c;
        }
      }
    }
    if (!best) return Status::OK();
    b.how = "auto";
  }
  b.run_id = base.id;
  b.name = base.name;
  compare::CompareOptions co;
  co.key = key;
  co.goal = minimize ? compare::Goal::kMin : compare::Goal::kMax;
  compare::Curve ca, cb;
  Status s = compare::LoadCurve(st, base.id, key, co, &ca);
  if (s.ok()) {
    b.final_value = ca.y.back();
    cb = CurveOf(*r, effective);
    if (cb.x.empty())
      s = Status::Invalid(fmt::format("{} of run {} has no finite point", key, r->run.id));
  }
  compare::CompareResult cmp;
  if (s.ok()) s = compare::Compare({ca}, {cb}, key, co, &cmp);
  if (!s.ok()) {
    if (s.code() != Status::Code::kInvalid && s.code() != Status::Code::kNotFound) return s;
    b.error = s.message();
    r->baseline = std::move(b);
    return Status::OK();
  }
  b.lo = cmp.lo;
  b.hi = cmp.hi;
  b.final_a = cmp.a.finals.empty() ? 0 : cmp.a.finals[0];
  b.final_b = cmp.b.finals.empty() ? 0 : cmp.b.finals[0];
  b.final_diff = cmp.final_diff;
  b.area = cmp.area;
  b.mean_gap = cmp.mean_gap;
  b.max_abs_diff = cmp.max_abs_diff;
  b.max_abs_at = cmp.max_abs_at;
  b.leader = cmp.leader;
  b.leads_since = cmp.leads_since;
  b.crossings = cmp.crossings;
  INLOOP_RETURN_IF_ERROR(StoredChart(st, base.id, key, opts.chart_columns, &b.chart));
  r->baseline = std::move(b);
  return Status::OK();
}


}  // namespace

std::string ChoosePrimaryKey(const std::vector<std::string>& keys) {
  for (const char* pref : {"train/loss", "train_loss", "loss", "training_loss", "train/lm_loss",
                           "lm_loss", "train/loss_step"})
    for (auto& k : keys)
      if (LowerKey(k) == LowerKey(pref)) return k;
  detect::DetectConfig cfg;
  for (auto cls : {detect::SeriesClass::kLoss, detect::SeriesClass::kEvalLoss})
    for (auto& k : keys)
      if (detect::ClassifyKey(k, cfg) == cls) return k;
  for (auto& k : keys)
    if (LowerKey(k).find("loss") != std::string::npos) return k;
  return {};
}

std::vector<RegressionFacts> FindRegressions(const std::vector<Point>& pts, bool higher_is_better,
                                             double drop) {
  std::vector<RegressionFacts> out;
  std::vector<Point> rate;
  rate.reserve(pts.size());
  for (auto& p : pts) {
    if (!std::isfinite(p.value)) continue;
    if (higher_is_better) {
      if (p.value >= 0) rate.push_back(p);
    } else if (p.value > 0) {
      rate.push_back({p.step, p.wall_time, 1 / p.value});
    }
  }
  const size_t b = std::max<size_t>(3, rate.size() / 200);
  struct Block {
    int64_t lo, hi;
    double median;
  };
  std::vector<Block> blocks;
  for (size_t i = 0; i + b <= rate.size(); i += b) {
    size_t end = i + 2 * b > rate.size() ? rate.size() : i + b;  // the last block takes the rest
    std::vector<double> v;
    for (size_t j = i; j < end; ++j) v.push_back(rate[j].value);
    blocks.push_back({rate[i].step, rate[end - 1].step, Median(std::move(v))});
    if (end == rate.size()) break;
  }
  constexpr size_t kTrail = 8, kMinTrail = 3, kSustain = 2;
  std::vector<double> normal;  // medians of the blocks outside any regression
  size_t i = 0;
  auto unit = [&](double r) { return higher_is_better ? r : 1 / r; };
  while (i < blocks.size()) {
    if (normal.size() < kMinTrail) {
      normal.push_back(blocks[i++].median);
      continue;
    }
    std::vector<double> trail(normal.end() - static_cast<std::ptrdiff_t>(std::min(kTrail, normal.size())),
                              normal.end());
    double ref = Median(trail);
    size_t j = i;
    while (j < blocks.size() && blocks[j].median < (1 - drop) * ref) ++j;
    if (j - i >= kSustain && ref > 0) {
      std::vector<double> in;
      for (size_t k = i; k < j; ++k) in.push_back(blocks[k].median);
      double during = Median(in);
      RegressionFacts g;
      g.step_lo = blocks[i].lo;
      g.step_hi = blocks[j - 1].hi;
      g.before = unit(ref);
      g.during = unit(during);
      g.drop = 1 - during / ref;
      g.source = "report";
      out.push_back(g);
      i = j;
      continue;
    }
    normal.push_back(blocks[i++].median);
  }
  return out;
}

std::optional<Goodput> RunGoodput(store::Store* st, const std::string& run_id) {
  ReportOptions o;
  o.run = run_id;
  o.auto_baseline = false;
  o.chart_columns = 1;
  o.spike_data = false;
  RunReport rr;
  if (!BuildRunReport(st, o, &rr).ok()) return std::nullopt;
  return rr.goodput;
}

Status BuildRunReport(store::Store* st, const ReportOptions& opts, RunReport* out) {
  *out = RunReport{};
  RunReport& r = *out;
  INLOOP_RETURN_IF_ERROR(st->FindRun(opts.run, &r.run));
  double end = r.run.ended_at > 0 ? r.run.ended_at : Now();
  r.duration = std::max(0.0, end - r.run.started_at);
  INLOOP_RETURN_IF_ERROR(st->GetParams(r.run.id, &r.params));
  INLOOP_RETURN_IF_ERROR(st->GetTags(r.run.id, &r.tags));
  std::vector<store::SeriesStats> stats;
  INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(r.run.id, &stats));
  std::vector<std::string> keys;
  for (auto& s : stats) {
    SeriesSummary m;
    m.key = s.key;
    m.points = s.points;
    m.segments = s.segments;
    m.first_step = s.first_step;
    m.last_step = s.last_step;
    m.last = s.last.value;
    m.min = s.min;
    m.max = s.max;
    m.has_finite = s.has_finite;
    m.nonfinite = s.nonfinite;
    r.series.push_back(m);
    keys.push_back(s.key);
  }
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEvents(r.run.id, &events));
  std::stable_sort(events.begin(), events.end(),
                   [](const store::EventRecord& a, const store::EventRecord& b) { return a.id < b.id; });
  GatherAttempts(st, &r, events);
  for (auto& e : events) {
    data::CheckResult c;
    if (e.kind == "data_check" && data::ParseCheckResult(e.data_json, &c)) r.data_checks.push_back(std::move(c));
  }
  GatherTimeline(&r, events);
  GroupFindings(&r);
  CollapseTimeline(&r);

  std::string key = opts.key.empty() ? ChoosePrimaryKey(keys) : opts.key;
  if (!opts.key.empty() && std::find(keys.begin(), keys.end(), key) == keys.end())
    return Status::NotFound(fmt::format("run {} has no series '{}' (see `inloop show {}`)",
                                        r.run.id, key, r.run.id));
  SeriesPoints primary;
  bool have_primary = false;
  if (!key.empty()) {
    query::SeriesResult res;
    INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, r.run.id, key, query::SeriesQuery{}, &res));
    MetricFacts m;
    m.key = key;
    m.goal = compare::GuessGoal(key) == compare::Goal::kMin ? "min" : "max";
    m.points = static_cast<int64_t>(res.points.size());
    const bool minimize = m.goal == "min";
    for (auto& p : res.points) {
      if (!std::isfinite(p.value)) {
        ++m.nonfinite;
        continue;
      }
      if (!m.first) m.first = p;
      m.last = p;
      if (!m.best || Better(p.value, m.best->value, minimize)) m.best = p;
    }
    INLOOP_RETURN_IF_ERROR(StoredChart(st, r.run.id, key, opts.chart_columns, &m.chart));
    if (m.first && m.last && m.last->step > m.first->step) {
      double s0 = static_cast<double>(m.first->step), span = static_cast<double>(m.last->step) - s0;
      m.late_lo = static_cast<int64_t>(std::ceil(s0 + 0.8 * span));
      m.late_mid = static_cast<int64_t>(std::ceil(s0 + 0.9 * span));
      m.late_hi = m.last->step;
      double sa = 0, sb = 0;
      int na = 0, nb = 0;
      for (auto& p : res.points) {
        if (!std::isfinite(p.value) || p.step < m.late_lo) continue;
        if (p.step < m.late_mid) {
          sa += p.value;
          ++na;
        } else {
          sb += p.value;
          ++nb;
        }
      }
      if (na >= 3 && nb >= 3) {
        m.late_mean_a = sa / na;
        m.late_mean_b = sb / nb;
      }
    }
    r.metric = std::move(m);
    if (res.segments.size() > 1) {
      for (auto& g : res.segments) {
        query::SeriesQuery q;
        q.segment = g.segment;
        query::SeriesResult one;
        INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, r.run.id, key, q, &one));
        primary.segments.insert(primary.segments.end(), one.points.begin(), one.points.end());
      }
      primary.several = true;
    }
    primary.effective = std::move(res.points);
    have_primary = true;
  }
  GatherRemedies(st, opts, &r, events, have_primary ? &primary : nullptr);
  if (opts.spike_data) GatherSpikeData(&r, events);
  GatherGoodput(&r, have_primary ? &primary : nullptr);
  GatherThroughput(st, opts, &r, have_primary ? &primary : nullptr);
  GatherLr(st, opts, &r);
  INLOOP_RETURN_IF_ERROR(GatherBaseline(st, opts, &r, primary.effective));
  r.recommendations = Recommend(r);
  r.headline = Headline(r);
  return Status::OK();
}

}  // namespace inloop::report
