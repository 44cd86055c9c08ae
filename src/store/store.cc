// Store implementation: opening, schema, and the catalog's records (runs, params, tags, imports,
// attempts, events, actions, tokens) over SQLite. Series reads, the run writer and recovery are
// in series_store.cc; listings across runs in run_queries.cc; attempt logs in attempt_logs.cc.
#include "store/sqlite_store.h"

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
#include "store/store_internal.h"

namespace inloop::store {
namespace {

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
CREATE TABLE IF NOT EXISTS experiments(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, lifecycle TEXT NOT NULL,
  artifact_location TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS run_experiments(
  run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, lifecycle TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS run_experiments_exp ON run_experiments(experiment_id);
CREATE TABLE IF NOT EXISTS model_versions(
  name TEXT NOT NULL, version INTEGER NOT NULL, run_id TEXT NOT NULL, stage TEXT NOT NULL,
  artifact TEXT, artifact_step INTEGER, eval_path TEXT, audit TEXT NOT NULL, audit_detail TEXT,
  params TEXT, metrics TEXT, created_at REAL NOT NULL, created_by TEXT,
  PRIMARY KEY(name, version));
CREATE TABLE IF NOT EXISTS model_stage_changes(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,
  from_stage TEXT NOT NULL, to_stage TEXT NOT NULL, changed_at REAL NOT NULL, changed_by TEXT,
  reason TEXT, overridden INTEGER NOT NULL, gate TEXT);
CREATE INDEX IF NOT EXISTS model_stage_changes_name ON model_stage_changes(name, id);
)sql";

// Tables added to format version 1 after its first release (additive, no version bump): a store
// that lacks one gains it, with the whole schema (every statement is IF NOT EXISTS), on open.
constexpr const char* kAddedTables[] = {"actions", "tags", "imports", "tokens",
                                       "experiments", "run_experiments",
                                       "model_versions", "model_stage_changes"};

}  // namespace

namespace internal {

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace internal

namespace internal {

std::string NewRunId() {
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::random_device rd;
  return fmt::format("{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rd() & 0xffff);
}

}  // namespace internal

namespace internal {

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Io(fmt::format("{}: cannot create directory: {}", path, std::strerror(errno)));
  }
  return Status::OK();
}

}  // namespace internal

namespace internal {

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

}  // namespace internal

namespace internal {

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

const char* const kRunColumns =
    "id, name, status, command, cwd, host, git_commit, git_dirty, started_at, ended_at, "
    "exit_code, signal, attempts, supervisor_pid, supervisor_host";

std::string Placeholders(size_t first, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}?{}", i ? "," : "", first + i);
  return s;
}

ReadSnapshot::ReadSnapshot(Db* db) : db_(db) {
  // Nested in an open transaction: that one's snapshot already holds.
  owner_ = !db_->InTransaction();
  if (owner_) status_ = db_->Exec("BEGIN");
}

ReadSnapshot::~ReadSnapshot() {
  if (owner_ && status_.ok()) (void)db_->Exec("COMMIT");
}

}  // namespace internal

using namespace internal;

SqliteStore::~SqliteStore() {
  for (auto& [_, cached] : chunk_fds_) ::close(cached.fd);
}

std::string SqliteStore::PathOf(std::string_view rel) const {
  return fmt::format("{}/{}", location_, rel);
}

std::string SqliteStore::LocalRunDir(const std::string& run_id) const {
  return PathOf("runs/" + run_id);
}

Status SqliteStore::Open(const std::string& dir, bool create, std::unique_ptr<Store>* out) {
  std::unique_ptr<SqliteStore> st(new SqliteStore());
  st->location_ = dir;
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

Status SqliteStore::InitSchema() {
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
            location_, v, kFormatVersion));
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

Status SqliteStore::AddMissingTables() {
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

Status SqliteStore::CreateRun(RunRecord* run) {
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

Status SqliteStore::UpdateRun(const RunRecord& run) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "UPDATE runs SET name=?, status=?, ended_at=?, exit_code=?, signal=?, attempts=?, "
      "git_commit=?, git_dirty=?, started_at=?, host=? WHERE id=?",
      &s));
  s.Bind(1, run.name).Bind(2, run.status).Bind(3, run.ended_at).Bind(4, run.exit_code);
  s.Bind(5, run.signal).Bind(6, run.attempts).Bind(7, run.git_commit);
  if (run.git_dirty < 0) s.BindNull(8); else s.Bind(8, run.git_dirty);
  s.Bind(9, run.started_at).Bind(10, run.host).Bind(11, run.id);
  return s.Run();
}

Status SqliteStore::FindRun(std::string_view id_or_name, RunRecord* run) {
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
      "no run with id or name '{}' in {} (list them with `inloop runs`)", id_or_name, location_));
}

