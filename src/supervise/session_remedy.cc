// The session's side of the remedy controller (see session.h): findings go in, commands come out
// and are carried out here — signals to the process group, action records and timeline events in
// the store, lines for the user — and, after an exit, the waits the controller asks for (a
// person's approve/deny, a backoff) are done here with the clock and the signalfd.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/file_io.h"
#include "remedy/launch.h"
#include "supervise/process.h"
#include "supervise/session.h"

namespace inloop::supervise {

void Session::ActOnFindings() {
  std::vector<std::pair<detect::Finding, detect::SeriesClass>> batch;
  for (; findings_acted_ < findings_.size(); ++findings_acted_) {
    const detect::Finding& f = findings_[findings_acted_];
    batch.emplace_back(f, ClassOfFinding(f));
  }
  controller_.OnFindings(batch);
}

int64_t Session::Execute(const remedy::Command& c) {
  using remedy::CommandKind;
  switch (c.kind) {
    case CommandKind::kKill:
      StopChild();
      return 0;
    case CommandKind::kRecordAction:
      return RecordAction(c);
    case CommandKind::kSetActionState:
      SetActionState(c.action_id, c.state, c.by);
      return 0;
    case CommandKind::kEvent:
      Write(c.event);
      return 0;
    case CommandKind::kSay:
      Say(c.text);
      return 0;
    case CommandKind::kAskApproval: {
      int64_t id = c.action_id;
      Say(fmt::format("proposed {} (action {}): {}\n  approve: inloop approve {}   deny: inloop "
                      "deny {}",
                      remedy::ActionName(c.plan.action), id, c.plan.reason, id, id));
      return 0;
    }
    case CommandKind::kRestart:
      restart_reason_ = c.text;
      return 0;
    case CommandKind::kEnd:
      end_status_ = c.text;
      return 0;
    case CommandKind::kDeliver: {
      Status ws = WriteFileAtomically(
          control_path_, remedy::ControlJson(remedy::WithLiveRequest(control_, c.plan,
                                                                     controller_.state(), c.seq)));
      if (!ws.ok()) {
        Say(fmt::format("warning: the in-process request could not be written ({}); the "
                        "process will be restarted when it is not applied",
                        ws.message()));
      }
      return 0;
    }
    case CommandKind::kRewind:
      RewindTo(c.plan.resume_step);
      return 0;
  }
  return 0;
}

int64_t Session::RecordAction(const remedy::Command& c) {
  if (!store_ok_) return 0;
  const remedy::Plan& p = c.plan;
  store::ActionRecord a;
  a.run_id = run_.id;
  a.created_at = WallNow();
  a.action = std::string(remedy::ActionName(p.action));
  a.trigger = p.failure.trigger;
  a.step = p.failure.step;
  a.reason = p.reason;
  a.data_json = remedy::ToJson(c.record);
  a.state = c.state;
  if (!c.by.empty()) {
    a.decided_by = c.by;
    a.decided_at = a.created_at;
  }
  Status s = store_->AddAction(&a);
  if (s.ok()) return a.id;
  StoreFailed(s);
  return 0;
}

void Session::SetActionState(int64_t id, const std::string& state, const std::string& by) {
  if (!store_ok_ || id == 0) return;
  Status s = store_->SetActionState(id, state.c_str(), by);
  if (!s.ok()) StoreFailed(s);
}

// SIGTERM to the process group now, SIGKILL after stop_grace_seconds.
void Session::StopChild() {
  if (child_done_ || child_pid_ <= 0 || kill_deadline_ != Clock::time_point::max()) return;
  SignalGroup(child_pid_, SIGTERM);
  kill_deadline_ = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                      opts_.remedy.stop_grace_seconds * 1000));
}

std::optional<bool> Session::Verdict(int64_t id, std::string_view after_denial) {
  store::ActionRecord a;
  if (!store_ok_ || !store_->GetAction(id, &a).ok()) return std::nullopt;
  if (a.state == store::kActionApproved) {
    Say(fmt::format("action {} approved by {}", id, a.decided_by));
    return true;
  }
  if (a.state == store::kActionDenied) {
    Say(fmt::format("action {} denied by {}{}", id, a.decided_by, after_denial));
    return false;
  }
  return std::nullopt;
}

// Ask mode with a live process: has a human decided? A denial leaves the training alone.
void Session::PollPending() {
  std::optional<int64_t> id = controller_.pending_approval();
  if (!id) return;
  if (std::optional<bool> approved = Verdict(*id, ": training goes on")) {
    controller_.OnDecision(*id, *approved, SteadyNow());
  }
}

void Session::WaitAfterExit() {
  while (controller_.waiting()) {
    if (std::optional<int64_t> id = controller_.pending_approval()) {
      if (std::optional<bool> verdict = Verdict(*id)) {
        controller_.OnDecision(*id, *verdict, SteadyNow());
        continue;
      }
    }
    // A quarter second between looks at the store; a backoff sleeps in slices of a second.
    double until = controller_.wake_at() ? std::min(*controller_.wake_at(), SteadyNow() + 1.0)
                                         : SteadyNow() + 0.25;
    if (!SleepUntil(until)) {
      ++interrupts_;
      controller_.OnInterrupt();
      return;
    }
    controller_.Tick(SteadyNow());
  }
}

// Sleeps until `deadline` (SteadyNow's clock), unless a signal asks inloop to stop (false).
bool Session::SleepUntil(double deadline) {
  for (;;) {
    double left = deadline - SteadyNow();
    if (left <= 0) return true;
    pollfd p{sfd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::clamp(left * 1000, 1.0, 1000.0)));
    if (r <= 0) continue;
    signalfd_siginfo si;
    bool stop = false;
    while (::read(sfd_, &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGUSR1) usr1_ = true;  // Slurm's time is up: requeue, not restart
      if (si.ssi_signo != SIGCHLD) stop = true;
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (stop) return false;
  }
}

remedy::Launch Session::LaunchFor(int attempt, const std::string& reason) {
  return remedy::BuildLaunch(opts_.command, opts_.remedy, controller_.state(), attempt, reason,
                             control_path_);
}

}  // namespace inloop::supervise
