// ComputeGoodput: one backward pass for survival (suffix minimum of the steps), one forward pass
// for the points' wall time, then a look at the points around each fault.
#include "report/goodput.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "common/duration_text.h"

namespace inloop::report {
namespace {

// The start of the attempt that was running at wall time t (the run's start before the first).
double AttemptStartAt(const GoodputInput& in, double t) {
  auto it = std::upper_bound(in.attempt_starts.begin(), in.attempt_starts.end(), t);
  if (it == in.attempt_starts.begin()) return in.started_at;
  return *(it - 1);
}

}  // namespace

Goodput ComputeGoodput(const GoodputInput& in) {
  Goodput g;
  g.wall_seconds = std::max(0.0, in.ended_at - in.started_at);
  const std::vector<Point>& pts = in.points;
  const size_t n = pts.size();
  // Survival: p survives when every later point has a larger step.
  std::vector<bool> survives(n, false);
  int64_t later_min = std::numeric_limits<int64_t>::max();
  for (size_t i = n; i-- > 0;) {
    survives[i] = pts[i].step < later_min;
    later_min = std::min(later_min, pts[i].step);
  }
  for (size_t i = 0; i < n; ++i) {
    const double start = AttemptStartAt(in, pts[i].wall_time);
    double from = start;
    if (i > 0 && pts[i - 1].wall_time >= start) from = pts[i - 1].wall_time;
    if (!survives[i]) continue;
    ++g.steps_survived;
    g.productive_seconds += std::max(0.0, pts[i].wall_time - from);
  }
  g.productive_seconds = std::min(g.productive_seconds, g.wall_seconds);
  g.ettr = g.wall_seconds > 0 ? g.productive_seconds / g.wall_seconds : 0;

  double ttd_sum = 0, mttr_sum = 0;
  int mttr_n = 0;
  for (const GoodputInput::Fault& f : in.faults) {
    FaultCost c;
    c.trigger = f.trigger;
    c.step = f.step;
    // The old attempt's points: logged before the restarted attempt began.
    const size_t old_end = static_cast<size_t>(
        std::lower_bound(pts.begin(), pts.end(), f.restart_at,
                         [](const Point& p, double t) { return p.wall_time < t; }) -
        pts.begin());
    const double old_start = AttemptStartAt(in, f.action_at);
    std::optional<double> at_fault, last_before;
    int64_t last_old = std::numeric_limits<int64_t>::min();
    double first_lost = f.action_at;
    for (size_t j = old_end; j-- > 0 && pts[j].wall_time >= old_start;) {
      if (pts[j].wall_time <= f.action_at) {
        if (!last_before) last_before = pts[j].wall_time;
        if (pts[j].step >= f.step) at_fault = pts[j].wall_time;  // ends on the earliest
      }
      if (pts[j].step >= f.restart_step) {
        last_old = std::max(last_old, pts[j].step);
        first_lost = std::min(first_lost, pts[j].wall_time);
      } else {
        break;  // before the restart step: the rest of the attempt survived
      }
    }
    // Walk back once more for the fault's time: points under the restart step may hold it.
    if (!at_fault) {
      for (size_t j = old_end; j-- > 0 && pts[j].wall_time >= old_start;) {
        if (pts[j].wall_time > f.action_at) continue;
        if (pts[j].step < f.step) break;
        at_fault = pts[j].wall_time;
      }
    }
    c.fault_at = at_fault ? *at_fault : (last_before ? *last_before : f.action_at);
    c.time_to_detect = std::max(0.0, f.action_at - c.fault_at);
    c.lost_steps = last_old >= f.restart_step ? last_old - f.restart_step + 1 : 0;
    std::optional<double> first_new;
    for (size_t j = old_end; j < n; ++j) {
      if (pts[j].wall_time < f.restart_at) continue;
      if (!first_new) first_new = pts[j].wall_time;
      if (pts[j].step >= f.step) {
        c.mttr = pts[j].wall_time - c.fault_at;
        break;
      }
    }
    c.lost_seconds = first_new ? std::max(0.0, *first_new - first_lost) : 0;
    g.lost_steps += c.lost_steps;
    g.lost_seconds += c.lost_seconds;
    ttd_sum += c.time_to_detect;
    if (c.mttr) {
      mttr_sum += *c.mttr;
      ++mttr_n;
    }
    g.faults.push_back(std::move(c));
  }
  if (!g.faults.empty()) g.mean_time_to_detect = ttd_sum / static_cast<double>(g.faults.size());
  if (mttr_n) g.mttr = mttr_sum / mttr_n;
  return g;
}

void WriteGoodputJson(const Goodput& g, JsonWriter* w) {
  w->BeginObject().Key("ettr").Number(g.ettr).Key("wall_seconds").Number(g.wall_seconds);
  w->Key("productive_seconds").Number(g.productive_seconds);
  w->Key("steps_survived").Int(g.steps_survived).Key("lost_steps").Int(g.lost_steps);
  w->Key("lost_seconds").Number(g.lost_seconds);
  w->Key("mean_time_to_detect");
  g.mean_time_to_detect ? w->Number(*g.mean_time_to_detect) : w->Null();
  w->Key("mttr");
  g.mttr ? w->Number(*g.mttr) : w->Null();
  w->Key("faults").BeginArray();
  for (const FaultCost& c : g.faults) {
    w->BeginObject().Key("trigger").String(c.trigger).Key("step").Int(c.step);
    w->Key("fault_at").Number(c.fault_at).Key("time_to_detect").Number(c.time_to_detect);
    w->Key("lost_steps").Int(c.lost_steps).Key("lost_seconds").Number(c.lost_seconds);
    w->Key("mttr");
    c.mttr ? w->Number(*c.mttr) : w->Null();
    w->EndObject();
  }
  w->EndArray().EndObject();
}

std::string GoodputText(const Goodput& g) {
  std::string out = fmt::format("ETTR {:.1f}% ({} of {} in steps that survived)", 100 * g.ettr,
                                DurationText(g.productive_seconds), DurationText(g.wall_seconds));
  if (g.faults.empty()) return out + "; no fault cost any step";
  out += fmt::format("; {} {}: {} steps / {} lost", g.faults.size(),
                     g.faults.size() == 1 ? "fault" : "faults", g.lost_steps,
                     DurationText(g.lost_seconds));
  if (g.mean_time_to_detect)
    out += fmt::format(", detected in {}", DurationText(*g.mean_time_to_detect));
  if (g.mttr) out += fmt::format(", back at the pre-fault step {} later (MTTR)", DurationText(*g.mttr));
  if (g.faults.size() > 1) out += " (means over the faults)";
  return out;
}

}  // namespace inloop::report
