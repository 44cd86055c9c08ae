#include "report/render_html.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "common/display_text.h"
#include "common/duration_text.h"
#include "report/recommendations.h"
#include "report/render_markdown.h"
#include "report/sentences.h"
#include "report/spike_data_section.h"

namespace inloop::report {
namespace {

constexpr double kW = 880, kH = 280, kLeft = 70, kRight = 16, kTop = 14, kBottom = 34;

constexpr std::string_view kStyle = R"css(
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #656d76;
  --border: #d0d7de; --grid: #e6e8eb; --row: #f6f8fa; --line: #1f6feb; --base: #8c959f;
  --warning: #bf8700; --error: #cf222e; --info: #57606a; --action: #1a7f37; --shade: #cf222e22; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8d96a0; --border: #30363d; --grid: #21262d;
    --row: #161b22; --line: #58a6ff; --base: #6e7681; --warning: #d29922; --error: #f85149;
    --info: #8d96a0; --action: #3fb950; --shade: #f8514933; } }
body { background: var(--bg); color: var(--fg); margin: 0;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 940px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
  border-bottom: 1px solid var(--border); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 16px; } code { font: 12px ui-monospace, monospace; }
.summary { font-size: 15px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--border); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--row); } tr:nth-child(even) td { background: var(--row); }
td.num { text-align: right; white-space: nowrap; } td.ev { font: 12px ui-monospace, monospace; }
.sev-warning { color: var(--warning); } .sev-error { color: var(--error); }
.sev-info { color: var(--info); }
svg { width: 100%; height: auto; display: block; }
svg text { fill: var(--muted); font-size: 11px; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .axis { stroke: var(--border); stroke-width: 1; }
svg .series { fill: none; stroke: var(--line); stroke-width: 1.4; }
svg .baseline { fill: none; stroke: var(--base); stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .m-warning { stroke: var(--warning); } svg .m-error { stroke: var(--error); }
svg .m-info { stroke: var(--info); } svg .m-action { stroke: var(--action); }
svg .marker { stroke-width: 1.2; stroke-dasharray: 3 3; }
svg .mlabel { font-size: 10px; fill: var(--fg); }
svg .shade { fill: var(--shade); }
svg .clip { fill: var(--error); }
.legend { color: var(--muted); font-size: 12px; margin: 2px 0 0; }
.legend span { margin-right: 14px; }
.sw { display: inline-block; width: 18px; height: 0; border-top: 2px solid; vertical-align: middle;
  margin-right: 4px; }
details summary { cursor: pointer; color: var(--muted); }
)css";

struct Marker {
  int64_t step = 0;
  std::string label;  // shown at the top of the line
  std::string title;  // tooltip
  std::string cls;    // m-warning, m-error, m-info, m-action
};

struct Line {
  const std::vector<Point>* pts = nullptr;
  std::string cls;
};

struct Shade {
  int64_t lo = 0, hi = 0;
  std::string title;
};

std::string F(double v) { return fmt::format("{:.1f}", v); }

// About n round-number ticks covering [lo, hi].
std::vector<double> Ticks(double lo, double hi, int n) {
  std::vector<double> out;
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / n;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    out.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
    if (out.size() > 50) break;
  }
  return out;
}

