// The run listing's dialect-neutral parts, shared by both backends' ListRunsPage (SqliteStore in
// run_queries.cc, PgStore in pg_queries.cc): the query's checks, the WHERE of a RunFilter and the
// ORDER BY of a RunListQuery over `runs r` in SQLite's or PostgreSQL's SQL, and the last-value
// sort and page cut done after reading. Values are always binds, never SQL text: `bind` adds one
// and returns its placeholder (?N or $N). Text compares byte-wise on both (COLLATE "C" on
// PostgreSQL), and a name glob is SQLite's GLOB (on PostgreSQL, the same as a regular expression).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/point.h"
#include "common/status.h"
#include "store/store.h"

namespace inloop::store::internal {

enum class SqlDialect { kSqlite, kPostgres };
using BindFn = std::function<std::string(const std::string& value)>;

// limit > 0, offset >= 0, a key for the param and last-value sorts.
Status CheckRunListQuery(const RunListQuery& q);

// "1 AND ..." / "TRUE AND ...": the filter's conditions on `runs r`.
std::string RunFilterSql(const RunFilter& f, SqlDialect d, const BindFn& bind);

// ORDER BY for every sort but kLastValue (sorted after reading the values: creation order here).
std::string RunOrderSql(const RunListQuery& q, SqlDialect d, const BindFn& bind);

// kLastValue: orders every filtered run by its value (runs without one, or NaN, last), then cuts
// the page [offset, offset + limit).
void SortByLastValueAndPage(const RunListQuery& q,
                            const std::unordered_map<std::string, Point>& values,
                            std::vector<RunRecord>* runs);

// A shell glob (* ? [..], as SQLite's GLOB) as an anchored POSIX regular expression.
std::string GlobToRegex(std::string_view glob);

}  // namespace inloop::store::internal
