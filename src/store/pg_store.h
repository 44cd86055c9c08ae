// PgStore: the PostgreSQL backend of store::Store (store.h), opened by a postgresql:// or
// postgres:// location (docs/store_format.md, "PostgreSQL"). The catalog tables mirror the
// embedded store's; points are sealed into chunk rows with the same codec (chunk_codec.h);
// points not sealed yet live in a staging table written in one transaction per Flush, so an
// acknowledged point survives a server crash. One writer per run holds a session-level
// advisory lock; opening a store recovers runs whose writer's lock nobody holds. Readers see
// one REPEATABLE READ snapshot per read. Attempt logs keep their seekable frames, in a table.
// Internal to the store: callers use Store::Open.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/bulk_writer.h"
#include "store/pg_conn.h"
#include "store/store.h"

namespace inloop::store {

class PgRunWriter;

class PgStore : public Store {
 public:
  ~PgStore() override;
  static Status Open(const std::string& url, bool create, std::unique_ptr<Store>* out);

  Status CreateRun(RunRecord* run) override;
  Status UpdateRun(const RunRecord& run) override;
  Status FindRun(std::string_view id_or_name, RunRecord* run) override;
  Status ListRuns(std::vector<RunRecord>* runs) override;
  Status RunningRunIds(std::vector<std::string>* ids) override;
  Status SetParams(const std::string& run_id, const std::vector<Param>& params) override;
  Status GetParams(const std::string& run_id, std::vector<Param>* params) override;
  Status AddTags(const std::string& run_id, const std::vector<std::string>& tags) override;
  Status GetTags(const std::string& run_id, std::vector<std::string>* tags) override;
  Status FindImport(const std::string& content_key, std::string* run_id) override;
  Status RecordImport(const std::string& content_key, const std::string& run_id,
                      const std::string& source, const std::string& format) override;
  Status ReserveSpace(const std::string& run_id, int64_t bytes) override;
  void ReleaseReserve(const std::string& run_id) override;
  Status PutAttempt(const AttemptRecord& a) override;
  Status ListAttempts(const std::string& run_id, std::vector<AttemptRecord>* out) override;
  Status ListRunsPage(const RunListQuery& q, RunListPage* out) override;
  Status LastValues(const std::vector<std::string>& run_ids, const std::string& key,
                    std::unordered_map<std::string, Point>* out) override;
  Status RunLabelsOf(const std::vector<std::string>& run_ids,
                     std::unordered_map<std::string, RunLabels>* out) override;
  Status ParamKeys(std::vector<std::string>* keys) override;
  Status SeriesKeys(const std::vector<std::string>& run_ids,
                    std::vector<std::string>* keys) override;
  Status AddEvent(EventRecord* e) override;
  Status ListEvents(const std::string& run_id, std::vector<EventRecord>* out) override;
  Status ListEventsOfKind(std::string_view kind, std::vector<EventRecord>* out) override;
  Status LastEventId(const std::string& run_id, int64_t* id) override;
  Status ListEventsAfter(const std::string& run_id, int64_t after_id,
                         std::vector<EventRecord>* out) override;
  Status AddAction(ActionRecord* a) override;
  Status GetAction(int64_t id, ActionRecord* a) override;
  Status ListActions(const std::string& run_id, const std::string& state,
                     std::vector<ActionRecord>* out) override;
  Status DecideAction(int64_t id, const std::string& new_state, const std::string& by,
                      const std::string& note, ActionRecord* after) override;
  Status SetActionState(int64_t id, const std::string& state, const std::string& by) override;
  Status AddToken(const TokenRecord& t) override;
  Status FindToken(std::string_view sha256_hex, TokenRecord* t) override;
  Status ListTokens(std::vector<TokenRecord>* out) override;
  Status RevokeToken(std::string_view name) override;
  Status ReadSegments(const std::string& run_id, const std::string& key,
                      std::vector<SegmentData>* out) override;
  Status ReadAllSegments(const std::string& run_id, std::vector<SegmentData>* out) override;
  Status ReadRunSnapshot(const std::string& run_id, RunSeriesSnapshot* out) override;
  Status SeriesVersionOf(const std::string& run_id, SeriesVersion* out) override;
  Status ReadChunkSummary(const std::string& run_id, const ChunkRef& c, ChunkSummary* s) override;
  Status ReadChunkPoints(const std::string& run_id, const ChunkRef& c,
                         std::vector<Point>* out) override;
  Status SeriesStatsFor(const std::string& run_id, std::vector<SeriesStats>* out) override;
  Status OpenWriter(const std::string& run_id, std::unique_ptr<RunWriter>* out) override;
  Status OpenAttemptLog(const std::string& run_id, int attempt, LogStream stream,
                        std::unique_ptr<LogWriter>* out, std::string* rel_path) override;
  Status ReadAttemptLog(const LogLinesQuery& q, LogLines* out) override;
  Status AttemptLogInfo(const std::string& run_id, int attempt, LogStream stream,
                        LogInfo* out) override;
  Status CreateExperiment(ExperimentRecord* e) override;
  Status GetExperiment(int64_t id, ExperimentRecord* e) override;
  Status FindExperimentByName(std::string_view name, ExperimentRecord* e) override;
  Status ListExperiments(std::vector<ExperimentRecord>* out) override;
  Status UpdateExperiment(const ExperimentRecord& e) override;
  Status SetRunExperiment(const RunExperiment& link) override;
  Status ListRunExperiments(std::vector<RunExperiment>* out) override;
  Status GetRunExperiment(const std::string& run_id, RunExperiment* out) override;
  Status RemoveTags(const std::string& run_id, const std::vector<std::string>& tags) override;
  Status AddModelVersion(ModelVersionRecord* v) override;
  Status GetModelVersion(std::string_view name, int64_t version, ModelVersionRecord* v) override;
  Status ListModelVersions(std::string_view name, std::vector<ModelVersionRecord>* out) override;
  Status ChangeModelStage(ModelStageChange* c) override;
  Status ListModelStageChanges(std::string_view name, std::vector<ModelStageChange>* out) override;
  std::string PathOf(std::string_view rel) const override;
  std::string LocalRunDir(const std::string& run_id) const override;

