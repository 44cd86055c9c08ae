// The escalation ladders of remedy/ (see policy.h and docs/remedy.md).
#include "remedy/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace inloop::remedy {
namespace {

std::string StepText(const std::optional<int64_t>& s) {
  return s ? fmt::format("step {}", *s) : std::string("an unknown step");
}

std::string FromText(const std::optional<Checkpoint>& c) {
  return c ? fmt::format("checkpoint of step {} ({})", c->step, c->path)
           : std::string("the start (no good checkpoint)");
}

// The step that was running when a process died or stopped: one logging interval past the last
// step it logged (what ran when it died is to blame); unknown without a logged step.
std::optional<int64_t> StepRunning(std::optional<int64_t> last_step,
                                   std::optional<int64_t> step_gap) {
  if (!last_step) return std::nullopt;
  return *last_step + std::max<int64_t>(1, step_gap.value_or(1));
}

}  // namespace

std::string_view ActionName(ActionKind a) {
  switch (a) {
    case ActionKind::kResume:
      return "resume";
    case ActionKind::kRollbackSkip:
      return "rollback_skip";
    case ActionKind::kLrCut:
      return "lr_cut";
    case ActionKind::kShrinkBatch:
      return "shrink_batch";
    case ActionKind::kStop:
      return "stop";
    case ActionKind::kWithhold:
      return "withhold";
  }
  return "stop";
}

std::string_view FamilyName(Family f) {
  switch (f) {
    case Family::kLoss:
      return "loss";
    case Family::kCrash:
      return "crash";
    case Family::kHang:
      return "hang";
    case Family::kOom:
      return "oom";
    case Family::kFatal:
      return "fatal";
  }
  return "crash";
}

std::optional<Failure> FailureFromFinding(const detect::Finding& f, bool loss_series,
                                          const RemedyConfig& config) {
  if (f.is_update) return std::nullopt;
  std::string_view kind = detect::FindingKindName(f.kind);
  if (std::find(config.rollback_on.begin(), config.rollback_on.end(), kind) ==
      config.rollback_on.end()) {
    return std::nullopt;
  }
  // A non-finite gradient norm alone is routine under dynamic loss scaling (the step is skipped);
  // a non-finite loss is not.
  if (f.kind == detect::FindingKind::kNonFinite && !loss_series) return std::nullopt;
  Failure out;
  out.family = Family::kLoss;
  out.trigger = std::string(kind);
  out.step = f.step_lo;
  out.step_hi = f.step_lo;
  out.process_alive = true;
  out.detail = f.message;
  return out;
}

Failure FailureFromCrash(const detect::CrashReport& c, std::optional<int64_t> last_step,
                         std::optional<int64_t> step_gap) {
  Failure out;
  out.trigger = std::string(c.name());
  out.step = last_step;
  out.step_hi = StepRunning(last_step, step_gap);
  out.detail = c.summary;
  switch (c.retry) {
    case detect::Retry::kNo:
      out.family = Family::kFatal;
      break;
    case detect::Retry::kWithSmallerBatch:
      out.family = Family::kOom;
      break;
    case detect::Retry::kYes:
      out.family = c.cls == detect::CrashClass::kHostOom ? Family::kOom : Family::kCrash;
      break;
  }
  return out;
}

Failure FailureFromHang(const detect::Finding& f, std::optional<int64_t> last_step,
                        std::optional<int64_t> step_gap) {
  Failure out;
  out.family = Family::kHang;
  out.trigger = std::string(detect::FindingKindName(f.kind));
  out.step = last_step;
  out.step_hi = StepRunning(last_step, step_gap);
  out.process_alive = true;
  out.detail = f.message;
  return out;
}

Policy::Policy(RemedyConfig config, const std::string& run_dir)
    : config_(std::move(config)),
      book_(config_.checkpoint_glob, run_dir, config_.checkpoint_settle_seconds) {}

void Policy::OnParam(std::string_view key, std::string_view value) {
  for (const std::string& k : config_.micro_batch_params) {
    if (k != key) continue;
    char* end = nullptr;
    std::string v(value);
    long m = std::strtol(v.c_str(), &end, 10);
    if (end != v.c_str() && *end == '\0' && m > 0 && m < (1L << 30)) {
      reported_micro_ = static_cast<int>(m);
    }
    return;
  }
}

std::optional<int> Policy::MicroBatch() const {
  if (state_.micro_batch) return state_.micro_batch;
  if (reported_micro_) return reported_micro_;
  if (config_.micro_batch > 0) return config_.micro_batch;
  return std::nullopt;
}

bool Policy::SameStep(const Past& p, Family family, std::optional<int64_t> step) const {
  if (p.family != family) return false;
  // Two crashes that both came before any step was logged made no progress either: the same.
  if (!p.step && !step) return family == Family::kCrash || family == Family::kHang;
  if (!p.step || !step) return false;
  return std::llabs(*p.step - *step) <= config_.same_step_tolerance;
}

