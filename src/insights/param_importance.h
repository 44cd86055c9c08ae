// Hyper-parameter importance for one target value per run (a final or best metric):
//   - the run table: each param a column, numeric when every value it has is a number, else
//     categorical (category codes in sorted order, split as ordinal by the trees); params missing
//     in more than half the runs, constant ones and text that differs in every run (paths, ids)
//     are skipped with the reason; a numeric gap is filled with the median, a categorical one is a
//     category of its own;
//   - a random-forest regressor (bagged CART trees, a random third of the params tried per split,
//     leaves of at least 3 runs; deterministic for a seed, stats/rng.h) and its out-of-bag
//     permutation importance: the mean over trees of the increase of the tree's out-of-bag MSE
//     when one param's values are shuffled among its out-of-bag runs, divided by the variance of
//     the target (so 0.5 means "shuffling it costs half the target's variance");
//   - the uncertainty of each importance from forests grown on random halves of the runs: the
//     delete-d jackknife with d = n/2 (Shao & Wu 1989; Ishwaran & Lu 2019 for forests), so it
//     reflects which runs happened to be made, not only the forest's own randomness; the interval
//     is importance -+ z * se;
//   - Spearman's rank correlation of every numeric param with the target, with its p-value.
// Pure numerics: the caller reads runs from the store.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "stats/rank_correlation.h"

namespace inloop::insights {

struct ParamColumn {
  std::string key;
  bool categorical = false;
  std::vector<double> values;           // per run: the number, or the category's code
  std::vector<std::string> categories;  // categorical: code -> value ("(missing)" for a gap)
  std::vector<char> present;            // per run: 1 when the run has the param
  int missing = 0;                      // runs without the param, filled as described above
  int distinct = 0;                     // distinct values among the runs that have it
};

struct SkippedParam {
  std::string key;
  std::string reason;
};

// One map of param key -> value text per run. Columns come out in key order.
void BuildParamTable(const std::vector<std::map<std::string, std::string>>& runs,
                     std::vector<ParamColumn>* columns, std::vector<SkippedParam>* skipped);

struct ImportanceOptions {
  int trees = 200;            // the forest on every run
  int replicates = 20;        // forests on random halves, for the standard errors
  int replicate_trees = 50;
  int min_leaf = 3;
  uint64_t seed = 1;
  double level = 0.95;
  int min_runs = 10;
};

struct ParamImportance {
  std::string key;
  bool categorical = false;
  int distinct = 0, missing = 0;
  double importance = 0;  // increase of OOB MSE when shuffled, over Var(target)
  double se = 0;          // delete-d jackknife over halves of the runs
  double lo = 0, hi = 0;  // importance -+ z * se
  int rank = 0;           // 1 = most important
  std::optional<stats::SpearmanResult> spearman;  // numeric params, over the runs that have it
};

struct ImportanceResult {
  int n = 0;                  // runs
  int trees = 0, replicates = 0;
  double level = 0.95;
  double target_variance = 0;
  double oob_r2 = 0;          // 1 - OOB MSE / Var(target): how predictable it is from the params
  std::vector<ParamImportance> params;  // by importance, highest first
};

// REQUIRES every column's values.size() == y.size(); y finite. Invalid with fewer than
// options.min_runs runs, no column, or a constant target.
Status ComputeImportance(const std::vector<ParamColumn>& columns, std::span<const double> y,
                         const ImportanceOptions& options, ImportanceResult* out);

}  // namespace inloop::insights
