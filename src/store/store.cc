// Store implementation: schema and catalog queries over SQLite, the run writer (WAL + sealing
// chunks), readers that merge sealed chunks with the WAL tail, and crash recovery guarded by a
// per-run flock so that a live writer's run is never touched.
#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "store/event_queries.h"

namespace inloop::store {
namespace {

constexpr size_t kWalRotateBytes = 64u << 20;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, command TEXT NOT NULL,
  cwd TEXT, host TEXT, git_commit TEXT, git_dirty INTEGER, started_at REAL, ended_at REAL,
  exit_code INTEGER, signal INTEGER, attempts INTEGER, supervisor_pid INTEGER,
  supervisor_host TEXT);
CREATE INDEX IF NOT EXISTS runs_name ON runs(name);
CREATE TABLE IF NOT EXISTS attempts(
  run_id TEXT NOT NULL, number INTEGER NOT NULL, reason TEXT, started_at REAL, ended_at REAL,
  pid INTEGER, exit_code INTEGER, signal INTEGER, crash_class TEXT, stdout_path TEXT,
  stderr_path TEXT, stderr_tail TEXT, lines INTEGER, truncated_lines INTEGER,
  PRIMARY KEY(run_id, number));
CREATE TABLE IF NOT EXISTS params(
  run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, source TEXT, PRIMARY KEY(run_id, key));
CREATE TABLE IF NOT EXISTS series(
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, segment INTEGER NOT NULL,
  UNIQUE(run_id, key, segment));
CREATE TABLE IF NOT EXISTS chunks(
  series_id INTEGER NOT NULL, ordinal INTEGER NOT NULL, offset INTEGER NOT NULL,
  length INTEGER NOT NULL, count INTEGER NOT NULL, first_step INTEGER NOT NULL,
  last_step INTEGER NOT NULL, PRIMARY KEY(series_id, ordinal));
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL,
  severity TEXT NOT NULL, step_lo INTEGER, step_hi INTEGER, message TEXT, data TEXT);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, time);
CREATE TABLE IF NOT EXISTS actions(
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, created_at REAL NOT NULL, action TEXT NOT NULL,
  trigger TEXT, step INTEGER, reason TEXT, state TEXT NOT NULL, decided_by TEXT,
  decided_at REAL, note TEXT, data TEXT);
CREATE INDEX IF NOT EXISTS actions_state ON actions(state);
CREATE INDEX IF NOT EXISTS actions_run ON actions(run_id);
CREATE TABLE IF NOT EXISTS tags(run_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(run_id, tag));
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
CREATE TABLE IF NOT EXISTS imports(
  content_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, source TEXT, format TEXT,
  imported_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
  name TEXT PRIMARY KEY, scope TEXT NOT NULL, sha256 TEXT UNIQUE NOT NULL,
  created_at REAL NOT NULL);
)sql";

// Tables added to format version 1 after its first release (additive, no version bump): a store
// that lacks one gains it, with the whole schema (every statement is IF NOT EXISTS), on open.
constexpr const char* kAddedTables[] = {"actions", "tags", "imports", "tokens"};

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string NewRunId() {
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::random_device rd;
  return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rd() & 0xffff);
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Io(fmt::format("{}: cannot create directory: {}", path, std::strerror(errno)));
  }
  return Status::OK();
}

std::string CommandToJson(const std::vector<std::string>& cmd) {
  JsonWriter w;
  w.BeginArray();
  for (auto& a : cmd) w.String(a);
  w.EndArray();
  return w.Take();
}

std::vector<std::string> CommandFromJson(const std::string& json) {
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return out;
  simdjson::dom::array arr;
  if (doc.get_array().get(arr)) return out;
  for (auto v : arr) {
    std::string_view s;
    if (!v.get_string().get(s)) out.emplace_back(s);
  }
  return out;
}

Status PReadAll(int fd, int64_t offset, size_t n, std::string* out, const std::string& what) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out->data() + got, n - got, offset + static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::Io(fmt::format("{}: read failed: {}", what, std::strerror(errno)));
    }
    if (r == 0) {
      return Status::Corrupt(fmt::format("{}: truncated at byte {} (wanted {} more bytes)", what,
                                         offset + static_cast<int64_t>(got), n - got));
    }
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

Status PWriteAll(int fd, int64_t offset, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done,
                         offset + static_cast<off_t>(done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::Io(fmt::format("{}: write failed: {}", what, std::strerror(errno)));
    }
    done += static_cast<size_t>(w);
  }
  return Status::OK();
}

void ReadRun(Stmt& s, RunRecord* r) {
  r->id = s.Text(0);
  r->name = s.Text(1);
  r->status = s.Text(2);
  r->command = CommandFromJson(s.Text(3));
  r->cwd = s.Text(4);
  r->host = s.Text(5);
  r->git_commit = s.Text(6);
  r->git_dirty = s.IsNull(7) ? -1 : static_cast<int>(s.Int(7));
  r->started_at = s.Double(8);
  r->ended_at = s.Double(9);
  r->exit_code.reset();
  if (!s.IsNull(10)) r->exit_code = static_cast<int>(s.Int(10));
  r->signal = static_cast<int>(s.Int(11));
  r->attempts = static_cast<int>(s.Int(12));
  r->supervisor_pid = s.Int(13);
  r->supervisor_host = s.Text(14);
}

constexpr const char* kRunColumns =
    "id, name, status, command, cwd, host, git_commit, git_dirty, started_at, ended_at, "
    "exit_code, signal, attempts, supervisor_pid, supervisor_host";

}  // namespace

Store::~Store() {
  for (auto& [_, cached] : chunk_fds_) ::close(cached.fd);
}

