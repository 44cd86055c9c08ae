// The supervisor's side of a Slurm job: which job this is (from the environment Slurm gives the
// batch script), whether an attempt's end should requeue it through the scheduler rather than
// restart it in place, and the scontrol calls that do so. The decision is pure; RequeueJob runs
// scontrol with a fixed argv (no shell), its values checked first.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace inloop::slurm {

// The job inloop runs inside, from SLURM_JOB_ID and SLURMD_NODENAME (empty outside Slurm).
struct SlurmJob {
  std::string job_id;
  std::string node;  // this host's Slurm node name
  bool in_job() const { return !job_id.empty(); }
};
// `getenv` is injectable for tests; the default reads the process environment.
SlurmJob SlurmJobFromEnv(const std::function<const char*(const char*)>& getenv_fn = nullptr);

// Crash classes (detect::CrashClassName) that point at the machine rather than the run: an Xid,
// an ECC error or an illegal memory access ("gpu_fault"), an NCCL error or timeout
// ("nccl_timeout"). They go into the lemon-node ledger.
bool IsNodeFault(std::string_view crash_class);

enum class RequeueWhy { kNone, kSignal, kNodeFault };
std::string_view RequeueWhyName(RequeueWhy w);  // "none", "signal", "node_fault"

struct RequeueInput {
  SlurmJob job;
  // The run continues across requeues (`inloop run --continue-run`, as `inloop submit` writes
  // it). Without it a requeue would start the job over as a new run, so nothing is requeued:
  // a plain `inloop run` inside an allocation (srun, salloc) keeps its local remedies.
  bool continues = false;
  bool usr1_received = false;  // Slurm asked the job to checkpoint (time limit, preemption)
  std::string crash_class;     // of the attempt's exit, when it died on its own; else empty
  int node_faults = 0;         // faults of job.node in the ledger, this one included
  int exclude_after = 2;       // a node with this many faults is excluded (>= 1)
  std::vector<std::string> lemon_nodes;  // nodes already at the threshold (the ledger's)
};

struct RequeueDecision {
  RequeueWhy why = RequeueWhy::kNone;
  bool record_fault = false;           // add a node_fault event for job.node
  std::vector<std::string> exclude;    // ExcNodeList to set before requeueing (empty: leave it)
  std::string reason;                  // one line for people
  bool requeue() const { return why != RequeueWhy::kNone; }
};

// Outside a Slurm job: nothing. A node fault is recorded in any job; the rest needs `continues`.
// SIGUSR1 received: requeue (the process saved a checkpoint). A node fault: requeue, and exclude
// the node once its faults reach exclude_after (with the other lemon nodes, so the job's
// exclusion list only grows). Anything else: the supervisor's own remedies handle it in place.
RequeueDecision DecideRequeue(const RequeueInput& in);

// The scontrol argv of each step (pure).
std::vector<std::string> ExcludeNodesArgv(const std::string& job_id,
                                          const std::vector<std::string>& nodes);
std::vector<std::string> RequeueArgv(const std::string& job_id);

// Whether a job id / node name is safe as one scontrol argument value.
bool ValidJobId(std::string_view id);
bool ValidNodeName(std::string_view node);

// Sets the exclusion list (when `exclude` is not empty), then requeues the job. The error names
// the scontrol step and its own message.
Status RequeueJob(const std::string& job_id, const std::vector<std::string>& exclude);

}  // namespace inloop::slurm
