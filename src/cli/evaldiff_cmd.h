// `inloop evaldiff OLD.jsonl NEW.jsonl`: compares two model versions' per-example eval results
// (compare/eval_diff.h). Text for people, --json for machines.
#pragma once

#include <string>

#include "compare/eval_diff.h"

namespace inloop::cli {

// Returns the process exit code: 0, or 3 (a file is missing) / 4 (nothing matched) with the
// error printed. Warnings (mismatched ids, bad lines) go to stderr and do not fail the run.
int CmdEvalDiff(const std::string& old_path, const std::string& new_path,
                const compare::EvalDiffOptions& options, bool json, int top);

}  // namespace inloop::cli
