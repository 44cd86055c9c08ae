// Store: the store's interface, with two backends (docs/store_format.md): the embedded default
// (sqlite_store.h) under one directory, and PostgreSQL (pg_store.h) for a shared store.
// The embedded store:
//   inloop.db            SQLite (WAL mode): runs, attempts, params, series index, chunk index,
//                        events, remedy actions, API tokens (their SHA-256 only)
//   series/<run>.chunks  sealed point chunks of every series of a run (chunk_codec.h)
//   series/<run>.wal     points not yet sealed (wal.h); series/<run>.lock held by the live writer
//   runs/<run>/          per-attempt stdout/stderr logs (attempt_log.h)
// One writer per run (RunWriter) and any number of readers, in this or other processes. Opening
// a store recovers runs whose writer died: replays their WAL into chunks and marks them
// interrupted. A Store object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/point.h"
#include "common/status.h"
#include "store/catalog.h"
#include "store/attempt_log.h"
#include "store/chunk_codec.h"
#include "store/model_records.h"
#include "store/run_queries.h"
#include "store/wal.h"

namespace inloop::store {

inline constexpr int kFormatVersion = 1;
inline constexpr size_t kChunkPoints = 4096;

// One sealed chunk as the index knows it.
struct ChunkRef {
  int64_t series_id = 0;
  int64_t ordinal = 0;  // index of its first point within the series
  int64_t offset = 0;
  int64_t length = 0;
  int64_t count = 0;
  int64_t first_step = 0;
  int64_t last_step = 0;
};

// One segment of a series: sealed chunks plus loose (unsealed) points from the WAL.
struct SegmentData {
  int64_t series_id = 0;
  std::string key;
  int segment = 0;
  std::vector<ChunkRef> chunks;
  std::vector<Point> tail;
};

// A change stamp of a run's points. Two stamps of the same run compare equal when no point was
// flushed or sealed between them; compare with == only (the fields are the backend's own).
// Cheap: reads no point.
struct SeriesVersion {
  int64_t wal_bytes = -1;
  int64_t wal_mtime_ns = -1;
  int64_t sealed_chunks = -1;
  bool operator==(const SeriesVersion&) const = default;
};

// Every segment of a run as one consistent view (Store::ReadRunSnapshot), and the stamp taken
// before it was read: while the run's stamp still equals `version`, nothing newer exists.
struct RunSeriesSnapshot {
  SeriesVersion version;
  std::vector<SegmentData> segments;
};

class RunWriter;

class Store {
 public:
  virtual ~Store();
  // Opens the store at `location`: a postgresql:// or postgres:// URL opens the PostgreSQL
  // backend (pg_store.h), anything else is the directory of the embedded store. With
  // create=true makes it when missing; otherwise a missing store is NotFound. A store of another
  // format version is Incompatible.
  static Status Open(const std::string& location, bool create, std::unique_ptr<Store>* out);
  static bool IsPostgresUrl(std::string_view location);

  // Where the store is, for messages and for opening it again: the directory, or the URL with
  // any password elided. dir() is the same (older name).
  const std::string& location() const { return location_; }
  const std::string& dir() const { return location_; }

  // Runs.
  virtual Status CreateRun(RunRecord* run) = 0;  // assigns run->id
  virtual Status UpdateRun(const RunRecord& run) = 0;
  virtual Status FindRun(std::string_view id_or_name, RunRecord* run) = 0;  // newest name wins
  virtual Status ListRuns(std::vector<RunRecord>* runs) = 0;                 // newest first
  virtual Status RunningRunIds(std::vector<std::string>* ids) = 0;           // status running, oldest first
  virtual Status SetParams(const std::string& run_id, const std::vector<Param>& params) = 0;
  virtual Status GetParams(const std::string& run_id, std::vector<Param>* params) = 0;
  virtual Status AddTags(const std::string& run_id, const std::vector<std::string>& tags) = 0;
  virtual Status GetTags(const std::string& run_id, std::vector<std::string>* tags) = 0;  // sorted

  // Imports (importers/): the content key of what was imported and the run it became, so that
  // importing the same file again finds the run instead of making a copy. FindImport leaves
  // run_id empty when the key is unknown or its run was deleted.
  virtual Status FindImport(const std::string& content_key, std::string* run_id) = 0;
  virtual Status RecordImport(const std::string& content_key, const std::string& run_id,
                      const std::string& source, const std::string& format) = 0;

  // Disk-full insurance for a run's writer: ReserveSpace allocates `bytes` in a file of the run's
  // own, ReleaseReserve deletes it. A supervisor that hits ENOSPC releases it, so that the run's
  // final status and the failure event can still be written instead of the run reading
  // `running` until space is freed. Recovery deletes a reserve left by a dead writer.
  virtual Status ReserveSpace(const std::string& run_id, int64_t bytes) = 0;
  virtual void ReleaseReserve(const std::string& run_id) = 0;

  // Attempts.
  virtual Status PutAttempt(const AttemptRecord& a) = 0;  // insert or replace
  virtual Status ListAttempts(const std::string& run_id, std::vector<AttemptRecord>* out) = 0;

