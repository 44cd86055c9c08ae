// Eval diff: compares two model versions' per-example eval results (JSONL, one record per line)
// matched by id, and reports whether the change is real: means with (cluster-robust) SEs, the
// paired difference with a paired-bootstrap 95% CI, McNemar's exact test for pass/fail scores or
// the paired t test otherwise, a sign-flip permutation p, the minimum detectable effect, the
// examples that regressed or improved (with a word diff of their outputs), per-slice breakdowns,
// and every id that is in one file only. Bad lines and duplicate ids become issues naming the
// file and line; only "nothing matched" is an error.
//
// Record fields: "id" (string or integer, compared as text); "score" (finite number) or, when
// there is no score, "correct" (bool or 0/1); optional "input"/"output" (strings; other JSON is
// kept as its JSON text); optional "slice" (a string: dimension "slice", or an object of
// dimension -> value); optional "cluster" (string or number); and every --slice-key field.
// A matched pair takes each slice dimension and its cluster from the NEW record, falling back to
// the old one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "compare/text_diff.h"
#include "stats/hypothesis_tests.h"

namespace inloop::compare {

struct EvalRecord {
  std::string id;
  double score = 0;
  std::optional<std::string> input;
  std::optional<std::string> output;
  std::vector<std::pair<std::string, std::string>> slices;  // dimension -> value
  std::optional<std::string> cluster;
  int64_t line = 0;
};

struct EvalIssue {
  std::string file;
  int64_t line = 0;
  std::string message;  // without the file:line prefix
};

struct EvalFile {
  std::string path;
  std::vector<EvalRecord> records;  // unique ids, file order (later duplicates are issues)
  std::vector<EvalIssue> issues;
};

// Reads a JSONL file. NotFound when it cannot be opened; bad lines become issues, not errors.
Status LoadEvalFile(const std::string& path, const std::vector<std::string>& slice_keys,
                    EvalFile* out);
// The same over text already in memory; `path` only names the file in issues.
void ParseEvalJsonl(std::string_view text, const std::string& path,
                    const std::vector<std::string>& slice_keys, EvalFile* out);

struct EvalDiffOptions {
  uint64_t seed = 1;
  int64_t bootstrap = 10000;     // paired bootstrap resamples (percentile CI)
  int64_t permutations = 10000;  // random sign flips when exact enumeration is too large
  int max_exact_permutation_units = 20;  // exact sign-flip enumeration up to 2^20 patterns
  double alpha = 0.05;
  double power = 0.8;
  std::vector<std::string> slice_keys;
  TextDiffOptions text;
};

struct ArmStats {
  double mean = 0;
  double se = 0;  // cluster-robust (CR1) when clusters are given
  int64_t n = 0;
};

// Every statistic of one group of matched pairs (all of them, or one slice value).
struct GroupStats {
  int64_t n = 0;
  ArmStats old_arm, new_arm;
  double diff_mean = 0;  // new - old
  double diff_se = 0;    // SE of the mean difference (cluster-robust with clusters)
  double ci_low = 0;     // 95% (1 - alpha) paired percentile bootstrap, clusters resampled whole
  double ci_high = 0;
  double p_value = 1;        // McNemar exact (binary scores) or paired t
  const char* test = "";     // "mcnemar" or "paired_t"
  stats::TTestResult paired_t;        // always computed (df = n - 1)
  stats::PermutationResult permutation;  // signs flip per cluster when clusters are given
  stats::BootstrapResult bootstrap;
  bool binary = false;
  stats::McNemarResult mcnemar;       // binary only: discordant counts and both p's
  int64_t clusters = 0;               // 0 when no clusters are given
  stats::TTestResult cluster_t;       // with clusters: t on the CR1 SE, df = G - 1
  double mde = 0;  // (z_{1-a/2} + z_power) * SE: discordance SE for binary scores without
                   // clusters, else diff_se
  int64_t n_regressed = 0;
  int64_t n_improved = 0;
};

struct ExampleChange {
  std::string id;
  double old_score = 0;
  double new_score = 0;
  std::optional<std::string> input;
  std::optional<std::string> old_output;
  std::optional<std::string> new_output;
  std::optional<TextDiff> diff;  // when both outputs are present
  std::vector<std::pair<std::string, std::string>> slices;  // dimension -> value (new, else old)
};

struct EvalDiffReport {
  std::string old_path, new_path;
  int64_t old_records = 0;  // valid, unique records read from each file
  int64_t new_records = 0;
  bool binary = false;      // every matched score is 0 or 1
  GroupStats overall;
  std::vector<std::string> regressed;  // ids by |score change| descending, then id
  std::vector<std::string> improved;
  std::vector<ExampleChange> examples;  // the regressed, then the improved, in those orders
  std::vector<std::string> only_old;    // ids in OLD only, file order
  std::vector<std::string> only_new;
  std::vector<EvalIssue> issues;        // both files' bad lines and duplicate ids
  std::vector<std::string> warnings;    // one-line summaries for people
  std::map<std::string, std::map<std::string, GroupStats>> slices;  // dimension -> value -> stats
  EvalDiffOptions options;
};

// Matches the two files by id and computes the report. Invalid when no id matches.
Status ComputeEvalDiff(const EvalFile& old_file, const EvalFile& new_file,
                       const EvalDiffOptions& options, EvalDiffReport* out);
// LoadEvalFile both, then ComputeEvalDiff.
Status RunEvalDiff(const std::string& old_path, const std::string& new_path,
                   const EvalDiffOptions& options, EvalDiffReport* out);

// Writes the report as one JSON object value (usable inside a larger document, e.g. an HTML
// page's data). Shape: see the definition; non-finite numbers follow JsonWriter's convention.
void WriteEvalDiffJson(const EvalDiffReport& report, JsonWriter* w);

}  // namespace inloop::compare