std::string Store::PathOf(std::string_view rel) const { return fmt::format("{}/{}", dir_, rel); }

Status Store::Open(const std::string& dir, bool create, std::unique_ptr<Store>* out) {
  std::unique_ptr<Store> st(new Store());
  st->dir_ = dir;
  std::string dbpath = st->PathOf("inloop.db");
  struct stat sb;
  if (::stat(dbpath.c_str(), &sb) != 0) {
    if (!create) {
      return Status::NotFound(fmt::format(
          "no inloop store at {} (record a run with `inloop run`, or point --store / INLOOP_STORE "
          "at an existing store)",
          dir));
    }
    INLOOP_RETURN_IF_ERROR(MakeDir(dir));
  }
  struct statvfs vfs;
  bool read_only_fs = ::statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
  if (read_only_fs) {
    // Nobody can be writing it: read it as it is, without locks or recovery.
    if (create) {
      return Status::Io(fmt::format(
          "{}: the store is on a read-only file system: nothing can be recorded there; use "
          "another --store (its runs stay readable here)",
          dir));
    }
    INLOOP_RETURN_IF_ERROR(Db::Open(dbpath, true, &st->db_));
    *out = std::move(st);
    return Status::OK();
  }
  if (create) {
    INLOOP_RETURN_IF_ERROR(MakeDir(st->PathOf("series")));
    INLOOP_RETURN_IF_ERROR(MakeDir(st->PathOf("runs")));
  }
  INLOOP_RETURN_IF_ERROR(Db::Open(dbpath, false, &st->db_));
  INLOOP_RETURN_IF_ERROR(st->InitSchema());
  INLOOP_RETURN_IF_ERROR(st->RecoverAll());
  *out = std::move(st);
  return Status::OK();
}

Status Store::InitSchema() {
  Stmt q;
  // A store made by another program, or by a future format, must not be touched.
  Status s = db_->Prepare("SELECT value FROM meta WHERE key='format_version'", &q);
  if (s.ok()) {
    if (q.Step()) {
      std::string v = q.Text(0);
      if (v != std::to_string(kFormatVersion)) {
        return Status::Incompatible(fmt::format(
            "{}: store format version {} but this inloop reads version {}: use a matching inloop "
            "release or another --store",
            dir_, v, kFormatVersion));
      }
      return AddMissingTables();
    }
    INLOOP_RETURN_IF_ERROR(q.status());
  }
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  Status e = db_->Exec(kSchema);
  if (e.ok()) {
    e = db_->Exec(fmt::format(
        "INSERT OR IGNORE INTO meta(key, value) VALUES('format_version', '{}')", kFormatVersion));
  }
  if (!e.ok()) {
    db_->Exec("ROLLBACK");
    return e;
  }
  return db_->Exec("COMMIT");
}

Status Store::AddMissingTables() {
  // Read-only check first: opening a store (every read verb does) takes no write lock unless a
  // table is really missing.
  Stmt q;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?", &q));
  bool missing = false;
  for (const char* t : kAddedTables) {
    q.Bind(1, t);
    if (q.Step() && q.Int(0) == 0) missing = true;
    INLOOP_RETURN_IF_ERROR(q.status());
    q.Reset();
  }
  if (!missing) return Status::OK();
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  Status e = db_->Exec(kSchema);
  if (!e.ok()) {
    db_->Exec("ROLLBACK");
    return e;
  }
  return db_->Exec("COMMIT");
}

Status Store::CreateRun(RunRecord* run) {
  run->id = NewRunId();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("INSERT INTO runs({}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", kRunColumns), &s));
  for (int tries = 0;; ++tries) {
    s.Bind(1, run->id).Bind(2, run->name).Bind(3, run->status).Bind(4, CommandToJson(run->command));
    s.Bind(5, run->cwd).Bind(6, run->host).Bind(7, run->git_commit);
    if (run->git_dirty < 0) s.BindNull(8); else s.Bind(8, run->git_dirty);
    s.Bind(9, run->started_at).Bind(10, run->ended_at).Bind(11, run->exit_code);
    s.Bind(12, run->signal).Bind(13, run->attempts).Bind(14, run->supervisor_pid);
    s.Bind(15, run->supervisor_host);
    Status st = s.Run();
    if (st.ok()) break;
    if (tries > 5) return st;
    run->id = NewRunId();  // id collision within the same second: draw again
  }
  return MakeDir(PathOf("runs/" + run->id));
}

Status Store::UpdateRun(const RunRecord& run) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE runs SET name=?, status=?, ended_at=?, exit_code=?, signal=?, attempts=?, "
      "git_commit=?, git_dirty=? WHERE id=?",
      &s));
  s.Bind(1, run.name).Bind(2, run.status).Bind(3, run.ended_at).Bind(4, run.exit_code);
  s.Bind(5, run.signal).Bind(6, run.attempts).Bind(7, run.git_commit);
  if (run.git_dirty < 0) s.BindNull(8); else s.Bind(8, run.git_dirty);
  s.Bind(9, run.id);
  return s.Run();
}

Status Store::FindRun(std::string_view id_or_name, RunRecord* run) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM runs WHERE id=?1 OR name=?1 ORDER BY (id=?1) DESC, seq DESC "
                  "LIMIT 1",
                  kRunColumns),
      &s));
  s.Bind(1, id_or_name);
  if (s.Step()) {
    ReadRun(s, run);
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  // A unique id prefix is accepted too, as git accepts short hashes.
  Stmt p;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY seq DESC "
                  "LIMIT 2",
                  kRunColumns),
      &p));
  p.Bind(1, id_or_name);
  int n = 0;
  while (p.Step()) {
    if (n++ == 0) ReadRun(p, run);
  }
  if (n == 1 && id_or_name.size() >= 4) return Status::OK();
  return Status::NotFound(fmt::format(
      "no run with id or name '{}' in {} (list them with `inloop runs`)", id_or_name, dir_));
}

