#include "cli/verbs.h"
#include "compare/html_app.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "common/json_writer.h"

namespace inloop::cli {

namespace {

std::string Num(double v, int prec = 4) {
  if (!std::isfinite(v)) return NumberText(v);
  return fmt::format("{:.{}f}", v, prec);
}
std::string Signed(double v, int prec = 4) {
  if (!std::isfinite(v)) return NumberText(v);
  return fmt::format("{:+.{}f}", v, prec);
}
std::string PText(double p) {
  if (!std::isfinite(p)) return NumberText(p);
  return p < 1e-4 ? fmt::format("{:.1e}", p) : fmt::format("{:.4f}", p);
}

std::string OneLine(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (out.size() > max) out = out.substr(0, max - 3) + "...";
  return out;
}

// "[-old] {+new}" word diff on one line, for the terminal.
std::string InlineDiff(const compare::TextDiff& d, size_t max) {
  std::string s;
  for (auto& seg : d.segments) {
    switch (seg.op) {
      case compare::DiffOp::kEqual: s += seg.text; break;
      case compare::DiffOp::kDelete: s += "[-" + seg.text + "-]"; break;
      case compare::DiffOp::kInsert: s += "{+" + seg.text + "+}"; break;
    }
  }
  return OneLine(s, max);
}

std::string TestName(const compare::GroupStats& g) {
  return std::string(g.test) == "mcnemar" ? "McNemar exact" : "paired t";
}

void PrintGroupLine(const std::string& label, const compare::GroupStats& g) {
  fmt::print("  {:<24} n={:<5} old {} new {}  diff {} [{}, {}]  p={}{}\n", label, g.n,
             Num(g.old_arm.mean), Num(g.new_arm.mean), Signed(g.diff_mean), Signed(g.ci_low),
             Signed(g.ci_high), PText(g.p_value),
             g.binary ? fmt::format("  ({}-/{}+)", g.mcnemar.baseline_only,
                                    g.mcnemar.treatment_only)
                      : "");
}

void PrintChanges(const char* title, const compare::EvalDiffReport& r, bool regressed, int top) {
  const auto& ids = regressed ? r.regressed : r.improved;
  if (ids.empty()) return;
  fmt::print("\n{} ({}{}):\n", title, ids.size(),
             static_cast<int>(ids.size()) > top ? fmt::format(", top {}", top) : "");
  int shown = 0;
  for (auto& ex : r.examples) {
    if ((ex.new_score < ex.old_score) != regressed) continue;
    if (shown++ >= top) break;
    fmt::print("  {:<20} {} -> {}\n", OneLine(ex.id, 20), NumberText(ex.old_score),
               NumberText(ex.new_score));
    if (ex.input) fmt::print("      input: {}\n", OneLine(*ex.input, 100));
    if (ex.diff) fmt::print("      diff:  {}\n", InlineDiff(*ex.diff, 100));
  }
}

void PrintText(const compare::EvalDiffReport& r, int top) {
  const auto& g = r.overall;
  fmt::print("evaldiff: {} ({} records) -> {} ({} records): {} matched, {} scores\n",
             r.old_path, r.old_records, r.new_path, r.new_records, g.n,
             r.binary ? "pass/fail" : "continuous");
  fmt::print("  {:<6} {:>8} {:>8}\n", "", "mean", "se");
  fmt::print("  {:<6} {:>8} {:>8}\n", "old", Num(g.old_arm.mean), Num(g.old_arm.se));
  fmt::print("  {:<6} {:>8} {:>8}\n", "new", Num(g.new_arm.mean), Num(g.new_arm.se));
  fmt::print("  {:<6} {:>8} {:>8}  {:.0f}% CI [{}, {}] (paired bootstrap)  p={} ({})  "
             "permutation p={}\n",
             "diff", Signed(g.diff_mean), Num(g.diff_se), 100 * (1 - r.options.alpha),
             Signed(g.ci_low), Signed(g.ci_high), PText(g.p_value), TestName(g),
             PText(g.permutation.p_value));
  if (g.binary)
    fmt::print("  discordant: {} old-only correct, {} new-only correct\n",
               g.mcnemar.baseline_only, g.mcnemar.treatment_only);
  if (g.clusters > 0)
    fmt::print("  clusters: {} (SEs cluster-robust, bootstrap resamples clusters; cluster t "
               "p={})\n", g.clusters, PText(g.cluster_t.p_value));
  fmt::print("  MDE (alpha {}, power {}): {}\n", r.options.alpha, r.options.power, Num(g.mde));
  fmt::print("  regressed {}, improved {}, unchanged {}\n", r.regressed.size(), r.improved.size(),
             g.n - static_cast<int64_t>(r.regressed.size() + r.improved.size()));
  PrintChanges("regressed", r, true, top);
  PrintChanges("improved", r, false, top);
  if (!r.slices.empty()) {
    fmt::print("\nslices:\n");
    for (auto& [dim, values] : r.slices)
      for (auto& [value, sg] : values) PrintGroupLine(OneLine(dim + "=" + value, 24), sg);
  }
}

}  // namespace

int CmdEvalDiff(const std::string& old_path, const std::string& new_path,
                const compare::EvalDiffOptions& options, bool json, int top,
                const std::string& html) {
  compare::EvalDiffReport report;
  Status s = compare::RunEvalDiff(old_path, new_path, options, &report);
  for (auto& w : report.warnings) fmt::print(stderr, "inloop: warning: {}\n", w);
  if (!s.ok()) return Fail(s);
  if (!html.empty()) {
    JsonWriter w;
    w.BeginObject().Key("view").String("evaldiff");
    w.Key("title").String(fmt::format("eval diff: {} vs {}", std::filesystem::path(old_path).filename().string(), std::filesystem::path(new_path).filename().string()));
    w.Key("subtitle").String(fmt::format("inloop evaldiff · {} matched examples", report.overall.n));
    w.Key("report");
    compare::WriteEvalDiffJson(report, &w);
    w.EndObject();
    if (!(s = compare::WriteCompareApp(html, w.str())).ok()) return Fail(s);
    if (!json) fmt::print(stderr, "wrote {}\n", html);
  }
  if (json) {
    JsonWriter w;
    compare::WriteEvalDiffJson(report, &w);
    fmt::print("{}\n", w.str());
  } else {
    PrintText(report, top);
  }
  return kExitOk;
}

}  // namespace inloop::cli
