#include "report/render_markdown.h"

#include <time.h>

#include <fmt/format.h>

#include "common/display_text.h"
#include "common/duration_text.h"
#include "common/json_writer.h"
#include "report/recommendations.h"
#include "report/sentences.h"
#include "report/spike_data_section.h"

namespace inloop::report {
namespace {


// Plain text outside a table: only markup characters are escaped.
std::string Text(const std::string& s) { return MarkdownCell(s, std::string::npos); }

}  // namespace

std::string LocalTime(double t) { return t <= 0 ? "-" : LocalTimeText(t); }

std::string MarkdownCode(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '`' ? '\'' : (c == '\n' || c == '\r' ? ' ' : c);
  return out;
}

std::string MarkdownCell(const std::string& s, size_t max) {
  std::string out;
  size_t n = std::min(s.size(), max);
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    switch (c) {
      case '\n':
      case '\r':
      case '\t':
        out += ' ';
        break;
      case '|':
      case '\\':
      case '<':
      case '>':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  if (n < s.size()) out += "...";
  return out;
}

std::string RenderMarkdown(const RunReport& r) {
  std::string o;
  o += fmt::format("# Run report: {}\n\n", Text(r.run.name));
  o += fmt::format("`{}` · `{}` · started {}{}\n\n", r.run.id,
                   MarkdownCode(JoinCommand(r.run.command).substr(0, 300)), LocalTime(r.run.started_at),
                   r.run.host.empty() ? "" : " on " + Text(r.run.host));
  if (!r.headline.empty()) o += "**" + Text(r.headline) + "**\n\n";
  o += Text(SummaryParagraph(r)) + "\n\n";

  if (!r.finding_groups.empty()) {
    o += "## Findings\n\n| kind | count | steps | series | severity | first |\n"
         "|---|---|---|---|---|---|\n";
    for (auto& g : r.finding_groups) {
      std::string series;
      for (auto& k : g.series) series += (series.empty() ? "" : ", ") + k;
      for (auto& k : g.related) series += " (also " + k + ")";
      o += fmt::format("| {} | {} | {} | {} | {} | {} |\n", MarkdownCell(g.kind), g.count,
                       MarkdownCell(StepText(g.step_lo, g.step_hi)), MarkdownCell(series, 120),
                       MarkdownCell(g.severity), MarkdownCell(g.first_message, 200));
    }
    o += "\n";
  }

  if (!r.recommendations.empty()) {
    o += "## Recommendations\n\n";
    for (auto& x : r.recommendations) o += "- " + Text(x.text) + "\n";
    o += "\n";
  }

  o += SpikeDataMarkdown(r);

  if (!r.data_checks.empty()) {
    o += "## Data checks\n\n| output | check | field | severity | result | value | detail |\n"
         "|---|---|---|---|---|---|---|\n";
    for (auto& c : r.data_checks) {
      o += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", Text(c.output), c.check, Text(c.field),
                       data::SeverityName(c.severity), c.passed ? "passed" : "**FAILED**",
                       JsonNumber(c.value), MarkdownCell(c.message, 200));
    }
    o += "\n";
  }

  o += "## Timeline\n\n";
  if (r.timeline_collapsed.empty()) {
    o += "Nothing happened beyond the run itself: no finding, crash or action was recorded.\n\n";
  } else {
    o += "| time | steps | event | what happened | evidence |\n|---|---|---|---|---|\n";
    for (auto& t : r.timeline_collapsed) {
      o += fmt::format("| {} | {} | {} | {} | {} |\n", Offset(t.offset),
                       MarkdownCell(StepText(t.step_lo, t.step_hi)), MarkdownCell(TimelineKindText(t)),
                       MarkdownCell(TimelineMessage(t)),
                       MarkdownCell(t.count > 1 ? std::string() : EvidenceText(t.evidence)));
    }
    if (r.checkpoints) o += fmt::format("\n{} checkpoint{} recorded (not listed).\n", r.checkpoints, r.checkpoints == 1 ? "" : "s");
    o += "\n";
  }

  if (!r.remedies.empty()) {
    o += "## Remedies\n\n| # | action | trigger | step | state | plan | outcome |\n"
         "|---|---|---|---|---|---|---|\n";
    for (auto& f : r.remedies) {
      o += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", f.action_id, MarkdownCell(f.action),
                       MarkdownCell(f.trigger), f.trigger_step ? std::to_string(*f.trigger_step) : "-",
                       MarkdownCell(f.state), MarkdownCell(RemedyPlanText(f)),
                       MarkdownCell(RemedyOutcomeText(r, f)));
    }
    o += "\n";
  }

