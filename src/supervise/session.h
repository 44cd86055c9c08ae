// Session: the supervisor's I/O shell around one run (internal to supervise/). It spawns and
// signals the process, tees and parses its output, writes the store, and feeds the remedy
// controller (remedy/controller.h), whose commands it carries out: the controller decides, the
// session acts. Split by responsibility: supervisor.cc (the run and the attempts' poll loop),
// session_record.cc (store, timeline, metrics, SDK messages, summary), session_remedy.cc (the
// controller's inputs and commands), session_ranks.cc (the ranks of a multi-rank job).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/batch_index.h"
#include "data/data_read.h"
#include "detect/crash_classifier.h"
#include "detect/detector_set.h"
#include "detect/hang_detector.h"
#include "detect/straggler_detector.h"
#include "ingest/line_parser.h"
#include "ingest/sdk_message.h"
#include "ingest/source_precedence.h"
#include "remedy/controller.h"
#include "remedy/launch.h"
#include "remedy/timeline.h"
#include "slurm/requeue.h"
#include "store/store.h"
#include "supervise/line_splitter.h"
#include "supervise/rank_listener.h"
#include "supervise/supervisor.h"

namespace inloop::supervise {

using Clock = std::chrono::steady_clock;

double WallNow();
double WallNowMs();  // millisecond resolution: point times compress to almost nothing
double SteadyNow();  // seconds on the monotonic clock (the remedy controller's time)
void WriteFd(int fd, std::string_view data, bool* ok);

class Session : public remedy::CommandSink {
 public:
  Session(const SupervisorOptions& opts, RunOutcome* out);

  Status Run();

  // The controller's commands (remedy::CommandSink).
  int64_t Execute(const remedy::Command& c) override;

 private:
  // ---- supervisor.cc: the run and its attempts ----
  struct AttemptIo;  // the live attempt's process, pipes, guard and deadlines
  void StartRun();
  // The attempt ended: true when another one starts (restart_reason_), false when the run ends
  // (out_->status is set).
  bool AfterAttempt();
  void FinishRun();
  bool RunAttempt(const remedy::Launch& launch);  // false: the command could not be started
  bool SpawnChild(const remedy::Launch& launch, AttemptIo* io);
  bool PollOnce(AttemptIo* io);  // false: poll() failed
  void ReadSignals(AttemptIo* io);
  void ReadStream(AttemptIo* io, int i);
  void Reap(AttemptIo* io);
  void Periodic(AttemptIo* io);
  bool Deadlines(AttemptIo* io);  // false: the attempt's loop is over
  void EndDescendants(pid_t pgid);

  // ---- session_record.cc: store, timeline, metrics ----
  void StoreFailed(const Status& s);
  void RecordStoreFailure();
  void OpenStore();
  // [audit] (session_audit.cc): the pre-run findings on the timeline; checkpoints scanned before
  // they may be loaded.
  void RecordPreRunAudit();
  void InstallCheckpointAudit();
  bool CheckpointTrusted(const remedy::Checkpoint& c);
  // Judge the run from `step` on (nullopt: from the beginning): detectors, stepless series, hang.
  void RewindTo(std::optional<int64_t> step);
  void RecordDataRead(const data::DataRead& r);  // a "data_read" event (data/data_read.h)
  void RecordBatches(data::BatchLog log);         // a "data_batches" event (data/batch_index.h)
  void BeginAttempt(int number, const std::string& reason);
  void RecordAttemptStart(const remedy::Launch& launch);
  // Closes the attempt and writes its record once; classifies the exit when the process ended
  // on its own with a non-zero code (the controller says so).
  std::optional<detect::CrashReport> EndAttempt();
  detect::CrashReport ClassifyExit();
  void CloseLogs();
  void HandleStream(int which, std::string_view data);
  void DispatchLine(int which, std::string_view line);
  void EndStream(int which, int* fd);
  void HandleLine(int which, std::string_view line);
  void HandleSdkLine(std::string_view line);
  void AppendMetric(std::string_view key, bool has_step, int64_t step, double value);
  void SourceChanged(const ingest::SourceChange& c);
  void FlushStore();
  void Write(const remedy::TimelineEvent& e);
  void Event(std::string_view kind, std::string_view severity, std::string message,
             remedy::EventData data = {}, std::optional<int64_t> step = std::nullopt);
  void Say(const std::string& line);
  void PrintSummary();
  void RecordFindings();

