#include "report/sentences.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "common/duration_text.h"
#include "report/recommendations.h"

namespace inloop::report {
namespace {

std::string StatusPhrase(const std::string& s) {
  if (s == store::kFinished) return "finished";
  if (s == store::kFailed) return "failed";
  if (s == store::kStopped) return "was stopped";
  if (s == store::kInterrupted) return "was interrupted";
  if (s == store::kRunning) return "is still running";
  return s;
}

std::string Count(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

std::string KindNoun(const std::string& kind, int count) {
  const bool many = count != 1;
  if (kind == "nonfinite") return many ? "non-finite values" : "non-finite value";
  if (kind == "loss_spike") return many ? "loss spikes" : "loss spike";
  if (kind == "divergence") return many ? "divergences" : "divergence";
  if (kind == "grad_explosion") return many ? "gradient-norm explosions" : "gradient-norm explosion";
  if (kind == "plateau") return many ? "plateaus" : "plateau";
  if (kind == "throughput_regression") return many ? "throughput slowdowns" : "throughput slowdown";
  if (kind == "memory_growth") return "memory growth";
  if (kind == "hang") return many ? "hangs" : "hang";
  if (kind == "straggler") return many ? "stragglers" : "straggler";
  if (kind == "crash") return many ? "crashes" : "crash";
  return kind;
}

std::string FindingGroupText(const FindingGroup& g) {
  std::string out = fmt::format("{} {}", g.count, KindNoun(g.kind, g.count));
  std::string on;
  for (size_t i = 0; i < g.series.size() && i < 3; ++i) on += (i ? ", " : "") + g.series[i];
  if (g.series.size() > 3) on += fmt::format(" and {} more", g.series.size() - 3);
  if (!on.empty()) out += (g.kind == "crash" ? " (" + on + ")" : " on " + on);
  if (!g.related.empty()) {
    std::string also;
    for (auto& k : g.related) also += (also.empty() ? "" : ", ") + k;
    out += " (also seen on " + also + ")";
  }
  return out;
}

std::string TimelineKindText(const TimelineEntry& t) {
  return t.count > 1 ? fmt::format("{} x{}", t.kind, t.count) : t.kind;
}

std::string TimelineMessage(const TimelineEntry& t) {
  if (t.count <= 1) return t.message;
  return fmt::format("{} {} in a row{}; the first: {}", t.count, KindNoun(t.kind, t.count),
                     t.step_lo ? " over " + StepText(t.step_lo, t.step_hi) : std::string(),
                     t.message);
}

std::string StepText(const std::optional<int64_t>& lo, const std::optional<int64_t>& hi) {
  if (!lo) return {};
  if (hi && *hi != *lo) return fmt::format("steps {}-{}", *lo, *hi);
  return fmt::format("step {}", *lo);
}

std::string EvidenceText(const std::vector<Evidence>& ev, size_t max) {
  std::string out;
  for (size_t i = 0; i < ev.size() && i < max; ++i) {
    if (i) out += ' ';
    out += ev[i].name + "=" + Num(ev[i].value);
  }
  return out;
}

namespace {

// "rolled back to step 40 and skipped data 41-50", "resumed from step 80", ...
std::string DidText(const RemedyFacts& f) {
  std::string from = f.checkpoint_step ? fmt::format(" from step {}", *f.checkpoint_step)
                     : f.start_step    ? fmt::format(" at step {}", *f.start_step)
                                       : std::string(" from the beginning");
  if (f.state != store::kActionApplied) {
    if (f.state == store::kActionObserved) return fmt::format("recorded {} without acting (observe mode)", f.action);
    if (f.state == store::kActionDenied) return fmt::format("proposed {}, which was denied", f.action);
    if (f.state == store::kActionExpired) return fmt::format("proposed {}, which expired", f.action);
    return fmt::format("proposed {} ({})", f.action, f.state);
  }
  if (f.action == "stop") return "stopped the run";
  if (f.action == "rollback_skip") {
    std::string out = f.checkpoint_step ? fmt::format("rolled back to step {}", *f.checkpoint_step)
                                        : "restarted" + from;
    if (f.in_process) out += " in process (no restart)";
    if (f.skip) out += fmt::format(" and skipped data {}-{}", f.skip->first, f.skip->second - 1);
    return out;
  }
  if (f.action == "resume") return "resumed" + from;
  if (f.action == "lr_cut")
    return fmt::format("cut the learning rate{} and {}{}",
                       f.lr_scale ? " x" + Num(*f.lr_scale) : std::string(),
                       f.in_process ? "went back in process" : "restarted", from);
  if (f.action == "shrink_batch")
    return fmt::format("restarted{} with {}", from,
                       f.micro_batch ? fmt::format("micro-batch {}", *f.micro_batch)
                                     : std::string("a smaller micro-batch"));
  return f.action + from;
}

// Whether it worked, judged on the attempt that followed: "" when not measured.
std::string WorkedText(const RemedyFacts& f) {
  if (f.state != store::kActionApplied || !f.measured || f.steps_observed <= 0) return {};
  if (f.recurred_step) return fmt::format("but the {} came back at step {}", f.trigger, *f.recurred_step);
  if (f.recovered_step)
    return fmt::format("and {} was back to its level {} steps later", f.metric, f.steps_to_recover);
  return fmt::format("but {} did not get back to its level", f.metric);
}

}  // namespace

std::string Headline(const RunReport& r) {
  std::string status = StatusPhrase(r.run.status);
  std::string out = fmt::format("Run {} after {} in {}: ", status, DurationText(r.duration),
                                Count(static_cast<size_t>(std::max<int>(r.run.attempts, 1)),
                                      "attempt", "attempts"));
  // What happened: the findings by kind, the most severe first; info findings only when alone.
  std::vector<const FindingGroup*> shown;
  for (auto& g : r.finding_groups)
    if (g.severity != "info") shown.push_back(&g);
  if (shown.empty())
    for (auto& g : r.finding_groups) shown.push_back(&g);
  if (shown.empty()) {
    out += "nothing went wrong";
  } else {
    for (size_t i = 0; i < shown.size() && i < 3; ++i) {
      const FindingGroup& g = *shown[i];
      if (i) out += i + 1 == std::min<size_t>(shown.size(), 3) ? " and " : ", ";
      std::string noun = KindNoun(g.kind, g.count);
      std::string where = StepText(g.step_lo, g.step_hi);
      if (g.count == 1) {
        bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
        if (g.kind != "memory_growth") out += vowel ? "an " : "a ";
        out += noun;
      } else {
        out += fmt::format("{} {}", g.count, noun);
      }
      if (g.kind == "crash" && !g.series.empty()) out += " (" + g.series[0] + ")";
      if (!where.empty()) out += (g.count == 1 ? " at " : " over ") + where;
    }
    if (shown.size() > 3) out += fmt::format(" (and {} more kinds)", shown.size() - 3);
  }
  // What inloop did.
  std::vector<std::string> did;
  int64_t lost_steps = 0;
  double lost_seconds = 0;
  bool cost = false;
  for (auto& f : r.remedies) {
    if (did.size() < 3) {
      std::string d = DidText(f);
      std::string w = WorkedText(f);
      did.push_back(w.empty() ? d : d + " " + w);
    }
    if (f.cost_known) {
      cost = true;
      lost_steps += f.lost_steps;
      lost_seconds += f.lost_seconds;
    }
  }
  if (did.empty()) {
    out += shown.empty() ? "; inloop had nothing to do" : "; inloop took no action";
  } else {
    out += "; inloop ";
    for (size_t i = 0; i < did.size(); ++i) out += (i ? ", then " : "") + did[i];
    if (r.remedies.size() > did.size()) out += fmt::format(" (and {} more actions)", r.remedies.size() - did.size());
  }
  // What it cost.
  if (cost) {
    out += fmt::format("; cost {} run again and {} of wall time", Count(static_cast<size_t>(lost_steps), "step", "steps"),
                       DurationText(lost_seconds));
  }
  out += ".";
  return out;
}

std::string SummaryParagraph(const RunReport& r) {
  std::string out = fmt::format("Run {} ({}) {} after {} in {}", r.run.name, r.run.id,
                                StatusPhrase(r.run.status), DurationText(r.duration),
                                Count(static_cast<size_t>(std::max<int>(r.run.attempts, 0)),
                                      "attempt", "attempts"));
  if (r.run.exit_code && *r.run.exit_code != 0) out += fmt::format(", exit code {}", *r.run.exit_code);
  out += ".";
  if (r.metric && r.metric->first && r.metric->last) {
    const MetricFacts& m = *r.metric;
    out += fmt::format(" {} went from {} at step {} to {} at step {}", m.key, Num(m.first->value),
                       m.first->step, Num(m.last->value), m.last->step);
    if (m.best && m.best->step != m.last->step)
      out += fmt::format(" (best {} at step {})", Num(m.best->value), m.best->step);
    if (m.nonfinite) out += fmt::format(", with {} non-finite", Count(m.nonfinite, "point", "points"));
    out += ".";
  } else if (r.metric) {
    out += fmt::format(" {} has no finite value.", r.metric->key);
  } else {
    out += " No loss-like series was logged (name one with --key).";
  }
  std::map<std::string, int> kinds;
  for (auto& f : r.findings) ++kinds[f.kind];
  if (!kinds.empty()) {
    std::string list;
    for (auto& [k, n] : kinds) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", n, k);
    out += fmt::format(" The detectors reported {} ({}).", Count(r.findings.size(), "finding", "findings"),
                       list);
  }
  std::vector<const RemedyFacts*> applied;
  for (auto& f : r.remedies)
    if (f.state == store::kActionApplied) applied.push_back(&f);
  if (!applied.empty()) {
    std::string list;
    int recovered = 0, measured = 0;
    for (auto* f : applied) {
      list += fmt::format("{}{} after the {}{}", list.empty() ? "" : ", ", f->action, f->trigger,
                          f->trigger_step ? fmt::format(" at step {}", *f->trigger_step) : "");
      if (f->measured && f->steps_observed > 0) {
        ++measured;
        if (f->recovered_step) ++recovered;
      }
    }
    out += fmt::format(" {} applied: {}", Count(applied.size(), "remedy was", "remedies were"), list);
    if (measured) out += fmt::format("; {} of {} measured brought the metric back", recovered, measured);
    out += ".";
  }
  size_t other = r.remedies.size() - applied.size();
  if (other) out += fmt::format(" {} not applied.", Count(other, "proposed remedy was", "proposed remedies were"));
  if (r.throughput) {
    const auto& t = *r.throughput;
    out += fmt::format(" Median throughput {} {}{}", Num(t.median), t.key,
                       t.kind == "derived" ? " (from the wall times of the metric)" : "");
    if (!t.regressions.empty()) {
      double worst = 0;
      for (auto& g : t.regressions) worst = std::max(worst, g.drop);
      out += fmt::format(", with {} (worst -{:.0f}%)", Count(t.regressions.size(), "regression", "regressions"),
                         100 * worst);
    }
    out += ".";
  }
  std::string b = BaselineText(r);
  if (!b.empty()) out += " " + b;
  return out;
}

std::string RemedyPlanText(const RemedyFacts& f) {
  std::vector<std::string> parts;
  if (f.checkpoint_step) parts.push_back(fmt::format("from the checkpoint of step {}", *f.checkpoint_step));
  else if (f.start_step) parts.push_back(fmt::format("restart at step {}", *f.start_step));
  if (f.skip) parts.push_back(fmt::format("skip data {}-{}", f.skip->first, f.skip->second - 1));
  if (f.lr_scale) parts.push_back(fmt::format("lr x{}", Num(*f.lr_scale)));
  if (f.micro_batch && f.action == "shrink_batch") parts.push_back(fmt::format("micro-batch {}", *f.micro_batch));
  std::string out;
  for (auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string RemedyOutcomeText(const RunReport& r, const RemedyFacts& f) {
  if (f.state != store::kActionApplied) {
    std::string by = f.decided_by.empty() ? "" : " by " + f.decided_by;
    if (f.state == store::kActionDenied) return fmt::format("denied{}{}", by, f.note.empty() ? "" : ": " + f.note);
    if (f.state == store::kActionObserved) return "observe mode: recorded, not taken";
    if (f.state == store::kActionExpired) return fmt::format("expired{} before it was applied", by);
    return fmt::format("{}{}", f.state, by);
  }
  if (f.action == "stop") return "the run was ended: " + f.reason;
  if (!f.measured) {
    if (f.verdict.empty()) return "applied";
    return fmt::format("applied; the supervisor judged it {}", f.verdict);
  }
  const bool minimize = r.metric && r.metric->goal == "min";
  const char* side = minimize ? "under" : "over";
  std::string level = fmt::format("the pre-{} level {} (median of {} before step {})", f.trigger,
                                  Num(f.pre_level), Count(f.pre_points, "point", "points"), f.onset);
  std::string out;
  if (f.steps_observed <= 0) {
    out = fmt::format("no point of {} was logged after it", f.metric);
  } else if (f.recovered_step) {
    out = fmt::format("{} back {} {} within {} ({} at step {}{})", f.metric, side, level,
                      Count(f.steps_to_recover, "step", "steps"), Num(*f.recovered_value),
                      *f.recovered_step,
                      f.next_attempt ? fmt::format(", attempt {} began at step {}", f.next_attempt, f.restart_step)
                                     : fmt::format(", counting from step {}", f.restart_step));
  } else {
    out = fmt::format("{} did not get back {} {} within the remaining {} (steps {}-{})", f.metric,
                      side, level, Count(f.steps_observed, "step", "steps"), f.restart_step,
                      f.window_end);
  }
  if (f.recurred_step) out += fmt::format("; the {} came back at step {}", f.trigger, *f.recurred_step);
  return out;
}

std::string BaselineText(const RunReport& r) {
  if (!r.baseline || !r.metric) return {};
  const BaselineFacts& b = *r.baseline;
  std::string who = fmt::format("{} ({}{})", b.name, b.run_id,
                                b.how == "auto" ? fmt::format(", the best of {} earlier finished "
                                                              "{} of the same command",
                                                              b.candidates, b.candidates == 1 ? "run" : "runs")
                                                : "");
  if (!b.error.empty()) return fmt::format("No comparison with baseline {}: {}.", who, b.error);
  const bool minimize = r.metric->goal == "min";
  bool better = minimize ? b.final_diff < 0 : b.final_diff > 0;
  std::string out = fmt::format(
      "Against baseline {}, over steps {}-{}: final {} {} vs {} ({}{}, {}).", who, Num(b.lo), Num(b.hi),
      r.metric->key, Num(b.final_b), Num(b.final_a), b.final_diff >= 0 ? "+" : "", Num(b.final_diff),
      b.final_diff == 0 ? "equal" : (better ? "better" : "worse"));
  if (b.leader == "b") {
    out += b.leads_since ? fmt::format(" This run leads from step {:.0f}", *b.leads_since)
                         : std::string(" This run led all along");
  } else if (b.leader == "a") {
    out += b.leads_since ? fmt::format(" The baseline leads from step {:.0f}", *b.leads_since)
                         : std::string(" The baseline led all along");
  } else {
    out += " Neither leads at the end";
  }
  out += fmt::format("; mean gap {} (area {}), largest gap {} at step {:.0f}.", Num(b.mean_gap),
                     Num(b.area), Num(b.max_abs_diff), b.max_abs_at);
  return out;
}

std::string Offset(double s) { return s < 0 ? "-" : "+" + DurationText(s); }


}  // namespace inloop::report
