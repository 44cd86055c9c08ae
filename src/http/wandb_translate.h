// W&B's wire protocol (wandb_api.h) without the store: what upsertBucket's input and a file
// stream request say, as inloop records. Pure functions, unit-tested in
// tests/http/wandb_translate_test.cc and fuzzed (fuzz/wandb_api_fuzz.cc).
//
// Mapping onto inloop (the same as `inloop import` of a W&B run directory, wandb_reader.h):
//   - a W&B run ENTITY/PROJECT/ID is an inloop run named by its display name (else ID), in the
//     experiment named PROJECT; params wandb/run_id, wandb/entity, wandb/project (and
//     wandb/group, wandb/job_type, wandb/host, wandb/notes when given) identify it;
//   - config -> params (nested keys joined with '.', the Python client's {"value", "desc"}
//     wrappers taken off, `_wandb` left out), source "wandb";
//   - a wandb-history.jsonl line -> one point per numeric value at the line's `_step` (else the
//     line's offset in the file), wall time `_timestamp` (else start + `_runtime`, else now);
//     `_step`, `_runtime`, `_timestamp` themselves are not series; other values are counted;
//   - wandb-summary.json -> params summary/KEY (numbers, strings, booleans; keys not '_...');
//   - output.log lines -> the run's stdout log;
//   - `complete` with `exitcode` 0 -> finished, anything else failed; `preempting` -> an event.
// Idempotent on resends: a file's lines below the count already stored (params
// wandb/history_lines, wandb/output_lines) are skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/graphql.h"
#include "http/ingest_body.h"
#include "store/catalog.h"

namespace inloop::http::wandb {

// The entity `viewer` names for every token (W&B clients put it in run paths).
inline constexpr const char* kDefaultEntity = "inloop";
inline constexpr const char* kParamSource = "wandb";
inline constexpr const char* kHistoryLinesParam = "wandb/history_lines";
inline constexpr const char* kOutputLinesParam = "wandb/output_lines";
inline constexpr size_t kMaxNameLength = 256;  // run id, project, entity, display name

// What upsertBucket's `input` asks for. Absent fields stay unset (an upsert changes only what it
// names).
struct RunUpsert {
  std::string id;           // inloop's run id, when the client resumes by the id it was given
  std::string run_name;     // W&B's run id ("name" in GraphQL)
  std::string project;      // "modelName"; "uncategorized" when absent
  std::string entity;       // "entityName"; kDefaultEntity when absent
  std::optional<std::string> display_name;
  std::vector<store::Param> meta;  // wandb/group, wandb/job_type, wandb/host, wandb/notes, ...
  std::optional<std::vector<std::string>> tags;
  std::optional<std::vector<store::Param>> config;
  std::optional<std::vector<store::Param>> summary;
  std::optional<std::string> state;  // "running", "finished", ...
};

// upsertBucket(input: {...}) with variables substituted. Invalid naming the field otherwise
// (a name that is too long or holds '/' or control characters; a config or summaryMetrics that
// is not a JSON object).
Status ParseUpsert(const graphql::Value& input, RunUpsert* out);

// A config JSON object as params (see the mapping above).
Status ConfigParams(std::string_view json, std::vector<store::Param>* out);
// A summary JSON object as summary/KEY params.
Status SummaryParams(std::string_view json, std::vector<store::Param>* out);
// Params back as the config JSON W&B answers with ({"KEY": {"value": "TEXT"}}, values as text).
std::string ConfigJsonOf(const std::vector<store::Param>& params);

// What the server already holds of a run's files.
struct FileStreamState {
  int64_t history_lines = 0;
  int64_t output_lines = 0;
};

struct FileStreamUpdate {
  std::vector<std::string> keys;    // the series the points name, each once, first seen first
  std::vector<KeyedPoint> points;   // history values, in the order of the lines and their keys
  int64_t history_lines = 0;  // the count after this request
  int64_t resent_lines = 0;   // lines skipped because they were already stored
  int64_t non_numeric = 0;    // history values that are not numbers (not stored)
  int64_t output_lines = 0;   // the count after this request
  std::string output;         // the new console lines, each ending '\n'
  std::optional<std::vector<store::Param>> summary;
  std::vector<std::string> ignored_files;  // files inloop does not store (wandb-events.jsonl)
  bool complete = false;
  std::optional<int64_t> exit_code;
  bool preempting = false;
};

// A file stream body {"files": {NAME: {"offset": N, "content": [LINE, ...]}}, "complete",
// "exitcode", "preempting", ...} against what is stored. `start_time` (seconds, 0 if unknown)
// and `now` time the rows without `_timestamp`. Invalid naming the first bad field; nothing of
// the request is returned then.
Status ParseFileStream(std::string_view body, const FileStreamState& have, double start_time,
                       double now, FileStreamUpdate* out);

// The run's inloop status for a finished file stream: exit code 0 (or none) finished, else failed.
const char* StatusOfExit(std::optional<int64_t> exit_code);

}  // namespace inloop::http::wandb
