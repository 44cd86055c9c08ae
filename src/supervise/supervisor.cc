// Supervisor loop: poll() over the child's stdout, stderr, SDK pipe and a signalfd; every read
// is teed first (the terminal never waits on tracking), then logged, split into lines, parsed,
// run through the detectors (a finding the remedy controller acts on signals the process before
// anything is written) and appended to the run's WAL, which is flushed after every batch of
// reads. A run is a sequence of attempts: each ends in an exit that is either the end of the run
// or, as the remedy controller decides, the start of the next attempt.
#include "supervise/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/file_io.h"
#include "sdk/python_sdk.h"
#include "supervise/group_guard.h"
#include "supervise/process.h"
#include "supervise/run_context.h"
#include "supervise/session.h"

namespace inloop::supervise {

struct Session::AttemptIo {
  Child child;
  int fds[4] = {-1, -1, -1, -1};  // stdout, stderr, the SDK pipe, the ranks' FIFO (not owned)
  GroupGuard guard;
  std::string buf = std::string(256 * 1024, '\0');
  Clock::time_point drain_deadline = Clock::time_point::max();
  Clock::time_point orphan_deadline = Clock::time_point::max();
  Clock::time_point next_scan = Clock::now();
  Clock::time_point next_cpu = Clock::now();
  Clock::time_point next_pending = Clock::now();
  std::vector<pollfd> pfds;  // PollOnce's, kept to reuse their memory
  std::vector<int> idx;
  size_t tcp_first = 0, tcp_count = 0;  // the ranks' TCP channel's slice of pfds
};

Session::Session(const SupervisorOptions& opts, RunOutcome* out)
    : opts_(opts),
      out_(out),
      detectors_(opts.detect),
      hang_(opts.detect, WallNow()),
      controller_(opts.remedy, CurrentDir(), this) {}

// ---- one attempt ----

bool Session::SpawnChild(const remedy::Launch& launch, AttemptIo* io) {
  control_ = launch.control;
  Status ws = WriteFileAtomically(control_path_, remedy::ControlJson(launch.control));
  if (!ws.ok()) Say(fmt::format("warning: {}", ws.message()));

  SpawnOptions so;
  so.argv = launch.argv;
  so.env = opts_.extra_env;
  so.env.insert(so.env.end(), launch.env.begin(), launch.env.end());
  so.env.emplace_back("INLOOP_RUN_ID", run_.id);
  so.env.emplace_back("INLOOP_RUN_NAME", run_.name);
  so.env.emplace_back("INLOOP_ATTEMPT", fmt::format("{}", attempt_.number));
  if (rank_fifo_ >= 0) so.env.emplace_back("INLOOP_METRICS_PATH", rank_dir_ + "/sdk");
  if (rank_tcp_.is_open()) {
    so.env.emplace_back("INLOOP_RANKS_ADDR", rank_tcp_.address());
    so.env.emplace_back("INLOOP_RANKS_TOKEN", rank_tcp_.secret());
    so.env.emplace_back("INLOOP_RANKS_HOST", run_.host);
  }
  if (!getenv("PYTHONUNBUFFERED")) so.env.emplace_back("PYTHONUNBUFFERED", "1");
  Status sp = Spawn(so, &io->child);
  if (!sp.ok()) {
    Say(sp.message());
    attempt_.ended_at = WallNow();
    attempt_.exit_code = 127;
    attempt_.crash_class = "command_not_found";
    attempt_.stderr_tail = sp.message();
    CloseLogs();
    if (store_ok_) {
      Event(remedy::event_kind::kAttemptExit, "error", sp.message());
      Status s = store_->PutAttempt(attempt_);
      if (!s.ok()) StoreFailed(s);
    }
    return false;
  }
  child_pid_ = io->child.pid;
  attempt_.pid = io->child.pid;
  // Should inloop die from here on, the guard ends the training's process group.
  Status gs = io->guard.Start(io->child.pid, opts_.grace_seconds);
  if (!gs.ok()) {
    Say(fmt::format("warning: the training will outlive inloop if inloop is killed: {}",
                    gs.message()));
  }
  if (store_ok_) RecordAttemptStart(launch);
  io->fds[0] = io->child.stdout_fd;
  io->fds[1] = io->child.stderr_fd;
  io->fds[2] = io->child.metrics_fd;
  for (int i = 0; i < 3; ++i) {
    if (io->fds[i] >= 0) SetNonBlocking(io->fds[i]);
  }
  io->fds[3] = rank_fifo_;  // already non-blocking
  return true;
}

bool Session::RunAttempt(const remedy::Launch& launch) {
  AttemptIo io;
  if (!SpawnChild(launch, &io)) return false;
  for (;;) {
    bool open = std::any_of(io.fds, io.fds + 3, [](int fd) { return fd >= 0; });
    if (!open && child_done_) break;
    if (!PollOnce(&io)) break;
    Periodic(&io);
    RecordFindings();
    FlushStore();
    if (!Deadlines(&io)) break;
  }
  io.guard.Release();  // the supervisor ends what is left itself
  for (int i = 0; i < 3; ++i) {
    if (io.fds[i] >= 0) EndStream(i, &io.fds[i]);
  }
  DrainRankChannel();
  FlushStore();
  EndDescendants(io.child.pid);
  // Checkpoints written in the last moments count for the next attempt.
  controller_.checkpoints().Scan(WallNowMs(), attempt_.number);
  return true;
}

bool Session::PollOnce(AttemptIo* io) {
  std::vector<pollfd>& pfds = io->pfds;
  std::vector<int>& idx = io->idx;  // the stream of each pollfd; -1: the signalfd; -2: ranks' TCP
  pfds.clear();
  idx.clear();
  // The SDK pipe first: what the process reported through the SDK before printing a line is
  // then always handled before that line. The ranks' channels next: the FIFO, then TCP.
  for (int i : {2, 3, 0, 1}) {
    if (io->fds[i] >= 0) {
      pfds.push_back({io->fds[i], POLLIN, 0});
      idx.push_back(i);
    }
    if (i == 3) {
      size_t first = pfds.size();
      rank_tcp_.AddPollFds(&pfds);
      idx.resize(pfds.size(), -2);
      io->tcp_first = first;
      io->tcp_count = pfds.size() - first;
    }
  }
  pfds.push_back({sfd_, POLLIN, 0});
  idx.push_back(-1);
  auto next = std::min({kill_deadline_, io->drain_deadline, io->orphan_deadline});
  int timeout = 200;
  if (next != Clock::time_point::max()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 200));
  }
  int r = ::poll(pfds.data(), pfds.size(), timeout);
  if (r < 0 && errno != EINTR) return false;
  now_ms_ = WallNowMs();
  controller_.OnClock(SteadyNow());
  bool tcp_ready = false;
  for (size_t k = 0; k < pfds.size() && r > 0; ++k) {
    if (!pfds[k].revents) continue;
    if (idx[k] == -1) {
      ReadSignals(io);
    } else if (idx[k] == -2) {
      if (!tcp_ready) ReadRankSockets(pfds.data() + io->tcp_first, io->tcp_count);
      tcp_ready = true;
    } else {
      ReadStream(io, idx[k]);
    }
  }
  return true;
}

