// PgConn (pg_conn.h): libpq calls, binds, results and the transaction guard.
#include "store/pg_conn.h"

#include <libpq-fe.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace inloop::store::pg {

std::string ElideUrlPassword(std::string_view url) {
  std::string s(url);
  size_t scheme = s.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t at = s.find('@', start);
    size_t slash = s.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = s.find(':', start);
      if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (size_t p = s.find("password="); p != std::string::npos; p = s.find("password=", p + 1)) {
    size_t v = p + 9;
    size_t end = s.find('&', v);
    s.replace(v, (end == std::string::npos ? s.size() : end) - v, "***");
  }
  return s;
}

Params& Params::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  binary_.push_back(false);
  return *this;
}

Params& Params::Int(int64_t v) { return Text(std::to_string(v)); }

Params& Params::Double(double v) {
  if (std::isnan(v)) return Text("NaN");
  if (std::isinf(v)) return Text(v > 0 ? "Infinity" : "-Infinity");
  return Text(fmt::format("{}", v));
}

Params& Params::Bytes(std::string_view v) {
  Text(v);
  binary_.back() = true;
  return *this;
}

namespace {

void PutBigEndian(std::string* out, uint64_t x, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((x >> shift) & 0xff));
  }
}

}  // namespace

// PostgreSQL's binary array form (array_send): dimensions, a has-nulls flag, the element type,
// each dimension's length and lower bound, then every element as length + bytes; big-endian.
Params& Params::ByteaArray(const std::vector<std::string>& items) {
  constexpr uint32_t kByteaOid = 17;
  std::string v;
  size_t total = 20;
  for (auto& it : items) total += 4 + it.size();
  v.reserve(total);
  auto put = [&v](uint32_t x) { PutBigEndian(&v, x, 4); };
  put(1);  // one dimension
  put(0);  // no nulls
  put(kByteaOid);
  put(static_cast<uint32_t>(items.size()));
  put(1);  // lower bound
  for (auto& it : items) {
    put(static_cast<uint32_t>(it.size()));
    v.append(it);
  }
  return Bytes(v);
}

CopyBinaryRows::CopyBinaryRows() {
  buf_.append("PGCOPY\n\377\r\n\0", 11);  // the signature
  PutBigEndian(&buf_, 0, 4);                  // flags: no OIDs
  PutBigEndian(&buf_, 0, 4);                  // header extension length
}

CopyBinaryRows& CopyBinaryRows::Row(int16_t fields) {
  ++rows_;
  PutBigEndian(&buf_, static_cast<uint16_t>(fields), 2);
  return *this;
}

CopyBinaryRows& CopyBinaryRows::Int8(int64_t v) {
  PutBigEndian(&buf_, 8, 4);
  PutBigEndian(&buf_, static_cast<uint64_t>(v), 8);
  return *this;
}

CopyBinaryRows& CopyBinaryRows::Bytes(std::string_view v) {
  PutBigEndian(&buf_, static_cast<uint32_t>(v.size()), 4);
  buf_.append(v);
  return *this;
}

std::string_view CopyBinaryRows::Finish() {
  PutBigEndian(&buf_, 0xffff, 2);  // the trailer: a field count of -1
  return buf_;
}

Params& Params::Null() {
  values_.emplace_back();
  null_.push_back(true);
  binary_.push_back(false);
  return *this;
}

