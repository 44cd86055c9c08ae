// The session's records (see session.h): the store and the run's timeline, the attempt logs and
// records, metrics from printed lines and SDK messages (fed to the detectors and to the remedy
// controller), and the summary printed when the run ends. Tracking never kills training: a store
// failure is said once, loudly, and everything else goes on.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/color.h>
#include <fmt/format.h>

#include "common/duration_text.h"
#include "common/json_writer.h"
#include "ingest/sdk_message.h"
#include "supervise/run_context.h"
#include "supervise/session.h"

namespace inloop::supervise {

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

double SteadyNow() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
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
    remedy::FindingData d{f.series, f.is_update, {}, f.related, f.rank, f.host};
    for (auto& ev : f.evidence) d.evidence.emplace_back(ev.name, ev.value);
    e.data_json = remedy::ToJson(d);
    Status s = store_->AddEvent(&e);
    if (!s.ok()) StoreFailed(s);
  }
  findings_.clear();
  findings_acted_ = 0;
}

detect::CrashReport Session::ClassifyExit() {
  detect::CrashReport c =
      detect::ClassifyCrash(attempt_.exit_code, attempt_.signal, attempt_.stderr_tail);
  attempt_.crash_class = std::string(c.name());
  remedy::CrashData d{attempt_.number,  std::string(c.name()), c.transient,
                      std::string(detect::RetryName(c.retry)), c.signature, c.exception_type,
                      c.exception_message};
  Event(remedy::event_kind::kCrash, "error", c.summary, d, controller_.last_step());
  return c;
}

void Session::StoreFailed(const Status& s) {
  if (out_->store_failed) return;
  out_->store_failed = true;
  out_->store_error = s.message();
  store_ok_ = false;
  controller_.OnStoreFailed();
  // Nothing more is written (the attempt logs included), and the reserve gives back the space
  // the run's final status needs (RecordStoreFailure).
  for (auto& log : logs_) {
    if (log) log->Abandon();
    log.reset();
  }
  if (store_ && !run_.id.empty()) store_->ReleaseReserve(run_.id);
  Say(fmt::format(
      "STORE FAILURE: {} -- the training keeps running and its output is still shown, "
      "but metrics are no longer recorded; inloop will exit non-zero when it ends",
      s.message()));
}

void Session::Say(const std::string& line) {
  bool ok = true;
  WriteFd(2, fmt::format("inloop: {}\n", line), &ok);
}

void Session::OpenStore() {
  Status s = store::Store::Open(opts_.store_dir, true, &store_);
  if (s.ok()) s = opts_.continue_key.empty() ? store_->CreateRun(&run_) : ContinueOrCreateRun();
  if (s.ok()) s = store_->SetParams(run_.id, ParamsFromArgv(opts_.command));
  if (s.ok() && !opts_.config_path.empty()) {
    s = store_->SetParams(run_.id, {store::Param{"inloop.config", opts_.config_path, "config"}});
  }
  if (s.ok()) s = store_->OpenWriter(run_.id, &writer_);
  if (!s.ok()) {
    StoreFailed(s);
    return;
  }
  // 1 MiB set aside for the run's last words should the disk fill up (Store::ReserveSpace).
  Status rs = store_->ReserveSpace(run_.id, 1 << 20);
  if (!rs.ok()) Say(fmt::format("warning: {}", rs.message()));
  store_ok_ = true;
  for (const data::DataRead& r : data::CommandDataReads(opts_.command, CurrentDir())) RecordDataRead(r);
}

void Session::RecordDataRead(const data::DataRead& r) {
  if (!store_ok_) return;
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = data::kDataReadEvent;
  e.severity = "info";
  e.message = fmt::format("reads {}{}{}", r.name, r.step.empty() ? "" : " (built by data step " + r.step + ")",
                          r.sha256.empty() ? "" : " @ " + r.sha256.substr(0, 12));
  e.data_json = data::DataReadJson(r);
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
}

