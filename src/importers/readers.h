// The reader of each import format behind one call, so the driver stays format-agnostic.
// Formats are the names DetectFormat (detect_format.h) returns.
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"
#include "importers/tfevents.h"

namespace inloop::importers {

// Reads `path` (a file; the run directory for "mlflow"; a .wandb file or a run directory for
// "wandb") with the reader of `format`.
// Invalid for an unknown format.
Status ReadFile(const std::string& format, const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
