// Timeline events: the typed payloads of the events a run's timeline holds (store::EventRecord's
// data_json) and of the remedy actions (store::ActionRecord's data_json), each with ONE JSON form.
// The supervisor and the remedy controller write through them; the report, the API, the CLI and
// the assistant read and write through them instead of building or re-parsing JSON by hand.
//
// Compatibility: the field names and shapes are those runs have always stored, so old stores
// still report. FromJson() is lenient: a missing or mistyped field keeps its default, and
// unparsable text (or a non-object) gives false with every field at its default.
//
// Dependencies: common/ only, so that supervise/, report/, http/, cli/ and assist/ can all include
// it without cycles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace inloop::remedy {

// Event kinds written by the supervisor and the remedy controller (finding kinds come from
// detect::FindingKindName).
namespace event_kind {
inline constexpr std::string_view kAttemptStart = "attempt_start";
inline constexpr std::string_view kAttemptExit = "attempt_exit";
inline constexpr std::string_view kCrash = "crash";
inline constexpr std::string_view kCheckpoint = "checkpoint";
inline constexpr std::string_view kActionProposed = "action_proposed";
inline constexpr std::string_view kActionApproved = "action_approved";
inline constexpr std::string_view kActionDenied = "action_denied";
inline constexpr std::string_view kActionApplied = "action_applied";
inline constexpr std::string_view kActionExpired = "action_expired";
inline constexpr std::string_view kActionOutcome = "action_outcome";
inline constexpr std::string_view kSignalSent = "signal_sent";
inline constexpr std::string_view kSignalForwarded = "signal_forwarded";
inline constexpr std::string_view kSpikeRecovered = "spike_recovered";
inline constexpr std::string_view kRemedyWithheld = "remedy_withheld";
inline constexpr std::string_view kRemedyAcknowledged = "remedy_acknowledged";
// An in-process remedy: asked of the live process (ActionData, in_process), and its timeout
// (ActionData: the process did not apply it in time, so it is restarted instead).
inline constexpr std::string_view kInProcessRequested = "in_process_requested";
inline constexpr std::string_view kInProcessTimeout = "in_process_timeout";
inline constexpr std::string_view kMetricSource = "metric_source";
// An `inloop audit` finding about what the run executes or loads (AuditData): a file its command
// names (before the first attempt) or a checkpoint a rollback would load.
inline constexpr std::string_view kAuditFinding = "audit_finding";
inline constexpr std::string_view kSdkConnected = "sdk_connected";
inline constexpr std::string_view kStoreFailed = "store_failed";
}  // namespace event_kind

// A finding of a detector (event kind = the finding kind).
struct FindingData {
  std::string series;
  bool update = false;  // the closing report of an anomaly already reported
  std::vector<std::pair<std::string, double>> evidence;  // in order
  std::vector<std::string> related;                       // written only when not empty
  // Multi-rank jobs: the rank whose points showed it (-1: none, not written) and its host
  // (written only when known).
  int rank = -1;
  std::string host;
};

// A checkpoint a restart starts from.
struct CheckpointRef {
  std::string path;
  int64_t step = 0;
  std::string source;  // "sdk" or "glob"
};

// A remedy action (the data of its action record and of action_proposed / action_approved by the
// policy / action_applied). The restart fields are written only when `restarts`.
struct ActionData {
  int64_t action_id = 0;  // 0: not written (the action record itself, or the store failed)
  std::string action;     // "resume", "rollback_skip", ...
  std::string mode;       // "auto", "ask", "observe"
  std::string trigger;
  std::string family;
  std::optional<int64_t> step;
  bool restarts = false;  // the action restarts the process (read back: resume_step present)
  std::optional<CheckpointRef> checkpoint;
  int64_t resume_step = 0;
  int64_t start_step = 0;  // resume_step + 1
  std::optional<std::pair<int64_t, int64_t>> skip;  // [from, to)
  std::optional<bool> skip_deliverable;             // written only with a skip
  std::optional<double> lr_scale;                   // written (1 when unset) with a restart
  std::optional<int64_t> micro_batch;
  double delay_seconds = 0;
  // Applied inside the live process through the SDK (no restart): written only when true.
  bool in_process = false;
  std::string reason;
};

// An action the assistant proposed for a person to approve (its action record's data and its
// action_proposed event): what it asked for, under "plan".
struct ProposalData {
  std::string source = "assistant";
  std::string action;
  std::string model;
  std::string question;
  std::optional<int64_t> checkpoint_step;
  std::optional<std::pair<int64_t, int64_t>> skip;  // [from, to)
  std::optional<double> lr_scale;
  std::optional<int64_t> micro_batch;
  std::vector<std::pair<std::string, std::string>> params;  // config_change: key -> value
  std::string reason;
};

// A person's approve/deny of an action (action_approved / action_denied from the CLI or the API).
struct DecisionData {
  int64_t action_id = 0;
  std::string action;
  std::string by;
  std::string note;
};

