// The research loop (`inloop loop`): set-up (init), rounds (run), and the read side (view).
// A round: the proposer (an agent command, or the built-in search) changes the work tree; the
// guard rails (protected globs, diff size) may reject it before anything runs; the command runs
// under supervise::Supervise with the time budget and one seed, more seeds while the gate says
// the result is within the noise; the gate keeps (a commit on the loop's branch) or not (the
// tree is reset, the diff stays in the store). The journal is written before each step so a
// killed inloop leaves nothing half-done that the next `loop run` cannot finish or undo.
// Never prints: progress goes to a callback; questions (approval) to another.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loop/gate.h"
#include "loop/git_repo.h"
#include "loop/loop_state.h"

namespace inloop::loop {

// Why a loop verb failed, for the CLI's exit codes (50-59).
enum class LoopFailure {
  kNone,
  kNoLoop,          // no loop initialised in this repository
  kDirtyTree,       // changes the loop did not make; commit or stash them
  kGit,             // git itself failed
  kInterrupted,     // Ctrl-C / SIGTERM: the round was undone
  kNeedsApproval,   // --approve without a terminal and without --yes
  kBaselineFailed,  // no run of the unchanged command logged the metric
  kBusy,            // another `loop run` holds this repository
};

struct InitOptions {
  std::string cwd;
  std::string name = "default";
  std::string metric;  // "val_loss:min", "acc:max"; no suffix: max for acc/reward-like keys
  double budget_s = 300;
  std::string program;
  std::vector<std::string> command;
  std::string store_dir;  // resolved, may be relative to cwd
  std::vector<std::string> protected_globs;
  int64_t max_diff_lines = 0;
  int noise_seeds = 3;
  int max_seeds = 3;
  double alpha = 0.05;
  double min_gain = 0;
  int64_t seed_base = 0;
  int64_t max_rounds = 0;
  double grace_s = 10;
  bool replace = false;
  // Tamper-evidence (tamper.h): globs of the evaluation's files, and the evaluation command
  // (split without a shell) whose stdout alone gives the metric; empty: none declared.
  std::vector<std::string> eval_globs;
  std::string eval_command;
  int recheck_every = 5;  // champion re-checks (recheck.h); 0: off
  std::string register_as;  // the model registry's name for kept rounds (registry.h); "": none
};

Status InitLoop(const InitOptions& o, LoopConfig* out, LoopFailure* why);

struct RunOptions {
  std::string cwd;
  std::string agent;        // command line, split without a shell
  std::string search_path;  // space.toml
  int64_t rounds = 0;       // 0: until another limit
  double until = 0;         // epoch seconds; 0: none
  double agent_timeout_s = 3600;
  int parallel = 1;  // candidate rounds at once (parallel_driver.h); 1: one after another
  // `loop submit` / MCP loop_round: one round whose change is this diff file (no proposer).
  std::string submit_patch;
  std::function<void(const std::string&)> say;  // progress lines
  // Asked before a kept round is committed (--approve); null: no question. false: discard.
  std::function<bool(const RoundRecord&)> confirm_keep;
};

struct RunSummary {
  std::vector<RoundRecord> rounds;  // the rounds this call finished (baseline included)
  std::string stop_reason;
};

Status RunLoop(const RunOptions& o, RunSummary* out, LoopFailure* why);

// Everything the read verbs show.
struct LoopView {
  GitRepo repo;
  LoopPaths paths;
  LoopConfig config;
  LoopState state;
  std::vector<RoundRecord> rounds;
  std::optional<Journal> journal;
  std::optional<double> champion_metric;  // mean of the champion's samples
  std::optional<double> noise_sd;         // their standard deviation (>= 2 samples)
};

Status LoadLoopView(const std::string& cwd, LoopView* v, LoopFailure* why);

// "val_loss:min" -> key, minimize. Invalid for another suffix or an empty key.
Status ParseMetricSpec(const std::string& spec, std::string* key, bool* minimize);

}  // namespace inloop::loop