std::string Chart(const std::vector<Line>& lines, const std::vector<Marker>& markers,
                  const std::vector<Shade>& shades, const std::string& label) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
  std::vector<double> ys;
  for (auto& l : lines)
    for (auto& p : *l.pts) {
      xlo = std::min(xlo, static_cast<double>(p.step));
      xhi = std::max(xhi, static_cast<double>(p.step));
      if (std::isfinite(p.value)) ys.push_back(p.value);
    }
  if (ys.empty()) return {};
  std::sort(ys.begin(), ys.end());
  double ylo = ys.front(), yhi = ys.back();
  // A spike hundreds of times the typical value would flatten the curve: the scale stops at 1.5x
  // the 95th percentile and points above it are drawn on the top edge (marked).
  double p95 = ys[static_cast<size_t>(0.95 * static_cast<double>(ys.size() - 1))];
  double span95 = p95 - ylo;
  bool clipped = false;
  if (span95 > 0 && yhi - ylo > 4 * span95) {
    yhi = ylo + 1.5 * span95;
    clipped = true;
  }
  if (!(yhi > ylo)) {
    double d = ylo == 0 ? 1 : std::fabs(ylo) * 0.1;
    ylo -= d;
    yhi += d;
  } else {
    double pad = (yhi - ylo) * 0.04;
    ylo -= clipped ? 0 : pad;
    yhi += clipped ? 0 : pad;
  }
  if (!(xhi > xlo)) {
    xlo -= 1;
    xhi += 1;
  }
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto X = [&](double s) { return kLeft + (s - xlo) / (xhi - xlo) * pw; };
  auto Y = [&](double v) {
    double c = std::clamp(v, ylo, yhi);
    return kTop + (1 - (c - ylo) / (yhi - ylo)) * ph;
  };
  std::string o = fmt::format(
      "<svg viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n", kW, kH, HtmlEscape(label));
  for (auto& s : shades) {
    double a = X(static_cast<double>(std::max<int64_t>(s.lo, static_cast<int64_t>(xlo))));
    double b = X(static_cast<double>(std::min<int64_t>(s.hi, static_cast<int64_t>(xhi))));
    o += fmt::format("<rect class=\"shade\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>\n",
                     F(a), F(kTop), F(std::max(1.0, b - a)), F(ph), HtmlEscape(s.title));
  }
  for (double t : Ticks(ylo, yhi, 5)) {
    o += fmt::format("<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>", F(kLeft),
                     F(kW - kRight), F(Y(t)), F(Y(t)));
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", F(kLeft - 6),
                     F(Y(t) + 4), HtmlEscape(Num(t)));
  }
  for (double t : Ticks(xlo, xhi, 8)) {
    o += fmt::format("<line class=\"axis\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>", F(X(t)),
                     F(X(t)), F(kTop + ph), F(kTop + ph + 4));
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", F(X(t)),
                     F(kTop + ph + 16), HtmlEscape(Num(t)));
  }
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">step</text>\n", F(kW - kRight),
                   F(kH - 4));
  o += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>\n", F(kLeft),
                   F(kTop), F(kTop + ph));
  for (auto& l : lines) {
    std::string pts;
    auto flush = [&]() {
      if (pts.empty()) return;
      o += fmt::format("<polyline class=\"{}\" points=\"{}\"/>\n", l.cls, pts);
      pts.clear();
    };
    for (auto& p : *l.pts) {
      if (!std::isfinite(p.value)) {
        flush();
        continue;
      }
      if (!pts.empty()) pts += ' ';
      pts += F(X(static_cast<double>(p.step))) + "," + F(Y(p.value));
      if (clipped && p.value > yhi)
        o += fmt::format("<circle class=\"clip\" cx=\"{}\" cy=\"{}\" r=\"2.5\"><title>{} at step {} (off the scale)</title></circle>\n",
                         F(X(static_cast<double>(p.step))), F(kTop), HtmlEscape(Num(p.value)), p.step);
    }
    flush();
  }
  for (auto& m : markers) {
    if (m.step < xlo || m.step > xhi) continue;
    double x = X(static_cast<double>(m.step));
    o += fmt::format("<g><title>{0}</title><line class=\"marker {1}\" x1=\"{2}\" x2=\"{2}\" y1=\"{3}\" "
                     "y2=\"{4}\"/><text class=\"mlabel\" x=\"{5}\" y=\"{6}\">{7}</text></g>\n",
                     HtmlEscape(m.title), m.cls, F(x), F(kTop + 10), F(kTop + ph), F(x + 2),
                     F(kTop + 9), HtmlEscape(m.label));
  }
  o += "</svg>\n";
  return o;
}

