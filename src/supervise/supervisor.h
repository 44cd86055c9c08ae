// Supervisor: runs one training command under inloop (`inloop run`). Spawns it in its own
// process group, tees its stdout/stderr to the terminal unchanged and to per-attempt log files,
// turns lines and SDK messages into points in the store, runs the detectors over them, and acts
// on failures under the remedy policy (remedy/): it ends and restarts the process as a new
// attempt told what to do, or asks a human first (ask), or only records (observe). Forwards the
// first Ctrl-C/SIGTERM and escalates to SIGKILL on the second or when the grace period ends, and
// leaves no process behind. Tracking never kills training: a store failure is reported loudly,
// the child keeps running and being teed, and the outcome says the store failed.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "detect/detect_config.h"
#include "ingest/line_parser.h"
#include "remedy/remedy_config.h"
#include "remedy/timeline.h"
#include "supervise/rank_link.h"

namespace inloop::supervise {

struct SupervisorOptions {
  std::vector<std::string> command;
  std::string name;  // empty: derived from the command
  std::string store_dir;
  double grace_seconds = 30;
  std::vector<ingest::CustomPattern> patterns;
  // A key the process logs through the SDK is recorded from the SDK, not from its printed lines
  // (they usually repeat the same numbers for people); every other printed key is recorded
  // (ingest/source_precedence.h). Set: every printed value is recorded too.
  bool parse_lines_with_sdk = false;
  std::vector<std::pair<std::string, std::string>> extra_env;
  std::string config_path;  // recorded as a param source when set
  detect::DetectConfig detect;  // thresholds of the detectors
  remedy::RemedyConfig remedy;  // what to do about failures
  bool color = false;       // colour the summary
  // [audit] (docs/audit.md): with a policy other than "off", a checkpoint is scanned before a
  // rollback or resume points the process at it; "warn" records its findings on the timeline,
  // "ask" and "block" also refuse it (an older good checkpoint is used, or none). audit_allow:
  // trusted pickle globals. audit_findings: what the audit of the command's own files found
  // before the run (recorded on its timeline).
  std::string audit_policy = "off";
  std::vector<std::string> audit_allow;
  std::vector<remedy::AuditData> audit_findings;
  // A scheduler's job (`inloop run --continue-run KEY`, as `inloop submit --slurm` writes it):
  // the run recorded with this key continues as a new attempt (reason "requeue") from its newest
  // good checkpoint; a key not seen before starts a new run that keeps it. Inside a Slurm job,
  // SIGUSR1 and hardware faults requeue the job (session_scheduler.cc).
  std::string continue_key;
  int exclude_after = 2;  // a Slurm node with this many faults in the ledger is excluded
  // [run] ranks_listen: where the ranks' TCP channel listens (rank_link.h; default "auto").
  RanksListen ranks_listen;
};

struct RunOutcome {
  std::string run_id;
  std::string run_name;
  std::string status;
  int exit_code = 0;       // last attempt's exit code, 128+signal, or 127 when it could not start
  int attempts = 0;
  bool policy_stopped = false;  // the remedy policy ended the run (stop_reason says why)
  std::string stop_reason;
  bool store_failed = false;
  std::string store_error;
  bool requeued = false;  // the Slurm job was requeued: the run continues in the new job
};

// Runs the command to completion. Returns a non-OK Status only for problems before the child
// could be started that are the user's to fix (bad config); everything else is in the outcome.
Status Supervise(const SupervisorOptions& opts, RunOutcome* out);

}  // namespace inloop::supervise