double Policy::Backoff() const {
  int n = 1;  // this restart is the n-th after a crash or hang
  for (const Past& p : history_) {
    if (p.family == Family::kCrash || p.family == Family::kHang) ++n;
  }
  double d = config_.backoff_initial_seconds * std::pow(2.0, n - 1);
  return std::min(d, config_.backoff_max_seconds);
}

Plan Policy::Decide(const Failure& f) const {
  Plan p;
  p.failure = f;
  p.lr_scale = state_.lr_scale.value_or(1.0);
  p.micro_batch = MicroBatch();
  auto stop = [&](std::string why) {
    p.action = ActionKind::kStop;
    p.reason = std::move(why);
    return p;
  };
  Family family = f.family;
  // A host OOM kill is only curable by a smaller batch when inloop knows the batch; otherwise
  // it may as well have been a one-off (another job's memory), so it is resumed like a crash.
  if (family == Family::kOom && f.trigger == "host_oom" && !p.micro_batch) family = Family::kCrash;

  if (family == Family::kFatal) {
    return stop(fmt::format("{} at {}: a restart cannot fix this ({})", f.trigger,
                            StepText(f.step), f.detail));
  }
  if (state_.restarts >= config_.max_restarts) {
    return stop(fmt::format("{} at {} after {} restart(s): max_restarts ({}) reached", f.trigger,
                            StepText(f.step), state_.restarts, config_.max_restarts));
  }
  // An unexplained exit before the first step of a fresh run is a setup error (bad arguments,
  // a missing file, an import error), not a transient fault: restarting cannot fix it.
  if (family == Family::kCrash && f.trigger == "unknown" && !f.step && history_.empty() &&
      !state_.checkpoint) {
    return stop(fmt::format("exited before logging any step ({}): this looks like a setup "
                            "error rather than a transient fault; fix it and run again",
                            f.detail));
  }
  std::vector<ActionKind> tried;  // remedies already applied to this failure at this step
  for (const Past& past : history_) {
    if (SameStep(past, family, f.step)) {
      tried.push_back(past.action);
    }
  }
  auto has = [&](ActionKind a) { return std::find(tried.begin(), tried.end(), a) != tried.end(); };

  switch (family) {
    case Family::kLoss: {
      if (has(ActionKind::kRollbackSkip) && has(ActionKind::kLrCut)) {
        return stop(fmt::format("{} at {} again after rollback_skip and lr_cut: the same failure "
                                "recurs at the same step after every remedy",
                                f.trigger, StepText(f.step)));
      }
      bool rolled_back = std::any_of(history_.begin(), history_.end(),
                                     [](const Past& h) { return h.family == Family::kLoss; });
      p.checkpoint = book_.NewestGood(f.step);
      p.resume_step = p.checkpoint ? p.checkpoint->step : 0;
      if (!p.checkpoint && !config_.restart_from_scratch) {
        // Restarting from the beginning would throw the whole run away and, with nothing to
        // tell the program which data to skip, meet the same batch again.
        if (f.trigger == "nonfinite") {
          return stop(fmt::format(
              "nonfinite loss at {}: there is no good checkpoint to return to, and training on "
              "from a non-finite loss cannot recover; report checkpoints with the SDK "
              "(inloop.checkpoint(path, step)) or set [remedy] checkpoint_glob (or "
              "restart_from_scratch = true to allow a restart from the beginning)",
              StepText(f.step)));
        }
        p.action = ActionKind::kWithhold;
        p.reason = fmt::format(
            "{} at {}: no remedy: there is no good checkpoint before it to return to, and a "
            "restart from the beginning is off ([remedy] restart_from_scratch); report "
            "checkpoints with the SDK (inloop.checkpoint(path, step)) or set [remedy] "
            "checkpoint_glob",
            f.trigger, StepText(f.step));
        return p;
      }
      // First anomaly of the run (or at this step only the lr was cut so far): skip the data.
      if (!rolled_back || (has(ActionKind::kLrCut) && !has(ActionKind::kRollbackSkip))) {
        p.action = ActionKind::kRollbackSkip;
        int64_t to = f.step_hi.value_or(p.resume_step) + 1 + config_.skip_extra_steps;
        if (to > p.resume_step + 1) p.new_skip = SkipWindow{p.resume_step + 1, to};
        p.reason = fmt::format(
            "{} at {}: restart from {} and skip the data of steps {}..{}", f.trigger,
            StepText(f.step), FromText(p.checkpoint), p.resume_step + 1, to - 1);
        if (p.new_skip && !SkipDeliverable()) Undeliverable(&p, f, "");
      } else {
        p.action = ActionKind::kLrCut;
        p.lr_scale = state_.lr_scale.value_or(1.0) * config_.lr_cut_factor;
        p.reason = fmt::format(
            "{} at {} recurred after a rollback: restart from {} with the learning rate scaled "
            "to {:g}x",
            f.trigger, StepText(f.step), FromText(p.checkpoint), p.lr_scale);
      }
      return p;
    }
    case Family::kCrash:
    case Family::kHang: {
      const char* what = family == Family::kHang ? "hung" : "crashed";
      if (tried.size() >= 2) {
        return stop(fmt::format("{} at {} again after resume and rollback_skip: the same failure "
                                "recurs at the same step after every remedy ({})",
                                what, StepText(f.step), f.detail));
      }
      p.delay_seconds = Backoff();
      if (tried.empty()) {
        p.action = ActionKind::kResume;
        p.checkpoint = book_.NewestGood();
        p.resume_step = p.checkpoint ? p.checkpoint->step : 0;
        p.reason = fmt::format("{} ({}) at {}: resume from {} in {:g}s", what, f.trigger,
                               StepText(f.step), FromText(p.checkpoint), p.delay_seconds);
      } else {
        p.action = ActionKind::kRollbackSkip;
        // Before the step after the last one logged; any checkpoint when no step is known.
        p.checkpoint = f.step ? book_.NewestGood(*f.step + 1) : book_.NewestGood();
        p.resume_step = p.checkpoint ? p.checkpoint->step : 0;
        int64_t to = f.step_hi.value_or(p.resume_step) + 1 + config_.skip_extra_steps;
        if (to > p.resume_step + 1) p.new_skip = SkipWindow{p.resume_step + 1, to};
        p.reason = fmt::format(
            "{} at {} again after a resume: restart from {} and skip the data of steps {}..{}",
            what, StepText(f.step), FromText(p.checkpoint), p.resume_step + 1, to - 1);
        if (p.new_skip && !SkipDeliverable()) Undeliverable(&p, f, " again after a resume");
      }
      return p;
    }
    case Family::kOom: {
      if (!p.micro_batch) {
        return stop(fmt::format(
            "out of memory ({}) at {}, and the micro-batch is unknown: report it with "
            "inloop.params(micro_batch=N) or set [remedy] micro_batch, then run again",
            f.trigger, StepText(f.step)));
      }
      if (*p.micro_batch <= 1) {
        return stop(fmt::format("out of memory ({}) at {} with a micro-batch of 1: a smaller "
                                "batch cannot help",
                                f.trigger, StepText(f.step)));
      }
      p.action = ActionKind::kShrinkBatch;
      int before = *p.micro_batch;
      p.micro_batch = before / 2;
      p.checkpoint = book_.NewestGood();
      p.resume_step = p.checkpoint ? p.checkpoint->step : 0;
      p.reason = fmt::format(
          "out of memory ({}) at {}: halve the micro-batch {} -> {} (the global batch is kept "
          "through accumulation where the script supports it) and resume from {}",
          f.trigger, StepText(f.step), before, *p.micro_batch, FromText(p.checkpoint));
      return p;
    }
    case Family::kFatal:
      break;
  }
  return stop(f.detail);
}