Status Store::ListRuns(std::vector<RunRecord>* runs) {
  runs->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare(fmt::format("SELECT {} FROM runs ORDER BY seq DESC", kRunColumns), &s));
  while (s.Step()) {
    runs->emplace_back();
    ReadRun(s, &runs->back());
  }
  return s.status();
}

Status Store::SetParams(const std::string& run_id, const std::vector<Param>& params) {
  if (params.empty()) return Status::OK();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR REPLACE INTO params(run_id, key, value, source) VALUES(?,?,?,?)", &s));
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (auto& p : params) {
    s.Bind(1, run_id).Bind(2, p.key).Bind(3, p.value).Bind(4, p.source);
    Status st = s.Run();
    if (!st.ok()) {
      db_->Exec("ROLLBACK");
      return st;
    }
  }
  return db_->Exec("COMMIT");
}

Status Store::GetParams(const std::string& run_id, std::vector<Param>* params) {
  params->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT key, value, source FROM params WHERE run_id=? ORDER BY key", &s));
  s.Bind(1, run_id);
  while (s.Step()) params->push_back(Param{s.Text(0), s.Text(1), s.Text(2)});
  return s.status();
}

Status Store::AddTags(const std::string& run_id, const std::vector<std::string>& tags) {
  if (tags.empty()) return Status::OK();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("INSERT OR IGNORE INTO tags(run_id, tag) VALUES(?,?)", &s));
  INLOOP_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (auto& t : tags) {
    s.Bind(1, run_id).Bind(2, t);
    Status st = s.Run();
    if (!st.ok()) {
      db_->Exec("ROLLBACK");
      return st;
    }
  }
  return db_->Exec("COMMIT");
}

Status Store::GetTags(const std::string& run_id, std::vector<std::string>* tags) {
  tags->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("SELECT tag FROM tags WHERE run_id=? ORDER BY tag", &s));
  s.Bind(1, run_id);
  while (s.Step()) tags->push_back(s.Text(0));
  return s.status();
}

Status Store::FindImport(const std::string& content_key, std::string* run_id) {
  run_id->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT i.run_id FROM imports i JOIN runs r ON r.id = i.run_id WHERE i.content_key=?", &s));
  s.Bind(1, content_key);
  if (s.Step()) *run_id = s.Text(0);
  return s.status();
}

Status Store::RecordImport(const std::string& content_key, const std::string& run_id,
                           const std::string& source, const std::string& format) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR REPLACE INTO imports(content_key, run_id, source, format, imported_at) "
      "VALUES(?,?,?,?,?)",
      &s));
  s.Bind(1, content_key).Bind(2, run_id).Bind(3, source).Bind(4, format).Bind(5, NowSeconds());
  return s.Run();
}

Status Store::PutAttempt(const AttemptRecord& a) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR REPLACE INTO attempts(run_id, number, reason, started_at, ended_at, pid, "
      "exit_code, signal, crash_class, stdout_path, stderr_path, stderr_tail, lines, "
      "truncated_lines) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
      &s));
  s.Bind(1, a.run_id).Bind(2, a.number).Bind(3, a.reason).Bind(4, a.started_at);
  s.Bind(5, a.ended_at).Bind(6, a.pid).Bind(7, a.exit_code).Bind(8, a.signal);
  s.Bind(9, a.crash_class).Bind(10, a.stdout_path).Bind(11, a.stderr_path);
  s.Bind(12, a.stderr_tail).Bind(13, a.lines).Bind(14, a.truncated_lines);
  return s.Run();
}

Status Store::ListAttempts(const std::string& run_id, std::vector<AttemptRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT number, reason, started_at, ended_at, pid, exit_code, signal, crash_class, "
      "stdout_path, stderr_path, stderr_tail, lines, truncated_lines FROM attempts "
      "WHERE run_id=? ORDER BY number",
      &s));
  s.Bind(1, run_id);
  while (s.Step()) {
    AttemptRecord a;
    a.run_id = run_id;
    a.number = static_cast<int>(s.Int(0));
    a.reason = s.Text(1);
    a.started_at = s.Double(2);
    a.ended_at = s.Double(3);
    a.pid = s.Int(4);
    if (!s.IsNull(5)) a.exit_code = static_cast<int>(s.Int(5));
    a.signal = static_cast<int>(s.Int(6));
    a.crash_class = s.Text(7);
    a.stdout_path = s.Text(8);
    a.stderr_path = s.Text(9);
    a.stderr_tail = s.Text(10);
    a.lines = s.Int(11);
    a.truncated_lines = s.Int(12);
    out->push_back(std::move(a));
  }
  return s.status();
}

Status Store::AddEvent(EventRecord* e) {
  if (e->time == 0) e->time = NowSeconds();
  if (e->data_json.empty()) e->data_json = "{}";
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT INTO events(run_id, time, kind, severity, step_lo, step_hi, message, data) "
      "VALUES(?,?,?,?,?,?,?,?)",
      &s));
  s.Bind(1, e->run_id).Bind(2, e->time).Bind(3, e->kind).Bind(4, e->severity);
  s.Bind(5, e->step_lo).Bind(6, e->step_hi).Bind(7, e->message).Bind(8, e->data_json);
  INLOOP_RETURN_IF_ERROR(s.Run());
  e->id = db_->LastInsertId();
  return Status::OK();
}