void Session::RecordBatches(data::BatchLog log) {
  if (!store_ok_ || log.batches.empty()) return;
  if (log.dataset.empty()) log.dataset = last_dataset_;
  auto it = datasets_.find(log.dataset);
  if (it != datasets_.end()) log.path = it->second;
  int64_t lo = INT64_MAX, hi = INT64_MIN, records = 0;
  for (auto& b : log.batches) {
    lo = std::min(lo, b.index);
    hi = std::max(hi, b.index);
    records += data::CountIds(b.records);
  }
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = data::kDataBatchesEvent;
  e.severity = "info";
  // No step range: the data index is bookkeeping, not a point on the timeline (charts, markers).
  e.message = fmt::format("data batches {}..{} read {} records of {}", lo, hi, records,
                          log.path.empty() ? "an undeclared dataset (call inloop.dataset first)" : log.dataset);
  e.data_json = data::BatchLogJson(log);
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
}

void Session::RecordStoreFailure() {
  // Best effort with the reserve's space: the run's final status and why metrics stopped, so
  // that it does not read `running` forever. The writer is left as it is (its WAL is recovered
  // by the next open that has space).
  if (!store_ || run_.id.empty()) return;
  Status s = store_->UpdateRun(run_);
  if (s.ok() && attempt_.number > 0) s = store_->PutAttempt(attempt_);
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = std::string(remedy::event_kind::kStoreFailed);
  e.severity = "error";
  e.message = fmt::format("metrics stopped being recorded: {}", out_->store_error);
  if (s.ok()) s = store_->AddEvent(&e);
  if (!s.ok()) Say(fmt::format("the run's final status could not be recorded either: {}", s.message()));
}

void Session::Write(const remedy::TimelineEvent& t) {
  if (!store_ok_) return;
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = t.kind;
  e.severity = t.severity;
  e.message = t.message;
  e.data_json = t.DataJson();
  e.step_lo = t.step_lo;
  e.step_hi = t.step_hi;
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
}

void Session::Event(std::string_view kind, std::string_view severity, std::string message,
                    remedy::EventData data, std::optional<int64_t> step) {
  Write(remedy::MakeEvent(kind, severity, std::move(message), std::move(data), step));
}

void Session::AppendMetric(std::string_view key, bool has_step, int64_t step, double value) {
  auto it = series_.find(key);
  if (it == series_.end()) {
    it = series_.emplace(std::string(key), SeriesTrack{}).first;
    it->second.loss = detectors_.ClassOf(key) == detect::SeriesClass::kLoss;
    it->second.stepless = !has_step;
    // Per-series counter, kept even when the store failed. It counts from 1, as training steps
    // do, so that a skip window computed on it lands on the step the program trains.
    if (!has_step) step = 1;
  } else if (!has_step) {
    step = it->second.step + 1;
  }
  it->second.step = step;
  it->second.last = value;
  if (has_step) controller_.OnStep(step);
  Point p{step, now_ms_, value};
  detectors_.Observe(key, p, &findings_);
  if (it->second.loss) {
    controller_.OnLossPoint(it->first, step, value);
    // A spike is held at its own point, while the points before it are still the newest ones
    // the patience keeps (a read may carry thousands of lines after it).
    if (findings_.size() > findings_acted_) ActOnFindings();
  }
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
  // Another rank's printed line (a launcher's "[rank3]:" label) never feeds the main series.
  std::optional<int> rank = PrintedRank(&line);
  if (rank && *rank != 0) return;
  if (parser_ && parser_->Parse(line, &parsed_)) {
    for (auto& m : parsed_.metrics) {
      // Per key: a key the SDK logs is recorded from the SDK, every other printed key from here.
      if (precedence_.OnPrinted(m.key,
                                parsed_.has_step ? std::optional<int64_t>(parsed_.step) : std::nullopt,
                                &source_changes_)) {
        AppendMetric(m.key, parsed_.has_step, parsed_.step, m.value);
      }
    }
    for (auto& c : source_changes_) SourceChanged(c);
    source_changes_.clear();
  }
}

