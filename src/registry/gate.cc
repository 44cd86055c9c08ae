// The promotion gate (gate.h): pure rules over gathered evidence.
#include "registry/gate.h"

#include <cmath>

#include <fmt/format.h>

#include "store/model_records.h"

namespace inloop::registry {
namespace {

std::string Num(double v) { return std::isfinite(v) ? fmt::format("{:+.4f}", v) : JsonNumber(v); }

GateCheck Check(const char* name, bool passed, std::string detail) {
  return GateCheck{name, passed, std::move(detail)};
}

void DiffChecks(const GateEvidence& e, const GateOptions& o, GateResult* r) {
  if (!e.champion) {
    r->checks.push_back(Check("improvement", true, "no champion yet: nothing to beat"));
    r->checks.push_back(Check("coverage", true, "no champion yet"));
    r->checks.push_back(Check("slices", true, "no champion yet"));
    return;
  }
  if (!e.diff) {
    std::string why = e.diff_error.empty() ? "no eval diff" : e.diff_error;
    r->checks.push_back(Check("improvement", false, why));
    r->checks.push_back(Check("coverage", false, "no eval diff"));
    r->checks.push_back(Check("slices", false, "no eval diff"));
    return;
  }
  const compare::EvalDiffReport& d = *e.diff;
  const compare::GroupStats& g = d.overall;
  r->has_diff = true;
  r->n = g.n;
  r->champion_mean = g.old_arm.mean;
  r->candidate_mean = g.new_arm.mean;
  r->diff_mean = g.diff_mean;
  r->ci_low = g.ci_low;
  r->ci_high = g.ci_high;
  r->p_value = g.p_value;
  r->test = g.test;
  int ci = static_cast<int>(std::lround(100 * (1 - d.options.alpha)));
  std::string numbers = fmt::format("{} vs v{} on {} examples: {} ({}% CI [{}, {}], p={:.3g})",
                                    e.candidate, *e.champion, g.n, Num(g.diff_mean), ci,
                                    Num(g.ci_low), Num(g.ci_high), g.p_value);
  bool improved = std::isfinite(g.ci_low) && g.ci_low > 0;
  r->checks.push_back(Check(
      "improvement", improved,
      improved ? numbers
               : numbers + (g.ci_high < 0 ? ": worse than the champion"
                                          : ": the CI includes zero, no evidence of a gain")));

  r->missing = static_cast<int64_t>(d.only_old.size());
  int64_t champion_n = g.n + r->missing;
  r->checks.push_back(Check(
      "coverage", r->missing == 0,
      r->missing == 0
          ? fmt::format("scored on all {} of the champion's examples", champion_n)
          : fmt::format("the candidate's eval outputs lack {} of the champion's {} examples "
                        "(first: {}); score it on the whole held eval set",
                        r->missing, champion_n, d.only_old.front())));

  std::vector<SliceChange> bad;
  for (const auto& [dim, values] : d.slices) {
    for (const auto& [value, sg] : values) {
      SliceChange c{dim, value, sg.n, sg.diff_mean};
      if (!r->worst_slice || c.diff_mean < r->worst_slice->diff_mean) r->worst_slice = c;
      if (!(sg.diff_mean >= -o.max_slice_drop)) bad.push_back(c);
    }
  }
  if (bad.empty()) {
    r->checks.push_back(Check(
        "slices", true,
        r->worst_slice ? fmt::format("worst slice {}={} {} (bound -{})", r->worst_slice->dimension,
                                     r->worst_slice->value, Num(r->worst_slice->diff_mean),
                                     o.max_slice_drop)
                       : "no slices in the eval outputs"));
  } else {
    std::string list;
    for (size_t i = 0; i < bad.size() && i < 3; ++i) {
      list += fmt::format("{}{}={} {} (n={})", i ? ", " : "", bad[i].dimension, bad[i].value,
                          Num(bad[i].diff_mean), bad[i].n);
    }
    if (bad.size() > 3) list += fmt::format(" and {} more", bad.size() - 3);
    r->checks.push_back(Check("slices", false,
                              fmt::format("{} slice{} fall{} by more than {}: {}", bad.size(),
                                          bad.size() == 1 ? "" : "s", bad.size() == 1 ? "s" : "",
                                          o.max_slice_drop, list)));
  }
}

}  // namespace

GateResult EvaluateGate(const GateEvidence& e, const GateOptions& o) {
  GateResult r;
  r.champion = e.champion;
  r.max_slice_drop = o.max_slice_drop;
  r.checks.push_back(Check("eval", e.candidate_has_eval,
                           e.candidate_has_eval
                               ? "per-example eval outputs recorded"
                               : fmt::format("{} has no eval outputs: register the run again with "
                                             "--eval FILE (per-example JSONL, as `inloop "
                                             "evaldiff` reads)",
                                             e.candidate)));
  DiffChecks(e, o, &r);
  bool finished = e.run_status == store::kFinished;
  r.checks.push_back(Check("run", finished,
                           fmt::format("run {} is {}{}", e.run_id,
                                       e.run_status.empty() ? "unknown" : e.run_status,
                                       finished ? "" : ", not finished")));
  bool clean = e.open_findings.empty() && e.pending_actions == 0;
  std::string open;
  for (size_t i = 0; i < e.open_findings.size() && i < 3; ++i) {
    open += (i ? ", " : "") + e.open_findings[i];
  }
  if (e.open_findings.size() > 3) open += fmt::format(" and {} more", e.open_findings.size() - 3);
  r.checks.push_back(Check(
      "findings", clean,
      clean ? "no open error finding, no pending action"
            : fmt::format("run {} has {} open error finding{}{}{} and {} pending action{} (see "
                          "`inloop events {}` / `inloop actions`)",
                          e.run_id, e.open_findings.size(), e.open_findings.size() == 1 ? "" : "s",
                          open.empty() ? "" : ": ", open, e.pending_actions,
                          e.pending_actions == 1 ? "" : "s", e.run_id)));
  bool audit_ok = e.audit != store::kAuditFailed;
  r.checks.push_back(Check(
      "audit", audit_ok,
      e.audit == store::kAuditNone
          ? "no artifact to audit"
          : fmt::format("artifact audit {}{}{}", e.audit, e.audit_detail.empty() ? "" : ": ",
                        e.audit_detail)));
  r.passed = true;
  for (const GateCheck& c : r.checks) r.passed = r.passed && c.passed;
  return r;
}

std::vector<std::string> FailedLines(const GateResult& r) {
  std::vector<std::string> out;
  for (const GateCheck& c : r.checks) {
    if (!c.passed) out.push_back(c.name + ": " + c.detail);
  }
  return out;
}

void WriteGateJson(const GateResult& r, JsonWriter* w) {
  w->BeginObject().Key("passed").Bool(r.passed);
  w->Key("champion");
  if (r.champion) {
    w->Int(*r.champion);
  } else {
    w->Null();
  }
  w->Key("checks").BeginArray();
  for (const GateCheck& c : r.checks) {
    w->BeginObject().Key("name").String(c.name).Key("passed").Bool(c.passed);
    w->Key("detail").String(c.detail).EndObject();
  }
  w->EndArray();
  if (r.has_diff) {
    w->Key("diff").BeginObject().Key("n").Int(r.n);
    w->Key("champion_mean").Number(r.champion_mean).Key("candidate_mean").Number(r.candidate_mean);
    w->Key("diff_mean").Number(r.diff_mean).Key("ci_low").Number(r.ci_low);
    w->Key("ci_high").Number(r.ci_high).Key("p_value").Number(r.p_value);
    w->Key("test").String(r.test).Key("missing").Int(r.missing);
    if (r.worst_slice) {
      w->Key("worst_slice").BeginObject().Key("dimension").String(r.worst_slice->dimension);
      w->Key("value").String(r.worst_slice->value).Key("n").Int(r.worst_slice->n);
      w->Key("diff_mean").Number(r.worst_slice->diff_mean).EndObject();
    }
    w->EndObject();
  }
  w->Key("max_slice_drop").Number(r.max_slice_drop);
  w->EndObject();
}

std::string GateJson(const GateResult& r) {
  JsonWriter w;
  WriteGateJson(r, &w);
  return w.Take();
}

}  // namespace inloop::registry