Result::Result(pg_result* r) : r_(r) {}
Result::~Result() {
  if (r_) PQclear(r_);
}
Result& Result::operator=(Result&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
int Result::rows() const { return r_ ? PQntuples(r_) : 0; }
int Result::columns() const { return r_ ? PQnfields(r_) : 0; }
bool Result::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view Result::Text(int row, int col) const {
  return std::string_view(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
int64_t Result::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}
double Result::Double(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtod(PQgetvalue(r_, row, col), nullptr);
}
std::string Result::Bytes(int row, int col) const {
  if (IsNull(row, col)) return {};
  size_t n = 0;
  unsigned char* b =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (!b) return {};
  std::string out(reinterpret_cast<char*>(b), n);
  PQfreemem(b);
  return out;
}
int64_t Result::Affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  return *n ? std::strtoll(n, nullptr, 10) : 0;
}

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

namespace {

std::string FirstLine(const char* msg) {
  std::string s = msg ? msg : "";
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace

Status PgConn::Connect(const std::string& url, std::unique_ptr<PgConn>* out) {
  std::unique_ptr<PgConn> c(new PgConn());
  c->shown_url_ = ElideUrlPassword(url);
  // GSSAPI encryption is only probed when the URL asks for it: the probe (Kerberos set-up)
  // costs a round trip and more on every connection where nobody uses it.
  bool gss = url.find("gssencmode") != std::string::npos;
  const char* keys[] = {"dbname", "connect_timeout", "application_name",
                        gss ? nullptr : "gssencmode", nullptr};
  const char* vals[] = {url.c_str(), "10", "inloop", gss ? nullptr : "disable", nullptr};
  c->c_ = PQconnectdbParams(keys, vals, 1);
  if (!c->c_ || PQstatus(c->c_) != CONNECTION_OK) {
    return Status::Io(fmt::format(
        "cannot connect to the PostgreSQL store {}: {} (check that the server runs and that the "
        "URL's user, host, port and database are right; create the database with createdb)",
        c->shown_url_, FirstLine(c->c_ ? PQerrorMessage(c->c_) : "out of memory")));
  }
  PQsetNoticeProcessor(c->c_, [](void*, const char*) {}, nullptr);
  *out = std::move(c);
  return Status::OK();
}

Status PgConn::Error(std::string_view what, pg_result* r) const {
  std::string msg = FirstLine(r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  if (msg.empty()) msg = FirstLine(PQerrorMessage(c_));
  if (PQstatus(c_) == CONNECTION_BAD) {
    return Status::Io(fmt::format(
        "lost the connection to the PostgreSQL store {}: {} (is the server still running?)",
        shown_url_, msg));
  }
  std::string head(what.substr(0, 60));
  for (char& ch : head) {
    if (ch == '\n') ch = ' ';
  }
  return Status::Io(fmt::format("PostgreSQL store {}: {} (in: {}...)", shown_url_, msg, head));
}

Status PgConn::Exec(std::string_view sql, const Params& p, Result* out) {
  if (PQstatus(c_) == CONNECTION_BAD) {  // a restarted server: connect again, once per statement
    PQreset(c_);
    ++generation_;
  }
  std::vector<const char*> vals(p.size());
  std::vector<int> lens(p.size()), fmts(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    vals[i] = p.null_[i] ? nullptr : p.values_[i].data();
    lens[i] = static_cast<int>(p.values_[i].size());
    fmts[i] = p.binary_[i] ? 1 : 0;
  }
  std::string q(sql);
  pg_result* r = PQexecParams(c_, q.c_str(), static_cast<int>(p.size()), nullptr, vals.data(),
                              lens.data(), fmts.data(), 0);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Status s = Error(sql, r);
    if (r) PQclear(r);
    return s;
  }
  if (out) {
    *out = Result(r);
  } else {
    PQclear(r);
  }
  return Status::OK();
}

Status PgConn::ExecScript(std::string_view sql) {
  std::string q(sql);
  pg_result* r = PQexec(c_, q.c_str());
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  Status s = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? Status::OK() : Error(sql, r);
  if (r) PQclear(r);
  return s;
}

Status PgConn::CopyIn(std::string_view copy_sql, std::string_view data) {
  std::string q(copy_sql);
  pg_result* r = PQexec(c_, q.c_str());
  if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
    Status s = Error(copy_sql, r);
    if (r) PQclear(r);
    return s;
  }
  PQclear(r);
  if (PQputCopyData(c_, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(c_, nullptr) != 1) {
    return Error(copy_sql, nullptr);
  }
  Status s;
  while ((r = PQgetResult(c_)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && s.ok()) s = Error(copy_sql, r);
    PQclear(r);
  }
  return s;
}

bool PgConn::in_transaction() const { return PQtransactionStatus(c_) != PQTRANS_IDLE; }

bool PgConn::healthy() const { return PQstatus(c_) == CONNECTION_OK; }

Txn::Txn(PgConn* c, std::string_view mode) : c_(c) {
  owner_ = !c_->in_transaction();
  if (owner_) status_ = c_->Exec(mode.empty() ? std::string("BEGIN") : "BEGIN " + std::string(mode));
}

Txn::~Txn() {
  if (owner_ && !done_ && status_.ok()) (void)c_->Exec("ROLLBACK");
}

Status Txn::Commit() {
  INLOOP_RETURN_IF_ERROR(status_);
  if (!owner_ || done_) return Status::OK();
  done_ = true;
  return c_->Exec("COMMIT");
}

namespace {

Status CheckDbName(const std::string& name) {
  bool ok = !name.empty() && name.size() < 60;
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) return Status::Invalid(fmt::format("'{}' is not a database name of [a-z0-9_]", name));
  return Status::OK();
}

std::string WithoutSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

Status CreateDatabase(const std::string& server_url, const std::string& name, std::string* url) {
  INLOOP_RETURN_IF_ERROR(CheckDbName(name));
  std::unique_ptr<PgConn> c;
  INLOOP_RETURN_IF_ERROR(PgConn::Connect(WithoutSlash(server_url) + "/postgres", &c));
  INLOOP_RETURN_IF_ERROR(c->ExecScript("CREATE DATABASE " + name));
  *url = WithoutSlash(server_url) + "/" + name;
  return Status::OK();
}

Status DropDatabase(const std::string& server_url, const std::string& name) {
  INLOOP_RETURN_IF_ERROR(CheckDbName(name));
  std::unique_ptr<PgConn> c;
  INLOOP_RETURN_IF_ERROR(PgConn::Connect(WithoutSlash(server_url) + "/postgres", &c));
  return c->ExecScript("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace inloop::store::pg
