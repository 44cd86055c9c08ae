// PgStore's queries across runs (run_queries.h) and event reads, with the embedded store's
// semantics: the same filters, sorts (text compared byte-wise, COLLATE "C"), pages and cursors.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "store/pg_store.h"
#include "store/run_list_sql.h"
#include "store/store_internal.h"

namespace inloop::store {

namespace internal {
void ReadPgRun(const pg::Result& r, int i, RunRecord* run);
const char* PgRunColumns();
}  // namespace internal

using namespace internal;
using pg::Params;
using pg::Result;
using pg::Txn;

namespace {

// WHERE over `runs r` and its binds.
struct Where {
  std::string sql = "TRUE";
  Params params;
  int n = 0;
  std::string Bind(const std::string& v) {
    params.Text(v);
    return fmt::format("${}", ++n);
  }
};

Where FilterSql(const RunFilter& f) {
  Where w;
  w.sql = RunFilterSql(f, SqlDialect::kPostgres, [&w](const std::string& v) { return w.Bind(v); });
  return w;
}

}  // namespace

Status PgStore::ListRunsPage(const RunListQuery& q, RunListPage* out) {
  out->runs.clear();
  out->total = 0;
  INLOOP_RETURN_IF_ERROR(CheckRunListQuery(q));
  Where w = FilterSql(q.filter);
  // The count binds the filter's values only: an unused bind (the order's) is an error there.
  // Without a filter (its SQL is TRUE alone) it is the trigger-kept run_count (pg_store.cc).
  const Params filter_params = w.params;
  const std::string count_sql =
      w.sql == "TRUE" ? std::string("SELECT COALESCE(SUM(n), 0)::BIGINT FROM run_count")
                      : fmt::format("SELECT COUNT(*) FROM runs r WHERE {}", w.sql);
  auto count_matches = [&](int64_t* total) {
    Result c;
    INLOOP_RETURN_IF_ERROR(conn_->Exec(count_sql, filter_params, &c));
    *total = c.Int(0, 0);
    return Status::OK();
  };
  bool by_last = q.sort == RunSort::kLastValue;
  std::string order =
      RunOrderSql(q, SqlDialect::kPostgres, [&w](const std::string& v) { return w.Bind(v); });
  if (!by_last) {
    // One statement, so one snapshot and one round trip: the page, each row with the count (an
    // uncorrelated subquery, computed once). A page past the end has no row to carry the count.
    Result r;
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        fmt::format("SELECT {0}, ({1}) FROM runs r WHERE {2} ORDER BY {3} LIMIT {4} OFFSET {5}",
                    PgRunColumns(), count_sql, w.sql, order, q.limit, q.offset),
        w.params, &r));
    out->runs.resize(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) ReadPgRun(r, i, &out->runs[static_cast<size_t>(i)]);
    if (r.rows() > 0) {
      out->total = r.Int(0, r.columns() - 1);
      return Status::OK();
    }
    if (q.offset == 0) return Status::OK();  // nothing matches
    return count_matches(&out->total);
  }
  // By last value: the count, every matching run and their last values in one snapshot.
  Txn t(conn_.get(), "ISOLATION LEVEL REPEATABLE READ READ ONLY");
  INLOOP_RETURN_IF_ERROR(t.status());
  INLOOP_RETURN_IF_ERROR(count_matches(&out->total));
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(fmt::format("SELECT {} FROM runs r WHERE {} ORDER BY {}",
                                                 PgRunColumns(), w.sql, order),
                                     w.params, &r));
  out->runs.resize(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ReadPgRun(r, i, &out->runs[static_cast<size_t>(i)]);
  std::vector<std::string> ids;
  for (auto& run : out->runs) ids.push_back(run.id);
  std::unordered_map<std::string, Point> vals;
  INLOOP_RETURN_IF_ERROR(LastValues(ids, q.sort_key, &vals));
  INLOOP_RETURN_IF_ERROR(t.Commit());
  SortByLastValueAndPage(q, vals, &out->runs);
  return Status::OK();
}

namespace {

// {"a","b"} as a text[] literal, quoted and escaped.
std::string TextArray(const std::vector<std::string>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += '"';
  }
  return s + "}";
}

}  // namespace

