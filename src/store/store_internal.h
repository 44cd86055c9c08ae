// Helpers shared by the .cc files of the store (store.cc, series_store.cc, run_queries.cc,
// event_queries.cc, attempt_logs.cc). Internal: nothing outside src/store/ includes this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/catalog.h"
#include "store/model_records.h"
#include "store/attempt_log.h"
#include "store/sqlite_db.h"

namespace inloop::store {
class Store;
}

namespace inloop::store::internal {

double NowSeconds();
std::string NewRunId();  // UTC date-time and 16 random bits, e.g. 20260101-120000-ab12
// A run's command as the catalog keeps it (a JSON array of strings) and back.
std::string CommandToJson(const std::vector<std::string>& cmd);
std::vector<std::string> CommandFromJson(const std::string& json);
bool KnownActionState(std::string_view s);
// The rules of Store::DecideAction / SetActionState every backend shares: the states a decision
// may set, the answer when the action was no longer pending (`rec` as it is now), and the states
// SetActionState knows. Each returns OK when the request may go on.
Status CheckDecisionState(int64_t id, const std::string& new_state);
Status AlreadyDecided(const ActionRecord& rec);
Status CheckActionState(int64_t id, const std::string& state);
// The attempt `attempt` of the run (0: the last one); NotFound names what is missing.
Status FindAttempt(Store* st, const std::string& run_id, int attempt, AttemptRecord* out);
// The log of `a` for `stream` (relative to the store); NotFound when it kept none.
Status LogPathOf(const AttemptRecord& a, LogStream stream, std::string* rel);
Status MakeDir(const std::string& path);
// pread/pwrite of exactly n bytes; `what` names the file in errors. A short file is Corrupt.
Status PReadAll(int fd, int64_t offset, size_t n, std::string* out, const std::string& what);
Status PWriteAll(int fd, int64_t offset, std::string_view data, const std::string& what);

// The columns ReadRun expects, in its order, for a SELECT over the runs table (unqualified).
extern const char* const kRunColumns;
void ReadRun(Stmt& s, RunRecord* r);

// The columns ReadEventRows expects, in its order, for a SELECT over the events table.
extern const char* const kEventColumns;
// Appends every row of a statement that selects kEventColumns to *out.
Status ReadEventRows(Stmt* s, std::vector<EventRecord>* out);

// A model version's params and metrics as the catalog keeps them (JSON arrays) and back
// (model_queries.cc; both backends). Unreadable text gives an empty list.
std::string ModelParamsToJson(const std::vector<Param>& params);
std::vector<Param> ModelParamsFromJson(const std::string& json);
std::string ModelMetricsToJson(const std::vector<std::pair<std::string, double>>& metrics);
std::vector<std::pair<std::string, double>> ModelMetricsFromJson(const std::string& json);
// The rules of ChangeModelStage every backend shares: known stages, and the reason recorded on
// the champion a promotion retires.
Status CheckModelStage(const ModelStageChange& c);
std::string RetiredReason(int64_t new_champion);
// OK when c.expect_champion allows `champion` (the name's champion now, 0 when none).
Status CheckExpectedChampion(const ModelStageChange& c, int64_t champion);

// "?1,?2,?3" for n binds starting at bind index `first`.
std::string Placeholders(size_t first, size_t n);

// A read transaction: every statement run while it is open reads the same snapshot of the
// database (SQLite WAL mode), whatever writers commit meanwhile. Ended on destruction. Inside
// a transaction already open on the connection it does nothing (that one's snapshot holds).
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Db* db);
  ~ReadSnapshot();
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  const Status& status() const { return status_; }

 private:
  Db* db_;
  bool owner_ = false;
  Status status_;
};

}  // namespace inloop::store::internal