Status Store::ListEvents(const std::string& run_id, std::vector<EventRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM events WHERE run_id=? ORDER BY time, id", kEventColumns), &s));
  s.Bind(1, run_id);
  return ReadEventRows(&s, out);
}

// ---- Actions -----------------------------------------------------------------------------

namespace {

constexpr const char* kActionColumns =
    "id, run_id, created_at, action, trigger, step, reason, state, decided_by, decided_at, note, "
    "data";

void ReadAction(Stmt& s, ActionRecord* a) {
  a->id = s.Int(0);
  a->run_id = s.Text(1);
  a->created_at = s.Double(2);
  a->action = s.Text(3);
  a->trigger = s.Text(4);
  a->step.reset();
  if (!s.IsNull(5)) a->step = s.Int(5);
  a->reason = s.Text(6);
  a->state = s.Text(7);
  a->decided_by = s.Text(8);
  a->decided_at = s.Double(9);
  a->note = s.Text(10);
  a->data_json = s.Text(11);
  if (a->data_json.empty()) a->data_json = "{}";
}

bool KnownActionState(std::string_view s) {
  for (const char* k : {kActionPending, kActionApproved, kActionDenied, kActionApplied,
                        kActionObserved, kActionExpired}) {
    if (s == k) return true;
  }
  return false;
}

}  // namespace

Status Store::AddAction(ActionRecord* a) {
  if (a->created_at == 0) a->created_at = NowSeconds();
  if (a->data_json.empty()) a->data_json = "{}";
  if (a->state.empty()) a->state = kActionPending;
  if (!KnownActionState(a->state)) {
    return Status::Invalid(fmt::format("unknown action state '{}'", a->state));
  }
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT INTO actions(run_id, created_at, action, trigger, step, reason, state, decided_by, "
      "decided_at, note, data) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
      &s));
  s.Bind(1, a->run_id).Bind(2, a->created_at).Bind(3, a->action).Bind(4, a->trigger);
  s.Bind(5, a->step).Bind(6, a->reason).Bind(7, a->state).Bind(8, a->decided_by);
  s.Bind(9, a->decided_at).Bind(10, a->note).Bind(11, a->data_json);
  INLOOP_RETURN_IF_ERROR(s.Run());
  a->id = db_->LastInsertId();
  return Status::OK();
}

Status Store::GetAction(int64_t id, ActionRecord* a) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare(fmt::format("SELECT {} FROM actions WHERE id=?", kActionColumns), &s));
  s.Bind(1, id);
  if (s.Step()) {
    ReadAction(s, a);
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound(fmt::format("no action {} (inloop pending lists them)", id));
}

Status Store::ListActions(const std::string& run_id, const std::string& state,
                          std::vector<ActionRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("SELECT {} FROM actions WHERE (?1 = '' OR run_id = ?1) AND "
                  "(?2 = '' OR state = ?2) ORDER BY id",
                  kActionColumns),
      &s));
  s.Bind(1, run_id).Bind(2, state);
  while (s.Step()) {
    out->emplace_back();
    ReadAction(s, &out->back());
  }
  return s.status();
}

Status Store::AddToken(const TokenRecord& t) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR IGNORE INTO tokens(name, scope, sha256, created_at) VALUES(?,?,?,?)", &s));
  s.Bind(1, t.name).Bind(2, t.scope).Bind(3, t.sha256_hex).Bind(4, t.created_at);
  INLOOP_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() == 0) {
    return Status::Invalid(fmt::format(
        "token '{}' already exists (inloop token revoke {} first, or pick another name)", t.name,
        t.name));
  }
  return Status::OK();
}

Status Store::FindToken(std::string_view sha256_hex, TokenRecord* t) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT name, scope, sha256, created_at FROM tokens WHERE sha256=?", &s));
  s.Bind(1, sha256_hex);
  if (s.Step()) {
    *t = TokenRecord{s.Text(0), s.Text(1), s.Text(2), s.Double(3)};
    return Status::OK();
  }
  INLOOP_RETURN_IF_ERROR(s.status());
  return Status::NotFound("no such token");
}

Status Store::ListTokens(std::vector<TokenRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT name, scope, sha256, created_at FROM tokens ORDER BY name", &s));
  while (s.Step()) out->push_back(TokenRecord{s.Text(0), s.Text(1), s.Text(2), s.Double(3)});
  return s.status();
}

Status Store::RevokeToken(std::string_view name) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("DELETE FROM tokens WHERE name=?", &s));
  s.Bind(1, name);
  INLOOP_RETURN_IF_ERROR(s.Run());
  if (db_->Changes() == 0) {
    return Status::NotFound(
        fmt::format("no token named '{}' (inloop token list shows them)", name));
  }
  return Status::OK();
}

Status Store::DecideAction(int64_t id, const std::string& new_state, const std::string& by,
                           const std::string& note, ActionRecord* after) {
  if (new_state != kActionApproved && new_state != kActionDenied) {
    return Status::Invalid(fmt::format("action {} can only be approved or denied, not '{}'", id,
                                       new_state));
  }
  // One statement: the state test and the change are atomic against the supervisor and against
  // a second `inloop approve/deny` racing this one.
  Stmt u;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      fmt::format("UPDATE actions SET state=?, decided_by=?, decided_at=?, note=? "
                  "WHERE id=? AND state='pending' RETURNING {}",
                  kActionColumns),
      &u));
  u.Bind(1, new_state).Bind(2, by).Bind(3, NowSeconds()).Bind(4, note).Bind(5, id);
  ActionRecord rec;
  bool changed = u.Step();
  if (changed) {
    ReadAction(u, &rec);
    while (u.Step()) {  // to the end of the statement: the change commits there
    }
  }
  INLOOP_RETURN_IF_ERROR(u.status());
  if (!changed) {
    INLOOP_RETURN_IF_ERROR(GetAction(id, &rec));
    std::string who = rec.decided_by.empty() ? "" : fmt::format(" (by {})", rec.decided_by);
    return Status::Invalid(fmt::format("action {} is already {}{}", id, rec.state, who));
  }
  if (after) *after = std::move(rec);
  return Status::OK();
}

