// Supervisor loop: poll() over the child's stdout, stderr, SDK pipe and a signalfd; every read
// is teed first (the terminal never waits on tracking), then logged, split into lines, parsed
// and appended to the run's WAL, which is flushed after every batch of reads.
#include "supervise/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>

#include <fmt/color.h>
#include <fmt/format.h>

#include "common/duration_text.h"
#include "common/json_writer.h"
#include "detect/crash_classifier.h"
#include "detect/detector_set.h"
#include "detect/hang_detector.h"
#include "ingest/sdk_message.h"
#include "store/store.h"
#include "supervise/line_splitter.h"
#include "supervise/process.h"
#include "supervise/run_context.h"

namespace inloop::supervise {
namespace {

using Clock = std::chrono::steady_clock;

double WallNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}
// Point times are kept at millisecond resolution: they compress to almost nothing.
double WallNowMs() {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  return static_cast<double>(ms) / 1000.0;
}

void WriteFd(int fd, std::string_view data, bool* ok) {
  while (*ok && !data.empty()) {
    ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      *ok = false;
      return;
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
}

// Everything the loop tracks about one run; the store side is optional (it may have failed).
class Session {
 public:
  Session(const SupervisorOptions& opts, RunOutcome* out)
      : opts_(opts), out_(out), detectors_(opts.detect), hang_(opts.detect, WallNow()) {}

  Status Run();

 private:
  void StoreFailed(const Status& s);
  void OpenStore();
  void HandleStream(int which, std::string_view data);
  void DispatchLine(int which, std::string_view line);
  void EndStream(int which, int* fd);
  void HandleLine(int which, std::string_view line);
  void HandleSdkLine(std::string_view line);
  void AppendMetric(std::string_view key, bool has_step, int64_t step, double value);
  void FlushStore();
  void Event(const std::string& kind, const std::string& severity, const std::string& message,
             const std::string& data = "{}");
  void PrintSummary();
  void RecordFindings();
  void RecordCrash();

  const SupervisorOptions& opts_;
  RunOutcome* out_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::RunWriter> writer_;
  std::unique_ptr<ingest::LineParser> parser_;
  ingest::ParsedLine parsed_;
  store::RunRecord run_;
  store::AttemptRecord attempt_;
  int log_fds_[2] = {-1, -1};
  bool tee_ok_[2] = {true, true};
  LineSplitter splitters_[3];
  std::deque<std::string> stderr_tail_;
  double now_ms_ = 0;
  bool store_ok_ = false;
  struct SeriesTrack {
    int64_t step = 0;  // last step, for per-series counters
    double last = 0;   // last value, for the summary
  };
  std::map<std::string, SeriesTrack, std::less<>> series_;
  detect::DetectorSet detectors_;
  detect::HangDetector hang_;
  std::vector<detect::Finding> findings_;  // produced since the last RecordFindings()
  int64_t findings_recorded_ = 0;
  bool sdk_seen_ = false;
};

std::string FindingData(const detect::Finding& f) {
  JsonWriter w;
  w.BeginObject().Key("series").String(f.series).Key("update").Bool(f.is_update);
  w.Key("evidence").BeginObject();
  for (auto& e : f.evidence) w.Key(e.name).Number(e.value);
  w.EndObject().EndObject();
  return w.Take();
}

void Session::RecordFindings() {
  for (auto& f : findings_) {
    ++findings_recorded_;
    if (!store_ok_) continue;
    store::EventRecord e;
    e.run_id = run_.id;
    e.kind = std::string(detect::FindingKindName(f.kind));
    e.severity = std::string(detect::SeverityName(f.severity));
    e.step_lo = f.step_lo;
    e.step_hi = f.step_hi;
    e.message = f.message;
    e.data_json = FindingData(f);
    Status s = store_->AddEvent(&e);
    if (!s.ok()) StoreFailed(s);
  }
  findings_.clear();
}

void Session::RecordCrash() {
  if (out_->exit_code == 0 || out_->status == store::kStopped) return;
  detect::CrashReport c = detect::ClassifyCrash(out_->exit_code, run_.signal, attempt_.stderr_tail);
  attempt_.crash_class = std::string(c.name());
  JsonWriter w;
  w.BeginObject().Key("class").String(c.name()).Key("transient").Bool(c.transient);
  w.Key("retry").String(detect::RetryName(c.retry)).Key("signature").String(c.signature);
  if (!c.exception_type.empty()) {
    w.Key("exception_type").String(c.exception_type);
    w.Key("exception_message").String(c.exception_message);
  }
  w.EndObject();
  Event("crash", "error", c.summary, w.Take());
}

void Session::StoreFailed(const Status& s) {
  if (out_->store_failed) return;
  out_->store_failed = true;
  out_->store_error = s.message();
  store_ok_ = false;
  std::string msg = fmt::format(
      "inloop: STORE FAILURE: {} -- the training keeps running and its output is still shown, "
      "but metrics are no longer recorded; inloop will exit non-zero when it ends\n",
      s.message());
  bool ok = true;
  WriteFd(2, msg, &ok);
}

void Session::OpenStore() {
  Status s = store::Store::Open(opts_.store_dir, true, &store_);
  if (s.ok()) s = store_->CreateRun(&run_);
  if (s.ok()) s = store_->SetParams(run_.id, ParamsFromArgv(opts_.command));
  if (s.ok() && !opts_.config_path.empty()) {
    s = store_->SetParams(run_.id, {store::Param{"inloop.config", opts_.config_path, "config"}});
  }
  if (s.ok()) s = store_->OpenWriter(run_.id, &writer_);
  if (!s.ok()) {
    StoreFailed(s);
    return;
  }
  store_ok_ = true;
}

void Session::Event(const std::string& kind, const std::string& severity,
                    const std::string& message, const std::string& data) {
  if (!store_ok_) return;
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = kind;
  e.severity = severity;
  e.message = message;
  e.data_json = data;
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
}

void Session::AppendMetric(std::string_view key, bool has_step, int64_t step, double value) {
  auto it = series_.find(key);
  if (it == series_.end()) {
    it = series_.emplace(std::string(key), SeriesTrack{}).first;
    if (!has_step) step = 0;  // per-series counter, kept even when the store failed
  } else if (!has_step) {
    step = it->second.step + 1;
  }
  it->second.step = step;
  it->second.last = value;
  Point p{step, now_ms_, value};
  detectors_.Observe(key, p, &findings_);
  hang_.OnProgress(now_ms_, step);
  if (!store_ok_) return;
  Status s = writer_->Append(key, step, now_ms_, value);
  if (!s.ok()) StoreFailed(s);
}

void Session::HandleLine(int which, std::string_view line) {
  if (which == 1) {
    stderr_tail_.emplace_back(line.substr(0, 4096));
    if (stderr_tail_.size() > 200) stderr_tail_.pop_front();
  }
  if (sdk_seen_ && !opts_.parse_lines_with_sdk) return;
  if (parser_ && parser_->Parse(line, &parsed_)) {
    for (auto& m : parsed_.metrics) AppendMetric(m.key, parsed_.has_step, parsed_.step, m.value);
  }
}

void Session::HandleSdkLine(std::string_view line) {
  ingest::SdkMessage msg;
  if (!ingest::ParseSdkMessage(line, &msg)) return;
  if (!sdk_seen_) {
    sdk_seen_ = true;
    if (!opts_.parse_lines_with_sdk) {
      Event("sdk_connected", "info",
            "the process reports through the SDK: its printed lines are no longer parsed for "
            "metrics ([parse] lines_with_sdk = true keeps parsing them)");
    }
  }
  switch (msg.type) {
    case ingest::SdkMessage::Type::kLog:
      for (auto& [k, v] : msg.metrics) AppendMetric(k, msg.step.has_value(), msg.step.value_or(0), v);
      break;
    case ingest::SdkMessage::Type::kParams: {
      if (!store_ok_) break;
      std::vector<store::Param> ps;
      for (auto& [k, v] : msg.params) ps.push_back(store::Param{k, v, "sdk"});
      Status s = store_->SetParams(run_.id, ps);
      if (!s.ok()) StoreFailed(s);
      break;
    }
    case ingest::SdkMessage::Type::kCheckpoint: {
      JsonWriter w;
      w.BeginObject().Key("path").String(msg.path);
      if (msg.step) w.Key("step").Int(*msg.step);
      w.Key("attempt").Int(attempt_.number).EndObject();
      Event("checkpoint", "info",
            fmt::format("checkpoint saved at step {}: {}", msg.step.value_or(-1), msg.path),
            w.Take());
      break;
    }
    default:
      break;
  }
}

void Session::HandleStream(int which, std::string_view data) {
  hang_.OnOutput(now_ms_);
  if (which < 2) {
    WriteFd(which == 0 ? 1 : 2, data, &tee_ok_[which]);  // the terminal first, always
    if (log_fds_[which] >= 0) {
      bool ok = true;
      WriteFd(log_fds_[which], data, &ok);
      if (!ok) {
        StoreFailed(Status::Io(fmt::format("{}: cannot write the attempt log: {}",
                                           which == 0 ? attempt_.stdout_path : attempt_.stderr_path,
                                           std::strerror(errno))));
        ::close(log_fds_[which]);
        log_fds_[which] = -1;
      }
    }
  }
  splitters_[which].Feed(data, [&](std::string_view line) { DispatchLine(which, line); });
}

// Streams 0 and 1 are the child's stdout and stderr; stream 2 is the SDK pipe.
void Session::DispatchLine(int which, std::string_view line) {
  if (which == 2) {
    HandleSdkLine(line);
  } else {
    HandleLine(which, line);
  }
}

// Delivers a stream's unterminated last line and closes it.
void Session::EndStream(int which, int* fd) {
  splitters_[which].Finish([&](std::string_view line) { DispatchLine(which, line); });
  ::close(*fd);
  *fd = -1;
}

void Session::FlushStore() {
  if (!store_ok_) return;
  Status s = writer_->Flush();
  if (!s.ok()) StoreFailed(s);
}

void Session::PrintSummary() {
  auto paint = [&](fmt::text_style style, const std::string& s) {
    return opts_.color ? fmt::format(style, "{}", s) : s;
  };
  std::string status = out_->status;
  fmt::text_style st = status == store::kFinished ? fg(fmt::color::green) : fg(fmt::color::red);
  std::string text = fmt::format(
      "\ninloop: run {} ({}) {} in {}, exit code {}\n", run_.name, run_.id,
      paint(st | fmt::emphasis::bold, status), DurationText(run_.ended_at - run_.started_at),
      out_->exit_code);
  size_t shown = 0;
  for (auto& [k, v] : series_) {
    if (++shown > 16) {
      text += fmt::format("  ... and {} more series (inloop show {})\n", series_.size() - 16,
                          run_.id);
      break;
    }
    text += fmt::format("  {:<28} {}\n", k,
                        std::isfinite(v.last) ? fmt::format("{:.6g}", v.last) : JsonNumber(v.last));
  }
  if (findings_recorded_ > 0) {
    text += fmt::format("  {} finding(s) on the timeline: inloop events {}\n", findings_recorded_,
                        run_.id);
  }
  if (!attempt_.crash_class.empty()) {
    text += fmt::format("  crash class: {}\n", attempt_.crash_class);
  }
  if (attempt_.truncated_lines > 0) {
    text += fmt::format("  {} line(s) over 1 MiB were kept truncated\n", attempt_.truncated_lines);
  }
  if (store_ok_) {
    text += fmt::format("  store: {}   next: inloop show {}\n", opts_.store_dir, run_.id);
  } else {
    text += fmt::format("  {}: {}\n", paint(fg(fmt::color::red) | fmt::emphasis::bold,
                                            "metrics were NOT fully recorded"),
                        out_->store_error);
  }
  bool ok = true;
  WriteFd(2, text, &ok);
}

Status Session::Run() {
  std::unique_ptr<ingest::LineParser> parser;
  INLOOP_RETURN_IF_ERROR(ingest::LineParser::Create(opts_.patterns, &parser));
  parser_ = std::move(parser);

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
  out_->run_id = run_.id;
  out_->run_name = run_.name;

  attempt_.run_id = run_.id;
  attempt_.number = 1;
  attempt_.reason = "start";
  attempt_.started_at = run_.started_at;
  if (store_ok_) {
    attempt_.stdout_path = fmt::format("runs/{}/attempt-1.stdout", run_.id);
    attempt_.stderr_path = fmt::format("runs/{}/attempt-1.stderr", run_.id);
    for (int i = 0; i < 2; ++i) {
      std::string p = store_->PathOf(i == 0 ? attempt_.stdout_path : attempt_.stderr_path);
      log_fds_[i] = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fds_[i] < 0) {
        StoreFailed(Status::Io(fmt::format("{}: cannot create: {}", p, std::strerror(errno))));
      }
    }
  }
  {
    std::string hello = fmt::format("inloop: run {} ({}) started{}\n", run_.name,
                                    run_.id.empty() ? "not recorded" : run_.id,
                                    store_ok_ ? fmt::format(", store {}", opts_.store_dir) : "");
    bool ok = true;
    WriteFd(2, hello, &ok);
  }

  // Signals arrive on a signalfd; the child gets its mask cleared in Spawn().
  sigset_t mask, old;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, &old);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  BecomeSubreaper();

