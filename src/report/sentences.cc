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
