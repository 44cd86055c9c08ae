// Thin RAII wrapper over the SQLite C API: a connection and prepared statements with typed
// binds and column reads. Errors become Status values naming the database file and the SQL.
// A Db is used by one thread at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop::store {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, double v);
  Stmt& Bind(int i, std::string_view v);
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& BindNull(int i);
  template <class T>
  Stmt& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // Steps once: returns true while a row is available; errors land in status().
  bool Step();
  // Runs to completion (for statements without rows).
  Status Run();
  Status status() const { return status_; }
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  double Double(int col) const { return sqlite3_column_double(s_, col); }
  std::string Text(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
  Status status_;
};

class Db {
 public:
  static constexpr int kBusyTimeoutMs = 10000;
  ~Db();
  // Opens (optionally creating) the database in WAL mode with a busy timeout. With `immutable`
  // (a store on a read-only file system, which nobody can be writing) it is opened read-only
  // with SQLite's immutable=1: no locks, no -shm file, no journal; a -wal file left behind is
  // not read.
  static Status Open(const std::string& path, bool immutable, std::unique_ptr<Db>* out);
  Status Exec(std::string_view sql);
  Status Prepare(std::string_view sql, Stmt* out);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t Changes() const { return sqlite3_changes(db_); }
  const std::string& path() const { return path_; }
  // True between BEGIN and COMMIT/ROLLBACK on this connection.
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  Db() = default;
  Status SetWalMode();  // PRAGMA journal_mode=WAL, waiting out another opener's exclusive lock
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace inloop::store
