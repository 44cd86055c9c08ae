// Supervisor loop: poll() over the child's stdout, stderr, SDK pipe and a signalfd; every read
// is teed first (the terminal never waits on tracking), then logged, split into lines, parsed,
// run through the detectors (a finding the policy acts on signals the process before anything
// is written) and appended to the run's WAL, which is flushed after every batch of reads. A run
// is a sequence of attempts: each ends in an exit that is either the end of the run or, under
// the remedy policy, the start of the next attempt.
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
#include "common/file_io.h"
#include "common/json_writer.h"
#include "detect/crash_classifier.h"
#include "detect/detector_set.h"
#include "detect/hang_detector.h"
#include "ingest/sdk_message.h"
#include "ingest/source_precedence.h"
#include "remedy/launch.h"
#include "remedy/policy.h"
#include "remedy/spike_patience.h"
#include "sdk/python_sdk.h"
#include "store/store.h"
#include "supervise/group_guard.h"
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
      : opts_(opts),
        out_(out),
        detectors_(opts.detect),
        hang_(opts.detect, WallNow()),
        policy_(opts.remedy, CurrentDir()),
        patience_(opts.remedy.spike_patience) {}

  Status Run();

 private:
  // An action decided by the policy, with its id in the store's actions table (0 when the store
  // failed).
  struct Decision {
    int64_t id = 0;
    remedy::Plan plan;
  };
  // Why an attempt's loop ended.
  enum class Wait { kDone, kInterrupted };

  void StoreFailed(const Status& s);
  void RecordStoreFailure();
  void OpenStore();
  bool RunAttempt(const remedy::Launch& launch);  // false: the command could not be started
  void BeginAttempt(int number, const std::string& reason);
  // Closes the attempt and writes its record once; classifies the exit when the process ended
  // on its own with a non-zero code (not restarted, stopped or interrupted by inloop).
  std::optional<detect::CrashReport> EndAttempt();
  void CloseLogs();
  void HandleStream(int which, std::string_view data);
  void DispatchLine(int which, std::string_view line);
  void EndStream(int which, int* fd);
  void HandleLine(int which, std::string_view line);
  void HandleSdkLine(std::string_view line);
  void AppendMetric(std::string_view key, bool has_step, int64_t step, double value);
  void SourceChanged(const ingest::SourceChange& c);
  void FlushStore();
  void Event(const std::string& kind, const std::string& severity, const std::string& message,
             const std::string& data = "{}", std::optional<int64_t> step = std::nullopt);
  void Say(const std::string& line);
  void PrintSummary();
  void RecordFindings();
  detect::CrashReport ClassifyExit();

  // Remedies.
  void ActOnFindings();
  bool HasWork() const { return findings_.size() > findings_acted_ || !verdicts_.empty(); }
  void OnVerdicts();
  void Withheld(const remedy::Plan& p);
  void OnLiveFailure(const remedy::Failure& f);
  Decision Propose(const remedy::Plan& p);
  void Commit(const Decision& d);
  void StopChild();
  void PollPending();
  // Approved (true) or denied (false) by a human, said on stderr; nullopt while undecided.
  std::optional<bool> Verdict(int64_t id, std::string_view after_denial = "");
  void ApplyStop(const Decision& d, const std::string& message);
  void SetActionState(int64_t id, const char* state, const std::string& by);
  Wait WaitForDecision(Decision* d, bool* approved);
  Wait Sleep(double seconds);
  remedy::Launch LaunchFor(int attempt, const std::string& reason);
  void Applied(const Decision& d, int next_attempt);
  void JudgeOutcome(bool passed, const std::string& how);
  std::optional<int64_t> StepGap() const;

  const SupervisorOptions& opts_;
  RunOutcome* out_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::RunWriter> writer_;
  std::unique_ptr<ingest::LineParser> parser_;
  ingest::ParsedLine parsed_;
  store::RunRecord run_;
  store::AttemptRecord attempt_;
  std::unique_ptr<store::LogWriter> logs_[2];  // the attempt's stdout and stderr logs
  bool tee_ok_[2] = {true, true};
  LineSplitter splitters_[3];
  std::deque<std::string> stderr_tail_;
  double now_ms_ = 0;
  bool store_ok_ = false;
  struct SeriesTrack {
    int64_t step = 0;  // last step, for per-series counters
    double last = 0;   // last value, for the summary
    bool loss = false;  // a training-loss series (spike patience watches it)
    bool stepless = false;  // its values carry no step (HF Trainer dicts): counted 1, 2, ...
  };
  std::map<std::string, SeriesTrack, std::less<>> series_;
  detect::DetectorSet detectors_;
  detect::HangDetector hang_;
  std::vector<detect::Finding> findings_;  // produced since the last RecordFindings()
  size_t findings_acted_ = 0;              // how many of findings_ ActOnFindings has seen
  int64_t findings_recorded_ = 0;
  bool sdk_seen_ = false;
  ingest::SourcePrecedence precedence_{opts_.parse_lines_with_sdk};
  std::vector<ingest::SourceChange> source_changes_;

  // Process and signals.
  int sfd_ = -1;
  int interrupts_ = 0;
  pid_t child_pid_ = 0;
  int wait_status_ = 0;
  bool child_done_ = false;
  Clock::time_point kill_deadline_ = Clock::time_point::max();

  // Remedy state of the run and of the current attempt.
  remedy::Policy policy_;
  std::string control_path_;
  std::optional<Decision> restart_;  // decided during the attempt: restart once it has ended
  std::optional<Decision> pending_;  // ask mode: waits for approve/deny
  bool policy_stop_ = false;         // the policy ended the run
  std::optional<int64_t> last_step_;  // newest logged step of this attempt
  std::optional<int64_t> prev_step_;  // the logged step before it
  struct Watch {
    int64_t action_id;
    std::string action;
    std::optional<int64_t> step;  // passing this step proves the remedy worked
  };
  std::optional<Watch> watch_;
  std::vector<std::string> remedies_;  // one line per applied remedy, for the summary
  // Loss spikes waiting for their patience (remedy/spike_patience.h), by series.
  remedy::SpikePatience patience_;
  std::map<std::string, remedy::Failure, std::less<>> held_;
  std::vector<remedy::SpikeVerdict> verdicts_;
  bool remedies_read_ = false;  // the SDK said the process reads its remedies
  bool skip_undelivered_ = false;  // the latest restart's skip window was not deliverable
};

