// SqliteStore: the embedded default backend of store::Store (store.h), under one directory
// (docs/store_format.md): SQLite for the catalog, chunk files and a WAL per run for points, a
// flock per run for its single writer. Internal to the store: callers use Store::Open.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/bulk_writer.h"
#include "store/store.h"
#include "store/wal.h"

namespace inloop::store {

class Db;  // sqlite_db.h: the SQLite handle, private to the store
class SqliteRunWriter;

class SqliteStore : public Store {
 public:
  ~SqliteStore() override;
  static Status Open(const std::string& dir, bool create, std::unique_ptr<Store>* out);

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
  friend class SqliteRunWriter;
  SqliteStore() = default;
  Status CreateSeries(const std::string& run_id, std::string_view key, int segment, int64_t* id);
  Db* db() { return db_.get(); }
  Status InitSchema();
  Status AddMissingTables();  // for stores made before a table was added to the format
  Status RecoverAll();
  // Segments of `key`, or of every key when key is null, in series-id order.
  Status ReadSegmentsOf(const std::string& run_id, const std::string* key,
                        std::vector<SegmentData>* out);
  Status Recover(const std::string& run_id);  // REQUIRES: the run's lock is held
  Status LoadWriterState(SqliteRunWriter* w);
  Status ReadWalFor(const std::string& run_id, int wal_fd,
                    std::unordered_map<int64_t, std::vector<Point>>* loose);
  int ChunkFd(const std::string& run_id);

  std::unique_ptr<Db> db_;
  // Read descriptors of runs' chunk files, least recently used closed beyond kMaxChunkFds.
  static constexpr size_t kMaxChunkFds = 64;
  struct CachedFd {
    int fd;
    std::list<std::string>::iterator order;
  };
  std::unordered_map<std::string, CachedFd> chunk_fds_;
  std::list<std::string> chunk_fd_order_;  // most recently used first
};

// The embedded store's run writer: points go to the run's WAL, sealed chunks to its chunk file.
class SqliteRunWriter : public RunWriter, public BulkAppender {
 public:
  ~SqliteRunWriter() override;
  Status Append(std::string_view key, int64_t step, double wall_time, double value) override;
  Status Flush() override;
  Status Close() override;
  int64_t points_appended() const override;
  int64_t LastStep(std::string_view key) const override;
  Status ResolveSeries(std::string_view key, int32_t* handle) override;
  Status AppendPoints(int32_t handle, std::span<const Point> points) override;

 private:
  friend class SqliteStore;
  struct SeriesState {
    int64_t id = 0;
    int32_t handle = -1;  // ResolveSeries' handle of its key, -1 when none
    std::string key;
    int segment = 0;
    int64_t count = 0;   // points in this segment
    int64_t sealed = 0;  // of which in chunks
    int64_t last_step = 0;
    std::vector<Point> head;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  SqliteRunWriter() = default;
  Status Seal(SeriesState* s);
  // The series state of `key` for its first point, or the next segment after `s`.
  Status FirstSegment(std::string_view key, SeriesState** out);
  Status NextSegment(SeriesState* s, SeriesState** out);
  Status EnterBulk();
  Status CommitPending();
  Status RotateWal();
  Status Fail(Status s);

  SqliteStore* store_ = nullptr;
  std::string run_id_;
  int lock_fd_ = -1;
  int chunk_fd_ = -1;
  int64_t chunk_size_ = 0;
  std::unique_ptr<WalWriter> wal_;
  std::vector<std::unique_ptr<SeriesState>> series_;
  std::unordered_map<std::string, SeriesState*, StringHash, std::equal_to<>> by_key_;
  std::vector<ChunkRef> pending_;
  // ResolveSeries' handles: the key and its newest segment (null before its first point).
  struct Handle {
    std::string key;
    SeriesState* state = nullptr;
  };
  std::vector<Handle> handles_;
  bool bulk_ = false;  // AppendPoints was used: no WAL any more (store.h)
  Status failed_;
  int64_t points_ = 0;
  bool closed_ = false;
};

}  // namespace inloop::store
