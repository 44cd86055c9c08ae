// CheckResult: the outcome of one validation check on one output, the record that crosses from
// the validators to the runner, the store (a "data_check" event's data_json), the CLI's --json
// and the report. One JSON form (CheckResultJson / ParseCheckResult).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "data/step_spec.h"

namespace inloop::data {

struct CheckResult {
  std::string output;  // the output path
  std::string check;   // schema | rows | nulls | empty | duplicates | near_duplicates | length |
                       // drift | tokens | repeated_ngrams | parse
  std::string field;   // the field it looked at, "" when the whole record
  Severity severity = Severity::kError;
  bool passed = true;
  double value = 0;   // the measured number: a rate, a count, a statistic
  double limit = 0;   // the threshold it was held to (has_limit)
  bool has_limit = false;
  std::string message;  // one line for people
  std::vector<std::pair<std::string, double>> numbers;  // more evidence (p-value, n, ...)
  std::vector<std::string> examples;                    // e.g. "lines 3, 17"
};

std::string CheckResultJson(const CheckResult& r);
// False when `json` is not a check result object.
bool ParseCheckResult(std::string_view json, CheckResult* out);

// Whether any result is a failed check of error severity.
bool AnyErrorFailed(const std::vector<CheckResult>& results);

}  // namespace inloop::data
