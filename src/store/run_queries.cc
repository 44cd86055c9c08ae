// Queries across runs (run_queries.h): the filtered, sorted, paged run listing, last values of a
// series over many runs, labels of many runs, and the key lists. Values are always binds, never
// SQL text; id lists go in batches of kInBatch.
#include "store/run_queries.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "store/run_list_sql.h"
#include "store/sqlite_store.h"
#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;

namespace {

constexpr size_t kInBatch = 500;  // run ids per SQL IN (...) list

// WHERE over `runs r` and its binds (strings, numbered in order).
struct Where {
  std::string sql = "1";
  std::vector<std::string> binds;
  std::string Bind(std::string v) {
    binds.push_back(std::move(v));
    return fmt::format("?{}", binds.size());
  }
  void Apply(Stmt* q) const {
    for (size_t i = 0; i < binds.size(); ++i) q->Bind(static_cast<int>(i + 1), binds[i]);
  }
};

Where FilterSql(const RunFilter& f) {
  Where w;
  w.sql = RunFilterSql(f, SqlDialect::kSqlite, [&w](const std::string& v) { return w.Bind(v); });
  return w;
}

}  // namespace

Status SqliteStore::ListRunsPage(const RunListQuery& q, RunListPage* out) {
  out->runs.clear();
  out->total = 0;
  INLOOP_RETURN_IF_ERROR(CheckRunListQuery(q));
  Where w = FilterSql(q.filter);
  ReadSnapshot snap(db_.get());  // the count and the page agree
  INLOOP_RETURN_IF_ERROR(snap.status());
  {
    Stmt c;
    INLOOP_RETURN_IF_ERROR(
        db_->Prepare(fmt::format("SELECT COUNT(*) FROM runs r WHERE {}", w.sql), &c));
    w.Apply(&c);
    if (c.Step()) out->total = c.Int(0);
    INLOOP_RETURN_IF_ERROR(c.status());
  }
  bool by_last = q.sort == RunSort::kLastValue;
  std::string order =
      RunOrderSql(q, SqlDialect::kSqlite, [&w](const std::string& v) { return w.Bind(v); });
  std::string page = by_last ? "" : fmt::format(" LIMIT {} OFFSET {}", q.limit, q.offset);
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM runs r WHERE {} ORDER BY {}{}", kRunColumns, w.sql, order, page),
      &s));
  w.Apply(&s);
  while (s.Step()) ReadRun(s, &out->runs.emplace_back());
  INLOOP_RETURN_IF_ERROR(s.status());
  if (!by_last) return Status::OK();
  // Every filtered run's value is needed to sort; then the page is cut.
  std::vector<std::string> ids;
  for (auto& r : out->runs) ids.push_back(r.id);
  std::unordered_map<std::string, Point> vals;
  INLOOP_RETURN_IF_ERROR(LastValues(ids, q.sort_key, &vals));
  SortByLastValueAndPage(q, vals, &out->runs);
  return Status::OK();
}

// The newest segment's newest chunk summary from the index; a running run's WAL tail wins over
// it (points not sealed yet are newer than every chunk).
Status SqliteStore::LastValues(const std::vector<std::string>& run_ids, const std::string& key,
                         std::unordered_map<std::string, Point>* out) {
  out->clear();
  std::vector<std::string> running;
  for (size_t b = 0; b < run_ids.size(); b += kInBatch) {
    size_t n = std::min(kInBatch, run_ids.size() - b);
    Stmt s;
    INLOOP_RETURN_IF_ERROR(db_->Prepare(
        fmt::format(
            "SELECT s.run_id, c.series_id, c.ordinal, c.offset, c.length, c.count, c.first_step, "
            "c.last_step FROM series s JOIN chunks c ON c.series_id = s.id "
            "WHERE s.key = ?1 AND s.run_id IN ({}) "
            "AND s.segment = (SELECT MAX(s2.segment) FROM series s2 "
            "                 WHERE s2.run_id = s.run_id AND s2.key = s.key) "
            "AND c.ordinal = (SELECT MAX(c2.ordinal) FROM chunks c2 WHERE c2.series_id = s.id)",
            Placeholders(2, n)),
        &s));
    s.Bind(1, key);
    for (size_t i = 0; i < n; ++i) s.Bind(static_cast<int>(i + 2), run_ids[b + i]);
    while (s.Step()) {
      ChunkRef c;
      std::string run_id = s.Text(0);
      c.series_id = s.Int(1);
      c.ordinal = s.Int(2);
      c.offset = s.Int(3);
      c.length = s.Int(4);
      c.count = s.Int(5);
      c.first_step = s.Int(6);
      c.last_step = s.Int(7);
      ChunkSummary sum;
      INLOOP_RETURN_IF_ERROR(ReadChunkSummary(run_id, c, &sum));
      (*out)[run_id] = sum.last;
    }
    INLOOP_RETURN_IF_ERROR(s.status());
    Stmt r;
    INLOOP_RETURN_IF_ERROR(
        db_->Prepare(fmt::format("SELECT id FROM runs WHERE status='running' AND id IN ({})",
                                 Placeholders(1, n)),
                     &r));
    for (size_t i = 0; i < n; ++i) r.Bind(static_cast<int>(i + 1), run_ids[b + i]);
    while (r.Step()) running.push_back(r.Text(0));
    INLOOP_RETURN_IF_ERROR(r.status());
  }
  for (auto& id : running) {
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
    }
  }
  return Status::OK();
}

