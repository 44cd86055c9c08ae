// Run-vs-run comparison: one metric of two runs, or of two groups of runs (seeds), aligned on
// step, tokens or elapsed time. For a pair: the difference at matched x (B interpolated at A's
// points), the area between the curves, where the smoothed difference changes sign and who leads
// from where, and the final values. For groups: each group's mean curve with a 95% t band across
// runs on a common grid, the difference curve with a Welch band, and a Welch test of the final
// values. Honest about noise: with one run a side there is no seed variance, so no p-value.
// Loading curves from the store and the statistics are separate so the maths is testable alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "store/store.h"

namespace inloop::compare {

enum class Align { kStep, kTokens, kTime };
enum class Goal { kMin, kMax };

// One run's curve on the chosen axis: x ascending, y finite.
struct Curve {
  std::string run_id;
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  int64_t nonfinite = 0;  // points dropped for a non-finite value
};

struct CompareOptions {
  std::string key;  // empty: the first loss-like key every run has
  Align align = Align::kStep;
  std::optional<Goal> goal;            // empty: guessed from the key (loss -> min, acc -> max)
  std::optional<double> tokens_per_step;  // for --align tokens without a tokens series
  int grid = 400;                      // points of the common grid (bands, charts)
};

const char* AlignName(Align a);
bool ParseAlign(const std::string& s, Align* a);
// min for losses, errors, perplexity, time; max for accuracy, f1, bleu, reward, score...
Goal GuessGoal(const std::string& key);

// Reads `key` of run_id from the store on the chosen axis.
Status LoadCurve(store::Store* st, const std::string& run_id, const std::string& key,
                 const CompareOptions& opts, Curve* out);
// The key to compare when none is given: a loss-like key present in all runs, else any common key.
Status ChooseKey(store::Store* st, const std::vector<std::string>& run_ids, std::string* key);

struct GroupSummary {
  std::vector<std::string> run_ids, names;
  std::vector<double> finals;  // per run: mean over the last 5% of the common range
  double mean = 0, sd = 0;
};

struct CompareResult {
  std::string key;
  Align align = Align::kStep;
  Goal goal = Goal::kMin;
  double lo = 0, hi = 0;  // the common range of x
  GroupSummary a, b;
  // The common grid: means and 95% bands (equal to the mean with one run).
  std::vector<double> grid_x, a_mean, a_lo, a_hi, b_mean, b_lo, b_hi, diff, diff_lo, diff_hi;
  // Pair only (one run each): B - A at A's x within the common range.
  int64_t matched = 0;
  double mean_diff = 0, mean_abs_diff = 0, max_abs_diff = 0, max_abs_at = 0;
  // Area between the curves over the common range (B - A), and divided by its width.
  double area = 0, area_abs = 0, mean_gap = 0;
  // Leader at the end of the smoothed difference and where its lead began (nullopt: all along).
  std::string leader;  // "a", "b" or "tie"
  std::optional<double> leads_since;
  int crossings = 0;
  // Final values (B - A) and a Welch test when both groups have at least two runs.
  double final_diff = 0;
  std::optional<double> ci_low, ci_high, p_value;
  std::string test;  // "welch_t" or "" (with `why_no_test`)
  std::string why_no_test;
  std::vector<Curve> curves;  // every run, downsampled for charts
};

// REQUIRES: a and b non-empty. Invalid when the curves share no range of x.
Status Compare(const std::vector<Curve>& a, const std::vector<Curve>& b, const std::string& key,
               const CompareOptions& opts, CompareResult* out);

void WriteCompareJson(const CompareResult& r, JsonWriter& w);
// A short summary for people (several lines, no trailing newline).
std::string CompareText(const CompareResult& r);

}  // namespace inloop::compare