void Policy::Undeliverable(Plan* p, const Failure& f, std::string_view again) const {
  p->action = ActionKind::kResume;
  p->skip_deliverable = false;
  p->reason = fmt::format(
      "{}{} at {}: resume from {}; the data of steps {}..{} cannot be skipped: nothing tells "
      "this program to (set [remedy] skip_args, or read inloop.remedies() / INLOOP_SKIP in the "
      "script)",
      f.trigger, again, StepText(f.step), FromText(p->checkpoint), p->new_skip->first,
      p->new_skip->second - 1);
}

void Policy::Apply(const Plan& p) {
  if (p.action == ActionKind::kWithhold) return;  // nothing was done
  Family family = p.failure.family;
  if (family == Family::kOom && p.action != ActionKind::kShrinkBatch) family = Family::kCrash;
  // A rollback reported as a plain resume (its skip cannot reach the program) is still the
  // ladder's rollback rung: the next recurrence escalates instead of repeating it.
  ActionKind rung = p.action;
  if (p.action == ActionKind::kResume && !p.skip_deliverable) rung = ActionKind::kRollbackSkip;
  history_.push_back(Past{family, p.failure.step, rung});
  if (!p.restarts_process()) return;
  ++state_.restarts;
  if (p.new_skip) state_.skip_windows.push_back(*p.new_skip);
  if (p.action == ActionKind::kLrCut) state_.lr_scale = p.lr_scale;
  if (p.action == ActionKind::kShrinkBatch) state_.micro_batch = p.micro_batch;
  state_.checkpoint = p.checkpoint;
  state_.resume_step = p.resume_step;
  book_.RewindTo(p.resume_step);
}

void Policy::Restore(const RemedyState& state) {
  state_ = state;
  book_.RewindTo(state.resume_step);
}

}  // namespace inloop::remedy