  SpawnOptions so;
  so.argv = opts_.command;
  so.env = opts_.extra_env;
  so.env.emplace_back("INLOOP_RUN_ID", run_.id);
  so.env.emplace_back("INLOOP_RUN_NAME", run_.name);
  so.env.emplace_back("INLOOP_ATTEMPT", "1");
  if (!getenv("PYTHONUNBUFFERED")) so.env.emplace_back("PYTHONUNBUFFERED", "1");
  Child child;
  Status sp = Spawn(so, &child);
  if (!sp.ok()) {
    bool ok = true;
    WriteFd(2, fmt::format("inloop: {}\n", sp.message()), &ok);
    out_->exit_code = 127;
    out_->status = store::kFailed;
    run_.status = store::kFailed;
    run_.exit_code = 127;
    run_.ended_at = WallNow();
    attempt_.ended_at = run_.ended_at;
    attempt_.exit_code = 127;
    attempt_.crash_class = "command_not_found";
    attempt_.stderr_tail = sp.message();
    if (store_ok_) {
      Event("attempt_exit", "error", sp.message());
      Status s = store_->PutAttempt(attempt_);
      if (s.ok()) s = store_->UpdateRun(run_);
      if (s.ok()) s = writer_->Close();
      if (!s.ok()) StoreFailed(s);
    }
    for (int fd : log_fds_) if (fd >= 0) ::close(fd);
    if (sfd >= 0) ::close(sfd);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return Status::OK();
  }
  attempt_.pid = child.pid;
  if (store_ok_) {
    Status s = store_->PutAttempt(attempt_);
    if (!s.ok()) StoreFailed(s);
    JsonWriter w;
    w.BeginObject().Key("attempt").Int(1).Key("pid").Int(child.pid).EndObject();
    Event("attempt_start", "info", fmt::format("attempt 1 started (pid {})", child.pid), w.Take());
  }

