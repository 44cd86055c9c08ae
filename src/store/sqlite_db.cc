// SQLite wrapper implementation. Never throws; every failure is a Status naming file and cause.
#include "store/sqlite_db.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

namespace inloop::store {

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    db_ = o.db_;
    s_ = o.s_;
    o.s_ = nullptr;
    status_ = o.status_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

bool Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    status_ = Status::Io(fmt::format("sqlite: {} (in: {})", sqlite3_errmsg(db_),
                                     sqlite3_sql(s_) ? sqlite3_sql(s_) : "?"));
  }
  return false;
}

Status Stmt::Run() {
  while (Step()) {
  }
  Status s = status_;
  Reset();
  return s;
}

void Stmt::Reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  status_ = Status::OK();
}

std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(s_, col);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(s_, col)));
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Status Db::Open(const std::string& path, bool immutable, std::unique_ptr<Db>* out) {
  std::unique_ptr<Db> db(new Db());
  db->path_ = path;
  int flags = immutable ? (SQLITE_OPEN_READONLY | SQLITE_OPEN_URI)
                        : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  std::string target = path;
  if (immutable) {
    // A URI: the characters with a meaning there are escaped.
    target = "file:";
    for (char c : path) {
      if (c == '%' || c == '?' || c == '#') {
        target += fmt::format("%{:02X}", static_cast<unsigned char>(c));
      } else {
        target += c;
      }
    }
    target += "?immutable=1";
  }
  int rc = sqlite3_open_v2(target.c_str(), &db->db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return Status::Io(fmt::format("{}: cannot open database: {}", path,
                                  db->db_ ? sqlite3_errmsg(db->db_) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db->db_, kBusyTimeoutMs);
  if (!immutable) {
    INLOOP_RETURN_IF_ERROR(db->SetWalMode());
    INLOOP_RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  }
  INLOOP_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  *out = std::move(db);
  return Status::OK();
}

// Switching a new database to WAL takes an exclusive lock, and so does the last connection's
// checkpoint on close; SQLite answers SQLITE_BUSY at once there, without the busy handler. Two
// supervisors that start together on one store (Slurm starts a job's steps in the same second)
// meet exactly there: wait for the other one, as the busy timeout does everywhere else.
Status Db::SetWalMode() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (int wait_us = 200;; wait_us = std::min(wait_us * 2, 50000)) {
    int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::OK();
    bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
    if (!busy || std::chrono::steady_clock::now() >= deadline) {
      return Status::Io(fmt::format("{}: {} (in: PRAGMA journal_mode=WAL)", path_,
                                    sqlite3_errmsg(db_)));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(wait_us));
  }
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::Io(fmt::format("{}: {} (in: {})", path_, msg, s.substr(0, 80)));
  }
  return Status::OK();
}

Status Db::Prepare(std::string_view sql, Stmt* out) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) {
    return Status::Io(fmt::format("{}: cannot prepare: {} (in: {})", path_, sqlite3_errmsg(db_),
                                  std::string(sql.substr(0, 80))));
  }
  *out = Stmt(db_, s);
  return Status::OK();
}

}  // namespace inloop::store