  // ---- session_ranks.cc: the ranks of a multi-rank job (docs/sdk_protocol.md "Ranks") ----
  // The SDK channel of processes that did not inherit the pipe (torchrun's workers, srun's
  // tasks on this host): a FIFO in a private temporary directory, named by INLOOP_METRICS_PATH.
  void OpenRankChannel();
  void CloseRankChannel();
  void DrainRankChannel();  // at an attempt's end: what the ranks wrote last
  // The same SDK lines over TCP (rank_listener.h), from ranks on other hosts or any that cannot
  // open the FIFO: the slice of PollOnce's pollfds that rank_tcp_ added.
  void ReadRankSockets(const pollfd* fds, size_t n);
  void RankSocketLine(std::string_view line);
  // An SDK message of rank `rank` > 0 (rank 0's and unranked ones go the usual way).
  void HandleRankMessage(int rank, const ingest::SdkMessage& msg);
  void AppendRankMetric(int rank, std::string_view key, std::optional<int64_t> step, double value);
  // A rank's step time (the SDK's "step_time"): the straggler detector and rank/<r>/step_time.
  void RankStepTime(int rank, std::optional<int64_t> step, double seconds);
  void RankConnected(const ingest::SdkMessage& msg);
  // The rank label of a printed line; nullopt: unlabelled (the line is parsed as it is).
  std::optional<int> PrintedRank(std::string_view* line) const;
  detect::SeriesClass ClassOfFinding(const detect::Finding& f);
  void RewindRanks(std::optional<int64_t> step);

  // ---- session_scheduler.cc: a run that is a scheduler's job ----
  // OpenStore with a continue key: the run of that key gets the next attempt, or a new run is
  // made that keeps the key.
  Status ContinueOrCreateRun();
  void RestoreRemedyState(int last_attempt);  // checkpoints and remedies of earlier attempts
  void OnSchedulerSignal(AttemptIo* io);      // SIGUSR1: forwarded to the process group
  // After an attempt's end: true when the job is requeued through Slurm instead (the run ends
  // here, out_->status set); CarryOutRequeue runs scontrol once the run is recorded.
  bool RequeueThroughScheduler(const std::optional<detect::CrashReport>& crash);
  void CarryOutRequeue();
  void SchedulerEvent(std::string_view kind, std::string_view severity, std::string message,
                      std::string data_json);

  // ---- session_remedy.cc: the controller's inputs and commands ----
  void ActOnFindings();
  bool HasWork() const { return findings_.size() > findings_acted_ || controller_.has_work(); }
  int64_t RecordAction(const remedy::Command& c);
  void StopChild();
  void PollPending();
  // Approved (true) or denied (false) by a human, said on stderr; nullopt while undecided.
  std::optional<bool> Verdict(int64_t id, std::string_view after_denial = "");
  void SetActionState(int64_t id, const std::string& state, const std::string& by);
  // After an exit: waits for what the controller waits for (a person, a backoff), fed with
  // verdicts, time and interrupts, until it restarts or ends the run.
  void WaitAfterExit();
  bool SleepUntil(double steady_deadline);  // false: a signal asks inloop to stop
  remedy::Launch LaunchFor(int attempt, const std::string& reason);

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
  LineSplitter splitters_[4];  // stdout, stderr, the SDK pipe, the ranks' FIFO
  std::deque<std::string> stderr_tail_;
  std::map<std::string, std::string> datasets_;  // the SDK's dataset names -> absolute paths
  std::string last_dataset_;                     // the name declared last
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
  size_t findings_acted_ = 0;              // how many of findings_ the controller has seen
  int64_t findings_recorded_ = 0;
  bool sdk_seen_ = false;
  ingest::SourcePrecedence precedence_{opts_.parse_lines_with_sdk};

  // Ranks (session_ranks.cc). Other ranks' series are watched under rank/<r>/<key> by their own
  // detectors (not stored, except step times); stragglers are judged across ranks.
  int rank_fifo_ = -1;
  std::string rank_dir_;  // the FIFO's private directory
  RankListener rank_tcp_;  // the ranks' TCP channel (INLOOP_RANKS_ADDR)
  detect::DetectorSet rank_detectors_{opts_.detect};
  detect::StragglerDetector stragglers_{opts_.detect};
  std::map<std::string, int64_t, std::less<>> rank_counters_;  // stepless rank series
  std::map<int, std::string> rank_hosts_;
  int world_size_ = 0;
  bool srun_labels_ = false;
  std::vector<ingest::SourceChange> source_changes_;

  // Process and signals.
  int sfd_ = -1;
  int interrupts_ = 0;
  pid_t child_pid_ = 0;
  int wait_status_ = 0;
  bool child_done_ = false;
  Clock::time_point kill_deadline_ = Clock::time_point::max();

  // The scheduler's job (session_scheduler.cc).
  slurm::SlurmJob job_ = slurm::SlurmJobFromEnv();
  int first_attempt_ = 1;  // > 1 when the run continues (--continue-run)
  bool usr1_ = false;      // Slurm asked for a checkpoint
  std::optional<slurm::RequeueDecision> requeue_;

  // Remedies: the controller decides; the session remembers what it was told to do next.
  remedy::Controller controller_;
  std::string control_path_;
  remedy::ControlFile control_;  // the current attempt's control file
  // Checkpoint path -> (size:mtime stamp, trusted) of its last audit scan.
  std::map<std::string, std::pair<std::string, bool>> checkpoint_audits_;  // the running attempt's control file (an in-process request adds to it)
  std::optional<std::string> restart_reason_;  // kRestart: the next attempt's reason
  std::optional<std::string> end_status_;      // kEnd: the run's status
};

}  // namespace inloop::supervise
