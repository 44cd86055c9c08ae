// The declared shape of a data pipeline, as inloop.toml's [[data.step]] entries say it
// (docs/data.md): steps with an argv template, inputs, outputs, the environment variables that
// belong to their cache key, and per-output validation. Plain values: parsed by
// config/data_section.cc, read by the DAG, the runner and the validators; nothing here runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace inloop::data {

enum class Severity { kWarn, kError };
const char* SeverityName(Severity s);

// A check's on/off switch, severity and thresholds. Unset thresholds are not checked.
struct CheckSpec {
  bool enabled = false;
  Severity severity = Severity::kError;
  std::optional<double> min, max;   // rows: counts; length: per-record bounds
  std::optional<double> max_rate;   // nulls/empty/duplicates/near duplicates/out of range
  std::string field;                // the text field (duplicates, near duplicates, length)
  double threshold = 0.8;           // near duplicates: estimated Jaccard similarity
};

struct DriftSpec {
  bool enabled = false;
  Severity severity = Severity::kWarn;
  std::vector<std::string> numeric;      // KS test per field ("length" = the length field)
  std::vector<std::string> categorical;  // chi-square test per field
  double max_effect = 0.2;  // KS D or Cramer's V above this fails, when p < alpha too
  double alpha = 0.01;
};

// One [[data.step.validate]] table: the checks of one output.
struct ValidationSpec {
  std::string output;  // a path among the step's outputs
  std::string format;  // jsonl | csv | text | tokens
  Severity severity = Severity::kError;  // the default of its checks
  // schema: field -> "string" | "number" | "integer" | "bool" | "array" | "object" | "any"
  std::vector<std::pair<std::string, std::string>> schema;
  CheckSpec rows, nulls, empty, duplicates, near_duplicates, length;
  DriftSpec drift;
  // tokens: raw little-endian arrays, as nanoGPT's prepare.py writes train.bin
  std::string dtype = "uint16";  // uint16 | uint32
  int64_t vocab_size = 0;        // 0: not checked
  CheckSpec repeated_ngrams;     // share of sampled token 16-grams seen before
};

struct StepSpec {
  std::string name;
  std::vector<std::string> command;  // argv; "{inputs}", "{outputs}", "{inputs[N]}" ...
  std::vector<std::string> inputs;   // paths relative to the project directory
  std::vector<std::string> outputs;
  std::vector<std::string> env;      // variable names whose values are part of the cache key
  std::vector<ValidationSpec> validate;
};

struct PipelineSpec {
  std::vector<StepSpec> steps;
  // [data] executor: "local" (steps run here, up to --jobs at once) or "slurm" (each step a Slurm
  // job, as `inloop data run --slurm`); [data.slurm] partition and time for those jobs.
  std::string executor = "local";
  std::string slurm_partition, slurm_time;
};

}  // namespace inloop::data