std::string Td(const std::string& s, const char* cls = nullptr) {
  return cls ? fmt::format("<td class=\"{}\">{}</td>", cls, HtmlEscape(s))
             : fmt::format("<td>{}</td>", HtmlEscape(s));
}


}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderHtml(const RunReport& r) {
  std::string o;
  o += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += fmt::format("<title>Run report: {}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
                   HtmlEscape(r.run.name), kStyle);
  o += fmt::format("<h1>Run report: {}</h1>\n", HtmlEscape(r.run.name));
  o += fmt::format("<p class=\"sub\"><code>{}</code> · <code>{}</code> · started {}{}</p>\n",
                   HtmlEscape(r.run.id), HtmlEscape(JoinCommand(r.run.command)), HtmlEscape(LocalTime(r.run.started_at)),
                   r.run.host.empty() ? "" : " on " + HtmlEscape(r.run.host));
  if (!r.headline.empty()) o += fmt::format("<p class=\"summary\"><strong>{}</strong></p>\n", HtmlEscape(r.headline));
  o += fmt::format("<p class=\"summary\">{}</p>\n", HtmlEscape(SummaryParagraph(r)));

  if (!r.finding_groups.empty()) {
    o += "<h2>Findings</h2>\n<table>\n<tr><th>kind</th><th>count</th><th>steps</th><th>series</th>"
         "<th>first</th></tr>\n";
    for (auto& g : r.finding_groups) {
      std::string series;
      for (auto& k : g.series) series += (series.empty() ? "" : ", ") + k;
      for (auto& k : g.related) series += " (also " + k + ")";
      o += fmt::format("<tr><td class=\"sev-{}\">{}</td>{}{}{}{}</tr>\n", HtmlEscape(g.severity),
                       HtmlEscape(g.kind), Td(std::to_string(g.count), "num"),
                       Td(StepText(g.step_lo, g.step_hi), "num"), Td(series), Td(g.first_message));
    }
    o += "</table>\n";
  }

  if (!r.recommendations.empty()) {
    o += "<h2>Recommendations</h2>\n<ul>\n";
    for (auto& x : r.recommendations) o += fmt::format("<li>{}</li>\n", HtmlEscape(x.text));
    o += "</ul>\n";
  }

  o += SpikeDataHtml(r);

  if (!r.data_checks.empty()) {
    o += "<h2>Data checks</h2>\n<table>\n<tr><th>output</th><th>check</th><th>field</th>"
         "<th>severity</th><th>result</th><th>detail</th></tr>\n";
    for (auto& c : r.data_checks) {
      o += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       HtmlEscape(c.output), HtmlEscape(c.check), HtmlEscape(c.field),
                       data::SeverityName(c.severity), c.passed ? "passed" : "<b>FAILED</b>",
                       HtmlEscape(c.message));
    }
    o += "</table>\n";
  }

  // Markers: one per timeline entry with a step, numbered as in the table.
  std::vector<Marker> markers;
  const std::vector<TimelineEntry>& timeline = r.timeline_collapsed;
  for (size_t i = 0; i < timeline.size(); ++i) {
    const auto& t = timeline[i];
    if (!t.step_lo) continue;
    bool action = t.kind.rfind("action_", 0) == 0 || t.kind == "attempt_start";
    if (t.kind.size() > 4 && t.kind.compare(t.kind.size() - 4, 4, "_end") == 0) continue;
    std::string cls = action ? "m-action" : "m-" + (t.severity.empty() ? std::string("info") : t.severity);
    std::string title = fmt::format("{}. {} ({}): {}", i + 1, TimelineKindText(t),
                                    StepText(t.step_lo, t.step_hi), TimelineMessage(t));
    // Entries at one step share a marker: "1,2,3", the most severe colour, every line in its title.
    auto same = std::find_if(markers.begin(), markers.end(), [&](const Marker& m) { return m.step == *t.step_lo; });
    if (same == markers.end()) {
      markers.push_back({*t.step_lo, std::to_string(i + 1), title, cls});
      continue;
    }
    same->label += "," + std::to_string(i + 1);
    same->title += "\n" + title;
    auto rank = [](const std::string& c) {
      return c == "m-error" ? 3 : c == "m-warning" ? 2 : c == "m-action" ? 1 : 0;
    };
    if (rank(cls) > rank(same->cls)) same->cls = cls;
  }
  if (r.metric && !r.metric->chart.empty()) {
    o += fmt::format("<h2>{}</h2>\n", HtmlEscape(r.metric->key));
    std::vector<Line> lines;
    if (r.baseline && !r.baseline->chart.empty()) lines.push_back({&r.baseline->chart, "baseline"});
    lines.push_back({&r.metric->chart, "series"});
    o += Chart(lines, markers, {}, r.metric->key);
    o += "<p class=\"legend\"><span><i class=\"sw\" style=\"border-color: var(--line)\"></i>this run</span>";
    if (r.baseline && !r.baseline->chart.empty())
      o += fmt::format("<span><i class=\"sw\" style=\"border-color: var(--base); border-top-style: dashed\"></i>baseline {}</span>",
                       HtmlEscape(r.baseline->name));
    if (!markers.empty())
      o += "<span><i class=\"sw\" style=\"border-color: var(--warning)\"></i>finding</span>"
           "<span><i class=\"sw\" style=\"border-color: var(--action)\"></i>action (numbers as in the timeline)</span>";
    o += "</p>\n";
  }

  o += "<h2>Timeline</h2>\n";
  if (timeline.empty()) {
    o += "<p>No finding, crash or action was recorded.</p>\n";
  } else {
    o += "<table>\n<tr><th>#</th><th>time</th><th>steps</th><th>event</th><th>what happened</th><th>evidence</th></tr>\n";
    for (size_t i = 0; i < timeline.size(); ++i) {
      const auto& t = timeline[i];
      o += fmt::format("<tr><td class=\"num\">{}</td>{}{}<td class=\"sev-{}\">{}</td>{}{}</tr>\n", i + 1,
                       Td(Offset(t.offset), "num"), Td(StepText(t.step_lo, t.step_hi), "num"),
                       HtmlEscape(t.severity.empty() ? "info" : t.severity), HtmlEscape(TimelineKindText(t)),
                       Td(TimelineMessage(t)), Td(t.count > 1 ? std::string() : EvidenceText(t.evidence), "ev"));
    }
    o += "</table>\n";
    if (r.checkpoints)
      o += fmt::format("<p class=\"legend\">{} checkpoint{} recorded (not listed).</p>\n", r.checkpoints,
                       r.checkpoints == 1 ? "" : "s");
  }

  if (!r.audit.empty()) {
    o += "<h2>Audit</h2>\n<table>\n<tr><th>what</th><th>file</th><th>rule</th><th>severity</th>"
         "<th>finding</th><th>done</th></tr>\n";
    for (const remedy::AuditData& a : r.audit) {
      std::string where = FileAndLine(a.file, a.line);
      o += fmt::format("<tr>{}{}{}{}{}{}</tr>\n", Td(a.context), Td(where), Td(a.rule),
                       Td(a.severity), Td(a.message),
                       Td(a.blocked ? "not loaded" : "policy " + a.policy));
    }
    o += "</table>\n";
  }

  if (r.goodput) {
    o += fmt::format("<h2>Goodput</h2>\n<p>{}.</p>\n", HtmlEscape(GoodputText(*r.goodput)));
  }

  if (!r.remedies.empty()) {
    o += "<h2>Remedies</h2>\n<table>\n<tr><th>#</th><th>action</th><th>trigger</th><th>step</th>"
         "<th>state</th><th>plan</th><th>outcome</th></tr>\n";
    for (auto& f : r.remedies) {
      o += fmt::format("<tr><td class=\"num\">{}</td>{}{}{}{}{}{}</tr>\n", f.action_id, Td(f.action),
                       Td(f.trigger), Td(f.trigger_step ? std::to_string(*f.trigger_step) : "-", "num"),
                       Td(f.state), Td(RemedyPlanText(f)), Td(RemedyOutcomeText(r, f)));
    }
    o += "</table>\n";
  }

  if (!r.attempts.empty()) {
    o += "<h2>Attempts</h2>\n<table>\n<tr><th>#</th><th>reason</th><th>first step</th><th>last step</th>"
         "<th>exit</th><th>crash</th><th>duration</th></tr>\n";
    for (auto& a : r.attempts) {
      o += fmt::format("<tr><td class=\"num\">{}</td>{}{}{}{}{}{}</tr>\n", a.number, Td(a.reason),
                       Td(a.start_step ? std::to_string(*a.start_step) : "-", "num"),
                       Td(a.last_step ? std::to_string(*a.last_step) : "-", "num"),
                       Td(a.exit_code ? std::to_string(*a.exit_code) : "running", "num"),
                       Td(a.crash_class.empty() ? "-" : a.crash_class),
                       Td(a.ended_at > 0 ? DurationText(a.ended_at - a.started_at) : "-", "num"));
    }
    o += "</table>\n";
  }

  if (r.throughput) {
    const auto& t = *r.throughput;
    o += fmt::format("<h2>Throughput: {}</h2>\n", HtmlEscape(t.key));
    o += fmt::format("<p>Median {} over {} points{}.</p>\n", HtmlEscape(Num(t.median)), t.points,
                     t.kind == "derived" ? " (steps per second from the wall times of the metric)" : "");
    std::vector<Shade> shades;
    for (auto& g : t.regressions)
      shades.push_back({g.step_lo, g.step_hi,
                        fmt::format("{} -{:.0f}%: steps {}-{}", g.key, 100 * g.drop, g.step_lo, g.step_hi)});
    o += Chart({{&t.chart, "series"}}, {}, shades, t.key);
    if (!t.regressions.empty()) {
      o += "<table>\n<tr><th>series</th><th>steps</th><th>before</th><th>during</th><th>drop</th><th>found by</th></tr>\n";
      for (auto& g : t.regressions)
        o += fmt::format("<tr>{}{}{}{}{}{}</tr>\n", Td(g.key),
                         Td(fmt::format("{}-{}", g.step_lo, g.step_hi), "num"), Td(Num(g.before), "num"),
                         Td(Num(g.during), "num"), Td(fmt::format("{:.0f}%", 100 * g.drop), "num"),
                         Td(g.source));
      o += "</table>\n";
    }
  }

  if (r.baseline && r.metric) {
    const auto& b = *r.baseline;
    o += "<h2>Comparison with the baseline</h2>\n";
    o += fmt::format("<p>{}</p>\n", HtmlEscape(BaselineText(r)));
    if (b.error.empty()) {
      o += fmt::format("<table>\n<tr><th>{}</th><th>baseline {}</th><th>this run</th><th>difference</th></tr>\n",
                       HtmlEscape(r.metric->key), HtmlEscape(b.name));
      o += fmt::format("<tr><td>final (mean of the last 5%)</td>{}{}{}</tr>\n", Td(Num(b.final_a), "num"),
                       Td(Num(b.final_b), "num"),
                       Td((b.final_diff >= 0 ? "+" : "") + Num(b.final_diff), "num"));
      o += fmt::format("<tr><td>mean gap over steps {}-{}</td><td></td><td></td>{}</tr>\n",
                       HtmlEscape(Num(b.lo)), HtmlEscape(Num(b.hi)), Td(Num(b.mean_gap), "num"));
      o += fmt::format("<tr><td>largest gap</td><td></td><td></td>{}</tr>\n",
                       Td(fmt::format("{} at step {}", Num(b.max_abs_diff), Num(b.max_abs_at)), "num"));
      o += fmt::format("<tr><td>leader at the end</td><td></td><td></td>{}</tr>\n",
                       Td(b.leader == "b" ? "this run" : b.leader == "a" ? "baseline" : "tie"));
      o += fmt::format("<tr><td>crossings</td><td></td><td></td>{}</tr>\n</table>\n",
                       Td(std::to_string(b.crossings), "num"));
    }
  }

  if (!r.series.empty()) {
    o += fmt::format("<h2>Series</h2>\n<details><summary>{} series</summary>\n<table>\n", r.series.size());
    o += "<tr><th>series</th><th>points</th><th>last step</th><th>last</th><th>min</th><th>max</th><th>non-finite</th></tr>\n";
    for (auto& s : r.series)
      o += fmt::format("<tr>{}{}{}{}{}{}{}</tr>\n", Td(s.key), Td(std::to_string(s.points), "num"),
                       Td(std::to_string(s.last_step), "num"), Td(Num(s.last), "num"),
                       Td(s.has_finite ? Num(s.min) : "-", "num"), Td(s.has_finite ? Num(s.max) : "-", "num"),
                       Td(std::to_string(s.nonfinite), "num"));
    o += "</table>\n</details>\n";
  }
  if (!r.params.empty()) {
    o += fmt::format("<h2>Params</h2>\n<details><summary>{} params</summary>\n<table>\n", r.params.size());
    o += "<tr><th>param</th><th>value</th><th>from</th></tr>\n";
    for (auto& p : r.params) o += fmt::format("<tr>{}{}{}</tr>\n", Td(p.key), Td(p.value), Td(p.source));
    o += "</table>\n</details>\n";
  }
  o += "</main>\n</body>\n</html>\n";
  return o;
}

}  // namespace inloop::report
