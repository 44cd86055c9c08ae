// PgConn: a thin libpq connection for the PostgreSQL store (pg_store.h). Values go as binds
// ($1, $2...), never as SQL text; results are read as text (bytea unescaped). Internal to the
// store. One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace inloop::store::pg {

// The URL with its password (user:PASSWORD@ or password=...) replaced by "***", for messages.
std::string ElideUrlPassword(std::string_view url);

// For tests and benches: makes the empty database `name` ([a-z0-9_]+) on the server of
// `server_url` (a URL without a database, e.g. postgresql://postgres@127.0.0.1:5432) and
// returns its URL; DropDatabase removes it (and ends its sessions).
Status CreateDatabase(const std::string& server_url, const std::string& name, std::string* url);
Status DropDatabase(const std::string& server_url, const std::string& name);

// Bind values of one statement.
class Params {
 public:
  Params& Text(std::string_view v);
  Params& Int(int64_t v);
  Params& Double(double v);
  Params& Bytes(std::string_view v);  // bytea, sent binary
  // bytea[] (the SQL must name the type: $N::bytea[]), sent binary: no hex text to make here
  // and to parse in the server.
  Params& ByteaArray(const std::vector<std::string>& items);
  Params& Null();
  template <class T>
  Params& Opt(const std::optional<T>& v) {
    if (!v) return Null();
    if constexpr (std::is_floating_point_v<T>) return Double(*v);
    else return Int(*v);
  }
  size_t size() const { return values_.size(); }

 private:
  friend class PgConn;
  std::vector<std::string> values_;
  std::vector<bool> null_, binary_;
};

// Rows for `COPY table(columns) FROM STDIN WITH (FORMAT binary)` (PostgreSQL's binary copy
// format: a signature and header, then per row its field count and each field as a big-endian
// length and its bytes, then a -1 trailer). Fields must be given in the column order, with the
// columns' exact types: Int8 for BIGINT, Bytes for BYTEA (sent as they are: no hex text to
// make here and to decode in the server).
class CopyBinaryRows {
 public:
  CopyBinaryRows();
  CopyBinaryRows& Row(int16_t fields);
  CopyBinaryRows& Int8(int64_t v);
  CopyBinaryRows& Bytes(std::string_view v);
  bool empty() const { return rows_ == 0; }
  std::string_view Finish();  // the whole stream, trailer included; no row may follow

 private:
  std::string buf_;
  size_t rows_ = 0;
};

class Result {
 public:
  Result() = default;
  explicit Result(pg_result* r);
  ~Result();
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result& operator=(Result&& o) noexcept;
  int rows() const;
  int columns() const;
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  int64_t Int(int row, int col) const;      // 0 when NULL
  double Double(int row, int col) const;    // 0 when NULL
  std::string Bytes(int row, int col) const;  // a bytea column, unescaped
  int64_t Affected() const;                 // rows changed by INSERT/UPDATE/DELETE

 private:
  pg_result* r_ = nullptr;
};

class PgConn {
 public:
  ~PgConn();
  // Connects; an unreachable server or a refused login is Io naming the (elided) URL.
  static Status Connect(const std::string& url, std::unique_ptr<PgConn>* out);
  const std::string& url() const { return shown_url_; }

  Status Exec(std::string_view sql, const Params& p = Params(), Result* out = nullptr);
  // Statements without binds, several separated by ';' allowed.
  Status ExecScript(std::string_view sql);
  // COPY table(cols) FROM STDIN [WITH (FORMAT binary)] with `data` as the rows.
  Status CopyIn(std::string_view copy_sql, std::string_view data);
  bool in_transaction() const;
  bool healthy() const;  // the connection is still up
  // Incremented each time a lost connection is re-established (session state such as advisory
  // locks was lost with it).
  int generation() const { return generation_; }

 private:
  PgConn() = default;
  Status Error(std::string_view what, pg_result* r) const;
  pg_conn* c_ = nullptr;
  std::string shown_url_;
  int generation_ = 0;
};

// BEGIN (with `mode`, e.g. "ISOLATION LEVEL REPEATABLE READ") ... COMMIT, rolled back when not
// committed. Inside a transaction already open it does nothing (the outer one decides).
class Txn {
 public:
  Txn(PgConn* c, std::string_view mode = "");
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  const Status& status() const { return status_; }
  Status Commit();

 private:
  PgConn* c_;
  bool owner_ = false;
  bool done_ = false;
  Status status_;
};

}  // namespace inloop::store::pg