Status Store::SetActionState(int64_t id, const std::string& state, const std::string& by) {
  if (!KnownActionState(state)) {
    return Status::Invalid(fmt::format("unknown action state '{}' for action {}", state, id));
  }
  // The first decider stays on record: a human's approval outlives the later "applied".
  Stmt u;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE actions SET state=?1, "
      "decided_by = CASE WHEN ?1 <> 'pending' AND COALESCE(decided_by, '') = '' THEN ?2 "
      "ELSE decided_by END, "
      "decided_at = CASE WHEN ?1 <> 'pending' AND COALESCE(decided_at, 0) = 0 THEN ?3 "
      "ELSE decided_at END "
      "WHERE id=?4 RETURNING id",
      &u));
  u.Bind(1, state).Bind(2, by).Bind(3, NowSeconds()).Bind(4, id);
  bool found = u.Step();
  if (found) {
    while (u.Step()) {
    }
  }
  INLOOP_RETURN_IF_ERROR(u.status());
  if (!found) return Status::NotFound(fmt::format("no action {} (inloop pending lists them)", id));
  return Status::OK();
}

Status Store::CreateSeries(const std::string& run_id, std::string_view key, int segment,
                           int64_t* id) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("INSERT OR IGNORE INTO series(run_id, key, segment) VALUES(?,?,?)", &s));
  s.Bind(1, run_id).Bind(2, key).Bind(3, segment);
  INLOOP_RETURN_IF_ERROR(s.Run());
  Stmt q;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT id FROM series WHERE run_id=? AND key=? AND segment=?", &q));
  q.Bind(1, run_id).Bind(2, key).Bind(3, segment);
  if (!q.Step()) return Status::Io(fmt::format("series '{}' vanished from the index", key));
  *id = q.Int(0);
  return Status::OK();
}

int Store::ChunkFd(const std::string& run_id) {
  auto it = chunk_fds_.find(run_id);
  if (it != chunk_fds_.end()) {
    chunk_fd_order_.splice(chunk_fd_order_.begin(), chunk_fd_order_, it->second.order);
    return it->second.fd;
  }
  // Bounded: a query over thousands of runs must not run out of descriptors (ulimit -n is often
  // 1024). Callers use the descriptor at once and never keep it, so closing the least recently
  // used one is safe.
  while (chunk_fds_.size() >= kMaxChunkFds) {
    auto victim = chunk_fds_.find(chunk_fd_order_.back());
    ::close(victim->second.fd);
    chunk_fds_.erase(victim);
    chunk_fd_order_.pop_back();
  }
  int fd = ::open(PathOf("series/" + run_id + ".chunks").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    chunk_fd_order_.push_front(run_id);
    chunk_fds_[run_id] = CachedFd{fd, chunk_fd_order_.begin()};
  }
  return fd;
}

Status Store::ReadChunkSummary(const std::string& run_id, const ChunkRef& c, ChunkSummary* sum) {
  int fd = ChunkFd(run_id);
  std::string what = PathOf("series/" + run_id + ".chunks");
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", what, std::strerror(errno)));
  std::string buf;
  size_t n = std::min<size_t>(ChunkHeaderSize(), static_cast<size_t>(c.length));
  INLOOP_RETURN_IF_ERROR(PReadAll(fd, c.offset, n, &buf, what));
  Status s = store::ReadChunkSummary(buf, sum);
  if (!s.ok()) return Status::Corrupt(fmt::format("{} at byte {}: {}", what, c.offset, s.message()));
  return Status::OK();
}

Status Store::ReadChunkPoints(const std::string& run_id, const ChunkRef& c,
                              std::vector<Point>* out) {
  int fd = ChunkFd(run_id);
  std::string what = PathOf("series/" + run_id + ".chunks");
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", what, std::strerror(errno)));
  std::string buf;
  INLOOP_RETURN_IF_ERROR(PReadAll(fd, c.offset, static_cast<size_t>(c.length), &buf, what));
  Status s = DecodeChunk(buf, out);
  if (!s.ok()) return Status::Corrupt(fmt::format("{} at byte {}: {}", what, c.offset, s.message()));
  return Status::OK();
}

Status Store::ReadWalFor(const std::string& run_id, int wal_fd,
                         std::unordered_map<int64_t, std::vector<Point>>* loose) {
  loose->clear();
  if (wal_fd < 0) return Status::OK();
  WalContents wal;
  INLOOP_RETURN_IF_ERROR(ReadWal(wal_fd, &wal));
  // Sealed counts per series, read after the WAL was opened (see the rotation order in RunWriter).
  std::unordered_map<int64_t, int64_t> sealed;
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT c.series_id, SUM(c.count) FROM chunks c JOIN series s ON s.id = c.series_id "
      "WHERE s.run_id=? GROUP BY c.series_id",
      &s));
  s.Bind(1, run_id);
  while (s.Step()) sealed[s.Int(0)] = s.Int(1);
  INLOOP_RETURN_IF_ERROR(s.status());
  std::unordered_map<int64_t, int64_t> ordinal;
  for (auto& [id, base] : wal.bases) ordinal[id] = base;
  for (auto& [id, p] : wal.points) {
    int64_t ord = ordinal[id]++;
    if (ord >= sealed[id]) (*loose)[id].push_back(p);
  }
  return Status::OK();
}