  if (!r.audit.empty()) {
    o += "## Audit\n\n| what | file | rule | severity | finding | done |\n|---|---|---|---|---|---|\n";
    for (const remedy::AuditData& a : r.audit) {
      std::string where = FileAndLine(a.file, a.line);
      o += fmt::format("| {} | {} | {} | {} | {} | {} |\n", MarkdownCell(a.context),
                       MarkdownCell(where), MarkdownCell(a.rule), MarkdownCell(a.severity),
                       MarkdownCell(a.message),
                       a.blocked ? "not loaded" : "policy " + MarkdownCell(a.policy));
    }
    o += "\n";
  }

  if (r.goodput) {
    const Goodput& g = *r.goodput;
    o += "## Goodput\n\n" + Text(GoodputText(g)) + ".\n\n";
    if (!g.faults.empty()) {
      o += "| fault | step | lost steps | lost time | time to detect | back at the step after |\n"
           "|---|---|---|---|---|---|\n";
      for (auto& c : g.faults)
        o += fmt::format("| {} | {} | {} | {} | {} | {} |\n", MarkdownCell(c.trigger), c.step,
                         c.lost_steps, DurationText(c.lost_seconds), DurationText(c.time_to_detect),
                         c.mttr ? DurationText(*c.mttr) : "never");
      o += "\n";
    }
  }

  if (!r.attempts.empty()) {
    o += "## Attempts\n\n| # | reason | first step | last step | exit | crash | duration |\n"
         "|---|---|---|---|---|---|---|\n";
    for (auto& a : r.attempts) {
      o += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", a.number, MarkdownCell(a.reason),
                       a.start_step ? std::to_string(*a.start_step) : "-",
                       a.last_step ? std::to_string(*a.last_step) : "-",
                       a.exit_code ? std::to_string(*a.exit_code) : "running",
                       MarkdownCell(a.crash_class.empty() ? "-" : a.crash_class),
                       a.ended_at > 0 ? DurationText(a.ended_at - a.started_at) : "-");
    }
    o += "\n";
  }

  if (r.throughput) {
    const auto& t = *r.throughput;
    o += "## Throughput\n\n";
    o += fmt::format("Median {} {} over {} points{}.\n\n", Num(t.median), MarkdownCell(t.key), t.points,
                     t.kind == "derived" ? " (steps per second from the wall times of the metric)" : "");
    if (!t.regressions.empty()) {
      o += "| series | steps | before | during | drop | found by |\n|---|---|---|---|---|---|\n";
      for (auto& g : t.regressions)
        o += fmt::format("| {} | {}-{} | {} | {} | {:.0f}% | {} |\n",
                         MarkdownCell(g.related.empty() ? g.key : g.key + " (also " + g.related + ")"), g.step_lo,
                         g.step_hi, Num(g.before), Num(g.during), 100 * g.drop, g.source);
      o += "\n";
    } else {
      o += "No regression.\n\n";
    }
  }

  if (r.baseline && r.metric) {
    const auto& b = *r.baseline;
    o += "## Comparison with the baseline\n\n" + Text(BaselineText(r)) + "\n\n";
    if (b.error.empty()) {
      o += fmt::format("| {} | baseline {} | this run | difference |\n|---|---|---|---|\n",
                       MarkdownCell(r.metric->key), MarkdownCell(b.name));
      o += fmt::format("| final (mean of the last 5%) | {} | {} | {}{} |\n", Num(b.final_a),
                       Num(b.final_b), b.final_diff >= 0 ? "+" : "", Num(b.final_diff));
      o += fmt::format("| mean gap over steps {}-{} | | | {} |\n", Num(b.lo), Num(b.hi), Num(b.mean_gap));
      o += fmt::format("| largest gap | | | {} at step {} |\n", Num(b.max_abs_diff), Num(b.max_abs_at));
      o += fmt::format("| leader at the end | | | {} |\n",
                       b.leader == "b" ? "this run" : b.leader == "a" ? "baseline" : "tie");
      o += fmt::format("| crossings | | | {} |\n\n", b.crossings);
    }
  }

  if (!r.series.empty()) {
    o += "## Series\n\n| series | points | last step | last | min | max | non-finite |\n"
         "|---|---|---|---|---|---|---|\n";
    size_t shown = 0;
    for (auto& s : r.series) {
      if (++shown > 40) {
        o += fmt::format("\n... and {} more series.\n", r.series.size() - 40);
        break;
      }
      o += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", MarkdownCell(s.key), s.points,
                       s.last_step, Num(s.last), s.has_finite ? Num(s.min) : "-",
                       s.has_finite ? Num(s.max) : "-", s.nonfinite);
    }
    o += "\n";
  }

  if (!r.params.empty()) {
    o += "## Params\n\n| param | value |\n|---|---|\n";
    size_t shown = 0;
    for (auto& p : r.params) {
      if (++shown > 60) {
        o += fmt::format("\n... and {} more params.\n", r.params.size() - 60);
        break;
      }
      o += fmt::format("| {} | {} |\n", MarkdownCell(p.key), MarkdownCell(p.value, 120));
    }
    o += "\n";
  }
  return o;
}

}  // namespace inloop::report
