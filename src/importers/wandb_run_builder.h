// Builds one imported W&B run from what the .wandb records or the old layout's files say: history
// rows, config and summary updates, the run, exit and telemetry records, wandb-metadata.json.
// The rules are in wandb_reader.h; this is the part both layouts share.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "importers/imported_run.h"
#include "importers/wandb_json.h"
#include "importers/wandb_reader.h"
#include "importers/wandb_record.h"

namespace inloop::importers {

class WandbRunBuilder {
 public:
  // `source` is the file or directory the run comes from; `fallback_name` names the run when
  // the files do not (the id of the run directory).
  WandbRunBuilder(std::string source, std::string fallback_name);

  // One decoded record at byte `offset` of `path`; problems go to *batch.
  void Add(const WandbRecord& rec, int64_t offset, const std::string& path, ImportBatch* batch);
  // One history row already flattened (a wandb-history.jsonl line).
  void Row(const std::vector<WandbJsonLeaf>& leaves, bool has_step_num, int64_t step_num,
           ImportBatch* batch);

  // files/wandb-summary.json: its values over those of the summary records.
  void SummaryJson(const std::vector<WandbJsonLeaf>& leaves);
  // config.yaml entries (flattened with '/', as ReadSimpleYaml gives them); used only when no
  // config record was read.
  void ConfigYaml(const std::vector<std::pair<std::string, std::string>>& entries);
  // wandb-metadata.json.
  void Metadata(const std::vector<WandbJsonLeaf>& leaves);

  bool has_config() const { return !config_.empty() || config_records_ > 0; }
  int64_t history_rows() const { return rows_; }
  bool has_run_record() const { return has_run_; }

  // Streams the run's points to `sink` as they are read (imported_run.h PointSink).
  void StreamTo(PointSink* sink) { run_.StreamTo(sink); }

  // The run (moved out); its non-numeric history values are added to *non_numeric if not null.
  ImportedRun Finish(WandbNonNumeric* non_numeric);

 private:
  // Items of a history/summary/config record as leaves, wandb-core's split media dicts folded.
  // Without number_text, number leaves of top-level keys carry no JSON text.
  bool Leaves(const std::vector<WandbItem>& items, std::vector<WandbJsonLeaf>* out,
              std::string* bad_key, bool number_text);
  void RunRecord(const WandbRunInfo& r);
  void Meta(const std::string& key, std::string_view value);
  std::string RunStatus() const;

  ImportedRun run_;
  std::string fallback_name_;
  std::map<std::string, WandbJsonLeaf> config_, summary_;
  std::map<std::string, std::string> meta_;  // wandb/<key> params
  int64_t config_records_ = 0;
  int64_t rows_ = 0;
  bool has_step_ = false;
  int64_t last_step_ = -1;
  bool has_run_ = false;
  std::string display_name_, run_id_;
  double start_time_ = 0;
  double max_wall_ = 0;  // the latest row's wall time
  bool has_exit_ = false;
  int64_t exit_code_ = 0, exit_runtime_ = 0;
  std::string state_;  // wandb-metadata.json's "state" (before 0.10)
  WandbNonNumeric non_numeric_;
  std::vector<WandbJsonLeaf> scratch_;
  // The series of each numeric place in the row before: rows name the same keys in the same
  // order, so a key is compared with its place's series before it is hashed.
  std::vector<size_t> row_series_;
};

}  // namespace inloop::importers
