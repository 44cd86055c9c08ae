// PyTorch Lightning's CSVLogger output: <save_dir>/<name>/version_N/metrics.csv (a header with
// epoch, step and every metric ever logged; each row fills only the cells logged at that step)
// and hparams.yaml beside it. The CSV goes through the wide-CSV reader (step from `step`, empty
// cells skipped, `epoch` a series); hparams.yaml through the YAML subset reader, nested keys
// flattened to "a/b".
#pragma once

#include <string>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads `path` (a metrics.csv) and the hparams.yaml in its folder, when there is one, into one
// run of format "lightning" named "<parent>/<folder>" (e.g. "lightning_logs/version_3"). What
// the YAML reader cannot read is an issue naming hparams.yaml and the line. Returns non-OK only
// when the CSV cannot be read.
Status ReadLightning(const std::string& path, ImportBatch* out);

}  // namespace inloop::importers
