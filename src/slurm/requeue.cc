// Requeue decisions and scontrol calls (requeue.h).
#include "slurm/requeue.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/subprocess.h"

namespace inloop::slurm {

SlurmJob SlurmJobFromEnv(const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv_fn ? getenv_fn(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  SlurmJob j;
  j.job_id = get("SLURM_JOB_ID");
  j.node = get("SLURMD_NODENAME");
  if (!ValidJobId(j.job_id)) j.job_id.clear();
  if (!ValidNodeName(j.node)) j.node.clear();
  return j;
}

bool IsNodeFault(std::string_view crash_class) {
  return crash_class == "gpu_fault" || crash_class == "nccl_timeout";
}

std::string_view RequeueWhyName(RequeueWhy w) {
  switch (w) {
    case RequeueWhy::kNone: return "none";
    case RequeueWhy::kSignal: return "signal";
    case RequeueWhy::kNodeFault: return "node_fault";
  }
  return "none";
}

RequeueDecision DecideRequeue(const RequeueInput& in) {
  RequeueDecision d;
  if (!in.job.in_job()) return d;
  bool fault = IsNodeFault(in.crash_class);
  if (fault && !in.job.node.empty()) {
    d.record_fault = true;
    if (!in.continues) return d;
    d.why = RequeueWhy::kNodeFault;
    int threshold = std::max(1, in.exclude_after);
    if (in.node_faults >= threshold) {
      d.exclude = in.lemon_nodes;
      if (std::find(d.exclude.begin(), d.exclude.end(), in.job.node) == d.exclude.end()) {
        d.exclude.push_back(in.job.node);
      }
      std::sort(d.exclude.begin(), d.exclude.end());
      d.reason = fmt::format(
          "{} on node {} ({} fault(s) in the ledger, excluded from {}): requeueing job {} "
          "without it",
          in.crash_class, in.job.node, in.node_faults, threshold, in.job.job_id);
    } else {
      d.reason = fmt::format(
          "{} on node {} ({} fault(s) in the ledger, excluded from {}): requeueing job {}",
          in.crash_class, in.job.node, in.node_faults, threshold, in.job.job_id);
    }
    return d;
  }
  if (in.usr1_received && in.continues) {
    d.why = RequeueWhy::kSignal;
    d.reason = fmt::format(
        "Slurm sent SIGUSR1 (time limit or preemption): requeueing job {} to resume from the "
        "newest checkpoint",
        in.job.job_id);
  }
  return d;
}

bool ValidJobId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || c == '_')) return false;
  }
  return id.front() != '_';
}

bool ValidNodeName(std::string_view node) {
  if (node.empty() || node.size() > 255) return false;
  for (char c : node) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return node.front() != '-';
}

std::vector<std::string> ExcludeNodesArgv(const std::string& job_id,
                                          const std::vector<std::string>& nodes) {
  std::string list;
  for (const auto& n : nodes) list += (list.empty() ? "" : ",") + n;
  return {"scontrol", "update", "JobId=" + job_id, "ExcNodeList=" + list};
}

std::vector<std::string> RequeueArgv(const std::string& job_id) {
  return {"scontrol", "requeue", job_id};
}

namespace {

Status RunScontrol(const std::vector<std::string>& argv, std::string_view step) {
  SubprocessSpec spec;
  spec.argv = argv;
  CapturedOutput out;
  Status s = RunCaptured(spec, &out);
  if (!s.ok()) return Status::Io(fmt::format("cannot {}: {}", step, s.message()));
  if (out.exit_code != 0) {
    std::string msg = out.err.empty() ? out.out : out.err;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    return Status::Io(fmt::format("cannot {}: scontrol exited with code {}: {}", step,
                                  out.exit_code, msg));
  }
  return Status::OK();
}

}  // namespace

Status RequeueJob(const std::string& job_id, const std::vector<std::string>& exclude) {
  if (!ValidJobId(job_id)) return Status::Invalid(fmt::format("not a Slurm job id: '{}'", job_id));
  for (const auto& n : exclude) {
    if (!ValidNodeName(n)) return Status::Invalid(fmt::format("not a Slurm node name: '{}'", n));
  }
  if (!exclude.empty()) {
    INLOOP_RETURN_IF_ERROR(RunScontrol(ExcludeNodesArgv(job_id, exclude),
                                       fmt::format("exclude nodes from job {}", job_id)));
  }
  return RunScontrol(RequeueArgv(job_id), fmt::format("requeue job {}", job_id));
}

}  // namespace inloop::slurm
