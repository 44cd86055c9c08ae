// RepairView: what the doctor did to one run, shaped for drawing (the dashboard's charts and the
// one line above them): each attempt's step and wall range, the steps of an attempt that a later
// attempt ran again (abandoned), the data windows skipped, the checkpoints, one entry per episode
// of findings, a one-line summary and the goodput. Built from the run report (run_report.h), so
// its numbers are the report's and `inloop report` says the same. Reads only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "report/goodput.h"
#include "report/run_report.h"
#include "store/store.h"

namespace inloop::report {

struct RepairAttempt {
  int number = 0;
  std::string reason;
  double started_at = 0, ended_at = 0;  // ended_at 0: still running
  std::optional<int64_t> first_step;    // the step it was told to start at (or the run's first)
  std::optional<int64_t> last_step;     // the last step it logged
};

// Steps lo..hi (inclusive) that attempt `attempt` logged and attempt `redone_by` ran again after
// a rollback or resume: drawn faded, they are not part of the surviving curve.
struct AbandonedRange {
  int attempt = 0;
  int redone_by = 0;
  int64_t lo = 0, hi = 0;
};

// Data batches lo..hi (inclusive) that a remedy told the restarted attempt to skip.
struct SkipWindow {
  int64_t action_id = 0;
  int64_t lo = 0, hi = 0;
};

struct CheckpointMark {
  int64_t step = 0;
  double time = 0;
  int attempt = 0;  // 0: unknown
};

// A run of consecutive findings of one kind (the report's collapsed timeline entry), or a crash.
struct Episode {
  std::string kind;  // nonfinite, loss_spike, ..., crash
  std::string severity;
  std::string key;   // the series of its first finding (a crash: its class)
  int count = 1;
  std::optional<int64_t> step_lo, step_hi;
  double time = 0;  // of its first finding
  std::string message;  // of its first finding
};

struct RepairView {
  std::string run_id, name, metric;  // metric: the primary series the costs are measured on
  double started_at = 0;
  std::vector<RepairAttempt> attempts;
  std::vector<AbandonedRange> abandoned;
  std::vector<SkipWindow> skipped;
  std::vector<CheckpointMark> checkpoints;
  std::vector<Episode> episodes;
  // "NaN at 825 → rolled back to 750, skipped 751-830, cost 80 steps / 5.0s" (one clause per
  // applied remedy, "; " between them); empty when no remedy was applied.
  std::string summary;
  std::optional<Goodput> goodput;
};

// The view of run `run_ref` (id, id prefix or name). NotFound for an unknown run.
Status BuildRepairView(store::Store* st, const std::string& run_ref, RepairView* out);

// The view from a built report and the run's events (for the checkpoints). Pure.
RepairView RepairViewOf(const RunReport& r, const std::vector<store::EventRecord>& events);

// The summary line of RepairView from the report's remedies; empty when none was applied.
std::string RepairSummary(const RunReport& r);

// {"run","name","metric","started_at","attempts":[...],"abandoned":[...],"skipped":[...],
// "checkpoints":[...],"episodes":[...],"summary","goodput":{...}|null} (docs/http_api.md).
void WriteRepairViewJson(const RepairView& v, JsonWriter* w);

}  // namespace inloop::report
