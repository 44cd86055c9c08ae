// RunReport: the facts of one run gathered from the store for `inloop report` — the run record,
// its attempts and crash classes, params, the primary metric and its key numbers, the timeline of
// findings and actions with their evidence, what each applied remedy achieved (measured on the
// primary metric), throughput and its regressions, the learning-rate schedule, and the comparison
// with a baseline run. Pure data: nothing here prints or formats sentences (sentences.h,
// render_markdown.h, render_html.h do). Reads only; never writes to the store.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "common/point.h"
#include "common/status.h"
#include "remedy/timeline.h"
#include "data/check_result.h"
#include "data/spike_data.h"
#include "report/goodput.h"
#include "store/store.h"

namespace inloop::report {

struct ReportOptions {
  std::string run;            // id, id prefix or name (newest wins)
  std::string baseline;       // empty: the best earlier finished run of the same command
  bool auto_baseline = true;  // false: no baseline unless `baseline` is given
  std::string key;            // primary metric; empty: chosen (train loss first)
  int chart_columns = 800;    // M4 columns of the charts (up to 4 points each)
  int pre_window = 20;        // points before an anomaly whose median is the "before" level
  double regression_drop = 0.2;  // throughput below (1 - this) x its trailing median
  // Read the datasets behind skipped windows back ("Data behind the spike"); false for callers
  // that only want numbers (goodput).
  bool spike_data = true;
};

struct Evidence {
  std::string name;
  double value = 0;
};

struct AttemptFacts {
  int number = 0;
  std::string reason;
  double started_at = 0, ended_at = 0;
  std::optional<int> exit_code;
  int signal = 0;
  std::string crash_class;  // "" or "none" for a clean exit
  std::optional<int64_t> start_step;  // first step it was told to run (restarts)
  std::optional<int64_t> last_step;   // last step it logged
  std::optional<int64_t> micro_batch;
  std::optional<double> lr_scale;
  std::map<std::string, std::string> params;  // what it ran with (run params + its argv)
};

// A detector finding (its closing update merged in) or a crash.
struct FindingFacts {
  int64_t event_id = 0;
  double time = 0;
  std::string kind;  // loss_spike, nonfinite, divergence, ..., or "crash"
  std::string severity;
  std::string series;
  std::optional<int64_t> step_lo, step_hi;
  std::string message;
  std::vector<Evidence> evidence;
  bool closed = false;  // an update reported its end
  std::optional<int64_t> closed_hi;
  std::vector<Evidence> closing;  // the update's evidence
  int attempt = 0;  // attempt during which it was seen (0: unknown)
  // Series merged into it by the detector (the same fact on another series), from its update.
  std::vector<std::string> related;
};

// The findings of one kind, collapsed: how many, over which steps and series. The report shows
// one row per kind instead of one per finding (a noisy series does not drown the story).
struct FindingGroup {
  std::string kind;
  std::string severity;  // the worst of the group
  int count = 0;
  int closed = 0;  // how many ended (an update reported their end)
  std::optional<int64_t> step_lo, step_hi;  // over the whole group
  std::vector<std::string> series;          // distinct, in order of first appearance
  std::vector<std::string> related;         // series merged into them by the detector
  int64_t first_event_id = 0;
  std::string first_message;
  int attempts = 0;  // distinct attempts they were seen in
};

// One line of the timeline (findings, crashes, attempts, actions and their outcomes).
struct TimelineEntry {
  int64_t event_id = 0;
  double time = 0;
  double offset = 0;  // seconds since the run started
  std::string kind;
  std::string severity;
  std::optional<int64_t> step_lo, step_hi;
  std::string message;
  std::vector<Evidence> evidence;
  int count = 1;  // in the collapsed timeline: how many consecutive events of this kind it stands for
};

struct RemedyFacts {
  int64_t action_id = 0;
  std::string action, trigger, state, decided_by, note, reason;
  std::optional<int64_t> trigger_step;
  double created_at = 0;
  // The plan.
  std::optional<int64_t> checkpoint_step, start_step, micro_batch;
  std::optional<std::pair<int64_t, int64_t>> skip;
  std::optional<double> lr_scale;
  int next_attempt = 0;  // the attempt it started (0: none)
  bool in_process = false;  // applied by the live process itself (no restart, no next attempt)
  double applied_at = 0;    // in_process: when the process went back (its action_applied event)
  std::string verdict;   // the supervisor's action_outcome: "passed", "failed" or ""
  // Measured on the primary metric (restarting actions that were applied).
  bool measured = false;
  std::string metric;
  int64_t onset = 0;          // first step of the anomaly (or the trigger step)
  int pre_points = 0;         // points whose median is the level before
  double pre_level = 0;
  int64_t restart_step = 0;   // first step after the restart (or the onset without one)
  int64_t window_end = 0;     // last step looked at (the next remedy's onset or the end)
  std::optional<int64_t> recovered_step;  // first step back at or under (goal) the level
  std::optional<double> recovered_value;
  int64_t steps_to_recover = 0;  // recovered_step - restart_step + 1 (counting that step)
  int64_t steps_observed = 0;    // window_end - restart_step + 1
  // The same trigger kind again in the attempt the action started (or a later one, before the
  // next restart). What the dying process logs after the action was taken does not count.
  std::optional<int64_t> recurred_step;
  // The cost of the restart: steps logged by the abandoned attempt from the restart step on (they
  // are run again), and the wall time from the first of them to the first point of the new attempt.
  bool cost_known = false;
  int64_t lost_steps = 0;
  double lost_seconds = 0;
};

struct RegressionFacts {
  std::string key;
  int64_t step_lo = 0, step_hi = 0;
  double before = 0;  // trailing median before it, in the series' units
  double during = 0;  // median inside it
  double drop = 0;    // fraction of throughput lost (0.45 = 45% slower)
  std::string source;  // "detector" or "report"
  std::string related;  // other series the detector merged into it ("a, b"), or ""
};

struct ThroughputFacts {
  std::string key;   // the series, or "steps_per_s" derived from the primary metric's wall times
  std::string kind;  // "throughput" (higher is better), "step_time" (lower), "derived"
  int64_t points = 0;
  double median = 0;
  std::vector<Point> chart;  // M4-downsampled
  // Of `key` when the detector found any there, else of every throughput series it watched, else
  // found by FindRegressions on `key`.
  std::vector<RegressionFacts> regressions;
  double material_drop = 0.2;  // ReportOptions::regression_drop: what recommendations mention
};

struct LrFacts {
  std::string key;
  double first = 0;
  int64_t first_step = 0;
  double peak = 0;
  int64_t peak_step = 0;  // first step at the maximum
  double last = 0;
  int64_t last_step = 0;
  std::map<int64_t, double> at;  // the learning rate at each anomaly onset (nearest point before)
};

struct SeriesSummary {
  std::string key;
  int64_t points = 0;
  int segments = 0;
  int64_t first_step = 0, last_step = 0;
  double last = 0, min = 0, max = 0;
  bool has_finite = false;
  int64_t nonfinite = 0;
};

struct MetricFacts {
  std::string key;
  std::string goal;  // "min" or "max"
  int64_t points = 0;  // effective points (hidden abandoned tails excluded)
  int64_t nonfinite = 0;
  std::optional<Point> first, last, best;  // finite points
  std::vector<Point> chart;                // M4-downsampled effective curve
  // The last fifth of the step range in two halves, [late_lo, late_mid) and [late_mid, late_hi]:
  // the mean of each (finite points; unset with fewer than 3 points in either half).
  std::optional<double> late_mean_a, late_mean_b;
  int64_t late_lo = 0, late_mid = 0, late_hi = 0;
};

struct BaselineFacts {
  std::string run_id, name, how;  // how: "given" or "auto"
  int candidates = 0;             // earlier finished runs of the same command with the metric
  std::optional<double> final_value;  // its last finite value of the metric
  std::string error;  // why there is no comparison (no common steps...), else ""
  // From compare::Compare, A = baseline, B = this run, aligned on step.
  double lo = 0, hi = 0;
  double final_a = 0, final_b = 0, final_diff = 0;  // mean over the last 5% of the common range
  double area = 0, mean_gap = 0, max_abs_diff = 0, max_abs_at = 0;
  std::string leader;  // "a" (baseline), "b" (this run) or "tie"
  std::optional<double> leads_since;
  int crossings = 0;
  std::vector<Point> chart;  // the baseline's curve for drawing
};

struct Recommendation {
  std::string rule;  // stable id: spikes_after_warmup, oom_same_param, ...
  std::string text;  // one or two sentences with the numbers
};

struct RunReport {
  store::RunRecord run;
  double duration = 0;  // seconds (until now for a running run)
  std::vector<store::Param> params;
  std::vector<std::string> tags;
  std::vector<AttemptFacts> attempts;
  std::vector<SeriesSummary> series;
  std::optional<MetricFacts> metric;
  // One line: what happened, what it cost, what inloop did (sentences.h Headline).
  std::string headline;
  std::vector<FindingFacts> findings;
  std::vector<FindingGroup> finding_groups;  // findings collapsed by kind, most severe first
  std::vector<TimelineEntry> timeline;
  // The timeline with runs of consecutive findings of one kind (their closing updates included)
  // collapsed into one entry with a count and the step range of the run: what the renderers show.
  std::vector<TimelineEntry> timeline_collapsed;
  int64_t checkpoints = 0;  // checkpoint events (not listed one by one)
  std::vector<RemedyFacts> remedies;
  // `[audit]` findings recorded on the timeline (audit_finding events): the command's files
  // before the run, checkpoints before a rollback loaded them. Not repeated in the timeline.
  std::vector<remedy::AuditData> audit;
  // ETTR, lost steps and time per fault, time to detect, MTTR (on the primary metric's points).
  std::optional<Goodput> goodput;
  std::optional<ThroughputFacts> throughput;
  std::optional<LrFacts> lr;
  std::optional<BaselineFacts> baseline;
  std::vector<Recommendation> recommendations;
  // A data pipeline step's run: its outputs' validation results ("data_check" events, docs/data.md).
  std::vector<data::CheckResult> data_checks;
  // "Data behind the spike": per dataset the SDK's data index covers, the records of the data
  // windows the doctor skipped, compared with the run's normal batches (spike_data_section.h).
  std::vector<data::SpikeData> spike_data;
};

// Gathers the report of opts.run. NotFound for an unknown run, baseline or --key series.
Status BuildRunReport(store::Store* st, const ReportOptions& opts, RunReport* out);

// The run's goodput alone (ETTR, lost steps and time per fault, time to detect, MTTR), from the
// report's facts without a baseline; none when the run has no primary metric or the report
// cannot be built. For `inloop show` and serve's /metrics.
std::optional<Goodput> RunGoodput(store::Store* st, const std::string& run_id);

// The report as one JSON object (for machines and the assistant).
void WriteReportJson(const RunReport& r, JsonWriter* w);

// The primary metric among `keys` when none is given: a training loss first, then a validation
// loss, then anything loss-like; empty when none is.
std::string ChoosePrimaryKey(const std::vector<std::string>& keys);

// Throughput regressions of `pts` (in step order): blocks of points whose median falls below
// (1 - drop) x the median of the trailing blocks, for at least two blocks in a row. For a
// step-time series (higher_is_better = false) the rate 1/value is what drops. Exposed for tests.
std::vector<RegressionFacts> FindRegressions(const std::vector<Point>& pts, bool higher_is_better,
                                             double drop);

}  // namespace inloop::report
