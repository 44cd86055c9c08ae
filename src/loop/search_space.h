// The built-in proposer of the research loop: a declared search space (space.toml) and a TPE
// sampler (Bergstra et al. 2011, "Algorithms for Hyper-Parameter Optimization") with random
// starts. Seeded and deterministic: the same space, seed and history give the same proposal.
// It only proposes values; writing them anywhere is the loop's job.
//
// space.toml:
//   [search]                       seed = 1, random_starts = 8, candidates = 24, gamma = 0.1,
//                                  params_file = "params.json" (optional, tracked)
//   [params.lr]                    type = "float", low = 1e-4, high = 1e-1, log = true,
//                                  default = 3e-3 (the baseline's value; default: the middle)
//   [params.layers]                type = "int", low = 1, high = 6
//   [params.act]                   type = "categorical", choices = ["relu", "gelu"]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop::loop {

enum class ParamType { kFloat, kInt, kCategorical };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  double low = 0, high = 1;
  bool log = false;
  std::vector<std::string> choices;
  std::string default_value;  // text; empty: the middle of the range / the first choice
};

struct SearchSpace {
  std::string path;
  std::vector<ParamSpec> params;
  uint64_t seed = 1;
  int random_starts = 8;
  int candidates = 24;    // draws from l(x) scored by l/g per proposal
  double gamma = 0.1;     // fraction of observations that are "good" (Optuna's default)
  std::string params_file;  // relative to the work dir; empty: none
};

// name -> value as text, params in name order (TOML tables are unordered).
using ParamValues = std::vector<std::pair<std::string, std::string>>;

// Invalid with "FILE: params.lr.low: ..." for a bad field; NotFound when the file is missing.
Status LoadSearchSpace(const std::string& path, SearchSpace* out);
Status ParseSearchSpace(const std::string& toml_text, const std::string& path, SearchSpace* out);

// The baseline's values: each default, else the middle of the range (geometric for log).
ParamValues DefaultValues(const SearchSpace& space);

// The text of a value as it reaches the command ({name} and INLOOP_PARAM_<NAME>).
std::string FormatValue(const ParamSpec& p, double internal);

// One completed trial: its values and metric (finite; failed trials are left out).
struct Observation {
  ParamValues values;
  double metric = 0;
};

// Proposes the values of trial number `trial` (0-based): uniform random for the first
// random_starts observations, then TPE. `minimize` says which way the metric is better.
ParamValues ProposeValues(const SearchSpace& space, const std::vector<Observation>& history,
                          bool minimize, uint64_t trial);

// The params file's content for `values`: JSON for .json, `name = value` TOML for .toml,
// `name=value` lines otherwise.
std::string ParamsFileText(const SearchSpace& space, const ParamValues& values,
                           const std::string& file_name);

// INLOOP_PARAM_LR style environment name for a param.
std::string ParamEnvName(const std::string& name);

}  // namespace inloop::loop
