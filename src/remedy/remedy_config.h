// RemedyConfig: the human-set policy of remedy/ — the mode (auto | ask | observe), the limits of
// the escalation ladder, how checkpoints are found, and how a restarted process is told what to
// do (templated arguments). Loaded from the [remedy] table of inloop.toml (docs/remedy.md lists
// every field with its default); `inloop run --policy` overrides the mode. No run state here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace inloop::remedy {

enum class Mode {
  kAuto,     // take the action at once
  kAsk,      // propose it; it waits as `pending` until `inloop approve` / `inloop deny`
  kObserve,  // record what would have been done; never touch the process
};
std::string_view ModeName(Mode m);  // "auto", "ask", "observe"
bool ParseMode(std::string_view s, Mode* out);

struct RemedyConfig {
  Mode mode = Mode::kAuto;
  // Restarts of one run, whatever their reason; the next failure ends the run `failed`.
  int max_restarts = 8;
  // Delay before restarting after a crash or hang: initial * 2^(n-1) for the n-th such restart,
  // capped. Rollbacks after an anomaly and batch shrinks restart at once.
  double backoff_initial_seconds = 5;
  double backoff_max_seconds = 300;
  // lr_cut multiplies the learning-rate scale by this.
  double lr_cut_factor = 0.5;
  // rollback_skip skips the batches from the checkpoint to the onset step, plus this many more.
  int64_t skip_extra_steps = 0;
  // Two failures are "at the same step" when their steps differ by at most this.
  int64_t same_step_tolerance = 0;
  // Finding kinds that trigger a rollback (nonfinite counts only for loss series).
  std::vector<std::string> rollback_on = {"nonfinite", "loss_spike", "divergence"};
  // A loss spike waits this many logged points of its series for the loss to come back within
  // its pre-spike level (remedy/spike_patience.h) before it gets a remedy; one that heals is a
  // recorded finding (`spike_recovered`). 3: a one-batch spike is back on the next logged point
  // (PaLM's and OPT's spikes that needed no rollback, our charlm spike@K runs), while a spike that
  // damaged the weights stays above the band for several points; with logging every 1-10 steps
  // this waits 3-30 steps, far less than the checkpoint interval a rollback costs, and matches the
  // few-steps patience of llm-foundry's KillLossSpike. 0: act at once. Non-finite losses and
  // divergence never wait.
  int spike_patience = 3;
  // With no good checkpoint before a loss anomaly, a rollback would restart the run from its
  // beginning. false (default): never for a loss anomaly: a non-finite loss stops the run (there
  // is nothing sound to go back to), a spike or divergence is recorded and training goes on
  // (`remedy_withheld`). A crash or hang with no checkpoint still restarts from the beginning.
  bool restart_from_scratch = false;
  // SIGTERM, then SIGKILL after this long, when inloop ends a process to restart it.
  double stop_grace_seconds = 10;
  // In-process remedies: a process that polls inloop.remedy_request() (the SDK) is asked to
  // apply a rollback (load the checkpoint, skip the window) or an lr cut in place, without a
  // restart (no interpreter, CUDA or data-loader start-up to pay again). When it has not
  // acknowledged within in_process_timeout_seconds, inloop restarts it as it would have. false:
  // always restart.
  bool in_process = true;
  double in_process_timeout_seconds = 30;

  // Checkpoints announced through the SDK are always used. Others are found by this glob
  // (relative to the run's directory; the step is the last run of digits in the file name),
  // complete once their size has not changed for checkpoint_settle_seconds.
  std::string checkpoint_glob;
  double checkpoint_settle_seconds = 2;

  // The micro-batch to halve on out-of-memory when the process does not report one through the
  // SDK (a param named like one of micro_batch_params). 0: unknown.
  int micro_batch = 0;
  std::vector<std::string> micro_batch_params = {"micro_batch", "effective/micro_batch",
                                                 "micro_batch_size", "batch_size"};

  // Arguments appended to the command of a restarted attempt, each group only when its value is
  // set: {checkpoint}, {resume_step}, {skip_from}, {skip_to}, {lr_scale}, {micro_batch}.
  std::vector<std::string> checkpoint_args;   // e.g. ["--resume", "{checkpoint}"]
  std::vector<std::string> skip_args;         // e.g. ["--skip-from", "{skip_from}", ...]
  std::vector<std::string> lr_scale_args;     // e.g. ["--lr-scale", "{lr_scale}"]
  std::vector<std::string> micro_batch_args;  // e.g. ["--micro-batch", "{micro_batch}"]
};

// Reads the [remedy] table of the inloop.toml at `path` (used in messages) into *out, which keeps
// its values for absent fields. Unknown fields, wrong types and out-of-range values are Invalid
// naming path:line:col and the field.
Status LoadRemedyConfig(const toml::table& t, const std::string& path, RemedyConfig* out);

}  // namespace inloop::remedy
