// The session's side of `[audit]` (see supervisor.h SupervisorOptions::audit_policy): the
// findings of the pre-run audit go on the run's timeline, and a checkpoint is scanned before a
// rollback or resume may point the process at it (CheckpointBook::SetTrusted). A scan is cached
// per path, size and modification time, so a checkpoint is read once however often the policy
// asks about it.
#include <sys/stat.h>

#include <fmt/format.h>

#include "audit/audit.h"
#include "common/display_text.h"
#include "supervise/session.h"

namespace inloop::supervise {

void Session::RecordPreRunAudit() {
  for (const remedy::AuditData& d : opts_.audit_findings) {
    std::string where = FileAndLine(d.file, d.line);
    Event(remedy::event_kind::kAuditFinding, d.severity == "critical" || d.severity == "high" ? "warning" : "info",
          fmt::format("audit: {} {}: {} ({})", d.severity, where, d.message, d.rule), d);
  }
}

void Session::InstallCheckpointAudit() {
  if (opts_.audit_policy.empty() || opts_.audit_policy == "off") return;
  controller_.checkpoints().SetTrusted(
      [this](const remedy::Checkpoint& c) { return CheckpointTrusted(c); });
}

bool Session::CheckpointTrusted(const remedy::Checkpoint& c) {
  struct stat st;
  if (::stat(c.path.c_str(), &st) != 0) return true;  // existence is checked elsewhere
  std::string stamp = fmt::format("{}:{}:{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  auto it = checkpoint_audits_.find(c.path);
  if (it != checkpoint_audits_.end() && it->second.first == stamp) return it->second.second;

  audit::AuditOptions o;
  o.allow.extra = opts_.audit_allow;
  o.use_bandit = false;  // a checkpoint, not code
  std::vector<audit::FileVerdict> verdicts;
  Status s = audit::AuditPaths({c.path}, o, &verdicts);
  bool block = opts_.audit_policy != "warn";
  bool trusted = true;
  if (!s.ok()) {
    Say(fmt::format("audit: the checkpoint {} could not be scanned ({}){}", c.path, s.message(),
                    block ? ": not used" : ""));
    trusted = !block;
  }
  for (const audit::FileVerdict& v : verdicts) {
    for (const audit::Finding& f : v.findings) {
      if (f.severity < audit::Severity::kHigh) continue;
      if (block) trusted = false;
      remedy::AuditData d = audit::TimelineDataOf(f, "checkpoint", opts_.audit_policy, block);
      std::string msg = fmt::format("audit: checkpoint of step {} {}: {} ({}){}", c.step, f.file,
                                    f.message, f.rule,
                                    block ? ": not loaded, an older good checkpoint is used if any"
                                          : " ([audit] policy warn: loaded anyway)");
      Say(msg);
      Event(remedy::event_kind::kAuditFinding, block ? "error" : "warning", std::move(msg), d,
            c.step);
    }
  }
  checkpoint_audits_[c.path] = {stamp, trusted};
  return trusted;
}

}  // namespace inloop::supervise