Status SqliteStore::ListRuns(std::vector<RunRecord>* runs) {
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

Status SqliteStore::SetParams(const std::string& run_id, const std::vector<Param>& params) {
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

Status SqliteStore::GetParams(const std::string& run_id, std::vector<Param>* params) {
  params->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT key, value, source FROM params WHERE run_id=? ORDER BY key", &s));
  s.Bind(1, run_id);
  while (s.Step()) params->push_back(Param{s.Text(0), s.Text(1), s.Text(2)});
  return s.status();
}

Status SqliteStore::AddTags(const std::string& run_id, const std::vector<std::string>& tags) {
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

Status SqliteStore::GetTags(const std::string& run_id, std::vector<std::string>* tags) {
  tags->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare("SELECT tag FROM tags WHERE run_id=? ORDER BY tag", &s));
  s.Bind(1, run_id);
  while (s.Step()) tags->push_back(s.Text(0));
  return s.status();
}

Status SqliteStore::FindImport(const std::string& content_key, std::string* run_id) {
  run_id->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "SELECT i.run_id FROM imports i JOIN runs r ON r.id = i.run_id WHERE i.content_key=?", &s));
  s.Bind(1, content_key);
  if (s.Step()) *run_id = s.Text(0);
  return s.status();
}

Status SqliteStore::RecordImport(const std::string& content_key, const std::string& run_id,
                           const std::string& source, const std::string& format) {
  Stmt s;
  INLOOP_RETURN_IF_ERROR(db_->Prepare(
      "INSERT OR REPLACE INTO imports(content_key, run_id, source, format, imported_at) "
      "VALUES(?,?,?,?,?)",
      &s));
  s.Bind(1, content_key).Bind(2, run_id).Bind(3, source).Bind(4, format).Bind(5, NowSeconds());
  return s.Run();
}

Status SqliteStore::PutAttempt(const AttemptRecord& a) {
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

Status SqliteStore::ListAttempts(const std::string& run_id, std::vector<AttemptRecord>* out) {
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

Status SqliteStore::AddEvent(EventRecord* e) {
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

}  // namespace

namespace internal {

bool KnownActionState(std::string_view s) {
  for (const char* k : {kActionPending, kActionApproved, kActionDenied, kActionApplied,
                        kActionObserved, kActionExpired}) {
    if (s == k) return true;
  }
  return false;
}

Status CheckDecisionState(int64_t id, const std::string& new_state) {
  if (new_state == kActionApproved || new_state == kActionDenied) return Status::OK();
  return Status::Invalid(
      fmt::format("action {} can only be approved or denied, not '{}'", id, new_state));
}

Status AlreadyDecided(const ActionRecord& rec) {
  std::string who = rec.decided_by.empty() ? "" : fmt::format(" (by {})", rec.decided_by);
  return Status::Invalid(fmt::format("action {} is already {}{}", rec.id, rec.state, who));
}

Status CheckActionState(int64_t id, const std::string& state) {
  if (KnownActionState(state)) return Status::OK();
  return Status::Invalid(fmt::format("unknown action state '{}' for action {}", state, id));
}

}  // namespace internal

Status SqliteStore::AddAction(ActionRecord* a) {
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

Status SqliteStore::GetAction(int64_t id, ActionRecord* a) {
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

Status SqliteStore::ListActions(const std::string& run_id, const std::string& state,
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

Status SqliteStore::AddToken(const TokenRecord& t) {
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

Status SqliteStore::FindToken(std::string_view sha256_hex, TokenRecord* t) {
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

Status SqliteStore::ListTokens(std::vector<TokenRecord>* out) {
  out->clear();
  Stmt s;
  INLOOP_RETURN_IF_ERROR(
      db_->Prepare("SELECT name, scope, sha256, created_at FROM tokens ORDER BY name", &s));
  while (s.Step()) out->push_back(TokenRecord{s.Text(0), s.Text(1), s.Text(2), s.Double(3)});
  return s.status();
}

Status SqliteStore::RevokeToken(std::string_view name) {
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

Status SqliteStore::DecideAction(int64_t id, const std::string& new_state, const std::string& by,
                           const std::string& note, ActionRecord* after) {
  INLOOP_RETURN_IF_ERROR(internal::CheckDecisionState(id, new_state));
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
    return internal::AlreadyDecided(rec);
  }
  if (after) *after = std::move(rec);
  return Status::OK();
}

Status SqliteStore::SetActionState(int64_t id, const std::string& state, const std::string& by) {
  INLOOP_RETURN_IF_ERROR(internal::CheckActionState(id, state));
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

}  // namespace inloop::store
