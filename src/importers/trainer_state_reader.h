// Hugging Face Trainer's trainer_state.json: each `log_history` entry becomes points at its
// `step` (every numeric key, `epoch` included, is a series keyed as written; nested objects join
// keys with '/'), and the top-level scalars (global_step, max_steps, num_train_epochs,
// train_batch_size, logging/eval/save_steps, best_metric, best_model_checkpoint, total_flos, ...)
// and `trial_params` entries ("trial_params/<name>") become params. The document is walked with
// a tolerant splitter, so a truncated file keeps every complete log entry before the cut, and
// NaN/Infinity (which Python's json writes) are read.
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads `path` into one run of format "trainer_state" named after the directory holding the
// file, or its parent when that directory is `checkpoint-N` or `last-checkpoint`. A bad or step-less log entry is an
// issue (with its line) and is skipped. Returns non-OK only when the file cannot be read.
Status ReadTrainerState(const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