 private:
  friend class PgRunWriter;
  PgStore() = default;
  Status InitSchema(bool create);
  Status RecoverAll();
  // REQUIRES: the run's advisory lock is held by this store's session.
  Status RecoverPoints(const std::string& run_id);
  Status Recover(const std::string& run_id);
  Status TryLockRun(const std::string& run_id, bool* got);
  void UnlockRun(const std::string& run_id);
  Status LoadWriterState(PgRunWriter* w);
  Status CreateSeries(const std::string& run_id, std::string_view key, int segment, int64_t* id);
  Status ReadSegmentsOf(const std::string& run_id, const std::string* key,
                        std::vector<SegmentData>* out);
  Status ReadChunkBytes(const ChunkRef& c, std::string* out);

  std::string url_;  // with the password: for the connections of log writers
  std::unique_ptr<pg::PgConn> conn_;
  std::set<std::string> locked_runs_;  // runs whose writer this session holds
};

// The PostgreSQL store's run writer (see PgStore).
class PgRunWriter : public RunWriter, public BulkAppender {
 public:
  ~PgRunWriter() override;
  Status Append(std::string_view key, int64_t step, double wall_time, double value) override;
  Status Flush() override;
  Status Close() override;
  int64_t points_appended() const override;
  int64_t LastStep(std::string_view key) const override;
  Status ResolveSeries(std::string_view key, int32_t* handle) override;
  Status AppendPoints(int32_t handle, std::span<const Point> points) override;

 private:
  friend class PgStore;
  struct SeriesState {
    int64_t id = 0;
    int32_t handle = -1;  // ResolveSeries' handle of its key, -1 when none
    std::string key;
    int segment = 0;
    int64_t count = 0;   // points in this segment
    int64_t sealed = 0;  // of which in chunks (committed or pending)
    int64_t last_step = 0;
    std::vector<Point> head;  // not sealed
    size_t staged = 0;        // of head, already in the staging table
  };
  struct PendingChunk {
    int64_t series_id = 0, ordinal = 0, count = 0, first_step = 0, last_step = 0;
    std::string data;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  PgRunWriter() = default;
  void Seal(SeriesState* s);
  // The series state of `key` for its first point, or the next segment after `s`.
  Status FirstSegment(std::string_view key, SeriesState** out);
  Status NextSegment(SeriesState* s, SeriesState** out);
  // stage_heads: also stage the points not sealed yet (a bulk writer's auto-commit does not).
  Status Commit(bool closing, bool stage_heads = true);
  // Commit's common case: no sealed chunk pending, not closing.
  Status StageHeads(bool stage_heads);
  Status Fail(Status s);

  PgStore* store_ = nullptr;
  std::string run_id_;
  bool owns_lock_ = false;
  int generation_ = 0;  // of the connection when the lock was taken
  std::vector<std::unique_ptr<SeriesState>> series_;
  std::unordered_map<std::string, SeriesState*, StringHash, std::equal_to<>> by_key_;
  std::vector<PendingChunk> pending_;
  size_t pending_bytes_ = 0;
  // ResolveSeries' handles: the key and its newest segment (null before its first point).
  struct Handle {
    std::string key;
    SeriesState* state = nullptr;
  };
  std::vector<Handle> handles_;
  Status failed_;
  int64_t points_ = 0;
  bool closed_ = false;
};

}  // namespace inloop::store
