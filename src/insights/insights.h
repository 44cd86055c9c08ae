// Patterns across runs (`inloop insights`): gathers the runs matching a filter from the store, one
// target metric per run (its final value from the series summaries, without reading points), and
// computes three sections, each omitted with a one-line reason when the data cannot support it:
//   - importance: which params matter for the target (param_importance.h), over finished runs;
//   - extrapolation: each running run's predicted value at its planned last step with an
//     interval (curve_extrapolation.h), flagged when it cannot beat the best finished run;
//   - scaling: L(C) = a*C^-b + c of final values against compute or tokens (scaling_fit.h).
// Store access lives here; the numerics in the other files of this folder. Library functions for
// the CLI and, later, the assistant: ComputeInsights, WriteInsightsJson, RenderInsightsText.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "compare/run_compare.h"
#include "insights/curve_extrapolation.h"
#include "insights/param_importance.h"
#include "insights/scaling_fit.h"
#include "store/store.h"

namespace inloop::insights {

struct InsightsOptions {
  // Which runs: "" every run; "tag:T" runs tagged T; "status:S" runs in status S; anything else
  // an fnmatch pattern over run names (seed-*).
  std::string runs;
  std::string key;                     // "" -> the loss key most runs have
  std::optional<compare::Goal> goal;   // "" -> from the key (loss -> min, accuracy -> max)
  std::string x_key;                   // scaling axis (a param or a series); "" -> compute/tokens
  std::optional<double> at;            // scaling: predict here; default 10x the largest x
  std::optional<double> horizon;       // extrapolation: for runs without a max_steps-like param
  ImportanceOptions importance;
  ExtrapolationOptions extrapolation;
  ScalingOptions scaling;
};

// One matched run that has the key.
struct RunValue {
  std::string id, name, status;
  double final_value = 0;  // last logged value
  double best_value = 0;   // min or max (by goal) over finite values
  int64_t last_step = 0;
  int64_t points = 0;
};

struct ImportanceSection {
  bool ok = false;
  std::string reason;                // when !ok
  std::vector<std::string> run_ids;  // the runs it was computed from
  std::vector<SkippedParam> skipped;
  ImportanceResult result;
};

struct RunExtrapolation {
  std::string run_id, name;
  int64_t last_step = 0;
  double last_value = 0;
  std::string horizon_source;  // "param max_steps", "--horizon", "longest finished run NAME"
  bool ok = false;
  std::string reason;          // when !ok
  Extrapolation ex;
  bool cannot_beat_best = false;
};

struct ExtrapolationSection {
  bool ok = false;
  std::string reason;  // when there is no running run at all
  std::vector<RunExtrapolation> runs;
};

struct ScalingPoint {
  std::string run_id, name;
  double x = 0, loss = 0;
};

struct ScalingSection {
  bool ok = false;
  std::string reason;
  std::string x_key;
  std::string x_source;  // "param", "series" or "param/series" when runs differ
  std::vector<ScalingPoint> points;
  ScalingFitResult fit;
};

// Goodput across the runs with the key (report/goodput.h), from the runs that were restarted
// (more than one attempt): a run never restarted lost nothing to faults. Computed per run from
// its report, so only those runs pay for it.
struct GoodputAcrossRuns {
  int restarted = 0;             // runs with more than one attempt
  int with_goodput = 0;          // of those, runs whose goodput could be computed
  double mean_ettr = 0;          // over with_goodput
  std::string worst_run;         // the lowest ETTR among them
  double worst_ettr = 0;
  int64_t lost_steps = 0;        // summed
  double lost_seconds = 0;       // summed
  std::map<std::string, int> faults_by_trigger;
  std::optional<double> mean_time_to_detect, mean_mttr;  // over the faults that have one
};

struct Insights {
  std::string filter;
  std::string key;
  bool key_chosen = false;  // picked as the most common loss key
  compare::Goal goal = compare::Goal::kMin;
  int runs_matched = 0;
  int runs_with_key = 0;
  int finished = 0;        // of those with the key
  int running = 0;
  int nonfinite_final = 0;  // finished runs whose last value is NaN/inf (left out)
  std::vector<RunValue> runs;  // matched runs with the key, newest first
  std::optional<RunValue> best;  // the best final value among finished runs
  ImportanceSection importance;
  ExtrapolationSection extrapolation;
  ScalingSection scaling;
  GoodputAcrossRuns goodput;
};

// NotFound when no run matches the filter or the runs have no such (or no loss-like) key.
// Sections that cannot be computed are not errors: they carry their reason.
Status ComputeInsights(store::Store* st, const InsightsOptions& options, Insights* out);

void WriteInsightsJson(const Insights& in, JsonWriter* w);
// A screen of text for people; `color` adds ANSI colours (callers honour NO_COLOR).
std::string RenderInsightsText(const Insights& in, bool color = false);

}  // namespace inloop::insights