std::string FindingData(const detect::Finding& f) {
  JsonWriter w;
  w.BeginObject().Key("series").String(f.series).Key("update").Bool(f.is_update);
  w.Key("evidence").BeginObject();
  for (auto& e : f.evidence) w.Key(e.name).Number(e.value);
  w.EndObject();
  if (!f.related.empty()) {  // series merged into this finding (the same fact seen twice)
    w.Key("related").BeginArray();
    for (auto& k : f.related) w.String(k);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

void WriteCheckpoint(JsonWriter& w, const std::optional<remedy::Checkpoint>& c) {
  w.Key("checkpoint");
  if (c) {
    w.BeginObject().Key("path").String(c->path).Key("step").Int(c->step);
    w.Key("source").String(c->source).EndObject();
  } else {
    w.Null();
  }
}

std::string PlanData(const remedy::Plan& p, int64_t id, remedy::Mode mode) {
  JsonWriter w;
  w.BeginObject();
  if (id) w.Key("action_id").Int(id);
  w.Key("action").String(remedy::ActionName(p.action));
  w.Key("mode").String(remedy::ModeName(mode));
  w.Key("trigger").String(p.failure.trigger);
  w.Key("family").String(remedy::FamilyName(p.failure.family));
  w.Key("step");
  p.failure.step ? w.Int(*p.failure.step) : w.Null();
  if (p.restarts_process()) {
    WriteCheckpoint(w, p.checkpoint);
    w.Key("resume_step").Int(p.resume_step).Key("start_step").Int(p.resume_step + 1);
    w.Key("skip");
    if (p.new_skip) {
      w.BeginArray().Int(p.new_skip->first).Int(p.new_skip->second).EndArray();
    } else {
      w.Null();
    }
    if (p.new_skip) w.Key("skip_deliverable").Bool(p.skip_deliverable);
    w.Key("lr_scale").Number(p.lr_scale);
    w.Key("micro_batch");
    p.micro_batch ? w.Int(*p.micro_batch) : w.Null();
    w.Key("delay_seconds").Number(p.delay_seconds);
  }
  w.Key("reason").String(p.reason).EndObject();
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
  findings_acted_ = 0;
}

detect::CrashReport Session::ClassifyExit() {
  detect::CrashReport c =
      detect::ClassifyCrash(attempt_.exit_code, attempt_.signal, attempt_.stderr_tail);
  attempt_.crash_class = std::string(c.name());
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(attempt_.number).Key("class").String(c.name());
  w.Key("transient").Bool(c.transient);
  w.Key("retry").String(detect::RetryName(c.retry)).Key("signature").String(c.signature);
  if (!c.exception_type.empty()) {
    w.Key("exception_type").String(c.exception_type);
    w.Key("exception_message").String(c.exception_message);
  }
  w.EndObject();
  Event("crash", "error", c.summary, w.Take(), last_step_);
  return c;
}

void Session::StoreFailed(const Status& s) {
  if (out_->store_failed) return;
  out_->store_failed = true;
  out_->store_error = s.message();
  store_ok_ = false;
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
  // 1 MiB set aside for the run's last words should the disk fill up (Store::ReserveSpace).
  Status rs = store_->ReserveSpace(run_.id, 1 << 20);
  if (!rs.ok()) Say(fmt::format("warning: {}", rs.message()));
  store_ok_ = true;
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
  e.kind = "store_failed";
  e.severity = "error";
  e.message = fmt::format("metrics stopped being recorded: {}", out_->store_error);
  if (s.ok()) s = store_->AddEvent(&e);
  if (!s.ok()) Say(fmt::format("the run's final status could not be recorded either: {}", s.message()));
}

void Session::Event(const std::string& kind, const std::string& severity,
                    const std::string& message, const std::string& data,
                    std::optional<int64_t> step) {
  if (!store_ok_) return;
  store::EventRecord e;
  e.run_id = run_.id;
  e.kind = kind;
  e.severity = severity;
  e.message = message;
  e.data_json = data;
  e.step_lo = e.step_hi = step;
  Status s = store_->AddEvent(&e);
  if (!s.ok()) StoreFailed(s);
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
  if (has_step && (!last_step_ || step != *last_step_)) {
    if (!last_step_ || step > *last_step_) prev_step_ = last_step_;
    last_step_ = step;
    if (watch_ && watch_->step && step > *watch_->step) {
      JudgeOutcome(true, fmt::format("passed step {}", *watch_->step));
    }
  }
  Point p{step, now_ms_, value};
  detectors_.Observe(key, p, &findings_);
  if (it->second.loss) {
    patience_.Observe(key, step, value, &verdicts_);
    // A spike is held at its own point, while the points before it are still the newest ones
    // the patience keeps (a read may carry thousands of lines after it).
    if (findings_.size() > findings_acted_) ActOnFindings();
  }
  hang_.OnProgress(now_ms_, step);
  if (!store_ok_) return;
  Status s = writer_->Append(key, step, now_ms_, value);
  if (!s.ok()) StoreFailed(s);
}

std::optional<int64_t> Session::StepGap() const {
  if (!last_step_ || !prev_step_ || *last_step_ <= *prev_step_) return std::nullopt;
  return *last_step_ - *prev_step_;
}

void Session::HandleLine(int which, std::string_view line) {
  if (which == 1) {
    stderr_tail_.emplace_back(line.substr(0, 4096));
    if (stderr_tail_.size() > 200) stderr_tail_.pop_front();
  }
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
  JsonWriter w;
  w.BeginObject().Key("canonical").String(c.canonical).Key("sdk_key").String(c.sdk_key);
  w.Key("printed_key").String(c.printed_key);
  w.Key("source").String(ingest::MetricSourceName(c.now));
  w.Key("printed_since_sdk").Int(c.printed_since_sdk).EndObject();
  if (c.now == ingest::MetricSource::kPrinted) {
    std::string msg = fmt::format(
        "{}: the SDK has logged no {} for {} printed values while the process keeps printing it; "
        "the printed values are recorded again",
        c.printed_key, c.sdk_key, c.printed_since_sdk);
    Say(msg);
    Event("metric_source", "warning", msg, w.Take(), last_step_);
  } else {
    Event("metric_source", "info",
          fmt::format("{}: the SDK logs it, so the printed {} is no longer recorded", c.sdk_key,
                      c.printed_key),
          w.Take(), last_step_);
  }
}

void Session::HandleSdkLine(std::string_view line) {
  ingest::SdkMessage msg;
  if (!ingest::ParseSdkMessage(line, &msg)) return;
  if (!sdk_seen_) {
    sdk_seen_ = true;
    Event("sdk_connected", "info",
          opts_.parse_lines_with_sdk
              ? std::string("the process reports through the SDK; its printed lines are parsed "
                            "too ([parse] lines_with_sdk = true)")
              : std::string("the process reports through the SDK: a key it logs is recorded "
                            "from the SDK rather than from printed lines; every other printed "
                            "key is still parsed"));
  }
  switch (msg.type) {
    case ingest::SdkMessage::Type::kLog:
      for (auto& [k, v] : msg.metrics) {
        precedence_.OnSdk(k, msg.step, &source_changes_);
        AppendMetric(k, msg.step.has_value(), msg.step.value_or(0), v);
      }
      for (auto& c : source_changes_) SourceChanged(c);
      source_changes_.clear();
      break;
    case ingest::SdkMessage::Type::kParams: {
      for (auto& [k, v] : msg.params) policy_.OnParam(k, v);
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
    case ingest::SdkMessage::Type::kRemedies: {
      if (!remedies_read_) {
        remedies_read_ = true;
        policy_.SetSkipReachable(true);
      }
      if (skip_undelivered_) {
        skip_undelivered_ = false;
        Event("remedy_acknowledged", "info",
              fmt::format("attempt {} reads its remedies through the SDK: the skip windows ({}) "
                          "reach it after all",
                          attempt_.number, remedy::SkipText(policy_.state().skip_windows)));
      }
      break;
    }
    case ingest::SdkMessage::Type::kCheckpoint: {
      std::optional<int64_t> step = msg.step;
      if (!step) step = remedy::StepFromName(msg.path);
      if (!step) step = last_step_;
      if (step && !msg.path.empty()) {
        policy_.checkpoints().Announce(msg.path, *step, attempt_.number);
      }
      JsonWriter w;
      w.BeginObject().Key("path").String(msg.path);
      if (step) w.Key("step").Int(*step);
      w.Key("attempt").Int(attempt_.number).EndObject();
      Event("checkpoint", "info",
            fmt::format("checkpoint saved at step {}: {}", step.value_or(-1), msg.path), w.Take(),
            step);
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

// ---- remedies ----

void Session::ActOnFindings() {
  for (; findings_acted_ < findings_.size(); ++findings_acted_) {
    const detect::Finding& f = findings_[findings_acted_];
    if (f.kind == detect::FindingKind::kHang) {
      if (!f.is_update) OnLiveFailure(remedy::FailureFromHang(f, last_step_, StepGap()));
      continue;
    }
    detect::SeriesClass cls = detectors_.ClassOf(f.series);
    bool loss = cls == detect::SeriesClass::kLoss || cls == detect::SeriesClass::kEvalLoss;
    std::optional<remedy::Failure> failure =
        remedy::FailureFromFinding(f, loss, policy_.config());
    // Checkpoints inside an anomaly the policy acts on are not good, whatever the mode.
    if (f.is_update) {
      policy_.checkpoints().CloseAnomaly(f.step_lo, f.step_hi);
    } else if (failure) {
      policy_.checkpoints().OpenAnomaly(f.step_lo);
      // A loss spike waits for its patience: it may heal on its own. Non-finite values and
      // divergence never wait.
      if (f.kind == detect::FindingKind::kLossSpike && patience_.patience() > 0 &&
          detectors_.ClassOf(f.series) == detect::SeriesClass::kLoss) {
        if (patience_.Hold(f.series, f.step_lo, &verdicts_)) {
          held_[f.series] = *failure;
        }
        continue;
      }
      OnLiveFailure(*failure);
    }
  }
  OnVerdicts();
}

void Session::OnVerdicts() {
  std::vector<remedy::SpikeVerdict> verdicts;
  verdicts.swap(verdicts_);
  for (const remedy::SpikeVerdict& v : verdicts) {
    auto it = held_.find(v.series);
    std::optional<remedy::Failure> failure;
    if (it != held_.end()) {
      failure = it->second;
      held_.erase(it);
    }
    JsonWriter w;
    w.BeginObject().Key("series").String(v.series).Key("onset").Int(v.onset);
    w.Key("step").Int(v.step).Key("points").Int(v.points).Key("patience").Int(patience_.patience());
    w.Key("level").Number(v.level).Key("noise").Number(v.noise).Key("band").Number(v.band);
    w.Key("peak").Number(v.peak).EndObject();
    if (v.kind == remedy::SpikeVerdict::Kind::kHealed) {
      std::string msg = fmt::format(
          "loss spike on {} at step {} healed on its own within {} logged point(s) (back under "
          "{:.4g}, the pre-spike level {:.4g} plus its noise band, at step {}); no remedy",
          v.series, v.onset, v.points, v.band, v.level, v.step);
      Say(msg);
      Event("spike_recovered", "info", msg, w.Take(), v.onset);
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

void Session::Withheld(const remedy::Plan& p) {
  JsonWriter w;
  w.BeginObject().Key("trigger").String(p.failure.trigger);
  w.Key("step");
  p.failure.step ? w.Int(*p.failure.step) : w.Null();
  w.Key("reason").String(p.reason).EndObject();
  Say(fmt::format("no remedy: {}", p.reason));
  Event("remedy_withheld", "warning", p.reason, w.Take(), p.failure.step);
  remedies_.push_back(fmt::format("withheld for {} at {}: no good checkpoint", p.failure.trigger,
                                  p.failure.step ? fmt::format("step {}", *p.failure.step)
                                                 : std::string("an unknown step")));
}

void Session::OnLiveFailure(const remedy::Failure& f) {
  // One action at a time: what happens while the process is being ended is recorded only.
  if (child_done_ || restart_ || pending_ || policy_stop_ || interrupts_ > 0) return;
  remedy::Plan plan = policy_.Decide(f);
  if (plan.action == remedy::ActionKind::kWithhold) {
    Withheld(plan);  // recorded; the training goes on
    return;
  }
  // In auto mode the signal goes first; the decision is written to the timeline right after.
  if (opts_.remedy.mode == remedy::Mode::kAuto) StopChild();
  Decision d = Propose(plan);
  switch (opts_.remedy.mode) {
    case remedy::Mode::kObserve:
      break;
    case remedy::Mode::kAsk:
      pending_ = d;
      break;
    case remedy::Mode::kAuto:
      Commit(d);
      break;
  }
}

Session::Decision Session::Propose(const remedy::Plan& p) {
  Decision d;
  d.plan = p;
  remedy::Mode mode = opts_.remedy.mode;
  std::string_view action = remedy::ActionName(p.action);
  if (store_ok_) {
    store::ActionRecord a;
    a.run_id = run_.id;
    a.created_at = WallNow();
    a.action = std::string(action);
    a.trigger = p.failure.trigger;
    a.step = p.failure.step;
    a.reason = p.reason;
    a.data_json = PlanData(p, 0, mode);
    a.state = mode == remedy::Mode::kAsk       ? store::kActionPending
              : mode == remedy::Mode::kObserve ? store::kActionObserved
                                               : store::kActionApproved;
    if (mode != remedy::Mode::kAsk) {
      a.decided_by = "policy";
      a.decided_at = a.created_at;
    }
    Status s = store_->AddAction(&a);
    if (s.ok()) {
      d.id = a.id;
    } else {
      StoreFailed(s);
    }
  }
  std::string data = PlanData(p, d.id, mode);
  switch (mode) {
    case remedy::Mode::kObserve:
      Event("action_proposed", "warning", fmt::format("observe mode, not taken: {}: {}", action,
                                                      p.reason),
            data, p.failure.step);
      Say(fmt::format("[observe] would {}: {}", action, p.reason));
      break;
    case remedy::Mode::kAsk:
      Event("action_proposed", "warning", fmt::format("{} waits for approval: {}", action, p.reason),
            data, p.failure.step);
      Say(fmt::format("proposed {} (action {}): {}\n  approve: inloop approve {}   deny: inloop "
                      "deny {}",
                      action, d.id, p.reason, d.id, d.id));
      break;
    case remedy::Mode::kAuto:
      Event("action_proposed", "warning", fmt::format("{}: {}", action, p.reason), data,
            p.failure.step);
      Event("action_approved", "info", fmt::format("{} approved by the auto policy", action),
            data, p.failure.step);
      Say(fmt::format("{}: {}", action, p.reason));
      break;
  }
  return d;
}

void Session::SetActionState(int64_t id, const char* state, const std::string& by) {
  if (!store_ok_ || id == 0) return;
  Status s = store_->SetActionState(id, state, by);
  if (!s.ok()) StoreFailed(s);
}

// SIGTERM to the process group now, SIGKILL after stop_grace_seconds.
void Session::StopChild() {
  if (child_done_ || child_pid_ <= 0 || kill_deadline_ != Clock::time_point::max()) return;
  SignalGroup(child_pid_, SIGTERM);
  kill_deadline_ = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                      opts_.remedy.stop_grace_seconds * 1000));
}

// Records a decision taken about a live process (already signalled by StopChild).
void Session::Commit(const Decision& d) {
  if (d.plan.action == remedy::ActionKind::kStop) {
    policy_stop_ = true;
    ApplyStop(d, fmt::format("stop: the process group was sent SIGTERM: {}", d.plan.reason));
    return;
  }
  restart_ = d;
  Event("signal_sent", "warning",
        fmt::format("SIGTERM sent to the process group for {}", remedy::ActionName(d.plan.action)),
        "{}", d.plan.failure.step);
}

// The end of a run the policy cannot fix: recorded as the applied action, with its reason.
void Session::ApplyStop(const Decision& d, const std::string& message) {
  out_->stop_reason = d.plan.reason;
  policy_.Apply(d.plan);
  SetActionState(d.id, store::kActionApplied, "policy");
  Event("action_applied", "error", message, PlanData(d.plan, d.id, opts_.remedy.mode),
        d.plan.failure.step);
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
  if (!pending_) return;
  std::optional<bool> approved = Verdict(pending_->id, ": training goes on");
  if (!approved) return;
  Decision d = *pending_;
  pending_.reset();
  if (*approved) {
    StopChild();
    Commit(d);
  }
}

// Waits for approve/deny of an action whose process has already ended.
Session::Wait Session::WaitForDecision(Decision* d, bool* approved) {
  *approved = false;
  if (!store_ok_) {
    Say("the store failed, so nobody can approve the remedy: the run ends");
    return Wait::kDone;
  }
  for (;;) {
    if (std::optional<bool> verdict = Verdict(d->id)) {
      *approved = *verdict;
      return Wait::kDone;
    }
    if (Sleep(0.25) == Wait::kInterrupted) {
      SetActionState(d->id, store::kActionExpired, "interrupted");
      return Wait::kInterrupted;
    }
  }
}

// Sleeps, unless a signal asks inloop to stop.
Session::Wait Session::Sleep(double seconds) {
  auto end = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  for (;;) {
    auto now = Clock::now();
    if (now >= end) return Wait::kDone;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
    pollfd p{sfd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000)));
    if (r > 0) {
      signalfd_siginfo si;
      bool stop = false;
      while (::read(sfd_, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo != SIGCHLD) stop = true;
      }
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (stop) {
        ++interrupts_;
        return Wait::kInterrupted;
      }
    }
  }
}

remedy::Launch Session::LaunchFor(int attempt, const std::string& reason) {
  return remedy::BuildLaunch(opts_.command, opts_.remedy, policy_.state(), attempt, reason,
                             control_path_);
}

void Session::Applied(const Decision& d, int next_attempt) {
  policy_.Apply(d.plan);
  SetActionState(d.id, store::kActionApplied, "policy");
  const remedy::Plan& p = d.plan;
  std::string from = p.checkpoint ? fmt::format("the checkpoint of step {}", p.resume_step)
                                  : std::string("the start");
  std::string undelivered;
  if (p.new_skip && !p.skip_deliverable) {
    undelivered = fmt::format("; the skip of steps {}..{} cannot reach the program (not "
                              "deliverable)",
                              p.new_skip->first, p.new_skip->second - 1);
  }
  skip_undelivered_ = p.new_skip && !p.skip_deliverable;
  Event("action_applied", "warning",
        fmt::format("{}: attempt {} starts from {} (first step {}){}", remedy::ActionName(p.action),
                    next_attempt, from, p.resume_step + 1, undelivered),
        PlanData(p, d.id, opts_.remedy.mode), p.failure.step);
  remedies_.push_back(fmt::format("{} after {} at {} -> attempt {} from step {}{}",
                                  remedy::ActionName(p.action), p.failure.trigger,
                                  p.failure.step ? fmt::format("step {}", *p.failure.step)
                                                 : std::string("exit"),
                                  next_attempt, p.resume_step + 1,
                                  undelivered.empty() ? "" : " (skip not deliverable)"));
  watch_ = Watch{d.id, std::string(remedy::ActionName(p.action)), p.failure.step};
}

void Session::JudgeOutcome(bool passed, const std::string& how) {
  if (!watch_) return;
  JsonWriter w;
  w.BeginObject().Key("action_id").Int(watch_->action_id).Key("action").String(watch_->action);
  w.Key("attempt").Int(attempt_.number).Key("result").String(passed ? "passed" : "failed");
  w.EndObject();
  Event("action_outcome", passed ? "info" : "error",
        fmt::format("{} {}: attempt {} {}", watch_->action, passed ? "worked" : "did not work",
                    attempt_.number, how),
        w.Take(), watch_->step);
  watch_.reset();
}

// ---- attempts ----

void Session::BeginAttempt(int number, const std::string& reason) {
  attempt_ = store::AttemptRecord{};
  attempt_.run_id = run_.id;
  attempt_.number = number;
  attempt_.reason = reason;
  attempt_.started_at = WallNow();
  stderr_tail_.clear();
  for (auto& sp : splitters_) sp = LineSplitter();
  last_step_.reset();
  prev_step_.reset();
  child_done_ = false;
  wait_status_ = 0;
  child_pid_ = 0;
  kill_deadline_ = Clock::time_point::max();
  if (number > 1) {
    // The detectors are judged from where the new attempt restarts: the abandoned future's
    // points are no baseline, and a restart from the beginning is a fresh start.
    const remedy::RemedyState& st = policy_.state();
    if (st.checkpoint) {
      detectors_.RewindTo(st.resume_step);
    } else {
      detectors_.StartFresh();
    }
    // Values without a step count on from where the new attempt starts, not from where the
    // abandoned one stopped.
    for (auto& [key, track] : series_) {
      if (track.stepless) track.step = st.checkpoint ? st.resume_step : 0;
    }
    hang_ = detect::HangDetector(opts_.detect, WallNow());
    patience_.Forget();
    held_.clear();
    verdicts_.clear();
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
  bool died_on_its_own = code != 0 && !restart_ && !policy_stop_ && interrupts_ == 0;
  if (!store_ok_) return died_on_its_own ? std::optional(ClassifyExit()) : std::nullopt;
  JsonWriter w;
  w.BeginObject().Key("attempt").Int(attempt_.number).Key("exit_code").Int(code);
  if (attempt_.signal) w.Key("signal").Int(attempt_.signal);
  w.Key("last_step");
  last_step_ ? w.Int(*last_step_) : w.Null();
  w.Key("lines").Int(attempt_.lines).Key("truncated_lines").Int(attempt_.truncated_lines);
  w.EndObject();
  Event("attempt_exit", code == 0 ? "info" : "error",
        attempt_.signal ? fmt::format("attempt {} killed by signal {} ({})", attempt_.number,
                                      attempt_.signal, strsignal(attempt_.signal))
                        : fmt::format("attempt {} exited with code {}", attempt_.number, code),
        w.Take(), last_step_);
  if (died_on_its_own) crash = ClassifyExit();
  Status s = store_->PutAttempt(attempt_);
  if (!s.ok()) StoreFailed(s);
  return crash;
}

bool Session::RunAttempt(const remedy::Launch& launch) {
  Status ws = WriteFileAtomically(control_path_, launch.control_json);
  if (!ws.ok()) Say(fmt::format("warning: {}", ws.message()));

  SpawnOptions so;
  so.argv = launch.argv;
  so.env = opts_.extra_env;
  so.env.insert(so.env.end(), launch.env.begin(), launch.env.end());
  so.env.emplace_back("INLOOP_RUN_ID", run_.id);
  so.env.emplace_back("INLOOP_RUN_NAME", run_.name);
  so.env.emplace_back("INLOOP_ATTEMPT", fmt::format("{}", attempt_.number));
  if (!getenv("PYTHONUNBUFFERED")) so.env.emplace_back("PYTHONUNBUFFERED", "1");
  Child child;
  Status sp = Spawn(so, &child);
  if (!sp.ok()) {
    Say(sp.message());
    attempt_.ended_at = WallNow();
    attempt_.exit_code = 127;
    attempt_.crash_class = "command_not_found";
    attempt_.stderr_tail = sp.message();
    CloseLogs();
    if (store_ok_) {
      Event("attempt_exit", "error", sp.message());
      Status s = store_->PutAttempt(attempt_);
      if (!s.ok()) StoreFailed(s);
    }
    return false;
  }
  child_pid_ = child.pid;
  attempt_.pid = child.pid;
  // Should inloop die from here on, the guard ends the training's process group.
  GroupGuard guard;
  Status gs = guard.Start(child.pid, opts_.grace_seconds);
  if (!gs.ok()) Say(fmt::format("warning: the training will outlive inloop if inloop is killed: {}", gs.message()));
  if (store_ok_) {
    Status s = store_->PutAttempt(attempt_);
    if (!s.ok()) StoreFailed(s);
    const remedy::RemedyState& st = policy_.state();
    JsonWriter w;
    w.BeginObject().Key("attempt").Int(attempt_.number).Key("pid").Int(child.pid);
    w.Key("reason").String(attempt_.reason);
    if (attempt_.number > 1) {
      WriteCheckpoint(w, st.checkpoint);
      w.Key("resume_step").Int(st.resume_step).Key("start_step").Int(st.resume_step + 1);
      w.Key("skip_windows").BeginArray();
      for (auto& [a, b] : st.skip_windows) w.BeginArray().Int(a).Int(b).EndArray();
      w.EndArray();
      w.Key("lr_scale").Number(st.lr_scale.value_or(1.0));
      w.Key("micro_batch");
      st.micro_batch ? w.Int(*st.micro_batch) : w.Null();
    }
    w.Key("argv").BeginArray();
    for (auto& a : launch.argv) w.String(a);
    w.EndArray().EndObject();
    Event("attempt_start", "info",
          fmt::format("attempt {} started (pid {}){}", attempt_.number, child.pid,
                      attempt_.number > 1 ? fmt::format(": {}", attempt_.reason) : ""),
          w.Take());
  }

  int fds[3] = {child.stdout_fd, child.stderr_fd, child.metrics_fd};
  for (int fd : fds) if (fd >= 0) SetNonBlocking(fd);
  std::string buf(256 * 1024, '\0');
  Clock::time_point drain_deadline = Clock::time_point::max();
  Clock::time_point orphan_deadline = Clock::time_point::max();
  Clock::time_point next_scan = Clock::now();
  Clock::time_point next_cpu = Clock::now();
  Clock::time_point next_pending = Clock::now();

  auto reap = [&]() {
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == child.pid) {
        child_done_ = true;
        wait_status_ = st;
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
    if (n == 0 && child_done_) break;
    pfds[n] = {sfd_, POLLIN, 0};
    idx[n++] = -1;
    auto now = Clock::now();
    auto next = std::min({kill_deadline_, drain_deadline, orphan_deadline});
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
        while (::read(sfd_, &si, sizeof(si)) == sizeof(si)) {
          int sig = static_cast<int>(si.ssi_signo);
          if (sig == SIGCHLD) continue;
          if (child_done_) continue;
          ++interrupts_;
          if (interrupts_ == 1) {
            // Forward the first one; the child gets the grace period to save and exit. A
            // remedy in flight is dropped: the human wants the run to stop.
            restart_.reset();
            if (pending_) {
              SetActionState(pending_->id, store::kActionExpired, "interrupted");
              pending_.reset();
            }
            int fwd = sig == SIGHUP || sig == SIGQUIT ? SIGTERM : sig;
            SignalGroup(child.pid, fwd);
            kill_deadline_ = Clock::now() + std::chrono::milliseconds(
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
            kill_deadline_ = Clock::time_point::max();
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
    now = Clock::now();
    if (!child_done_ && kill_deadline_ == Clock::time_point::max()) {
      if (now >= next_cpu) {
        hang_.OnCpuTime(now_ms_, GroupCpuSeconds(child.pid));
        next_cpu = now + std::chrono::seconds(1);  // a silence of a few seconds gets samples
      }
      detect::Finding hang;
      if (hang_.Check(now_ms_, &hang)) {
        findings_.push_back(std::move(hang));
        ActOnFindings();
      }
    }
    if (now >= next_scan) {
      policy_.checkpoints().Scan(now_ms_, attempt_.number);
      next_scan = now + std::chrono::seconds(1);
    }
    if (pending_ && now >= next_pending) {
      PollPending();
      next_pending = now + std::chrono::milliseconds(250);
    }
    RecordFindings();
    FlushStore();
    now = Clock::now();
    if (!child_done_ && now >= kill_deadline_) {
      Say("grace period over, killing the training process group");
      SignalGroup(child.pid, SIGKILL);
      kill_deadline_ = Clock::time_point::max();
    }
    if (child_done_ && now >= drain_deadline) {
      // The main process is gone; whatever still holds our pipes is an orphan: end it.
      SignalGroup(child.pid, SIGTERM);
      for (pid_t p : ListOwnChildren(guard.pid())) ::kill(p, SIGTERM);
      drain_deadline = Clock::time_point::max();
      orphan_deadline = now + std::chrono::seconds(2);
    }
    if (child_done_ && now >= orphan_deadline) {
      SignalGroup(child.pid, SIGKILL);
      for (pid_t p : ListOwnChildren(guard.pid())) ::kill(p, SIGKILL);
      break;
    }
  }
  guard.Release();  // the supervisor ends what is left itself
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
  // Checkpoints written in the last moments count for the next attempt.
  policy_.checkpoints().Scan(WallNowMs(), attempt_.number);
  return true;
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
  for (auto& r : remedies_) text += fmt::format("  remedy: {}\n", r);
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
  policy_.SetSkipReachable(remedy::ScriptReadsRemedies(opts_.command, run_.cwd));
  out_->run_id = run_.id;
  out_->run_name = run_.name;
  if (store_ok_) {
    control_path_ = store_->PathOf(fmt::format("runs/{}/control.json", run_.id));
  } else {
    const char* tmp = getenv("TMPDIR");
    control_path_ = fmt::format("{}/inloop-control-{}.json", tmp && *tmp ? tmp : "/tmp", getpid());
  }
  Say(fmt::format("run {} ({}) started{}{}", run_.name, run_.id.empty() ? "not recorded" : run_.id,
                  store_ok_ ? fmt::format(", store {}", opts_.store_dir) : "",
                  opts_.remedy.mode == remedy::Mode::kAuto
                      ? std::string()
                      : fmt::format(", policy {}", remedy::ModeName(opts_.remedy.mode))));

  // Signals arrive on a signalfd; the child gets its mask cleared in Spawn().
  sigset_t mask, old;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) sigaddset(&mask, s);
  sigprocmask(SIG_BLOCK, &mask, &old);
  signal(SIGPIPE, SIG_IGN);
  sfd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  BecomeSubreaper();

  std::string reason = "start";
  for (int number = 1;; ++number) {
    run_.attempts = number;
    BeginAttempt(number, reason);
    if (!RunAttempt(LaunchFor(number, reason))) {
      out_->status = store::kFailed;
      break;
    }
    std::optional<detect::CrashReport> crash = EndAttempt();
    int code = attempt_.exit_code.value_or(0);
    bool passed_exit = code == 0 && !restart_ && !policy_stop_;
    if (watch_ && (interrupts_ > 0 || !passed_exit)) {
      JudgeOutcome(false, fmt::format("ended with exit code {}{}", code,
                                      last_step_ ? fmt::format(" at step {}", *last_step_) : ""));
    } else if (watch_) {
      JudgeOutcome(true, "finished");
    }
    if (pending_) {  // ask mode: the process ended before anyone decided
      SetActionState(pending_->id, store::kActionExpired, "exit");
      Event("action_expired", "info",
            fmt::format("action {} expired: attempt {} ended first", pending_->id, number));
      pending_.reset();
    }
    if (interrupts_ > 0) {
      out_->status = store::kStopped;
      break;
    }
    if (policy_stop_) {
      out_->status = store::kFailed;
      out_->policy_stopped = true;
      break;
    }
    std::optional<Decision> next = std::move(restart_);
    restart_.reset();
    if (!next) {
      if (code == 0) {
        out_->status = store::kFinished;
        break;
      }
      // The process died on its own (EndAttempt classified it): ask the policy.
      Decision d = Propose(policy_.Decide(remedy::FailureFromCrash(*crash, last_step_, StepGap())));
      out_->status = store::kFailed;
      if (opts_.remedy.mode == remedy::Mode::kObserve) break;
      if (d.plan.action == remedy::ActionKind::kStop) {
        // Nothing is left to try, so there is nothing to approve: the run ends here.
        ApplyStop(d, fmt::format("stop: {}", d.plan.reason));
        break;
      }
      if (opts_.remedy.mode == remedy::Mode::kAsk) {
        bool approved = false;
        if (WaitForDecision(&d, &approved) == Wait::kInterrupted) {
          out_->status = store::kStopped;
          break;
        }
        if (!approved) break;
      }
      if (d.plan.delay_seconds > 0) {
        Say(fmt::format("restarting in {:g}s (backoff)", d.plan.delay_seconds));
        if (Sleep(d.plan.delay_seconds) == Wait::kInterrupted) {
          SetActionState(d.id, store::kActionExpired, "interrupted");
          out_->status = store::kStopped;
          break;
        }
      }
      next = d;
    }
    Applied(*next, number + 1);
    reason = std::string(remedy::ActionName(next->plan.action));
  }
  if (sfd_ >= 0) ::close(sfd_);
  sigprocmask(SIG_SETMASK, &old, nullptr);

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
  PrintSummary();
  return Status::OK();
}

}  // namespace

Status Supervise(const SupervisorOptions& opts, RunOutcome* out) {
  // `import inloop` works in the child with nothing installed: the binary's own SDK comes first.
  SupervisorOptions with_sdk = opts;
  std::string warning;
  auto sdk_env = sdk::PythonSdkEnv(opts.store_dir, &warning);
  if (!warning.empty()) fmt::print(stderr, "inloop: warning: {}\n", warning);
  with_sdk.extra_env.insert(with_sdk.extra_env.begin(), sdk_env.begin(), sdk_env.end());
  Session session(with_sdk, out);
  return session.Run();
}

}  // namespace inloop::supervise
