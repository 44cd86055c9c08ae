// TensorBoard event files (events.out.tfevents.*): TFRecord-framed `Event` protobufs (tfrecord.h,
// proto/event.proto). Scalars become series keyed by tag with the event's step and wall time:
// TF1 `simple_value`, and rank-0 numeric tensors (TF2) from `tensor_content` or the typed
// `*_val` fields. The plugin of a tag is the first `metadata.plugin_data.plugin_name` seen for it
// (TF2 writers set it on the first value of a tag only); values of tags whose plugin is not
// "scalars" are skipped and counted in ImportBatch::skipped ("plugin:images"), as are TF1 images,
// histograms and audio ("value:image"), non-scalar or non-numeric tensors ("tensor:non_scalar",
// "tensor:DT_STRING") and events that carry no summary ("event:file_version", "event:graph_def").
// The hparams plugin's session_start_info (number, string and bool hyperparameters) becomes run
// params. Bad CRCs, truncation and records that are not Events become issues with their byte
// offset; every readable record is kept.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "importers/imported_run.h"

namespace inloop::importers {

// Reads the event file at `path` in pieces of `piece_bytes` through one reused buffer and appends
// one ImportedRun to out->runs: name = the directory holding the file, format "tfevents", source =
// that directory (absolute). Problems in the content are issues in *out, not errors; the Status
// is an error only when the file cannot be read (NotFound, Io), and then nothing is appended.
// The result does not depend on piece_bytes (tests read with tiny pieces to prove it).
Status ReadTfEventsFile(const std::string& path, ImportBatch* out,
                        size_t piece_bytes = size_t{1} << 20);

// Reads the event file at `path` into `run` (series appended, params set; a streamed run hands
// its points on as it goes), for the several event files of one directory that make one run.
Status ReadTfEventsInto(const std::string& path, ImportedRun* run, ImportBatch* out,
                        size_t piece_bytes = size_t{1} << 20);

// Parses the bytes of an event file into `run` (series appended) and `batch` (issues naming
// `path`, records, bytes, skipped counts). For tests and benchmarks; ReadTfEventsFile uses it.
void ParseTfEvents(std::string_view bytes, const std::string& path, ImportedRun* run,
                   ImportBatch* batch);

}  // namespace inloop::importers