  // Listings across runs (run_queries.h). ListRunsPage: filtered, sorted and paged, with the
  // count of every run that passes the filter (Invalid for a limit <= 0, a negative offset, or a
  // param/last-value sort without its key). LastValues: the last point of `key` in each run that
  // has one (others are left out), the WAL tail of running runs included. RunLabelsOf: tags and
  // params of each run that has any. ParamKeys: every param key of any run, sorted. SeriesKeys:
  // the series keys of `run_ids` (of every run when empty), sorted, without duplicates.
  virtual Status ListRunsPage(const RunListQuery& q, RunListPage* out) = 0;
  virtual Status LastValues(const std::vector<std::string>& run_ids, const std::string& key,
                    std::unordered_map<std::string, Point>* out) = 0;
  virtual Status RunLabelsOf(const std::vector<std::string>& run_ids,
                     std::unordered_map<std::string, RunLabels>* out) = 0;
  virtual Status ParamKeys(std::vector<std::string>* keys) = 0;
  virtual Status SeriesKeys(const std::vector<std::string>& run_ids, std::vector<std::string>* keys) = 0;

  // Events (event_queries.cc). ListEvents: one run's, oldest first (by time, then id).
  // ListEventsOfKind: every event of `kind`, of any run, oldest first. The live stream's cursor:
  // LastEventId (0 when none) and ListEventsAfter (ids above after_id, in id order).
  virtual Status AddEvent(EventRecord* e) = 0;  // assigns e->id
  virtual Status ListEvents(const std::string& run_id, std::vector<EventRecord>* out) = 0;
  virtual Status ListEventsOfKind(std::string_view kind, std::vector<EventRecord>* out) = 0;
  virtual Status LastEventId(const std::string& run_id, int64_t* id) = 0;
  virtual Status ListEventsAfter(const std::string& run_id, int64_t after_id,
                         std::vector<EventRecord>* out) = 0;

  // Remedy actions (catalog.h ActionRecord). Safe across processes: the supervisor adds and
  // polls, `inloop approve/deny` decides, each through its own Store on the same directory.
  virtual Status AddAction(ActionRecord* a) = 0;              // assigns a->id (and created_at if 0)
  virtual Status GetAction(int64_t id, ActionRecord* a) = 0;  // NotFound when no such id
  // Empty run_id / state: any. Oldest first (by id).
  virtual Status ListActions(const std::string& run_id, const std::string& state,
                     std::vector<ActionRecord>* out) = 0;
  // pending -> approved|denied, atomically (only a pending action changes). An action that is
  // no longer pending: Invalid "action N is already <state>"; unknown id: NotFound; new_state not
  // approved/denied: Invalid. Sets decided_by, decided_at (now) and note. *after (may be null)
  // receives the updated record.
  virtual Status DecideAction(int64_t id, const std::string& new_state, const std::string& by,
                      const std::string& note, ActionRecord* after) = 0;
  // Any state change by the supervisor (applied, expired, observed, auto approval), without
  // precondition. decided_by/decided_at are filled only while still empty, so a human's
  // decision stays on record when the supervisor later marks the action applied. Unknown id:
  // NotFound; a state outside the six known ones: Invalid.
  virtual Status SetActionState(int64_t id, const std::string& state, const std::string& by) = 0;

  // Named API tokens of `inloop serve` (catalog.h TokenRecord). AddToken: Invalid when the name
  // is taken (revoke it first). FindToken: by the secret's SHA-256; NotFound when none.
  // RevokeToken: deletes it, NotFound when there is no such name. ListTokens: by name.
  virtual Status AddToken(const TokenRecord& t) = 0;
  virtual Status FindToken(std::string_view sha256_hex, TokenRecord* t) = 0;
  virtual Status ListTokens(std::vector<TokenRecord>* out) = 0;
  virtual Status RevokeToken(std::string_view name) = 0;

  // Series (series_store.cc). Every read of segments is one consistent view: in each segment the
  // sealed chunks and the WAL tail are contiguous (a prefix of the series, never a gap or an
  // overlap), whatever a writer in this or another process appends or seals meanwhile.
  virtual Status ReadSegments(const std::string& run_id, const std::string& key,
                      std::vector<SegmentData>* out) = 0;
  // Every segment of every key of the run, in series-id order, the WAL read once.
  virtual Status ReadAllSegments(const std::string& run_id, std::vector<SegmentData>* out) = 0;
  // ReadAllSegments with the run's change stamp taken before it (for pollers: SeriesVersionOf
  // tells them cheaply when there is something new to read).
  virtual Status ReadRunSnapshot(const std::string& run_id, RunSeriesSnapshot* out) = 0;
  virtual Status SeriesVersionOf(const std::string& run_id, SeriesVersion* out) = 0;
  virtual Status ReadChunkSummary(const std::string& run_id, const ChunkRef& c, ChunkSummary* s) = 0;
  virtual Status ReadChunkPoints(const std::string& run_id, const ChunkRef& c, std::vector<Point>* out) = 0;
  virtual Status SeriesStatsFor(const std::string& run_id, std::vector<SeriesStats>* out) = 0;