Status Store::ReadSegments(const std::string& run_id, const std::string& key,
                           std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, &key, out);
}

Status Store::ReadAllSegments(const std::string& run_id, std::vector<SegmentData>* out) {
  return ReadSegmentsOf(run_id, nullptr, out);
}

Status Store::ReadSegmentsOf(const std::string& run_id, const std::string* key,
                             std::vector<SegmentData>* out) {
  out->clear();
  // Open the WAL before reading the chunk index: a rotation in between then leaves us with the
  // old WAL, whose points are either still loose or sealed in chunks we are about to see.
  int wal_fd = ::open(PathOf("series/" + run_id + ".wal").c_str(), O_RDONLY | O_CLOEXEC);
  Stmt s;
  // Series ids grow as keys and segments appear, so id order is first-seen and segment order.
  Status st = db_->Prepare(
      "SELECT id, segment, key FROM series WHERE run_id=?1 AND (?2 IS NULL OR key=?2) "
      "ORDER BY id",
      &s);
  if (st.ok()) {
    s.Bind(1, run_id);
    if (key) s.Bind(2, *key); else s.BindNull(2);
    while (s.Step()) {
      SegmentData seg;
      seg.series_id = s.Int(0);
      seg.segment = static_cast<int>(s.Int(1));
      seg.key = s.Text(2);
      out->push_back(std::move(seg));
    }
    st = s.status();
  }
  if (st.ok()) {
    Stmt c;
    st = db_->Prepare(
        "SELECT ordinal, offset, length, count, first_step, last_step FROM chunks "
        "WHERE series_id=? ORDER BY ordinal",
        &c);
    for (auto& seg : *out) {
      if (!st.ok()) break;
      c.Bind(1, seg.series_id);
      while (c.Step()) {
        ChunkRef r;
        r.series_id = seg.series_id;
        r.ordinal = c.Int(0);
        r.offset = c.Int(1);
        r.length = c.Int(2);
        r.count = c.Int(3);
        r.first_step = c.Int(4);
        r.last_step = c.Int(5);
        seg.chunks.push_back(r);
      }
      st = c.status();
      c.Reset();
    }
  }
  std::unordered_map<int64_t, std::vector<Point>> loose;
  if (st.ok()) st = ReadWalFor(run_id, wal_fd, &loose);
  if (wal_fd >= 0) ::close(wal_fd);
  INLOOP_RETURN_IF_ERROR(st);
  for (auto& seg : *out) {
    auto it = loose.find(seg.series_id);
    if (it != loose.end()) seg.tail = std::move(it->second);
  }
  return Status::OK();
}

Status Store::SeriesStatsFor(const std::string& run_id, std::vector<SeriesStats>* out) {
  out->clear();
  // Every segment of every key in one pass: the WAL is read once, not once per key.
  std::vector<SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(ReadSegmentsOf(run_id, nullptr, &segs));
  std::unordered_map<std::string, size_t> index;  // key -> position in *out
  std::vector<bool> any;
  for (auto& seg : segs) {
    auto [it, fresh] = index.emplace(seg.key, out->size());
    if (fresh) {
      out->emplace_back().key = seg.key;
      any.push_back(false);
    }
    SeriesStats& st = (*out)[it->second];
    st.segments++;
    auto add = [&](const ChunkSummary& cs) {
      if (!any[it->second]) st.first_step = cs.first.step;
      any[it->second] = true;
      st.last = cs.last;
      st.last_step = cs.last.step;
      st.points += cs.count;
      st.nonfinite += cs.nonfinite;
      if (cs.count > cs.nonfinite) {
        st.min = st.has_finite ? std::min(st.min, cs.min.value) : cs.min.value;
        st.max = st.has_finite ? std::max(st.max, cs.max.value) : cs.max.value;
        st.has_finite = true;
      }
    };
    for (auto& c : seg.chunks) {
      ChunkSummary cs;
      INLOOP_RETURN_IF_ERROR(ReadChunkSummary(run_id, c, &cs));
      add(cs);
    }
    if (!seg.tail.empty()) add(Summarize(seg.tail));
  }
  // A key whose series row exists but holds no point yet is not listed.
  std::vector<SeriesStats> kept;
  for (size_t i = 0; i < out->size(); ++i) {
    if (any[i]) kept.push_back(std::move((*out)[i]));
  }
  *out = std::move(kept);
  return Status::OK();
}

// ---- Disk-full reserve ---------------------------------------------------------------------

Status Store::ReserveSpace(const std::string& run_id, int64_t bytes) {
  std::string path = PathOf("series/" + run_id + ".reserve");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
  int err = ::posix_fallocate(fd, 0, bytes);
  ::close(fd);
  if (err != 0) {
    ::unlink(path.c_str());
    return Status::Io(fmt::format("{}: cannot reserve {} bytes: {}", path, bytes, std::strerror(err)));
  }
  return Status::OK();
}

void Store::ReleaseReserve(const std::string& run_id) {
  ::unlink(PathOf("series/" + run_id + ".reserve").c_str());
}

// ---- Recovery ----------------------------------------------------------------------------

