// `inloop insights`: patterns across the runs of a store (insights/insights.h), as text or JSON.
#include <cmath>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/json_writer.h"
#include "insights/insights.h"

namespace inloop::cli {

int CmdInsights(const InsightsArgs& a) {
  insights::InsightsOptions opts;
  opts.runs = a.runs;
  opts.key = a.key;
  opts.x_key = a.x_key;
  if (a.goal == "min") opts.goal = compare::Goal::kMin;
  else if (a.goal == "max") opts.goal = compare::Goal::kMax;
  else if (!a.goal.empty())
    return Fail(Status::Invalid(fmt::format("--goal {}: use min or max", a.goal)));
  if (a.at) {
    if (!(*a.at > 0) || !std::isfinite(*a.at))
      return Fail(Status::Invalid(fmt::format("--at {}: give a positive compute or token count",
                                              *a.at)));
    opts.at = a.at;
  }
  if (a.horizon) {
    if (!(*a.horizon > 0) || !std::isfinite(*a.horizon))
      return Fail(Status::Invalid(fmt::format("--horizon {}: give a positive step", *a.horizon)));
    opts.horizon = a.horizon;
  }
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  if (!s.ok()) return Fail(s);
  insights::Insights res;
  if (!(s = insights::ComputeInsights(st.get(), opts, &res)).ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    insights::WriteInsightsJson(res, &w);
    fmt::print("{}\n", w.str());
  } else {
    fmt::print("{}", insights::RenderInsightsText(res, UseColor(1)));
  }
  return kExitOk;
}

}  // namespace inloop::cli
