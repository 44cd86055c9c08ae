// The session as a scheduler's job (see session.h): a run that continues across requeued Slurm
// jobs (--continue-run KEY: the run of the key gets the next attempt, started from the newest
// good checkpoint the store knows), SIGUSR1 forwarded to the training so that it checkpoints,
// and the requeue through Slurm when the attempt then ends or died of a hardware fault (the
// node goes into the lemon-node ledger and, past the threshold, out of the job's nodes).
#include <signal.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "remedy/checkpoints.h"
#include "slurm/node_ledger.h"
#include "supervise/process.h"
#include "supervise/session.h"

namespace inloop::supervise {
namespace {

constexpr const char* kContinueParam = "inloop.continue_key";

}  // namespace

Status Session::ContinueOrCreateRun() {
  store::RunListQuery q;
  q.filter.params = {{kContinueParam, opts_.continue_key}};
  q.limit = 1;
  store::RunListPage page;
  INLOOP_RETURN_IF_ERROR(store_->ListRunsPage(q, &page));
  if (page.runs.empty()) {
    INLOOP_RETURN_IF_ERROR(store_->CreateRun(&run_));
    return store_->SetParams(run_.id, {store::Param{kContinueParam, opts_.continue_key, "inloop"}});
  }
  const store::RunRecord& old = page.runs.front();
  std::vector<store::AttemptRecord> attempts;
  INLOOP_RETURN_IF_ERROR(store_->ListAttempts(old.id, &attempts));
  int last = 0;
  for (const auto& a : attempts) last = std::max(last, a.number);
  first_attempt_ = last + 1;
  // The run keeps its id, name and start; this supervisor, host and process are the new ones.
  run_.id = old.id;
  run_.name = old.name;
  run_.started_at = old.started_at;
  run_.attempts = first_attempt_;
  INLOOP_RETURN_IF_ERROR(store_->UpdateRun(run_));
  RestoreRemedyState(last);
  return Status::OK();
}

void Session::RestoreRemedyState(int last_attempt) {
  std::vector<store::EventRecord> events;
  Status s = store_->ListEvents(run_.id, &events);
  if (!s.ok()) {
    Say(fmt::format("warning: the run's earlier checkpoints could not be read: {}", s.message()));
    return;
  }
  remedy::RemedyState state;
  remedy::CheckpointBook& book = controller_.checkpoints();
  for (const auto& e : events) {
    if (e.kind == remedy::event_kind::kCheckpoint) {
      auto d = remedy::Parse<remedy::CheckpointData>(e.data_json);
      std::optional<int64_t> step = d.step ? d.step : remedy::StepFromName(d.path);
      if (step && !d.path.empty()) book.Announce(d.path, *step, d.attempt);
    } else if (e.kind == remedy::event_kind::kAttemptStart) {
      // What the latest attempt was told (skip windows, lr scale, micro-batch) still holds.
      auto d = remedy::Parse<remedy::AttemptStartData>(e.data_json);
      state.skip_windows = d.skip_windows;
      state.lr_scale = d.lr_scale != 1 ? std::optional<double>(d.lr_scale) : std::nullopt;
      if (d.micro_batch) state.micro_batch = static_cast<int>(*d.micro_batch);
    }
  }
  book.Scan(WallNowMs(), 0);  // files of the checkpoint glob saved by earlier attempts
  state.checkpoint = book.NewestGood();
  state.resume_step = state.checkpoint ? state.checkpoint->step : 0;
  state.restarts = last_attempt;
  controller_.ContinueFrom(state);
  Say(fmt::format("run {} continues as attempt {} (requeued job) from {}", run_.id,
                  first_attempt_,
                  state.checkpoint ? fmt::format("the checkpoint of step {} ({})",
                                                 state.checkpoint->step, state.checkpoint->path)
                                   : std::string("the start: no checkpoint was recorded")));
}

void Session::SchedulerEvent(std::string_view kind, std::string_view severity,
                             std::string message, std::string data_json) {
  if (!store_ok_) return;
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = std::string(kind);
  e.severity = std::string(severity);
  e.message = std::move(message);
  e.data_json = std::move(data_json);
  e.step_lo = e.step_hi = controller_.last_step();
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
}

void Session::OnSchedulerSignal(AttemptIo* io) {
  if (usr1_) return;  // once per job: the process is already saving
  usr1_ = true;
  bool alive = !child_done_ && child_pid_ > 0;
  if (alive) SignalGroup(child_pid_, SIGUSR1);
  (void)io;
  std::string msg =
      alive ? std::string("SIGUSR1 (time limit or preemption) forwarded to the training "
                          "process group to save a checkpoint")
            : std::string("SIGUSR1 (time limit or preemption) after the process ended");
  if (job_.in_job() && !opts_.continue_key.empty()) {
    msg += fmt::format("; job {} is requeued when it exits", job_.job_id);
  }
  Say(msg);
  SchedulerEvent(slurm::event_kind::kSchedulerSignal, "warning", msg,
                 slurm::ToJson(slurm::SchedulerSignalData{"SIGUSR1", job_.job_id, job_.node,
                                                          attempt_.number}));
}

bool Session::RequeueThroughScheduler(const std::optional<detect::CrashReport>& crash) {
  slurm::RequeueInput in;
  in.job = job_;
  in.continues = !opts_.continue_key.empty();
  in.usr1_received = usr1_;
  if (crash) in.crash_class = std::string(crash->name());
  in.exclude_after = opts_.exclude_after;
  std::vector<slurm::NodeFaults> ledger;
  if (job_.in_job() && slurm::IsNodeFault(in.crash_class) && store_ok_) {
    std::vector<store::EventRecord> faults;
    Status s = store_->ListEventsOfKind(slurm::event_kind::kNodeFault, &faults);
    if (!s.ok()) Say(fmt::format("warning: the node ledger could not be read: {}", s.message()));
    ledger = slurm::CountNodeFaults(faults);
    in.node_faults = slurm::FaultsOf(ledger, job_.node) + 1;  // this one included
    in.lemon_nodes = slurm::LemonNodes(ledger, opts_.exclude_after);
  }
  slurm::RequeueDecision d = slurm::DecideRequeue(in);
  if (d.record_fault) {
    SchedulerEvent(slurm::event_kind::kNodeFault, "error",
                   fmt::format("{} on node {} (job {})", in.crash_class, job_.node, job_.job_id),
                   slurm::ToJson(slurm::NodeFaultData{job_.node, job_.job_id, in.crash_class,
                                                      attempt_.number}));
  }
  if (!d.requeue()) return false;
  Say(d.reason);
  requeue_ = std::move(d);
  out_->status = store::kInterrupted;
  return true;
}

void Session::CarryOutRequeue() {
  if (!requeue_) return;
  Status s = slurm::RequeueJob(job_.job_id, requeue_->exclude);
  slurm::JobRequeuedData d{job_.job_id, std::string(slurm::RequeueWhyName(requeue_->why)),
                           requeue_->exclude, s.ok(), s.ok() ? std::string() : s.message()};
  std::string msg =
      s.ok() ? fmt::format("job {} requeued{}: run {} continues in it as attempt {}",
                           job_.job_id,
                           d.exclude.empty() ? std::string()
                                             : fmt::format(" excluding {}", fmt::join(d.exclude, ",")),
                           run_.id, attempt_.number + 1)
             : fmt::format("the job could not be requeued: {}", s.message());
  // FinishRun closed the run's writer; the store takes the timeline's last event still.
  SchedulerEvent(slurm::event_kind::kJobRequeued, s.ok() ? "info" : "error", msg,
                 slurm::ToJson(d));
  Say(msg);
  out_->requeued = s.ok();
}

}  // namespace inloop::supervise