// The newest segment's newest chunk's summary; a running run's staged points are newer.
Status PgStore::LastValues(const std::vector<std::string>& run_ids, const std::string& key,
                           std::unordered_map<std::string, Point>* out) {
  out->clear();
  if (run_ids.empty()) return Status::OK();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT DISTINCT ON (s.run_id) s.run_id, substring(c.data FROM 1 FOR $3) "
      "FROM series s JOIN chunks c ON c.series_id = s.id "
      "WHERE s.key = $1 AND s.run_id = ANY($2::text[]) "
      "ORDER BY s.run_id, s.segment DESC, c.ordinal DESC",
      Params().Text(key).Text(TextArray(run_ids)).Int(static_cast<int64_t>(ChunkHeaderSize())),
      &r));
  for (int i = 0; i < r.rows(); ++i) {
    ChunkSummary sum;
    INLOOP_RETURN_IF_ERROR(store::ReadChunkSummary(r.Bytes(i, 1), &sum));
    (*out)[std::string(r.Text(i, 0))] = sum.last;
  }
  Result run;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec("SELECT id FROM runs WHERE status='running' AND id = ANY($1::text[])",
                  Params().Text(TextArray(run_ids)), &run));
  for (int i = 0; i < run.rows(); ++i) {
    std::string id(run.Text(i, 0));
    std::vector<SegmentData> segs;
    INLOOP_RETURN_IF_ERROR(ReadSegments(id, key, &segs));
    if (segs.empty()) continue;
    const SegmentData& last = segs.back();
    if (!last.tail.empty()) {
      (*out)[id] = last.tail.back();
    } else if (!last.chunks.empty()) {
      ChunkSummary sum;
      INLOOP_RETURN_IF_ERROR(ReadChunkSummary(id, last.chunks.back(), &sum));
      (*out)[id] = sum.last;
    } else {
      out->erase(id);
    }
  }
  return Status::OK();
}

Status PgStore::RunLabelsOf(const std::vector<std::string>& run_ids,
                            std::unordered_map<std::string, RunLabels>* out) {
  out->clear();
  if (run_ids.empty()) return Status::OK();
  // Tags (kind 0) and params (kind 1) in one statement: one round trip, one snapshot.
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT 0 AS kind, run_id, tag COLLATE \"C\" AS k, NULL AS v, NULL AS src FROM tags "
      "WHERE run_id = ANY($1::text[]) UNION ALL SELECT 1, run_id, key COLLATE \"C\", value, "
      "source FROM params WHERE run_id = ANY($1::text[]) ORDER BY 1, 3",
      Params().Text(TextArray(run_ids)), &r));
  for (int i = 0; i < r.rows(); ++i) {
    RunLabels& l = (*out)[std::string(r.Text(i, 1))];
    if (r.Int(i, 0) == 0) {
      l.tags.emplace_back(r.Text(i, 2));
    } else {
      l.params.push_back(
          Param{std::string(r.Text(i, 2)), std::string(r.Text(i, 3)), std::string(r.Text(i, 4))});
    }
  }
  return Status::OK();
}

Status PgStore::ParamKeys(std::vector<std::string>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT DISTINCT key COLLATE \"C\" AS k FROM params ORDER BY k", Params(), &r));
  for (int i = 0; i < r.rows(); ++i) out->emplace_back(r.Text(i, 0));
  return Status::OK();
}

Status PgStore::SeriesKeys(const std::vector<std::string>& run_ids, std::vector<std::string>* out) {
  out->clear();
  Result r;
  if (run_ids.empty()) {
    INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT DISTINCT key FROM series", Params(), &r));
  } else {
    INLOOP_RETURN_IF_ERROR(
        conn_->Exec("SELECT DISTINCT key FROM series WHERE run_id = ANY($1::text[])",
                    Params().Text(TextArray(run_ids)), &r));
  }
  for (int i = 0; i < r.rows(); ++i) out->emplace_back(r.Text(i, 0));
  std::sort(out->begin(), out->end());
  return Status::OK();
}

// ---- Events --------------------------------------------------------------------------------

namespace {

constexpr const char* kEventCols =
    "id, run_id, time, kind, severity, step_lo, step_hi, message, data";

void ReadEvents(const Result& r, std::vector<EventRecord>* out) {
  for (int i = 0; i < r.rows(); ++i) {
    EventRecord e;
    e.id = r.Int(i, 0);
    e.run_id = std::string(r.Text(i, 1));
    e.time = r.Double(i, 2);
    e.kind = std::string(r.Text(i, 3));
    e.severity = std::string(r.Text(i, 4));
    if (!r.IsNull(i, 5)) e.step_lo = r.Int(i, 5);
    if (!r.IsNull(i, 6)) e.step_hi = r.Int(i, 6);
    e.message = std::string(r.Text(i, 7));
    e.data_json = std::string(r.Text(i, 8));
    out->push_back(std::move(e));
  }
}

}  // namespace

Status PgStore::ListEvents(const std::string& run_id, std::vector<EventRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM events WHERE run_id=$1 ORDER BY time, id", kEventCols),
      Params().Text(run_id), &r));
  ReadEvents(r, out);
  return Status::OK();
}

Status PgStore::ListEventsOfKind(std::string_view kind, std::vector<EventRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM events WHERE kind=$1 ORDER BY time, id", kEventCols),
      Params().Text(kind), &r));
  ReadEvents(r, out);
  return Status::OK();
}

Status PgStore::ListEventsAfter(const std::string& run_id, int64_t after_id,
                                std::vector<EventRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM events WHERE run_id=$1 AND id>$2 ORDER BY id", kEventCols),
      Params().Text(run_id).Int(after_id), &r));
  ReadEvents(r, out);
  return Status::OK();
}

Status PgStore::LastEventId(const std::string& run_id, int64_t* id) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT COALESCE(MAX(id), 0) FROM events WHERE run_id=$1",
                                     Params().Text(run_id), &r));
  *id = r.Int(0, 0);
  return Status::OK();
}

}  // namespace inloop::store