  int fds[3] = {child.stdout_fd, child.stderr_fd, child.metrics_fd};
  for (int fd : fds) if (fd >= 0) SetNonBlocking(fd);
  std::string buf(256 * 1024, '\0');
  bool child_done = false;
  int wait_status = 0;
  int interrupts = 0;
  Clock::time_point kill_deadline = Clock::time_point::max();
  Clock::time_point drain_deadline = Clock::time_point::max();
  Clock::time_point orphan_deadline = Clock::time_point::max();

  auto reap = [&]() {
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == child.pid) {
        child_done = true;
        wait_status = st;
        // Give the pipes a moment to deliver what the child wrote last; daemons that keep
        // them open are terminated after that.
        drain_deadline = Clock::now() + std::chrono::milliseconds(300);
      }
    }
  };

  for (;;) {
    pollfd pfds[4];
    int idx[4];
    int n = 0;
    // The SDK pipe first: what the process reported through the SDK before printing a line is
    // then always handled before that line.
    for (int i : {2, 0, 1}) {
      if (fds[i] >= 0) {
        pfds[n] = {fds[i], POLLIN, 0};
        idx[n++] = i;
      }
    }
    if (n == 0 && child_done) break;
    pfds[n] = {sfd, POLLIN, 0};
    idx[n++] = -1;
    auto now = Clock::now();
    auto next = std::min({kill_deadline, drain_deadline, orphan_deadline});
    int timeout = 200;
    if (next != Clock::time_point::max()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
      timeout = static_cast<int>(std::clamp<int64_t>(ms, 0, 200));
    }
    int r = ::poll(pfds, n, timeout);
    if (r < 0 && errno != EINTR) break;
    now_ms_ = WallNowMs();
    for (int k = 0; k < n && r > 0; ++k) {
      if (!pfds[k].revents) continue;
      if (idx[k] == -1) {
        signalfd_siginfo si;
        while (::read(sfd, &si, sizeof(si)) == sizeof(si)) {
          int sig = static_cast<int>(si.ssi_signo);
          if (sig == SIGCHLD) continue;
          if (child_done) continue;
          ++interrupts;
          if (interrupts == 1) {
            // Forward the first one; the child gets the grace period to save and exit.
            int fwd = sig == SIGHUP || sig == SIGQUIT ? SIGTERM : sig;
            SignalGroup(child.pid, fwd);
            kill_deadline = Clock::now() + std::chrono::milliseconds(
                                               static_cast<int64_t>(opts_.grace_seconds * 1000));
            bool ok = true;
            WriteFd(2, fmt::format("\ninloop: forwarded {} to the training process; again to "
                                   "kill it now (it is killed in {:.0f}s otherwise)\n",
                                   strsignal(fwd), opts_.grace_seconds),
                    &ok);
            Event("signal_forwarded", "warning",
                  fmt::format("{} forwarded to the process group", strsignal(fwd)));
          } else {
            SignalGroup(child.pid, SIGKILL);
            kill_deadline = Clock::time_point::max();
          }
        }
        reap();
        continue;
      }
      int i = idx[k];
      for (int rounds = 0; rounds < 16; ++rounds) {
        ssize_t got = ::read(fds[i], buf.data(), buf.size());
        if (got > 0) {
          HandleStream(i, std::string_view(buf.data(), static_cast<size_t>(got)));
          if (static_cast<size_t>(got) < buf.size()) break;
          continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
        EndStream(i, &fds[i]);  // EOF or error: the stream is over
        break;
      }
    }
    if (!child_done) {
      detect::Finding hang;
      if (hang_.Check(now_ms_, &hang)) findings_.push_back(std::move(hang));
    }
    RecordFindings();
    FlushStore();
    now = Clock::now();
    if (!child_done && now >= kill_deadline) {
      bool ok = true;
      WriteFd(2, "inloop: grace period over, killing the training process group\n", &ok);
      SignalGroup(child.pid, SIGKILL);
      kill_deadline = Clock::time_point::max();
    }
    if (child_done && now >= drain_deadline) {
      // The main process is gone; whatever still holds our pipes is an orphan: end it.
      SignalGroup(child.pid, SIGTERM);
      for (pid_t p : ListOwnChildren(-1)) ::kill(p, SIGTERM);
      drain_deadline = Clock::time_point::max();
      orphan_deadline = now + std::chrono::seconds(2);
    }
    if (child_done && now >= orphan_deadline) {
      SignalGroup(child.pid, SIGKILL);
      for (pid_t p : ListOwnChildren(-1)) ::kill(p, SIGKILL);
      break;
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (fds[i] >= 0) EndStream(i, &fds[i]);
  }
  FlushStore();
  // Reap and end any descendant that outlived the pipes.
  SignalGroup(child.pid, SIGKILL);
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
  if (sfd >= 0) ::close(sfd);
  sigprocmask(SIG_SETMASK, &old, nullptr);

  run_.ended_at = WallNow();
  attempt_.ended_at = run_.ended_at;
  if (WIFEXITED(wait_status)) {
    out_->exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    run_.signal = attempt_.signal = WTERMSIG(wait_status);
    out_->exit_code = 128 + run_.signal;
  }
  attempt_.exit_code = run_.exit_code = out_->exit_code;
  if (interrupts > 0) {
    out_->status = store::kStopped;
  } else {
    out_->status = out_->exit_code == 0 ? store::kFinished : store::kFailed;
  }
  run_.status = out_->status;
  attempt_.lines = splitters_[0].lines() + splitters_[1].lines();
  attempt_.truncated_lines = splitters_[0].truncated() + splitters_[1].truncated();
  for (auto& l : stderr_tail_) {
    attempt_.stderr_tail += l;
    attempt_.stderr_tail += '\n';
  }
  for (int fd : log_fds_) if (fd >= 0) ::close(fd);
  RecordFindings();
  RecordCrash();
  if (store_ok_) {
    JsonWriter w;
    w.BeginObject().Key("attempt").Int(1).Key("exit_code").Int(out_->exit_code);
    if (run_.signal) w.Key("signal").Int(run_.signal);
    w.Key("lines").Int(attempt_.lines).Key("truncated_lines").Int(attempt_.truncated_lines);
    w.EndObject();
    Event("attempt_exit", out_->exit_code == 0 ? "info" : "error",
          run_.signal ? fmt::format("attempt 1 killed by signal {} ({})", run_.signal,
                                    strsignal(run_.signal))
                      : fmt::format("attempt 1 exited with code {}", out_->exit_code),
          w.Take());
    Status s = writer_->Close();
    if (s.ok()) s = store_->PutAttempt(attempt_);
    if (s.ok()) s = store_->UpdateRun(run_);
    if (!s.ok()) StoreFailed(s);
  }
  PrintSummary();
  return Status::OK();
}

}  // namespace

Status Supervise(const SupervisorOptions& opts, RunOutcome* out) {
  Session session(opts, out);
  return session.Run();
}

}  // namespace inloop::supervise
