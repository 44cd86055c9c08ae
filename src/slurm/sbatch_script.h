// The sbatch script `inloop submit --slurm` writes (pure text; submit_cmd.cc writes and submits
// it). The script asks Slurm to requeue the job rather than fail it (--requeue), to append to
// its output across requeues (--open-mode=append) and to send the batch shell SIGUSR1 SECONDS
// before the time limit (--signal=B:USR1@SECONDS). Its body execs `inloop run` with a run
// identity derived from the job (ContinueKeyExpr), so a requeued job continues the same inloop
// run as a new attempt. Every argv element in the body is shell-quoted; #SBATCH values are
// checked against a conservative character set instead (sbatch reads them with its own rules).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace inloop::slurm {

struct SbatchRequest {
  std::string job_name;        // --job-name (required)
  int nodes = 1;               // --nodes
  int gpus_per_node = 0;       // --gpus-per-node (0: not asked)
  std::string partition;       // --partition (empty: the cluster's default)
  std::string time;            // --time (empty: the partition's default)
  int signal_seconds = 120;    // --signal=B:USR1@N
  std::vector<std::string> exclude;  // --exclude (lemon nodes from the ledger)
  std::string chdir;           // where the command runs (absolute; a `cd` in the body)
  std::string inloop_binary;   // absolute path of the inloop that supervises the job
  // Options of `inloop run` other than the run identity: --store S or --server URL --token T,
  // --name, --exclude-after K ...
  std::vector<std::string> run_options;
  std::vector<std::string> command;  // the training command (argv)
  // Instead of `inloop run ... -- command`: the job execs `inloop_binary` with these arguments (a
  // verb that starts its own `inloop run`, as `inloop data exec-step` does). Such a job gets no
  // --signal: there is no training to checkpoint, and the verb is not `inloop run`.
  std::vector<std::string> body_args;
};

// One argv element for a POSIX shell: unchanged when it is made of safe characters only, else
// in single quotes with every ' written as '\''.
std::string ShellQuote(std::string_view arg);

// A shell-expanded word naming the job, the same for every requeue of it:
// "slurm-${SLURM_CLUSTER_NAME:-cluster}-${SLURM_JOB_ID}" (double-quoted, expanded by the batch
// shell; no user content in it).
std::string ContinueKeyExpr();

// Checks the request (Invalid names the field and the rule) and renders the script.
Status BuildSbatchScript(const SbatchRequest& r, std::string* script);

}  // namespace inloop::slurm