  // The single writer of a run's points. Fails if another live writer holds the run.
  virtual Status OpenWriter(const std::string& run_id, std::unique_ptr<RunWriter>* out) = 0;

  // Attempt logs (attempt_log.h; attempt_logs.cc): the child's stdout and stderr per attempt,
  // compressed in seekable frames. OpenAttemptLog creates the log of (run, attempt, stream) and
  // returns its path relative to the store (for AttemptRecord::stdout_path/stderr_path).
  // ReadAttemptLog reads lines of a recorded attempt's log, compressed or (stores made before
  // compression) raw; attempt 0 means the last attempt. NotFound names what is missing.
  virtual Status OpenAttemptLog(const std::string& run_id, int attempt, LogStream stream,
                        std::unique_ptr<LogWriter>* out, std::string* rel_path) = 0;
  virtual Status ReadAttemptLog(const LogLinesQuery& q, LogLines* out) = 0;
  virtual Status AttemptLogInfo(const std::string& run_id, int attempt, LogStream stream, LogInfo* out) = 0;

  // MLflow compatibility (experiment_queries.cc; used by http/mlflow_api only): experiments,
  // the run -> experiment link, and tag removal. CreateExperiment: assigns e->id when negative;
  // Invalid when the name or id is taken. GetExperiment / FindExperimentByName: NotFound when
  // none. ListExperiments: by id. UpdateExperiment: name, lifecycle, updated_at of e.id;
  // NotFound / Invalid (name taken). SetRunExperiment: insert or replace the link.
  // ListRunExperiments: every link (runs without one are not listed). GetRunExperiment: NotFound
  // when the run has no link. RemoveTags: the tags given, where present.
  virtual Status CreateExperiment(ExperimentRecord* e) = 0;
  virtual Status GetExperiment(int64_t id, ExperimentRecord* e) = 0;
  virtual Status FindExperimentByName(std::string_view name, ExperimentRecord* e) = 0;
  virtual Status ListExperiments(std::vector<ExperimentRecord>* out) = 0;
  virtual Status UpdateExperiment(const ExperimentRecord& e) = 0;
  virtual Status SetRunExperiment(const RunExperiment& link) = 0;
  virtual Status ListRunExperiments(std::vector<RunExperiment>* out) = 0;
  virtual Status GetRunExperiment(const std::string& run_id, RunExperiment* out) = 0;
  virtual Status RemoveTags(const std::string& run_id, const std::vector<std::string>& tags) = 0;

  // Model registry (model_records.h; model_queries.cc, pg_models.cc; the rules are
  // registry/registry.h's). AddModelVersion: assigns v->version (1 + the name's highest, safe
  // across processes). GetModelVersion: NotFound when none. ListModelVersions: of `name` (every
  // name when empty), by name then version. ChangeModelStage: in one transaction, sets the stage
  // of (c->name, c->version) to c->to_stage if it is still c->from_stage (NotFound: no such
  // version; Invalid "... is <stage> now": it moved meanwhile; Invalid too when
  // c->expect_champion >= 0 and the champion is another), records c (assigns c->id, and
  // c->at when 0) and, when the new stage is champion, retires the name's other champion with a
  // change of its own (same time and author, reason "replaced by vN"). ListModelStageChanges: of
  // `name` (every name when empty), oldest first.
  virtual Status AddModelVersion(ModelVersionRecord* v) = 0;
  virtual Status GetModelVersion(std::string_view name, int64_t version,
                                 ModelVersionRecord* v) = 0;
  virtual Status ListModelVersions(std::string_view name, std::vector<ModelVersionRecord>* out) = 0;
  virtual Status ChangeModelStage(ModelStageChange* c) = 0;
  virtual Status ListModelStageChanges(std::string_view name,
                                       std::vector<ModelStageChange>* out) = 0;

  // Name of a file of the store (an attempt log's stdout_path...) for display: a path inside
  // the store's directory, or location/rel for a store that is not on the local disk.
  virtual std::string PathOf(std::string_view rel) const = 0;
  // A local directory for the run's own scratch files (the SDK's control file), or "" when the
  // store is not on this machine's disk (then the caller uses a temporary directory).
  virtual std::string LocalRunDir(const std::string& run_id) const = 0;

 protected:
  Store() = default;
  std::string location_;
};

// Appends points of one run. Points are acknowledged (survive kill -9) after Flush() returns OK.
// A step lower than the series' last step starts a new segment; old points are kept.
class RunWriter {
 public:
  virtual ~RunWriter() = default;
  virtual Status Append(std::string_view key, int64_t step, double wall_time, double value) = 0;
  // Writes buffered points to the WAL and commits sealed chunks to the index.
  virtual Status Flush() = 0;
  // Seals every series into chunks, commits, and removes the WAL. The writer is done after.
  virtual Status Close() = 0;

  virtual int64_t points_appended() const = 0;
  // Last step seen for `key`, or -1 when the key has no point yet (for per-series counters).
  virtual int64_t LastStep(std::string_view key) const = 0;

 protected:
  RunWriter() = default;
};

}  // namespace inloop::store
