// The remedy state machine (see controller.h).
#include "remedy/controller.h"

#include <fmt/format.h>

#include "remedy/launch.h"
#include "store/catalog.h"

namespace inloop::remedy {
namespace {

Command Of(CommandKind kind) {
  Command c;
  c.kind = kind;
  return c;
}

std::string StepOrUnknown(const std::optional<int64_t>& s) {
  return s ? fmt::format("step {}", *s) : std::string("an unknown step");
}

}  // namespace

std::string_view CommandName(CommandKind k) {
  switch (k) {
    case CommandKind::kKill:
      return "kill";
    case CommandKind::kRecordAction:
      return "record";
    case CommandKind::kSetActionState:
      return "set_state";
    case CommandKind::kEvent:
      return "event";
    case CommandKind::kSay:
      return "say";
    case CommandKind::kAskApproval:
      return "ask";
    case CommandKind::kRestart:
      return "restart";
    case CommandKind::kEnd:
      return "end";
    case CommandKind::kDeliver:
      return "deliver";
    case CommandKind::kRewind:
      return "rewind";
  }
  return "say";
}

Controller::Controller(const RemedyConfig& config, const std::string& run_dir, CommandSink* sink)
    : policy_(config, run_dir),
      mode_(config.mode),
      sink_(sink),
      patience_(config.spike_patience) {}

// ---- output helpers ----

int64_t Controller::Send(Command c) { return sink_->Execute(c); }

void Controller::Emit(TimelineEvent e) {
  Command c;
  c.kind = CommandKind::kEvent;
  c.event = std::move(e);
  Send(std::move(c));
}

void Controller::Say(std::string text) {
  Command c;
  c.kind = CommandKind::kSay;
  c.text = std::move(text);
  Send(std::move(c));
}

void Controller::SetState(int64_t id, std::string_view state, std::string_view by) {
  if (id == 0) return;  // never recorded
  Command c;
  c.kind = CommandKind::kSetActionState;
  c.action_id = id;
  c.state = std::string(state);
  c.by = std::string(by);
  Send(std::move(c));
}

ActionData Controller::DataOf(const Plan& p, int64_t id) const {
  ActionData d;
  d.action_id = id;
  d.action = std::string(ActionName(p.action));
  d.mode = std::string(ModeName(mode_));
  d.trigger = p.failure.trigger;
  d.family = std::string(FamilyName(p.failure.family));
  d.step = p.failure.step;
  d.restarts = p.restarts_process();
  if (d.restarts) {
    if (p.checkpoint) d.checkpoint = CheckpointRef{p.checkpoint->path, p.checkpoint->step,
                                                   p.checkpoint->source};
    d.resume_step = p.resume_step;
    d.start_step = p.resume_step + 1;
    d.skip = p.new_skip;
    if (p.new_skip) d.skip_deliverable = p.skip_deliverable;
    d.lr_scale = p.lr_scale;
    if (p.micro_batch) d.micro_batch = *p.micro_batch;
    d.delay_seconds = p.delay_seconds;
  }
  d.reason = p.reason;
  return d;
}

// ---- inputs while the process lives ----

void Controller::OnAttemptStart(int number) {
  attempt_ = number;
  last_step_.reset();
  prev_step_.reset();
  process_gone_ = false;
  phase_ = Phase::kRunning;
  after_exit_.reset();
  wake_at_.reset();
  if (number > 1) {
    patience_.Forget();
    held_.clear();
    verdicts_.clear();
  }
}

void Controller::OnStep(int64_t step) {
  if (last_step_ && step == *last_step_) return;
  if (!last_step_ || step > *last_step_) prev_step_ = last_step_;
  last_step_ = step;
  if (watch_ && watch_->step && step > *watch_->step) {
    JudgeOutcome(true, fmt::format("passed step {}", *watch_->step));
  }
}

void Controller::OnLossPoint(const std::string& series, int64_t step, double value) {
  patience_.Observe(series, step, value, &verdicts_);
}

std::optional<int64_t> Controller::StepGap() const {
  if (!last_step_ || !prev_step_ || *last_step_ <= *prev_step_) return std::nullopt;
  return *last_step_ - *prev_step_;
}

void Controller::OnFindings(
    const std::vector<std::pair<detect::Finding, detect::SeriesClass>>& findings) {
  for (auto& [f, cls] : findings) OnFinding(f, cls);
  OnVerdicts();
}

void Controller::OnFinding(const detect::Finding& f, detect::SeriesClass cls) {
  if (f.kind == detect::FindingKind::kHang) {
    if (!f.is_update) OnLiveFailure(FailureFromHang(f, last_step_, StepGap()));
    return;
  }
  bool loss = cls == detect::SeriesClass::kLoss || cls == detect::SeriesClass::kEvalLoss;
  std::optional<Failure> failure = FailureFromFinding(f, loss, policy_.config());
  // Checkpoints inside an anomaly the policy acts on are not good, whatever the mode.
  if (f.is_update) {
    policy_.checkpoints().CloseAnomaly(f.step_lo, f.step_hi);
    return;
  }
  if (!failure) return;
  policy_.checkpoints().OpenAnomaly(f.step_lo);
  // A loss spike waits for its patience: it may heal on its own. Non-finite values and
  // divergence never wait.
  if (f.kind == detect::FindingKind::kLossSpike && patience_.patience() > 0 &&
      cls == detect::SeriesClass::kLoss) {
    if (patience_.Hold(f.series, f.step_lo, &verdicts_)) held_[f.series] = *failure;
    return;
  }
  OnLiveFailure(*failure);
}

void Controller::OnVerdicts() {
  std::vector<SpikeVerdict> verdicts;
  verdicts.swap(verdicts_);
  for (const SpikeVerdict& v : verdicts) {
    auto it = held_.find(v.series);
    std::optional<Failure> failure;
    if (it != held_.end()) {
      failure = it->second;
      held_.erase(it);
    }
    if (v.kind == SpikeVerdict::Kind::kHealed) {
      std::string msg = fmt::format(
          "loss spike on {} at step {} healed on its own within {} logged point(s) (back under "
          "{:.4g}, the pre-spike level {:.4g} plus its noise band, at step {}); no remedy",
          v.series, v.onset, v.points, v.band, v.level, v.step);
      Say(msg);
      SpikeData d{v.series, v.onset, v.step, v.points, patience_.patience(),
                  v.level,  v.noise, v.band, v.peak};
      Emit(MakeEvent(event_kind::kSpikeRecovered, "info", msg, d, v.onset));
      continue;
    }
    if (!failure) continue;
    if (v.points > 0) {
      failure->detail += fmt::format(" (still above {:.4g} {} logged point(s) later)", v.band,
                                     v.points);
    }
    OnLiveFailure(*failure);
  }
}

void Controller::OnParam(std::string_view key, std::string_view value) {
  policy_.OnParam(key, value);
}

void Controller::OnRemediesAcknowledged() {
  if (!remedies_read_) {
    remedies_read_ = true;
    policy_.SetSkipReachable(true);
  }
  if (!skip_undelivered_) return;
  skip_undelivered_ = false;
  Emit(MakeEvent(event_kind::kRemedyAcknowledged, "info",
                 fmt::format("attempt {} reads its remedies through the SDK: the skip windows "
                             "({}) reach it after all",
                             attempt_, SkipText(policy_.state().skip_windows))));
}

void Controller::OnCheckpoint(const std::string& path, std::optional<int64_t> step) {
  if (!step) step = StepFromName(path);
  if (!step) step = last_step_;
  if (step && !path.empty()) policy_.checkpoints().Announce(path, *step, attempt_);
  Emit(MakeEvent(event_kind::kCheckpoint, "info",
                 fmt::format("checkpoint saved at step {}: {}", step.value_or(-1), path),
                 CheckpointData{path, step, attempt_}, step));
}

// ---- decisions ----

void Controller::OnLiveFailure(const Failure& f) {
  // One action at a time: what happens while the process is being ended is recorded only.
  if (process_gone_ || restart_ || pending_ || inflight_ || policy_stop_ || interrupted_) return;
  Plan plan = policy_.Decide(f);
  if (plan.action == ActionKind::kWithhold) {
    Withheld(plan);  // recorded; the training goes on
    return;
  }
  if (mode_ == Mode::kAuto && CanApplyInProcess(plan)) {
    Deliver(Propose(plan));  // the process stays up; it is ended only if it does not apply it
    return;
  }
  // In auto mode the signal goes first; the decision is written to the timeline right after.
  if (mode_ == Mode::kAuto) Send(Of(CommandKind::kKill));
  Route(Propose(plan), true, 0);
}

void Controller::Withheld(const Plan& p) {
  Say(fmt::format("no remedy: {}", p.reason));
  Emit(MakeEvent(event_kind::kRemedyWithheld, "warning", p.reason,
                 WithheldData{p.failure.trigger, p.failure.step, p.reason}, p.failure.step));
  remedies_.push_back(fmt::format("withheld for {} at {}: no good checkpoint", p.failure.trigger,
                                  StepOrUnknown(p.failure.step)));
}

Controller::Decision Controller::Propose(const Plan& p) {
  Command rec;
  rec.kind = CommandKind::kRecordAction;
  rec.plan = p;
  rec.record = DataOf(p, 0);
  rec.state = mode_ == Mode::kAsk       ? store::kActionPending
              : mode_ == Mode::kObserve ? store::kActionObserved
                                        : store::kActionApproved;
  if (mode_ != Mode::kAsk) rec.by = "policy";
  Decision d{Send(std::move(rec)), p};
  std::string action(ActionName(p.action));
  ActionData data = DataOf(p, d.id);
  switch (mode_) {
    case Mode::kObserve:
      Emit(MakeEvent(event_kind::kActionProposed, "warning",
                     fmt::format("observe mode, not taken: {}: {}", action, p.reason), data,
                     p.failure.step));
      Say(fmt::format("[observe] would {}: {}", action, p.reason));
      break;
    case Mode::kAsk: {
      Emit(MakeEvent(event_kind::kActionProposed, "warning",
                     fmt::format("{} waits for approval: {}", action, p.reason), data,
                     p.failure.step));
      Command ask = Of(CommandKind::kAskApproval);
      ask.action_id = d.id;
      ask.plan = p;
      Send(std::move(ask));
      break;
    }
    case Mode::kAuto:
      Emit(MakeEvent(event_kind::kActionProposed, "warning",
                     fmt::format("{}: {}", action, p.reason), data, p.failure.step));
      Emit(MakeEvent(event_kind::kActionApproved, "info",
                     fmt::format("{} approved by the auto policy", action), data,
                     p.failure.step));
      Say(fmt::format("{}: {}", action, p.reason));
      break;
  }
  return d;
}

void Controller::Route(const Decision& d, bool live, double now) {
  switch (mode_) {
    case Mode::kObserve:
      if (!live) End(store::kFailed);
      return;
    case Mode::kAsk:
      if (live) {
        pending_ = d;
      } else if (!store_ok_) {
        Say("the store failed, so nobody can approve the remedy: the run ends");
        End(store::kFailed);
      } else {
        phase_ = Phase::kAwaitApproval;
        after_exit_ = d;
      }
      return;
    case Mode::kAuto:
      if (live) {
        Commit(d);
      } else {
        RestartWhenDue(d, now);
      }
      return;
  }
}

// A decision taken about a live process (already signalled).
void Controller::Commit(const Decision& d) {
  if (d.plan.action == ActionKind::kStop) {
    policy_stop_ = true;
    ApplyStop(d, fmt::format("stop: the process group was sent SIGTERM: {}", d.plan.reason));
    return;
  }
  restart_ = d;
  Emit(MakeEvent(event_kind::kSignalSent, "warning",
                 fmt::format("SIGTERM sent to the process group for {}",
                             ActionName(d.plan.action)),
                 {}, d.plan.failure.step));
}

// The end of a run the policy cannot fix: recorded as the applied action, with its reason.
void Controller::ApplyStop(const Decision& d, const std::string& message) {
  stop_reason_ = d.plan.reason;
  policy_.Apply(d.plan);
  SetState(d.id, store::kActionApplied, "policy");
  Emit(MakeEvent(event_kind::kActionApplied, "error", message, DataOf(d.plan, d.id),
                 d.plan.failure.step));
}

void Controller::OnDecision(int64_t id, bool approved, double now) {
  if (pending_ && pending_->id == id) {  // the process lives; a denial leaves it alone
    Decision d = *pending_;
    pending_.reset();
    if (!approved) return;
    if (CanApplyInProcess(d.plan)) return Deliver(d);
    Send(Of(CommandKind::kKill));
    Commit(d);
    return;
  }
  if (phase_ != Phase::kAwaitApproval || !after_exit_ || after_exit_->id != id) return;
  Decision d = *after_exit_;
  after_exit_.reset();
  phase_ = Phase::kRunning;
  if (!approved) {
    End(store::kFailed);
    return;
  }
  RestartWhenDue(d, now);
}

std::optional<int64_t> Controller::pending_approval() const {
  if (pending_) return pending_->id;
  if (phase_ == Phase::kAwaitApproval && after_exit_) return after_exit_->id;
  return std::nullopt;
}

void Controller::OnInterrupt() {
  interrupted_ = true;
  if (waiting()) {  // after an exit: the decision waiting is dropped and the run ends
    SetState(after_exit_->id, store::kActionExpired, "interrupted");
    after_exit_.reset();
    wake_at_.reset();
    End(store::kStopped);
    return;
  }
  // A remedy in flight is dropped: the human wants the run to stop.
  restart_.reset();
  if (inflight_) {
    SetState(inflight_->decision.id, store::kActionExpired, "interrupted");
    inflight_.reset();
  }
  if (pending_) {
    SetState(pending_->id, store::kActionExpired, "interrupted");
    pending_.reset();
  }
}

// ---- after the exit ----

bool Controller::DiedOnItsOwn(int exit_code) const {
  return exit_code != 0 && !restart_ && !inflight_ && !policy_stop_ && !interrupted_;
}

void Controller::OnExit(const ExitInput& exit) {
  // An in-process remedy the process never applied is carried out by the restart instead.
  if (inflight_) {
    FallBackToRestart(fmt::format("attempt {} ended (exit code {}) before it applied the remedy "
                                  "in place",
                                  attempt_, exit.exit_code),
                      true);
  }
  int code = exit.exit_code;
  process_gone_ = true;
  bool passed_exit = code == 0 && !restart_ && !policy_stop_;
  if (watch_ && (interrupted_ || !passed_exit)) {
    JudgeOutcome(false, fmt::format("ended with exit code {}{}", code,
                                    last_step_ ? fmt::format(" at step {}", *last_step_) : ""));
  } else if (watch_) {
    JudgeOutcome(true, "finished");
  }
  if (pending_) {  // ask mode: the process ended before anyone decided
    SetState(pending_->id, store::kActionExpired, "exit");
    Emit(MakeEvent(event_kind::kActionExpired, "info",
                   fmt::format("action {} expired: attempt {} ended first", pending_->id,
                               attempt_)));
    pending_.reset();
  }
  if (interrupted_) return End(store::kStopped);
  if (policy_stop_) return End(store::kFailed);
  if (restart_) {
    Decision d = *restart_;
    restart_.reset();
    return Restart(d);
  }
  if (code == 0) return End(store::kFinished);
  DecideAfterExit(exit);
}

// The process died on its own: ask the policy.
void Controller::DecideAfterExit(const ExitInput& exit) {
  detect::CrashReport crash = exit.crash ? *exit.crash : detect::ClassifyCrash(exit.exit_code, 0, "");
  Decision d = Propose(policy_.Decide(FailureFromCrash(crash, last_step_, StepGap())));
  if (mode_ != Mode::kObserve && d.plan.action == ActionKind::kStop) {
    // Nothing is left to try, so there is nothing to approve: the run ends here.
    ApplyStop(d, fmt::format("stop: {}", d.plan.reason));
    return End(store::kFailed);
  }
  Route(d, false, exit.now);
}

void Controller::RestartWhenDue(const Decision& d, double now) {
  if (d.plan.delay_seconds <= 0) return Restart(d);
  Say(fmt::format("restarting in {:g}s (backoff)", d.plan.delay_seconds));
  phase_ = Phase::kBackoff;
  after_exit_ = d;
  wake_at_ = now + d.plan.delay_seconds;
}

void Controller::Tick(double now) {
  if (phase_ != Phase::kBackoff || !wake_at_ || now < *wake_at_) return;
  Decision d = *after_exit_;
  after_exit_.reset();
  wake_at_.reset();
  phase_ = Phase::kRunning;
  Restart(d);
}

void Controller::Restart(const Decision& d) {
  Applied(d);
  Command c;
  c.kind = CommandKind::kRestart;
  c.attempt = attempt_ + 1;
  c.plan = d.plan;
  c.text = std::string(ActionName(d.plan.action));
  Send(std::move(c));
}

void Controller::End(std::string_view status) {
  phase_ = Phase::kEnded;
  ended_ = true;
  Command c;
  c.kind = CommandKind::kEnd;
  c.text = std::string(status);
  Send(std::move(c));
}

void Controller::Applied(const Decision& d) {
  int next_attempt = attempt_ + 1;
  policy_.Apply(d.plan);
  SetState(d.id, store::kActionApplied, "policy");
  const Plan& p = d.plan;
  std::string from = p.checkpoint ? fmt::format("the checkpoint of step {}", p.resume_step)
                                  : std::string("the start");
  std::string undelivered;
  if (p.new_skip && !p.skip_deliverable) {
    undelivered = fmt::format("; the skip of steps {}..{} cannot reach the program (not "
                              "deliverable)",
                              p.new_skip->first, p.new_skip->second - 1);
  }
  skip_undelivered_ = p.new_skip && !p.skip_deliverable;
  std::string action(ActionName(p.action));
  Emit(MakeEvent(event_kind::kActionApplied, "warning",
                 fmt::format("{}: attempt {} starts from {} (first step {}){}", action,
                             next_attempt, from, p.resume_step + 1, undelivered),
                 DataOf(p, d.id), p.failure.step));
  remedies_.push_back(fmt::format("{} after {} at {} -> attempt {} from step {}{}", action,
                                  p.failure.trigger,
                                  p.failure.step ? fmt::format("step {}", *p.failure.step)
                                                 : std::string("exit"),
                                  next_attempt, p.resume_step + 1,
                                  undelivered.empty() ? "" : " (skip not deliverable)"));
  watch_ = Watch{d.id, action, p.failure.step};
}

void Controller::JudgeOutcome(bool passed, const std::string& how) {
  if (!watch_) return;
  Watch w = *watch_;
  watch_.reset();
  Emit(MakeEvent(event_kind::kActionOutcome, passed ? "info" : "error",
                 fmt::format("{} {}: attempt {} {}", w.action,
                             passed ? "worked" : "did not work", attempt_, how),
                 OutcomeData{w.id, w.action, attempt_, passed ? "passed" : "failed"}, w.step));
}

// ---- in-process remedies ----

void Controller::OnLiveReady() {
  if (live_ready_) return;
  live_ready_ = true;
  policy_.SetSkipReachable(true);  // it reads its remedies through the SDK
}

bool Controller::CanApplyInProcess(const Plan& p) const {
  return policy_.config().in_process && live_ready_ && !process_gone_ &&
         p.failure.family == Family::kLoss && p.checkpoint.has_value() &&
         (p.action == ActionKind::kRollbackSkip || p.action == ActionKind::kLrCut);
}

void Controller::Deliver(const Decision& d) {
  Command c = Of(CommandKind::kDeliver);
  c.plan = d.plan;
  c.seq = ++live_seq_;
  c.action_id = d.id;
  Send(std::move(c));
  const Plan& p = d.plan;
  double timeout = policy_.config().in_process_timeout_seconds;
  ActionData data = DataOf(p, d.id);
  data.in_process = true;
  std::string msg = fmt::format(
      "{} asked of the running process, in place: back to the checkpoint of step {}{}; it is "
      "restarted instead if it has not applied it within {:g}s",
      ActionName(p.action), p.resume_step,
      p.new_skip ? fmt::format(", skipping steps {}..{}", p.new_skip->first,
                               p.new_skip->second - 1)
                 : std::string(),
      timeout);
  Say(msg);
  Emit(MakeEvent(event_kind::kInProcessRequested, "info", msg, data, p.failure.step));
  inflight_ = Inflight{d, live_seq_, now_ + timeout};
}

void Controller::OnLiveApplied(int64_t seq) {
  if (!inflight_ || inflight_->seq != seq || process_gone_) return;
  Decision d = inflight_->decision;
  inflight_.reset();
  const Plan& p = d.plan;
  policy_.Apply(p);
  SetState(d.id, store::kActionApplied, "policy");
  ActionData data = DataOf(p, d.id);
  data.in_process = true;
  std::string action(ActionName(p.action));
  Emit(MakeEvent(event_kind::kActionApplied, "warning",
                 fmt::format("{} applied in process (no restart): attempt {} went back to the "
                             "checkpoint of step {} (first step {}){}",
                             action, attempt_, p.resume_step, p.resume_step + 1,
                             p.new_skip ? fmt::format(", skipping steps {}..{}",
                                                      p.new_skip->first, p.new_skip->second - 1)
                                        : std::string()),
                 data, p.failure.step));
  remedies_.push_back(fmt::format("{} after {} at {} -> in process from step {}", action,
                                  p.failure.trigger, StepOrUnknown(p.failure.step),
                                  p.resume_step + 1));
  watch_ = Watch{d.id, action, p.failure.step};
  // From here the run is judged from the checkpoint, as after a restart from it.
  patience_.Forget();
  held_.clear();
  verdicts_.clear();
  last_step_ = p.resume_step;
  prev_step_.reset();
  Command rw = Of(CommandKind::kRewind);
  rw.plan = p;
  Send(std::move(rw));
}

void Controller::OnClock(double now) {
  now_ = now;
  if (!inflight_ || now < inflight_->deadline) return;
  FallBackToRestart(fmt::format("the process did not apply it in place within {:g}s",
                                policy_.config().in_process_timeout_seconds),
                    process_gone_);
}

void Controller::FallBackToRestart(const std::string& why, bool gone) {
  Decision d = inflight_->decision;
  inflight_.reset();
  ActionData data = DataOf(d.plan, d.id);
  std::string msg = fmt::format("{}: {}; restarting it instead", ActionName(d.plan.action), why);
  Say(msg);
  Emit(MakeEvent(event_kind::kInProcessTimeout, "warning", msg, data, d.plan.failure.step));
  if (gone) {
    restart_ = d;  // the process ended on its own: OnExit restarts it with the plan
    return;
  }
  Send(Of(CommandKind::kKill));
  Commit(d);
}

// ---- for tests ----

std::string Describe(const Command& c) {
  std::string s(CommandName(c.kind));
  switch (c.kind) {
    case CommandKind::kKill:
      break;
    case CommandKind::kRecordAction:
      s += fmt::format(" {} {}{}", ActionName(c.plan.action), c.state,
                       c.by.empty() ? "" : " by " + c.by);
      break;
    case CommandKind::kSetActionState:
      s += fmt::format(" {} {} by {}", c.action_id, c.state, c.by);
      break;
    case CommandKind::kEvent: {
      s += " " + c.event.kind;
      if (auto* a = std::get_if<ActionData>(&c.event.data)) s += " " + a->action;
      if (auto* o = std::get_if<OutcomeData>(&c.event.data)) s += " " + o->result;
      break;
    }
    case CommandKind::kSay:
      s += " " + c.text;
      break;
    case CommandKind::kAskApproval:
      s += fmt::format(" {} {}", c.action_id, ActionName(c.plan.action));
      break;
    case CommandKind::kRestart: {
      const Plan& p = c.plan;
      s += fmt::format(" attempt {} {} from ", c.attempt, c.text);
      s += p.checkpoint ? fmt::format("step {}", p.resume_step) : std::string("scratch");
      if (p.new_skip) {
        s += fmt::format(" skip {}..{}{}", p.new_skip->first, p.new_skip->second - 1,
                         p.skip_deliverable ? "" : " undeliverable");
      }
      if (p.action == ActionKind::kLrCut) s += fmt::format(" lr {:g}", p.lr_scale);
      if (p.action == ActionKind::kShrinkBatch && p.micro_batch) {
        s += fmt::format(" micro_batch {}", *p.micro_batch);
      }
      break;
    }
    case CommandKind::kEnd:
      s += " " + c.text;
      break;
    case CommandKind::kDeliver:
    case CommandKind::kRewind: {
      const Plan& p = c.plan;
      s += fmt::format(" {} to step {}", ActionName(p.action), p.resume_step);
      if (c.kind == CommandKind::kDeliver) s += fmt::format(" seq {}", c.seq);
      if (p.new_skip) s += fmt::format(" skip {}..{}", p.new_skip->first, p.new_skip->second - 1);
      break;
    }
  }
  return s;
}

}  // namespace inloop::remedy
