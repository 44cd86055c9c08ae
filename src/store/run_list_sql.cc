// The run listing's shared SQL and post-read sort (run_list_sql.h).
#include "store/run_list_sql.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace inloop::store::internal {

Status CheckRunListQuery(const RunListQuery& q) {
  if (q.limit <= 0 || q.offset < 0) {
    return Status::Invalid(
        fmt::format("run listing: limit {} / offset {} out of range (limit > 0, "
                    "offset >= 0)",
                    q.limit, q.offset));
  }
  if ((q.sort == RunSort::kParam || q.sort == RunSort::kLastValue) && q.sort_key.empty()) {
    return Status::Invalid("run listing: sorting by a param or a last value needs its key");
  }
  return Status::OK();
}

std::string RunFilterSql(const RunFilter& f, SqlDialect d, const BindFn& bind) {
  const bool pg = d == SqlDialect::kPostgres;
  std::string sql = pg ? "TRUE" : "1";
  if (!f.name_glob.empty()) {
    sql += pg ? " AND r.name ~ " + bind(GlobToRegex(f.name_glob))
              : " AND r.name GLOB " + bind(f.name_glob);
  }
  if (!f.statuses.empty()) {
    std::string in;
    for (auto& s : f.statuses) in += (in.empty() ? "" : ",") + bind(s);
    sql += " AND r.status IN (" + in + ")";
  }
  for (auto& tag : f.tags) {
    if (tag.empty()) continue;
    sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.tag = " + bind(tag) + ")";
  }
  for (auto& [k, v] : f.params) {
    std::string pk = bind(k);
    sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = " + pk +
           " AND p.value = " + bind(v) + ")";
  }
  return sql;
}

std::string RunOrderSql(const RunListQuery& q, SqlDialect d, const BindFn& bind) {
  const bool pg = d == SqlDialect::kPostgres;
  const char* bytewise = pg ? " COLLATE \"C\"" : "";  // SQLite compares text byte-wise already
  std::string dir = q.ascending ? "ASC" : "DESC";
  switch (q.sort) {
    case RunSort::kCreatedAt:
      return fmt::format("r.started_at {0}, r.seq {0}", dir);
    case RunSort::kName:
      return fmt::format("r.name{1} {0}, r.seq {0}", dir, bytewise);
    case RunSort::kStatus:
      return fmt::format("r.status{1} {0}, r.seq {0}", dir, bytewise);
    case RunSort::kDuration:
      return fmt::format(
          "((CASE WHEN r.ended_at > 0 THEN r.ended_at ELSE {1} END) - r.started_at) {0}, "
          "r.seq {0}",
          dir, q.now);
    case RunSort::kParam: {
      // Numbers first in numeric order, then other text byte-wise, runs without the param last.
      std::string pv = fmt::format(
          "(SELECT p.value FROM params p WHERE p.run_id = r.id AND p.key = {})", bind(q.sort_key));
      std::string numeric =
          pg ? fmt::format("COALESCE({0} ~ '^\\s*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)"
                           "?\\s*$', FALSE)",
                           pv)
             : fmt::format("({0} GLOB '*[0-9]*' AND {0} NOT GLOB '*[^0-9eE.+-]*')", pv);
      return fmt::format(
          "({0} IS NULL) ASC, {1} DESC, (CASE WHEN {1} THEN CAST({0} AS {3}) END) {2}, "
          "{0}{4} {2}, r.seq {2}",
          pv, numeric, dir, pg ? "DOUBLE PRECISION" : "REAL", bytewise);
    }
    case RunSort::kLastValue:
      break;
  }
  return fmt::format("r.seq {}", dir);
}

void SortByLastValueAndPage(const RunListQuery& q,
                            const std::unordered_map<std::string, Point>& vals,
                            std::vector<RunRecord>* runs) {
  std::stable_sort(runs->begin(), runs->end(), [&](const RunRecord& a, const RunRecord& b) {
    auto ia = vals.find(a.id), ib = vals.find(b.id);
    bool ha = ia != vals.end() && !std::isnan(ia->second.value);
    bool hb = ib != vals.end() && !std::isnan(ib->second.value);
    if (ha != hb) return ha;  // runs without a value (or NaN) last
    if (!ha) return false;
    return q.ascending ? ia->second.value < ib->second.value : ia->second.value > ib->second.value;
  });
  size_t from = std::min(runs->size(), static_cast<size_t>(q.offset));
  size_t to = std::min(runs->size(), from + static_cast<size_t>(q.limit));
  *runs = std::vector<RunRecord>(std::make_move_iterator(runs->begin() + from),
                                 std::make_move_iterator(runs->begin() + to));
}

std::string GlobToRegex(std::string_view g) {
  std::string re = "^";
  for (size_t i = 0; i < g.size(); ++i) {
    char c = g[i];
    if (c == '*') {
      re += ".*";
    } else if (c == '?') {
      re += '.';
    } else if (c == '[') {
      size_t end = g.find(']', i + 2);
      if (end == std::string_view::npos) {
        re += "\\[";
        continue;
      }
      std::string_view set = g.substr(i + 1, end - i - 1);
      re += '[';
      if (!set.empty() && set[0] == '^') {
        re += '^';
        set.remove_prefix(1);
      }
      for (char s : set) {
        if (s == '\\' || s == '[') re += '\\';
        re += s;
      }
      re += ']';
      i = end;
    } else {
      if (std::string_view("\\.^$|()+{}]").find(c) != std::string_view::npos) re += '\\';
      re += c;
    }
  }
  return re + "$";
}

}  // namespace inloop::store::internal
