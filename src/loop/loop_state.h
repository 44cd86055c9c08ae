// What the research loop remembers, as small JSON files in the repository's git dir
// (GIT_DIR/inloop-loop/): config.json (set by `loop init`), state.json (champion, next round),
// rounds.jsonl (one line per finished round, append-only), journal.json (the round in flight,
// written before the loop acts so a killed inloop can be cleaned up and resumed). Files only:
// nothing here runs git or a command. Format: docs/loop.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "loop/recheck.h"
#include "loop/search_space.h"

namespace inloop::loop {

// Round verdicts, as stored and printed.
inline constexpr const char* kBaseline = "baseline";
inline constexpr const char* kKept = "kept";
inline constexpr const char* kDiscarded = "discarded";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kRejected = "rejected";
inline constexpr const char* kInterruptedRound = "interrupted";
inline constexpr const char* kConflict = "conflict";  // --parallel: the rebase onto a moved
                                                      // champion conflicted
inline constexpr const char* kStale = "stale";        // --parallel: the champion kept moving
inline constexpr const char* kTampered = "tampered";  // the evaluation was changed (tamper.h)
inline constexpr const char* kRechecked = "rechecked";  // the champion still beats its reference
inline constexpr const char* kDemoted = "demoted";      // it does not: back to the reference

// A file of the declared evaluation and its sha256 at `loop init` (loop/tamper.h).
struct EvalFile {
  std::string path;  // relative to the work tree root
  std::string sha256;
};

struct LoopConfig {
  std::string name = "default";
  std::string metric;          // series key read from the run
  bool minimize = true;
  double budget_s = 300;       // wall time of one training run
  std::string program;         // the agent's instructions (path), may be empty
  std::vector<std::string> command;  // may hold {seed} and {param} templates
  std::string branch;          // inloop/loop-<name>
  std::string base_commit;     // where the loop started
  std::string workdir;         // absolute; runs and the agent start here
  std::string store_dir;       // absolute
  std::vector<std::string> protected_globs;
  int64_t max_diff_lines = 0;  // 0: no limit
  int noise_seeds = 3;         // champion runs that measure seed noise
  int max_seeds = 3;           // candidate runs at most
  double alpha = 0.05;
  double min_gain = 0;
  int64_t seed_base = 0;       // seeds are seed_base, seed_base+1, ...
  int64_t max_rounds = 0;      // 0: no limit over the loop's life
  double grace_s = 10;         // after the budget: SIGTERM, then SIGKILL after this
  double created_at = 0;
  // Tamper-evidence (loop/tamper.h): the evaluation declared at init, hashed.
  std::vector<std::string> eval_globs;
  std::vector<std::string> eval_command;  // when set, the metric comes from its stdout only
  std::vector<EvalFile> eval_files;
  std::string eval_fingerprint;           // sha256 of the settings above and below (tamper.h)
  int recheck_every = 5;                  // champion re-checks (loop/recheck.h); 0: off
  std::string register_as;                // kept rounds become candidates of this model; "": none
};

struct Sample {
  int64_t seed = 0;
  double value = 0;
  std::string run_id;
};

struct LoopState {
  int64_t next_round = 1;
  bool baseline_done = false;
  std::string champion_commit;
  int64_t champion_round = 0;
  std::vector<Sample> champion_samples;
  ParamValues champion_params;  // search: the champion's values
  RecheckState recheck;         // the last verified champion, rounds since an unverified keep
};

struct RoundRecord {
  int64_t round = 0;
  std::string verdict;   // kBaseline, kKept, ...
  std::string proposer;  // "baseline", "agent", "search"
  std::string reason;
  std::vector<Sample> samples;       // this round's runs that logged the metric
  std::vector<std::string> run_ids;  // every run of the round, failed ones too
  std::optional<double> metric;      // mean of samples
  std::optional<double> gain;        // vs the champion, positive = better
  std::optional<double> champion_metric;
  std::optional<double> noise_sd;
  std::optional<double> threshold;
  std::optional<double> p_value;  // one-sided, of a gain beyond min_gain (needs the noise)
  std::string commit;  // kept: the new commit; baseline: the base
  std::string parent;  // the champion commit the round started from
  ParamValues params;
  std::vector<std::string> changed_files;
  int64_t diff_lines = 0;
  std::string diff_path;  // in the store, when the round changed files
  std::vector<std::string> audit;  // the diff audit's findings, one line each (audit/diff_audit.h)
  std::vector<std::string> tamper;  // kTampered: the evidence, one line each (loop/tamper.h)
  std::vector<Sample> reference_samples;  // re-check rounds: the reference's fresh runs
  double started_at = 0, ended_at = 0;
  double cpu_s = 0;     // CPU seconds of the round's processes (runs, agent), when measured
  std::string device;   // the CUDA device its runs were given (--parallel), "" when none
};

// The round in flight. phase "open": nothing decided, clean up = reset to base. phase
// "decided": `record` says what to finish (commit a kept round or reset), then append it.
struct Journal {
  int64_t round = 0;
  std::string phase;
  std::string base;
  std::string branch;
  RoundRecord record;
  double started_at = 0;
};

struct LoopPaths {
  std::string dir;  // GIT_DIR/inloop-loop
  std::string config() const { return dir + "/config.json"; }
  std::string state() const { return dir + "/state.json"; }
  std::string rounds() const { return dir + "/rounds.jsonl"; }
  std::string journal() const { return dir + "/journal.json"; }
  std::string history() const { return dir + "/history.json"; }
  std::string lock() const { return dir + "/lock"; }
};

std::string ConfigJson(const LoopConfig& c);
std::string StateJson(const LoopState& s);
void WriteRoundJson(const RoundRecord& r, JsonWriter* w);
Status ParseRoundJson(const std::string& text, RoundRecord* r);  // WriteRoundJson's form
std::string JournalJson(const Journal& j);

Status LoadConfig(const LoopPaths& p, LoopConfig* c);   // NotFound: no loop here
Status LoadState(const LoopPaths& p, LoopState* s);     // missing file: a fresh state
Status LoadRounds(const LoopPaths& p, std::vector<RoundRecord>* rounds);
Status LoadJournal(const LoopPaths& p, std::optional<Journal>* j);

Status SaveConfig(const LoopPaths& p, const LoopConfig& c);
Status SaveState(const LoopPaths& p, const LoopState& s);
Status AppendRound(const LoopPaths& p, const RoundRecord& r);
Status SaveJournal(const LoopPaths& p, const Journal& j);
Status ClearJournal(const LoopPaths& p);

}  // namespace inloop::loop