Status Store::RecoverAll() {
  DIR* d = ::opendir(PathOf("series").c_str());
  if (!d) return Status::OK();
  std::vector<std::string> runs;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".wal") runs.emplace_back(n.substr(0, n.size() - 4));
  }
  ::closedir(d);
  for (auto& run_id : runs) {
    int lock_fd = ::open(PathOf("series/" + run_id + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                         0644);
    if (lock_fd < 0) continue;  // read-only store: leave it to a writer
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd);  // a live writer owns it
      continue;
    }
    // A writer creates its WAL only after taking the lock and removes it before letting go, so
    // a WAL still there now that we hold the lock was left by a dead writer. Gone: the writer
    // closed normally between our listing and our lock; nothing to recover, nothing to mark.
    struct stat wb;
    if (::stat(PathOf("series/" + run_id + ".wal").c_str(), &wb) != 0) {
      ::close(lock_fd);
      continue;
    }
    Status s = Recover(run_id);
    ::close(lock_fd);
    if (!s.ok() && s.code() != Status::Code::kIo) return s;
    if (!s.ok()) {
      // The disk is full or the OS refused a write: the WAL stays where it is (readers merge it
      // with the sealed chunks, so nothing is hidden) and the next open tries again. Failing the
      // open here would make a store that filled up unreadable until space is freed.
      fmt::print(stderr,
                 "inloop: warning: run {} was left by a dead writer and could not be recovered "
                 "yet ({}); its points stay readable, recovery is retried on the next open\n",
                 run_id, s.message());
    }
  }
  return Status::OK();
}

// Opens the run's chunk file for appending, dropping a torn chunk at its end (bytes past the last
// indexed chunk were never acknowledged through the index), and loads every series segment of
// the run with its sealed count, ordered by segment so the newest segment of a key comes last.
Status Store::LoadWriterState(RunWriter* w) {
  const std::string& run_id = w->run_id_;
  std::string chunk_path = PathOf("series/" + run_id + ".chunks");
  w->chunk_fd_ = ::open(chunk_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->chunk_fd_ < 0) {
    return Status::Io(fmt::format("{}: cannot open: {}", chunk_path, std::strerror(errno)));
  }
  Stmt q;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT COALESCE(MAX(c.offset + c.length), 0) FROM chunks c JOIN series s "
      "ON s.id = c.series_id WHERE s.run_id=?",
      &q));
  q.Bind(1, run_id);
  int64_t end = q.Step() ? q.Int(0) : 0;
  INLOOP_RETURN_IF_ERROR(q.status());
  if (::ftruncate(w->chunk_fd_, end) != 0) {
    return Status::Io(fmt::format("{}: cannot truncate: {}", chunk_path, std::strerror(errno)));
  }
  w->chunk_size_ = end;
  Stmt ser;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT s.id, s.key, s.segment, COALESCE((SELECT SUM(count) FROM chunks WHERE "
      "series_id = s.id), 0), COALESCE((SELECT MAX(last_step) FROM chunks WHERE "
      "series_id = s.id), 0) FROM series s WHERE s.run_id=? ORDER BY s.segment, s.id",
      &ser));
  ser.Bind(1, run_id);
  while (ser.Step()) {
    auto st = std::make_unique<RunWriter::SeriesState>();
    st->id = ser.Int(0);
    st->key = ser.Text(1);
    st->segment = static_cast<int>(ser.Int(2));
    st->sealed = st->count = ser.Int(3);
    st->last_step = ser.Int(4);
    w->series_.push_back(std::move(st));
  }
  return ser.status();
}

Status Store::Recover(const std::string& run_id) {
  // Re-open the run's writer state from the index and the WAL, then close it normally: Close()
  // seals the loose points and removes the WAL.
  std::unique_ptr<RunWriter> w(new RunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  INLOOP_RETURN_IF_ERROR(LoadWriterState(w.get()));
  std::unordered_map<int64_t, std::vector<Point>> loose;
  std::string wal_path = PathOf("series/" + run_id + ".wal");
  int wal_fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
  Status s = ReadWalFor(run_id, wal_fd, &loose);
  if (wal_fd >= 0) ::close(wal_fd);
  INLOOP_RETURN_IF_ERROR(s);
  for (auto& st : w->series_) {
    auto it = loose.find(st->id);
    if (it == loose.end()) continue;
    st->head = std::move(it->second);
    st->count += static_cast<int64_t>(st->head.size());
  }
  ReleaseReserve(run_id);  // the dead writer's insurance is the space recovery may need
  INLOOP_RETURN_IF_ERROR(w->Close());
  ::unlink(wal_path.c_str());

  RunRecord run;
  if (FindRun(run_id, &run).ok() && run.status == kRunning) {
    run.status = kInterrupted;
    if (run.ended_at == 0) run.ended_at = NowSeconds();
    INLOOP_RETURN_IF_ERROR(UpdateRun(run));
    EventRecord e;
    e.run_id = run_id;
    e.kind = "run_interrupted";
    e.severity = "warning";
    e.message = "the supervisor died; points acknowledged to its write-ahead log were recovered";
    INLOOP_RETURN_IF_ERROR(AddEvent(&e));
  }
  // Its remedies waiting for approve/deny: nobody is left to apply them.
  Stmt x;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE actions SET state='expired', decided_by='recovery', decided_at=? "
      "WHERE run_id=? AND state='pending'",
      &x));
  x.Bind(1, NowSeconds()).Bind(2, run_id);
  return x.Run();
}

// ---- RunWriter ---------------------------------------------------------------------------