// The supervisor's verdict on an applied remedy (action_outcome).
struct OutcomeData {
  int64_t action_id = 0;
  std::string action;
  int attempt = 0;
  std::string result;  // "passed" or "failed"
};

// attempt_start. The restart fields are written for attempts after the first.
struct AttemptStartData {
  int attempt = 0;
  int64_t pid = 0;
  std::string reason;
  bool restarted = false;  // attempt > 1 (read back: start_step present)
  std::optional<CheckpointRef> checkpoint;
  int64_t resume_step = 0;
  int64_t start_step = 0;
  std::vector<std::pair<int64_t, int64_t>> skip_windows;
  double lr_scale = 1;
  std::optional<int64_t> micro_batch;
  std::vector<std::string> argv;
};

// attempt_exit.
struct AttemptExitData {
  int attempt = 0;
  int exit_code = 0;
  int signal = 0;  // written when not 0
  std::optional<int64_t> last_step;
  int64_t lines = 0;
  int64_t truncated_lines = 0;
};

// crash: the classified exit of a process that died on its own.
struct CrashData {
  int attempt = 0;
  std::string crash_class;  // "class"
  bool transient = false;
  std::string retry;
  std::string signature;
  std::string exception_type;  // both written when exception_type is not empty
  std::string exception_message;
};

// checkpoint: one the process announced through the SDK.
struct CheckpointData {
  std::string path;
  std::optional<int64_t> step;
  int attempt = 0;
};

// spike_recovered: a loss spike that healed within its patience.
struct SpikeData {
  std::string series;
  int64_t onset = 0;
  int64_t step = 0;
  int64_t points = 0;
  int64_t patience = 0;
  double level = 0, noise = 0, band = 0, peak = 0;
};

// remedy_withheld: a remedy was due but none is sound.
struct WithheldData {
  std::string trigger;
  std::optional<int64_t> step;
  std::string reason;
};

// metric_source: which source of a metric is recorded now.
struct SourceData {
  std::string canonical;
  std::string sdk_key;
  std::string printed_key;
  std::string source;
  int64_t printed_since_sdk = 0;
};

// audit_finding: one finding of `inloop audit` (audit/finding.h) and what inloop did about it.
struct AuditData {
  std::string context;   // "command" (a file the command names) or "checkpoint" (before loading)
  std::string file;
  std::string rule;
  std::string severity;  // "info" ... "critical"
  std::string message;
  std::string fix;
  int64_t line = 0;      // 0: none
  std::string policy;    // the [audit] policy in force: "warn", "ask", "block"
  bool blocked = false;  // the checkpoint was not used / the run was refused
};

std::string ToJson(const FindingData& d);
std::string ToJson(const ActionData& d);
std::string ToJson(const ProposalData& d);
std::string ToJson(const DecisionData& d);
std::string ToJson(const OutcomeData& d);
std::string ToJson(const AttemptStartData& d);
std::string ToJson(const AttemptExitData& d);
std::string ToJson(const CrashData& d);
std::string ToJson(const CheckpointData& d);
std::string ToJson(const SpikeData& d);
std::string ToJson(const WithheldData& d);
std::string ToJson(const SourceData& d);
std::string ToJson(const AuditData& d);

bool FromJson(std::string_view json, FindingData* d);
bool FromJson(std::string_view json, ActionData* d);
bool FromJson(std::string_view json, ProposalData* d);
bool FromJson(std::string_view json, DecisionData* d);
bool FromJson(std::string_view json, OutcomeData* d);
bool FromJson(std::string_view json, AttemptStartData* d);
bool FromJson(std::string_view json, AttemptExitData* d);
bool FromJson(std::string_view json, CrashData* d);
bool FromJson(std::string_view json, CheckpointData* d);
bool FromJson(std::string_view json, SpikeData* d);
bool FromJson(std::string_view json, WithheldData* d);
bool FromJson(std::string_view json, SourceData* d);
bool FromJson(std::string_view json, AuditData* d);

// Reads `json` into a fresh T (lenient, see above).
template <typename T>
T Parse(std::string_view json) {
  T d;
  FromJson(json, &d);
  return d;
}

using EventData =
    std::variant<std::monostate, FindingData, ActionData, ProposalData, DecisionData, OutcomeData,
                 AttemptStartData, AttemptExitData, CrashData, CheckpointData, SpikeData,
                 WithheldData, SourceData, AuditData>;

// One event of a run's timeline, before the store gives it an id and a time.
struct TimelineEvent {
  std::string kind;
  std::string severity;  // "info", "warning", "error"
  std::string message;
  std::optional<int64_t> step_lo, step_hi;
  EventData data;  // monostate: "{}"

  std::string DataJson() const;
};

TimelineEvent MakeEvent(std::string_view kind, std::string_view severity, std::string message,
                        EventData data = {}, std::optional<int64_t> step = std::nullopt);

}  // namespace inloop::remedy
