// Records of the catalog (inloop.db): runs, attempts, params, series index, events, actions.
// Plain structs shared by the store, the supervisor and the read verbs; no behaviour here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/point.h"

namespace inloop::store {

// Run status values, as stored and as printed.
inline constexpr const char* kRunning = "running";
inline constexpr const char* kFinished = "finished";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kStopped = "stopped";
inline constexpr const char* kInterrupted = "interrupted";

struct RunRecord {
  std::string id;    // assigned by CreateRun: "YYYYMMDD-HHMMSS-xxxx"
  std::string name;  // user-chosen or derived from the command; not unique (newest wins)
  std::string status = kRunning;
  std::vector<std::string> command;
  std::string cwd;
  std::string host;
  std::string git_commit;  // empty when cwd is not a git work tree
  int git_dirty = -1;      // -1 unknown / not a repo, 0 clean, 1 dirty
  double started_at = 0;   // seconds since epoch
  double ended_at = 0;     // 0 while running
  std::optional<int> exit_code;  // the process's exit code, or 128+signal
  int signal = 0;                // terminating signal of the last attempt, 0 if none
  int attempts = 0;
  int64_t supervisor_pid = 0;
  std::string supervisor_host;
};

struct AttemptRecord {
  std::string run_id;
  int number = 0;            // 1-based
  std::string reason;        // "start", "resume", "retry", ...
  double started_at = 0;
  double ended_at = 0;
  int64_t pid = 0;
  std::optional<int> exit_code;
  int signal = 0;
  std::string crash_class;   // empty until classified
  std::string stdout_path;   // relative to the store dir
  std::string stderr_path;
  std::string stderr_tail;   // last lines of stderr
  int64_t lines = 0;
  int64_t truncated_lines = 0;  // lines over the line limit, kept truncated
};

struct Param {
  std::string key;
  std::string value;
  std::string source;  // "argv", "sdk", "config"
};

struct SeriesStats {
  std::string key;
  int segments = 0;
  int64_t points = 0;
  int64_t first_step = 0;
  int64_t last_step = 0;
  Point last;
  double min = 0;  // over finite values
  double max = 0;
  bool has_finite = false;
  int64_t nonfinite = 0;
};

struct EventRecord {
  int64_t id = 0;
  std::string run_id;
  double time = 0;
  std::string kind;      // "run_start", "attempt_start", "attempt_exit", "store_error", ...
  std::string severity;  // "info", "warning", "error"
  std::optional<int64_t> step_lo, step_hi;
  std::string message;
  std::string data_json;  // evidence as a JSON object, "{}" when none
};

// A remedy the supervisor proposed or took (remedy/): its decision trail. States: "pending" (waits
// for inloop approve/deny), "approved", "denied", "applied", "observed" (observe mode: recorded,
// not taken), "expired" (the run ended or moved on before a decision).
inline constexpr const char* kActionPending = "pending";
inline constexpr const char* kActionApproved = "approved";
inline constexpr const char* kActionDenied = "denied";
inline constexpr const char* kActionApplied = "applied";
inline constexpr const char* kActionObserved = "observed";
inline constexpr const char* kActionExpired = "expired";

struct ActionRecord {
  int64_t id = 0;           // assigned by AddAction; small integers users type
  std::string run_id;
  double created_at = 0;    // seconds since epoch
  std::string action;       // "resume", "rollback_skip", "lr_cut", "shrink_batch", "stop"
  std::string trigger;      // what prompted it: a finding kind or crash class, e.g. "loss_spike"
  std::optional<int64_t> step;  // the step of the trigger, when known
  std::string reason;       // one line for humans
  std::string state = kActionPending;
  std::string decided_by;   // "auto", "policy", "cli:USER@HOST" or "http:TOKEN_NAME"
  double decided_at = 0;    // 0 until decided
  std::string note;         // free text given with approve/deny (--reason), may be empty
  std::string data_json = "{}";  // the plan: checkpoint, skip window, lr scale, micro batch...
};

// A named API token of `inloop serve` (`inloop token create NAME --scope S`; docs/security.md).
// Only the SHA-256 of the secret is kept: the store never holds a usable token.
struct TokenRecord {
  std::string name;         // [A-Za-z0-9._-]{1,64}; who the audit trail names ("http:NAME")
  std::string scope;        // "read", "ingest" or "approve"
  std::string sha256_hex;   // of the secret, 64 lower-case hex characters
  double created_at = 0;    // seconds since epoch
};

// An experiment of the MLflow tracking API (http/mlflow_api.h): a named group of runs. Id 0 is
// MLflow's "Default", which also holds every run not linked to another experiment.
inline constexpr const char* kLifecycleActive = "active";
inline constexpr const char* kLifecycleDeleted = "deleted";

struct ExperimentRecord {
  int64_t id = -1;  // assigned by CreateExperiment when negative
  std::string name;  // unique
  std::string lifecycle = kLifecycleActive;  // "active" or "deleted"
  std::string artifact_location;
  double created_at = 0;  // seconds since epoch
  double updated_at = 0;
};

// A run's experiment and MLflow lifecycle (a deleted run stays in inloop, hidden from MLflow's
// searches unless asked for).
struct RunExperiment {
  std::string run_id;
  int64_t experiment_id = 0;
  std::string lifecycle = kLifecycleActive;
};

}  // namespace inloop::store