void Session::ReadSignals(AttemptIo* io) {
  signalfd_siginfo si;
  while (::read(sfd_, &si, sizeof(si)) == sizeof(si)) {
    int sig = static_cast<int>(si.ssi_signo);
    if (sig == SIGUSR1) {
      OnSchedulerSignal(io);
      continue;
    }
    if (sig == SIGCHLD || child_done_) continue;
    ++interrupts_;
    if (interrupts_ > 1) {
      SignalGroup(io->child.pid, SIGKILL);
      kill_deadline_ = Clock::time_point::max();
      continue;
    }
    // Forward the first one; the child gets the grace period to save and exit. A remedy in
    // flight is dropped: the human wants the run to stop.
    controller_.OnInterrupt();
    int fwd = sig == SIGHUP || sig == SIGQUIT ? SIGTERM : sig;
    SignalGroup(io->child.pid, fwd);
    kill_deadline_ = Clock::now() + std::chrono::milliseconds(
                                        static_cast<int64_t>(opts_.grace_seconds * 1000));
    bool ok = true;
    WriteFd(2, fmt::format("\ninloop: forwarded {} to the training process; again to "
                           "kill it now (it is killed in {:.0f}s otherwise)\n",
                           strsignal(fwd), opts_.grace_seconds),
            &ok);
    Event(remedy::event_kind::kSignalForwarded, "warning",
          fmt::format("{} forwarded to the process group", strsignal(fwd)));
  }
  Reap(io);
}

void Session::Reap(AttemptIo* io) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) break;
    if (p != io->child.pid) continue;
    child_done_ = true;
    wait_status_ = st;
    controller_.OnProcessGone();
    // Give the pipes a moment to deliver what the child wrote last; daemons that keep them
    // open are terminated after that.
    io->drain_deadline = Clock::now() + std::chrono::milliseconds(300);
  }
}

