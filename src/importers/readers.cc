#include "importers/readers.h"

#include <fmt/format.h>

#include "importers/csv_reader.h"
#include "importers/jsonl_reader.h"
#include "importers/lightning_reader.h"
#include "importers/log_reader.h"
#include "importers/mlflow_reader.h"
#include "importers/trainer_state_reader.h"
#include "importers/wandb_reader.h"

namespace inloop::importers {

Status ReadFile(const std::string& format, const std::string& path, ImportBatch* out) {
  if (format == "tfevents") return ReadTfEventsFile(path, out);
  if (format == "trainer_state") return ReadTrainerState(path, out);
  if (format == "lightning") return ReadLightning(path, out);
  if (format == "csv") return ReadCsv(path, out);
  if (format == "jsonl") return ReadJsonl(path, out);
  if (format == "mlflow") return ReadMlflowRun(path, out);
  if (format == "log") return ReadLog(path, out);
  if (format == "wandb") return ReadWandbRun(path, out);
  return Status::Invalid(fmt::format("{}: no reader for format '{}'", path, format));
}

}  // namespace inloop::importers