void Session::SourceChanged(const ingest::SourceChange& c) {
  remedy::SourceData d{c.canonical, c.sdk_key, c.printed_key,
                       std::string(ingest::MetricSourceName(c.now)), c.printed_since_sdk};
  if (c.now == ingest::MetricSource::kPrinted) {
    std::string msg = fmt::format(
        "{}: the SDK has logged no {} for {} printed values while the process keeps printing it; "
        "the printed values are recorded again",
        c.printed_key, c.sdk_key, c.printed_since_sdk);
    Say(msg);
    Event(remedy::event_kind::kMetricSource, "warning", msg, d, controller_.last_step());
  } else {
    Event(remedy::event_kind::kMetricSource, "info",
          fmt::format("{}: the SDK logs it, so the printed {} is no longer recorded", c.sdk_key,
                      c.printed_key),
          d, controller_.last_step());
  }
}

void Session::HandleSdkLine(std::string_view line) {
  ingest::SdkMessage msg;
  if (!ingest::ParseSdkMessage(line, &msg)) return;
  if (msg.rank && (*msg.rank != 0 || msg.type == ingest::SdkMessage::Type::kRank)) {
    HandleRankMessage(*msg.rank, msg);
    return;
  }
  if (!sdk_seen_) {
    sdk_seen_ = true;
    Event(remedy::event_kind::kSdkConnected, "info",
          opts_.parse_lines_with_sdk
              ? std::string("the process reports through the SDK; its printed lines are parsed "
                            "too ([parse] lines_with_sdk = true)")
              : std::string("the process reports through the SDK: a key it logs is recorded "
                            "from the SDK rather than from printed lines; every other printed "
                            "key is still parsed"));
  }
  switch (msg.type) {
    case ingest::SdkMessage::Type::kLog:
      if (msg.rank && msg.step_time) RankStepTime(*msg.rank, msg.step, *msg.step_time);
      for (auto& [k, v] : msg.metrics) {
        precedence_.OnSdk(k, msg.step, &source_changes_);
        AppendMetric(k, msg.step.has_value(), msg.step.value_or(0), v);
      }
      for (auto& c : source_changes_) SourceChanged(c);
      source_changes_.clear();
      break;
    case ingest::SdkMessage::Type::kParams: {
      for (auto& [k, v] : msg.params) controller_.OnParam(k, v);
      if (!store_ok_) break;
      std::vector<store::Param> ps;
      for (auto& [k, v] : msg.params) ps.push_back(store::Param{k, v, "sdk"});
      Status s = store_->SetParams(run_.id, ps);
      if (!s.ok()) StoreFailed(s);
      break;
    }
    case ingest::SdkMessage::Type::kTags: {
      if (!store_ok_ || msg.tags.empty()) break;
      Status s = store_->AddTags(run_.id, msg.tags);
      if (!s.ok()) StoreFailed(s);
      break;
    }
    case ingest::SdkMessage::Type::kRemedies:
      controller_.OnRemediesAcknowledged();
      break;
    case ingest::SdkMessage::Type::kCheckpoint:
      controller_.OnCheckpoint(msg.path, msg.step);
      break;
    case ingest::SdkMessage::Type::kLive:
      controller_.OnLiveReady();
      break;
    case ingest::SdkMessage::Type::kRemedyApplied:
      controller_.OnLiveApplied(msg.seq);
      break;
    case ingest::SdkMessage::Type::kDataset: {
      data::DataRead r = data::DescribeDataset(msg.name, msg.path, CurrentDir());
      datasets_[msg.name] = r.path;
      last_dataset_ = msg.name;
      RecordDataRead(r);
      break;
    }
    case ingest::SdkMessage::Type::kBatches:
      RecordBatches(std::move(msg.batches));
      break;
    default:
      break;
  }
}