void Session::ReadStream(AttemptIo* io, int i) {
  for (int rounds = 0; rounds < 16; ++rounds) {
    ssize_t got = ::read(io->fds[i], io->buf.data(), io->buf.size());
    if (got > 0) {
      HandleStream(i, std::string_view(io->buf.data(), static_cast<size_t>(got)));
      if (static_cast<size_t>(got) < io->buf.size()) break;
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (i == 3) {  // the ranks' FIFO is the session's: stop polling it, DrainRankChannel ends it
      io->fds[3] = -1;
      break;
    }
    EndStream(i, &io->fds[i]);  // EOF or error: the stream is over
    break;
  }
}

// Hang checks, the checkpoint glob and ask mode's pending approval.
void Session::Periodic(AttemptIo* io) {
  auto now = Clock::now();
  if (!child_done_ && kill_deadline_ == Clock::time_point::max()) {
    if (now >= io->next_cpu) {
      hang_.OnCpuTime(now_ms_, GroupCpuSeconds(io->child.pid));
      io->next_cpu = now + std::chrono::seconds(1);  // a silence of a few seconds gets samples
    }
    detect::Finding hang;
    if (hang_.Check(now_ms_, &hang)) {
      findings_.push_back(std::move(hang));
      ActOnFindings();
    }
  }
  rank_tcp_.Expire(SteadyNow(), [&](const std::string& w) { Say(w); });
  if (now >= io->next_scan) {
    controller_.checkpoints().Scan(now_ms_, attempt_.number);
    io->next_scan = now + std::chrono::seconds(1);
  }
  if (now >= io->next_pending && controller_.pending_approval()) {
    PollPending();
    io->next_pending = now + std::chrono::milliseconds(250);
  }
}

// The grace period, the pipes' drain and the orphans' end.
bool Session::Deadlines(AttemptIo* io) {
  auto now = Clock::now();
  if (!child_done_ && now >= kill_deadline_) {
    Say("grace period over, killing the training process group");
    SignalGroup(io->child.pid, SIGKILL);
    kill_deadline_ = Clock::time_point::max();
  }
  if (child_done_ && now >= io->drain_deadline) {
    // The main process is gone; whatever still holds our pipes is an orphan: end it.
    SignalGroup(io->child.pid, SIGTERM);
    for (pid_t p : ListOwnChildren(io->guard.pid())) ::kill(p, SIGTERM);
    io->drain_deadline = Clock::time_point::max();
    io->orphan_deadline = now + std::chrono::seconds(2);
  }
  if (child_done_ && now >= io->orphan_deadline) {
    SignalGroup(io->child.pid, SIGKILL);
    for (pid_t p : ListOwnChildren(io->guard.pid())) ::kill(p, SIGKILL);
    return false;
  }
  return true;
}

// Reaps and ends any descendant that outlived the pipes.
void Session::EndDescendants(pid_t pgid) {
  SignalGroup(pgid, SIGKILL);
  for (int round = 0; round < 50; ++round) {
    auto rest = ListOwnChildren(-1);
    if (rest.empty()) break;
    for (pid_t p : rest) ::kill(p, round < 10 ? SIGTERM : SIGKILL);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    usleep(20000);
  }
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// ---- the run ----

void Session::StartRun() {
  run_.name = opts_.name.empty() ? DefaultRunName(opts_.command) : opts_.name;
  run_.command = opts_.command;
  run_.cwd = CurrentDir();
  run_.host = HostName();
  GitInfo git = ReadGitInfo(run_.cwd);
  run_.git_commit = git.commit;
  run_.git_dirty = git.dirty;
  run_.started_at = WallNow();
  run_.attempts = 1;
  run_.supervisor_pid = getpid();
  run_.supervisor_host = run_.host;
  OpenStore();
  OpenRankChannel();
  RecordPreRunAudit();
  InstallCheckpointAudit();
  controller_.SetSkipReachable(remedy::ScriptReadsRemedies(opts_.command, run_.cwd));
  out_->run_id = run_.id;
  out_->run_name = run_.name;
  // The SDK's control file is local to the child: in the run's directory of an embedded store,
  // in a temporary directory when the store is not on this disk (PostgreSQL) or failed.
  std::string run_dir = store_ok_ ? store_->LocalRunDir(run_.id) : std::string();
  if (!run_dir.empty()) {
    control_path_ = run_dir + "/control.json";
  } else {
    const char* tmp = getenv("TMPDIR");
    control_path_ = fmt::format("{}/inloop-control-{}.json", tmp && *tmp ? tmp : "/tmp", getpid());
  }
  Say(fmt::format("run {} ({}) started{}{}", run_.name, run_.id.empty() ? "not recorded" : run_.id,
                  store_ok_ ? fmt::format(", store {}", store_->location()) : "",
                  opts_.remedy.mode == remedy::Mode::kAuto
                      ? std::string()
                      : fmt::format(", policy {}", remedy::ModeName(opts_.remedy.mode))));
}

bool Session::AfterAttempt() {
  std::optional<detect::CrashReport> crash = EndAttempt();
  if (RequeueThroughScheduler(crash)) return false;
  restart_reason_.reset();
  end_status_.reset();
  controller_.OnExit({attempt_.exit_code.value_or(0), crash, SteadyNow()});
  WaitAfterExit();
  // SIGUSR1 during a backoff or an approval wait: the job is requeued instead of restarted here.
  if (usr1_ && RequeueThroughScheduler(std::nullopt)) return false;
  if (restart_reason_ && !end_status_) return true;
  out_->status = end_status_.value_or(store::kFailed);
  out_->policy_stopped = controller_.policy_stopped() && out_->status == store::kFailed;
  return false;
}

void Session::FinishRun() {
  out_->stop_reason = controller_.stop_reason();
  out_->attempts = run_.attempts;
  out_->exit_code = attempt_.exit_code.value_or(0);
  run_.ended_at = WallNow();
  run_.status = out_->status;
  run_.exit_code = out_->exit_code;
  run_.signal = attempt_.signal;
  if (store_ok_) {
    Status s = writer_->Close();  // the last attempt's record was written when it ended
    if (s.ok()) s = store_->UpdateRun(run_);
    if (!s.ok()) StoreFailed(s);
  }
  if (!store_ok_) RecordStoreFailure();
  if (store_ && !run_.id.empty()) store_->ReleaseReserve(run_.id);
  // A control file in a temporary directory (the store is not on this disk, or failed) was this
  // run's alone: the child is gone, so is its use.
  if (control_path_.find("/inloop-control-") != std::string::npos) ::unlink(control_path_.c_str());
  CloseRankChannel();
  PrintSummary();
}

Status Session::Run() {
  std::unique_ptr<ingest::LineParser> parser;
  INLOOP_RETURN_IF_ERROR(ingest::LineParser::Create(opts_.patterns, &parser));
  parser_ = std::move(parser);

  // Signals arrive on a signalfd; the child gets its mask cleared in Spawn(). They are blocked
  // before the run is recorded, so that a Ctrl-C or SIGTERM arriving meanwhile waits on the
  // signalfd (the run then ends `stopped`) instead of killing inloop with the run left `running`.
  sigset_t mask, old;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, &old);
  signal(SIGPIPE, SIG_IGN);
  sfd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  BecomeSubreaper();
  StartRun();

  std::string reason = first_attempt_ > 1 ? "requeue" : "start";
  for (int number = first_attempt_;; ++number) {
    run_.attempts = number;
    BeginAttempt(number, reason);
    if (!RunAttempt(LaunchFor(number, reason))) {
      out_->status = store::kFailed;
      break;
    }
    if (!AfterAttempt()) break;
    reason = *restart_reason_;
  }
  if (sfd_ >= 0) ::close(sfd_);
  FinishRun();
  CarryOutRequeue();
  // A requeued job's inloop exits with signals still blocked: Slurm ends the old job's processes
  // after the requeue, and the exit code stays the one that says so.
  if (!out_->requeued) sigprocmask(SIG_SETMASK, &old, nullptr);
  return Status::OK();
}

Status Supervise(const SupervisorOptions& opts, RunOutcome* out) {
  // `import inloop` works in the child with nothing installed: the binary's own SDK comes first.
  SupervisorOptions with_sdk = opts;
  std::string warning;
  // Its fallback directory is the store's, when the store is a local directory.
  auto sdk_env = sdk::PythonSdkEnv(
      store::Store::IsPostgresUrl(opts.store_dir) ? std::string() : opts.store_dir, &warning);
  if (!warning.empty()) fmt::print(stderr, "inloop: warning: {}\n", warning);
  with_sdk.extra_env.insert(with_sdk.extra_env.begin(), sdk_env.begin(), sdk_env.end());
  Session session(with_sdk, out);
  return session.Run();
}

}  // namespace inloop::supervise
