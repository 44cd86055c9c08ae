// One `wandb_internal.Record` protobuf (the payload of each .wandb log record), decoded by hand
// from the wire format with only the fields the importer uses. Field numbers are those of W&B's
// wandb_internal.proto / wandb_telemetry.proto (MIT):
//   Record: history 2, summary 3, config 5, telemetry 11, run 17, exit 18 (others: kOther)
//   HistoryRecord: item 1 (HistoryItem), step 2 (HistoryStep: num 1)
//   HistoryItem / SummaryItem / ConfigItem: key 1, nested_key 2 (repeated), value_json 16
//   SummaryRecord / ConfigRecord: update 1, remove 2
//   RunRecord: run_id 1, entity 2, project 3, config 4, run_group 6, job_type 7,
//              display_name 8, notes 9, tags 10, host 13, start_time 17 (Timestamp: seconds 1,
//              nanos 2)
//   RunExitRecord: exit_code 1, runtime 2;  TelemetryRecord: python_version 4, cli_version 5
// Unknown fields of every wire type are skipped, so records from newer clients (wandb-core's
// field 26, ...) decode. The views point into the payload, which must outlive them. Bad wire
// data (a varint past the end or over 10 bytes, a length past the end, a group or an unknown wire
// type) makes DecodeWandbRecord return false; it never reads outside the payload.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace inloop::importers {

struct WandbItem {
  std::string_view key;                     // empty when nested_key is used
  std::vector<std::string_view> nested_key;
  std::string_view value_json;
};

struct WandbRunInfo {
  std::string_view run_id, entity, project, run_group, job_type, display_name, notes, host;
  std::vector<std::string_view> tags;
  bool has_start_time = false;
  double start_time = 0;  // seconds since the epoch
};

struct WandbRecord {
  enum Type { kOther, kHistory, kSummary, kConfig, kTelemetry, kRun, kExit };
  Type type = kOther;
  int field = 0;  // the Record field that held the payload (0: none)
  std::vector<WandbItem> items;    // history items; summary/config updates (run: its config)
  std::vector<WandbItem> removes;  // summary/config removes
  bool has_step_num = false;
  int64_t step_num = 0;            // HistoryRecord.step.num
  WandbRunInfo run;
  int64_t exit_code = 0, runtime = 0;
  std::string_view python_version, cli_version;
};

// Decodes `payload` into *out (cleared first). False when the wire format is broken.
bool DecodeWandbRecord(std::string_view payload, WandbRecord* out);

}  // namespace inloop::importers
