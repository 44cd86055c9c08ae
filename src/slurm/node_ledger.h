// The lemon-node ledger and the Slurm events of a run's timeline. The ledger is not a table of
// its own: every hardware fault the supervisor sees inside a Slurm job is a `node_fault` event
// of the run it hit (store::EventRecord, data NodeFaultData), and the ledger is those events
// across all runs (Store::ListEventsOfKind) counted per node. Each payload has one JSON form
// (ToJson / FromJson, lenient like remedy/timeline.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/catalog.h"

namespace inloop::slurm {

namespace event_kind {
inline constexpr std::string_view kNodeFault = "node_fault";
inline constexpr std::string_view kSchedulerSignal = "scheduler_signal";
inline constexpr std::string_view kJobRequeued = "job_requeued";
}  // namespace event_kind

// node_fault: a crash classified as a hardware fault on a Slurm node.
struct NodeFaultData {
  std::string node;
  std::string job_id;
  std::string crash_class;
  int attempt = 0;
};

// scheduler_signal: Slurm signalled the job (SIGUSR1 before the time limit or on preemption);
// inloop forwarded it to the process group.
struct SchedulerSignalData {
  std::string signal;  // "SIGUSR1"
  std::string job_id;
  std::string node;
  int attempt = 0;
};

// job_requeued: inloop asked Slurm to requeue the job (ok=false: scontrol refused; error says
// why).
struct JobRequeuedData {
  std::string job_id;
  std::string why;  // "signal" or "node_fault"
  std::vector<std::string> exclude;
  bool ok = false;
  std::string error;
};

std::string ToJson(const NodeFaultData& d);
std::string ToJson(const SchedulerSignalData& d);
std::string ToJson(const JobRequeuedData& d);
bool FromJson(std::string_view json, NodeFaultData* d);
bool FromJson(std::string_view json, SchedulerSignalData* d);
bool FromJson(std::string_view json, JobRequeuedData* d);

// One node of the ledger.
struct NodeFaults {
  std::string node;
  int faults = 0;
  int runs = 0;          // distinct runs hit
  double last_time = 0;  // of the newest fault
  std::vector<std::pair<std::string, int>> classes;  // crash class -> count, by class
};

// Counts node_fault events (others are ignored) per node: most faults first, then by name.
std::vector<NodeFaults> CountNodeFaults(const std::vector<store::EventRecord>& events);
// Faults of `node` (0 when it is not in the ledger).
int FaultsOf(const std::vector<NodeFaults>& ledger, std::string_view node);
// Nodes with at least `threshold` faults (>= 1), sorted by name.
std::vector<std::string> LemonNodes(const std::vector<NodeFaults>& ledger, int threshold);

// The ledger as JSON: [{"node", "faults", "runs", "last_time", "classes": {class: n}}, ...].
std::string LedgerJson(const std::vector<NodeFaults>& ledger);

// Reads the ledger back from LedgerJson's form, or from GET /api/v1/nodes's {"nodes": [...]}
// (how `inloop submit --server` learns the lemon nodes without a store). False when `json` is
// neither; entries without a node name are skipped, missing numbers are 0.
bool LedgerFromJson(std::string_view json, std::vector<NodeFaults>* ledger);

}  // namespace inloop::slurm