void Session::HandleStream(int which, std::string_view data) {
  hang_.OnOutput(now_ms_);
  if (which < 2) {
    WriteFd(which == 0 ? 1 : 2, data, &tee_ok_[which]);  // the terminal first, always
    if (logs_[which]) {
      Status ls = logs_[which]->Append(data);
      if (!ls.ok()) {
        StoreFailed(Status::Io(fmt::format("cannot write the attempt log: {}", ls.message())));
      }
    }
  }
  splitters_[which].Feed(data, [&](std::string_view line) { DispatchLine(which, line); });
  // Act before anything is written: the latency from a bad line to the signal is what matters.
  if (HasWork()) ActOnFindings();
}

// Streams 0 and 1 are the child's stdout and stderr; stream 2 is the SDK pipe, 3 the ranks' FIFO.
void Session::DispatchLine(int which, std::string_view line) {
  if (which >= 2) {
    HandleSdkLine(line);
  } else {
    HandleLine(which, line);
  }
}

// Delivers a stream's unterminated last line and closes it.
void Session::EndStream(int which, int* fd) {
  splitters_[which].Finish([&](std::string_view line) { DispatchLine(which, line); });
  if (HasWork()) ActOnFindings();
  ::close(*fd);
  *fd = -1;
}

void Session::FlushStore() {
  if (!store_ok_) return;
  Status s = writer_->Flush();
  for (auto& log : logs_) {
    if (s.ok() && log) s = log->FlushDue();
  }
  if (!s.ok()) StoreFailed(s);
}

// The detectors are judged from where training restarts (a new attempt, or the live process
// after an in-process rollback): the abandoned future's points are no baseline, and a restart
// from the beginning (no step) is a fresh start. Values without a step count on from there.
void Session::RewindTo(std::optional<int64_t> step) {
  if (step) {
    detectors_.RewindTo(*step);
  } else {
    detectors_.StartFresh();
  }
  RewindRanks(step);
  for (auto& [key, track] : series_) {
    if (track.stepless) track.step = step.value_or(0);
  }
  hang_ = detect::HangDetector(opts_.detect, WallNow());
}

void Session::BeginAttempt(int number, const std::string& reason) {
  attempt_ = store::AttemptRecord{};
  attempt_.run_id = run_.id;
  attempt_.number = number;
  attempt_.reason = reason;
  attempt_.started_at = WallNow();
  stderr_tail_.clear();
  for (auto& sp : splitters_) sp = LineSplitter();
  controller_.OnAttemptStart(number);
  child_done_ = false;
  wait_status_ = 0;
  child_pid_ = 0;
  kill_deadline_ = Clock::time_point::max();
  if (number > 1) {
    const remedy::RemedyState& st = controller_.state();
    RewindTo(st.checkpoint ? std::optional<int64_t>(st.resume_step) : std::nullopt);
  }
  if (store_ok_) {
    // Compressed in seekable frames (store/attempt_log.h); read back through the store.
    for (int i = 0; store_ok_ && i < 2; ++i) {
      store::LogStream stream = i == 0 ? store::LogStream::kStdout : store::LogStream::kStderr;
      std::string* path = i == 0 ? &attempt_.stdout_path : &attempt_.stderr_path;
      Status ls = store_->OpenAttemptLog(run_.id, number, stream, &logs_[i], path);
      if (!ls.ok()) StoreFailed(ls);
    }
  }
}

void Session::RecordAttemptStart(const remedy::Launch& launch) {
  Status s = store_->PutAttempt(attempt_);
  if (!s.ok()) StoreFailed(s);
  const remedy::RemedyState& st = controller_.state();
  remedy::AttemptStartData d;
  d.attempt = attempt_.number;
  d.pid = attempt_.pid;
  d.reason = attempt_.reason;
  d.restarted = attempt_.number > 1;
  if (d.restarted) {
    if (st.checkpoint) {
      d.checkpoint = remedy::CheckpointRef{st.checkpoint->path, st.checkpoint->step,
                                           st.checkpoint->source};
    }
    d.resume_step = st.resume_step;
    d.start_step = st.resume_step + 1;
    d.skip_windows = st.skip_windows;
    d.lr_scale = st.lr_scale.value_or(1.0);
    if (st.micro_batch) d.micro_batch = *st.micro_batch;
  }
  d.argv = launch.argv;
  Event(remedy::event_kind::kAttemptStart, "info",
        fmt::format("attempt {} started (pid {}){}", attempt_.number, attempt_.pid,
                    attempt_.number > 1 ? fmt::format(": {}", attempt_.reason) : ""),
        std::move(d));
}