Status SqliteStore::RunLabelsOf(const std::vector<std::string>& run_ids,
                          std::unordered_map<std::string, RunLabels>* out) {
  out->clear();
  for (size_t b = 0; b < run_ids.size(); b += kInBatch) {
    size_t n = std::min(kInBatch, run_ids.size() - b);
    Stmt t, p;
    INLOOP_RETURN_IF_ERROR(
        db_->Prepare(fmt::format("SELECT run_id, tag FROM tags WHERE run_id IN ({}) ORDER BY tag",
                                 Placeholders(1, n)),
                     &t));
    INLOOP_RETURN_IF_ERROR(db_->Prepare(
        fmt::format("SELECT run_id, key, value, source FROM params WHERE run_id IN ({}) "
                    "ORDER BY key",
                    Placeholders(1, n)),
        &p));
    for (size_t i = 0; i < n; ++i) {
      t.Bind(static_cast<int>(i + 1), run_ids[b + i]);
      p.Bind(static_cast<int>(i + 1), run_ids[b + i]);
    }
    while (t.Step()) (*out)[t.Text(0)].tags.push_back(t.Text(1));
    INLOOP_RETURN_IF_ERROR(t.status());
    while (p.Step()) (*out)[p.Text(0)].params.push_back(Param{p.Text(1), p.Text(2), p.Text(3)});
    INLOOP_RETURN_IF_ERROR(p.status());
  }
  return Status::OK();
}

Status SqliteStore::ParamKeys(std::vector<std::string>* out) {
  out->clear();
  Stmt q;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("SELECT DISTINCT key FROM params ORDER BY key", &q));
  while (q.Step()) out->push_back(q.Text(0));
  return q.status();
}

Status SqliteStore::SeriesKeys(const std::vector<std::string>& run_ids, std::vector<std::string>* out) {
  out->clear();
  auto collect = [&](Stmt* q) {
    while (q->Step()) out->push_back(q->Text(0));
    return q->status();
  };
  if (run_ids.empty()) {
    Stmt q;
    INLOOP_RETURN_IF_ERROR(db_->Prepare("SELECT DISTINCT key FROM series", &q));
    INLOOP_RETURN_IF_ERROR(collect(&q));
  }
  for (size_t b = 0; b < run_ids.size(); b += kInBatch) {
    size_t n = std::min(kInBatch, run_ids.size() - b);
    Stmt q;
    INLOOP_RETURN_IF_ERROR(db_->Prepare(
        fmt::format("SELECT DISTINCT key FROM series WHERE run_id IN ({})", Placeholders(1, n)),
        &q));
    for (size_t i = 0; i < n; ++i) q.Bind(static_cast<int>(i + 1), run_ids[b + i]);
    INLOOP_RETURN_IF_ERROR(collect(&q));
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return Status::OK();
}

Status SqliteStore::RunningRunIds(std::vector<std::string>* out) {
  out->clear();
  Stmt q;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT id FROM runs WHERE status='running' ORDER BY seq", &q));
  while (q.Step()) out->push_back(q.Text(0));
  return q.status();
}

}  // namespace inloop::store