Status Store::OpenWriter(const std::string& run_id, std::unique_ptr<RunWriter>* out) {
  std::unique_ptr<RunWriter> w(new RunWriter());
  w->store_ = this;
  w->run_id_ = run_id;
  std::string lock_path = PathOf("series/" + run_id + ".lock");
  w->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (w->lock_fd_ < 0) {
    return Status::Io(fmt::format("{}: cannot create: {}", lock_path, std::strerror(errno)));
  }
  if (::flock(w->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Invalid(fmt::format("run {} is being written by another inloop process", run_id));
  }
  INLOOP_RETURN_IF_ERROR(LoadWriterState(w.get()));
  std::vector<std::pair<int64_t, int64_t>> bases;
  for (auto& st : w->series_) {
    bases.emplace_back(st->id, st->count);
    w->by_key_[st->key] = st.get();  // ordered by segment: the newest segment wins
  }
  INLOOP_RETURN_IF_ERROR(WalWriter::Create(PathOf("series/" + run_id + ".wal"), bases, &w->wal_));
  *out = std::move(w);
  return Status::OK();
}

RunWriter::~RunWriter() {
  if (!closed_ && store_ != nullptr && failed_.ok()) Close();
  if (chunk_fd_ >= 0) ::close(chunk_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status RunWriter::Fail(Status s) {
  if (failed_.ok()) failed_ = s;
  return s;
}

int64_t RunWriter::LastStep(std::string_view key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end() || it->second->count == 0) return -1;
  return it->second->last_step;
}

Status RunWriter::Append(std::string_view key, int64_t step, double wall_time, double value) {
  if (!failed_.ok()) return failed_;
  auto it = by_key_.find(key);
  SeriesState* s;
  if (it == by_key_.end()) {
    auto st = std::make_unique<SeriesState>();
    st->key = std::string(key);
    Status c = store_->CreateSeries(run_id_, key, 0, &st->id);
    if (!c.ok()) return Fail(c);
    s = st.get();
    by_key_.emplace(st->key, s);
    series_.push_back(std::move(st));
  } else {
    s = it->second;
    if (s->count > 0 && step < s->last_step) {
      // Steps went backwards (a resumed attempt rewound): start a new segment, keep the old one.
      Status c = Seal(s);
      if (!c.ok()) return Fail(c);
      auto st = std::make_unique<SeriesState>();
      st->key = s->key;
      st->segment = s->segment + 1;
      c = store_->CreateSeries(run_id_, key, st->segment, &st->id);
      if (!c.ok()) return Fail(c);
      s = st.get();
      it->second = s;
      series_.push_back(std::move(st));
    }
  }
  Point p{step, wall_time, value};
  wal_->Add(s->id, p);
  s->head.push_back(p);
  s->count++;
  s->last_step = step;
  ++points_;
  if (s->head.size() >= kChunkPoints) {
    Status c = Seal(s);
    if (!c.ok()) return Fail(c);
  }
  return Status::OK();
}

Status RunWriter::Seal(SeriesState* s) {
  if (s->head.empty()) return Status::OK();
  std::string bytes = EncodeChunk(s->head);
  INLOOP_RETURN_IF_ERROR(
      PWriteAll(chunk_fd_, chunk_size_, bytes, store_->PathOf("series/" + run_id_ + ".chunks")));
  ChunkRef r;
  r.series_id = s->id;
  r.ordinal = s->sealed;
  r.offset = chunk_size_;
  r.length = static_cast<int64_t>(bytes.size());
  r.count = static_cast<int64_t>(s->head.size());
  r.first_step = s->head.front().step;
  r.last_step = s->head.back().step;
  pending_.push_back(r);
  chunk_size_ += r.length;
  s->sealed += r.count;
  s->head.clear();
  return Status::OK();
}

Status RunWriter::CommitPending() {
  if (pending_.empty()) return Status::OK();
  Db* db = store_->db();
  Stmt ins;
  INLOOP_RETURN_IF_ERROR(db->Prepare(
      "INSERT OR REPLACE INTO chunks(series_id, ordinal, offset, length, count, first_step, "
      "last_step) VALUES(?,?,?,?,?,?,?)",
      &ins));
  INLOOP_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  for (auto& r : pending_) {
    ins.Bind(1, r.series_id).Bind(2, r.ordinal).Bind(3, r.offset).Bind(4, r.length);
    ins.Bind(5, r.count).Bind(6, r.first_step).Bind(7, r.last_step);
    Status s = ins.Run();
    if (!s.ok()) {
      db->Exec("ROLLBACK");
      return s;
    }
  }
  INLOOP_RETURN_IF_ERROR(db->Exec("COMMIT"));
  pending_.clear();
  return Status::OK();
}

Status RunWriter::Flush() {
  if (!failed_.ok()) return failed_;
  Status s = wal_->Flush();
  if (s.ok()) s = CommitPending();
  if (s.ok() && wal_->file_size() > kWalRotateBytes) s = RotateWal();
  if (!s.ok()) return Fail(s);
  return Status::OK();
}

Status RunWriter::RotateWal() {
  // Seal every head so that all points of the old WAL are in indexed chunks, then replace it.
  for (auto& s : series_) INLOOP_RETURN_IF_ERROR(Seal(s.get()));
  INLOOP_RETURN_IF_ERROR(CommitPending());
  std::vector<std::pair<int64_t, int64_t>> bases;
  for (auto& s : series_) bases.emplace_back(s->id, s->count);
  return WalWriter::Create(store_->PathOf("series/" + run_id_ + ".wal"), bases, &wal_);
}

Status RunWriter::Close() {
  if (closed_) return failed_;
  closed_ = true;
  if (!failed_.ok()) return failed_;
  Status s = wal_ ? wal_->Flush() : Status::OK();
  for (auto& st : series_) {
    if (!s.ok()) break;
    s = Seal(st.get());
  }
  if (s.ok()) s = CommitPending();
  if (!s.ok()) return Fail(s);
  if (wal_) {
    wal_.reset();
    ::unlink(store_->PathOf("series/" + run_id_ + ".wal").c_str());
  }
  return Status::OK();
}

}  // namespace inloop::store