void Session::CloseLogs() {
  for (auto& slot : logs_) {
    std::unique_ptr<store::LogWriter> log = std::move(slot);
    if (!log) continue;
    Status s = log->Close();
    if (!s.ok()) {
      StoreFailed(Status::Io(fmt::format("cannot write the attempt log: {}", s.message())));
    }
  }
}

std::optional<detect::CrashReport> Session::EndAttempt() {
  attempt_.ended_at = WallNow();
  if (WIFEXITED(wait_status_)) {
    attempt_.exit_code = WEXITSTATUS(wait_status_);
  } else if (WIFSIGNALED(wait_status_)) {
    attempt_.signal = WTERMSIG(wait_status_);
    attempt_.exit_code = 128 + attempt_.signal;
  }
  attempt_.lines = splitters_[0].lines() + splitters_[1].lines();
  attempt_.truncated_lines = splitters_[0].truncated() + splitters_[1].truncated();
  for (auto& l : stderr_tail_) {
    attempt_.stderr_tail += l;
    attempt_.stderr_tail += '\n';
  }
  CloseLogs();
  RecordFindings();
  int code = attempt_.exit_code.value_or(0);
  std::optional<detect::CrashReport> crash;
  bool died_on_its_own = controller_.DiedOnItsOwn(code);
  if (!store_ok_) return died_on_its_own ? std::optional(ClassifyExit()) : std::nullopt;
  std::optional<int64_t> last_step = controller_.last_step();
  remedy::AttemptExitData d{attempt_.number, code,           attempt_.signal, last_step,
                            attempt_.lines,  attempt_.truncated_lines};
  Event(remedy::event_kind::kAttemptExit, code == 0 ? "info" : "error",
        attempt_.signal ? fmt::format("attempt {} killed by signal {} ({})", attempt_.number,
                                      attempt_.signal, strsignal(attempt_.signal))
                        : fmt::format("attempt {} exited with code {}", attempt_.number, code),
        d, last_step);
  if (died_on_its_own) crash = ClassifyExit();
  Status s = store_->PutAttempt(attempt_);
  if (!s.ok()) StoreFailed(s);
  return crash;
}

void Session::PrintSummary() {
  auto paint = [&](fmt::text_style style, const std::string& s) {
    return opts_.color ? fmt::format(style, "{}", s) : s;
  };
  std::string status = out_->status;
  fmt::text_style st = status == store::kFinished ? fg(fmt::color::green) : fg(fmt::color::red);
  std::string text = fmt::format(
      "\ninloop: run {} ({}) {} in {}, exit code {}{}\n", run_.name, run_.id,
      paint(st | fmt::emphasis::bold, status), DurationText(run_.ended_at - run_.started_at),
      out_->exit_code,
      run_.attempts > 1 ? fmt::format(", {} attempts", run_.attempts) : std::string());
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
  for (auto& r : controller_.summary()) text += fmt::format("  remedy: {}\n", r);
  if (!out_->stop_reason.empty()) {
    text += fmt::format("  {}: {}\n", paint(fg(fmt::color::red) | fmt::emphasis::bold, "stopped"),
                        out_->stop_reason);
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
    text += fmt::format("  store: {}   next: inloop show {}\n",
                        store_ ? store_->location() : opts_.store_dir, run_.id);
  } else {
    text += fmt::format("  {}: {}\n", paint(fg(fmt::color::red) | fmt::emphasis::bold,
                                            "metrics were NOT fully recorded"),
                        out_->store_error);
  }
  bool ok = true;
  WriteFd(2, text, &ok);
}

}  // namespace inloop::supervise
