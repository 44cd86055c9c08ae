// PgStore (pg_store.h): opening, schema, recovery, and the catalog's records (runs, params,
// tags, imports, attempts, events, actions, tokens) over PostgreSQL. Series and the run writer
// are in pg_series.cc; listings across runs and events in pg_queries.cc; logs in pg_logs.cc.
#include "store/pg_store.h"

#include <fmt/format.h>

#include "store/store_internal.h"

namespace inloop::store {

using namespace internal;
using pg::Params;
using pg::Result;
using pg::Txn;

namespace {

// Types are those of the embedded store's columns; `offset` of chunks has no meaning here (a
// chunk's bytes are its row's), so chunks carry `data` instead.
// run_count keeps the number of runs for unfiltered listings (COUNT(*) is a scan of the table in
// PostgreSQL: 1.6 ms of a 1.8 ms page at 10,000 runs). A trigger adds each insert and delete to
// one of 16 rows picked by the backend, so concurrent run creations rarely wait on one row; the
// count is their sum, read in the same snapshot as the page. A store made before the table gets
// the trigger first and then the count: CREATE TRIGGER locks out inserts into runs until the
// transaction commits, so none is missed or counted twice.
const char* kPgSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  seq BIGSERIAL PRIMARY KEY,
  id TEXT UNIQUE NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, command TEXT NOT NULL,
  cwd TEXT, host TEXT, git_commit TEXT, git_dirty INTEGER, started_at DOUBLE PRECISION,
  ended_at DOUBLE PRECISION, exit_code INTEGER, signal INTEGER, attempts INTEGER,
  supervisor_pid BIGINT, supervisor_host TEXT);
CREATE INDEX IF NOT EXISTS runs_name ON runs(name);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started_at, seq);
CREATE INDEX IF NOT EXISTS runs_name_c ON runs((name COLLATE "C"), seq);
CREATE INDEX IF NOT EXISTS runs_status_c ON runs((status COLLATE "C"), seq);
CREATE TABLE IF NOT EXISTS attempts(
  run_id TEXT NOT NULL, number INTEGER NOT NULL, reason TEXT, started_at DOUBLE PRECISION,
  ended_at DOUBLE PRECISION, pid BIGINT, exit_code INTEGER, signal INTEGER, crash_class TEXT,
  stdout_path TEXT, stderr_path TEXT, stderr_tail TEXT, lines BIGINT, truncated_lines BIGINT,
  PRIMARY KEY(run_id, number));
CREATE TABLE IF NOT EXISTS params(
  run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, source TEXT, PRIMARY KEY(run_id, key));
CREATE TABLE IF NOT EXISTS series(
  id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, segment INTEGER NOT NULL,
  UNIQUE(run_id, key, segment));
CREATE TABLE IF NOT EXISTS chunks(
  series_id BIGINT NOT NULL, ordinal BIGINT NOT NULL, count BIGINT NOT NULL,
  first_step BIGINT NOT NULL, last_step BIGINT NOT NULL, data BYTEA NOT NULL,
  PRIMARY KEY(series_id, ordinal));
CREATE TABLE IF NOT EXISTS staging(
  series_id BIGINT NOT NULL, first_ordinal BIGINT NOT NULL, count BIGINT NOT NULL,
  data BYTEA NOT NULL, PRIMARY KEY(series_id, first_ordinal));
CREATE TABLE IF NOT EXISTS run_points(
  run_id TEXT PRIMARY KEY, version BIGINT NOT NULL DEFAULT 0, live BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE IF NOT EXISTS events(
  id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, time DOUBLE PRECISION NOT NULL,
  kind TEXT NOT NULL, severity TEXT NOT NULL, step_lo BIGINT, step_hi BIGINT, message TEXT,
  data TEXT);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, time);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
CREATE TABLE IF NOT EXISTS actions(
  id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
  action TEXT NOT NULL, trigger TEXT, step BIGINT, reason TEXT, state TEXT NOT NULL,
  decided_by TEXT, decided_at DOUBLE PRECISION, note TEXT, data TEXT);
CREATE INDEX IF NOT EXISTS actions_state ON actions(state);
CREATE INDEX IF NOT EXISTS actions_run ON actions(run_id);
CREATE TABLE IF NOT EXISTS tags(run_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(run_id, tag));
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
CREATE TABLE IF NOT EXISTS imports(
  content_key TEXT PRIMARY KEY, run_id TEXT NOT NULL, source TEXT, format TEXT,
  imported_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
  name TEXT PRIMARY KEY, scope TEXT NOT NULL, sha256 TEXT UNIQUE NOT NULL,
  created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS experiments(
  id BIGINT PRIMARY KEY, name TEXT UNIQUE NOT NULL, lifecycle TEXT NOT NULL,
  artifact_location TEXT, created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS run_experiments(
  run_id TEXT PRIMARY KEY, experiment_id BIGINT NOT NULL, lifecycle TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS run_experiments_exp ON run_experiments(experiment_id);
CREATE TABLE IF NOT EXISTS model_versions(
  name TEXT NOT NULL, version BIGINT NOT NULL, run_id TEXT NOT NULL, stage TEXT NOT NULL,
  artifact TEXT, artifact_step BIGINT, eval_path TEXT, audit TEXT NOT NULL, audit_detail TEXT,
  params TEXT, metrics TEXT, created_at DOUBLE PRECISION NOT NULL, created_by TEXT,
  PRIMARY KEY(name, version));
CREATE TABLE IF NOT EXISTS model_stage_changes(
  id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, version BIGINT NOT NULL,
  from_stage TEXT NOT NULL, to_stage TEXT NOT NULL, changed_at DOUBLE PRECISION NOT NULL,
  changed_by TEXT, reason TEXT, overridden BOOLEAN NOT NULL, gate TEXT);
CREATE INDEX IF NOT EXISTS model_stage_changes_name ON model_stage_changes(name, id);
CREATE TABLE IF NOT EXISTS logs(
  path TEXT NOT NULL, off BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY(path, off));
CREATE TABLE IF NOT EXISTS run_count(slot INTEGER PRIMARY KEY, n BIGINT NOT NULL);
CREATE OR REPLACE FUNCTION inloop_count_runs() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO run_count(slot, n)
    VALUES(pg_backend_pid() % 16, CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END)
    ON CONFLICT (slot) DO UPDATE SET n = run_count.n + EXCLUDED.n;
  RETURN NULL;
END $f$;
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                 WHERE tgname = 'runs_count' AND tgrelid = 'runs'::regclass) THEN
    CREATE TRIGGER runs_count AFTER INSERT OR DELETE ON runs
      FOR EACH ROW EXECUTE PROCEDURE inloop_count_runs();
    DELETE FROM run_count;
    INSERT INTO run_count(slot, n) SELECT 0, count(*) FROM runs;
  END IF;
END $d$;
)sql";

// The advisory-lock class of run writers (the other key is hashtext(run id)), and of the
// schema's creation.
constexpr int kRunLockClass = 0x1e1009;
constexpr int64_t kSchemaLock = 0x1e10090001;

const char* const kPgRunColumns =
    "id, name, status, command, cwd, host, git_commit, git_dirty, started_at, ended_at, "
    "exit_code, signal, attempts, supervisor_pid, supervisor_host";

}  // namespace

namespace internal {

void ReadPgRun(const Result& r, int i, RunRecord* run) {
  run->id = std::string(r.Text(i, 0));
  run->name = std::string(r.Text(i, 1));
  run->status = std::string(r.Text(i, 2));
  run->command = CommandFromJson(std::string(r.Text(i, 3)));
  run->cwd = std::string(r.Text(i, 4));
  run->host = std::string(r.Text(i, 5));
  run->git_commit = std::string(r.Text(i, 6));
  run->git_dirty = r.IsNull(i, 7) ? -1 : static_cast<int>(r.Int(i, 7));
  run->started_at = r.Double(i, 8);
  run->ended_at = r.Double(i, 9);
  run->exit_code.reset();
  if (!r.IsNull(i, 10)) run->exit_code = static_cast<int>(r.Int(i, 10));
  run->signal = static_cast<int>(r.Int(i, 11));
  run->attempts = static_cast<int>(r.Int(i, 12));
  run->supervisor_pid = r.Int(i, 13);
  run->supervisor_host = std::string(r.Text(i, 14));
}

const char* PgRunColumns() { return kPgRunColumns; }

}  // namespace internal

PgStore::~PgStore() {
  for (auto& id : std::set<std::string>(locked_runs_)) UnlockRun(id);
}

std::string PgStore::PathOf(std::string_view rel) const {
  return fmt::format("{}/{}", location_, rel);
}

std::string PgStore::LocalRunDir(const std::string&) const { return ""; }

Status PgStore::Open(const std::string& url, bool create, std::unique_ptr<Store>* out) {
  std::unique_ptr<PgStore> st(new PgStore());
  st->url_ = url;
  st->location_ = pg::ElideUrlPassword(url);
  INLOOP_RETURN_IF_ERROR(pg::PgConn::Connect(url, &st->conn_));
  INLOOP_RETURN_IF_ERROR(st->InitSchema(create));
  INLOOP_RETURN_IF_ERROR(st->RecoverAll());
  *out = std::move(st);
  return Status::OK();
}

namespace {

// "runs,params,...": the tables kPgSchema creates, in its order.
std::string SchemaTableList() {
  constexpr std::string_view kCreate = "CREATE TABLE IF NOT EXISTS ";
  std::string_view schema(kPgSchema);
  std::string out;
  for (size_t at = schema.find(kCreate); at != std::string_view::npos;
       at = schema.find(kCreate, at + 1)) {
    size_t from = at + kCreate.size();
    size_t to = schema.find_first_of("( \n", from);
    if (to == std::string_view::npos) break;
    out += (out.empty() ? "" : ",") + std::string(schema.substr(from, to - from));
  }
  return out;
}

}  // namespace

Status PgStore::InitSchema(bool create) {
  // A database made by another program, or by a future format, must not be touched.
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT to_regclass('meta') IS NOT NULL", Params(), &r));
  bool has_meta = r.rows() == 1 && r.Text(0, 0) == "t";
  if (has_meta) {
    INLOOP_RETURN_IF_ERROR(
        conn_->Exec("SELECT value FROM meta WHERE key='format_version'", Params(), &r));
    if (r.rows() == 1) {
      std::string v(r.Text(0, 0));
      if (v != std::to_string(kFormatVersion)) {
        return Status::Incompatible(fmt::format(
            "{}: store format version {} but this inloop reads version {}: use a matching "
            "inloop release or another --store",
            location_, v, kFormatVersion));
      }
      // Tables added to format version 1 later (additive, as in the embedded store): a store
      // that lacks any table of the schema gains the whole schema (every statement IF NOT
      // EXISTS). The list is read off the schema itself, so a new table needs no other edit.
      INLOOP_RETURN_IF_ERROR(conn_->Exec(
          "SELECT count(*) FROM unnest(string_to_array($1, ',')) AS t(name) "
          "WHERE to_regclass(t.name) IS NULL",
          Params().Text(SchemaTableList()), &r));
      if (r.rows() == 1 && r.Text(0, 0) == "0") return Status::OK();
      Txn t(conn_.get());
      INLOOP_RETURN_IF_ERROR(t.status());
      INLOOP_RETURN_IF_ERROR(
          conn_->Exec("SELECT pg_advisory_xact_lock($1)", Params().Int(kSchemaLock)));
      INLOOP_RETURN_IF_ERROR(conn_->ExecScript(kPgSchema));
      return t.Commit();
    }
  }
  if (!create) {
    return Status::NotFound(fmt::format(
        "no inloop store in {} (record a run with `inloop run --store {}`, or point --store / "
        "INLOOP_STORE at an existing store)",
        location_, location_));
  }
  // Two processes creating the store at once: the lock makes the second wait for the first.
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT pg_advisory_xact_lock($1)", Params().Int(kSchemaLock)));
  INLOOP_RETURN_IF_ERROR(conn_->ExecScript(kPgSchema));
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "INSERT INTO meta(key, value) VALUES('format_version', $1) ON CONFLICT (key) DO NOTHING",
      Params().Text(std::to_string(kFormatVersion))));
  return t.Commit();
}

// ---- Writers' locks and recovery -------------------------------------------------------------

Status PgStore::TryLockRun(const std::string& run_id, bool* got) {
  *got = false;
  if (locked_runs_.count(run_id)) return Status::OK();  // advisory locks nest in a session
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("SELECT pg_try_advisory_lock($1, hashtext($2))",
                                     Params().Int(kRunLockClass).Text(run_id), &r));
  *got = r.rows() == 1 && r.Text(0, 0) == "t";
  if (*got) locked_runs_.insert(run_id);
  return Status::OK();
}

void PgStore::UnlockRun(const std::string& run_id) {
  if (!locked_runs_.erase(run_id)) return;
  (void)conn_->Exec("SELECT pg_advisory_unlock($1, hashtext($2))",
                    Params().Int(kRunLockClass).Text(run_id));
}

Status PgStore::RecoverAll() {
  // A run is live from its writer's open to its close (run_points.live), and its writer holds
  // the run's lock all along: a live run whose lock we can take was left by a dead writer.
  Result r;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec("SELECT run_id FROM run_points WHERE live ORDER BY run_id", Params(), &r));
  for (int i = 0; i < r.rows(); ++i) {
    std::string run_id(r.Text(i, 0));
    bool got = false;
    INLOOP_RETURN_IF_ERROR(TryLockRun(run_id, &got));
    if (!got) continue;  // a live writer owns it
    Result still;
    Status s = conn_->Exec("SELECT live FROM run_points WHERE run_id=$1", Params().Text(run_id),
                           &still);
    // Not live any more: its writer closed between our listing and our lock.
    if (s.ok() && still.rows() == 1 && still.Text(0, 0) == "t") s = Recover(run_id);
    UnlockRun(run_id);
    INLOOP_RETURN_IF_ERROR(s);
  }
  return Status::OK();
}

Status PgStore::Recover(const std::string& run_id) {
  INLOOP_RETURN_IF_ERROR(RecoverPoints(run_id));
  RunRecord run;
  if (FindRun(run_id, &run).ok() && run.status == kRunning) {
    run.status = kInterrupted;
    if (run.ended_at == 0) run.ended_at = NowSeconds();
    INLOOP_RETURN_IF_ERROR(UpdateRun(run));
    EventRecord e;
    e.run_id = run_id;
    e.kind = "run_interrupted";
    e.severity = "warning";
    e.message = "the supervisor died; points acknowledged to the staging table were recovered";
    INLOOP_RETURN_IF_ERROR(AddEvent(&e));
  }
  // Its remedies waiting for approve/deny: nobody is left to apply them.
  return conn_->Exec(
      "UPDATE actions SET state='expired', decided_by='recovery', decided_at=$1 "
      "WHERE run_id=$2 AND state='pending'",
      Params().Double(NowSeconds()).Text(run_id));
}

// ---- Runs ----------------------------------------------------------------------------------

Status PgStore::CreateRun(RunRecord* run) {
  for (int tries = 0;; ++tries) {
    run->id = NewRunId();
    Params p;
    p.Text(run->id).Text(run->name).Text(run->status).Text(CommandToJson(run->command));
    p.Text(run->cwd).Text(run->host).Text(run->git_commit);
    if (run->git_dirty < 0) p.Null(); else p.Int(run->git_dirty);
    p.Double(run->started_at).Double(run->ended_at).Opt(run->exit_code);
    p.Int(run->signal).Int(run->attempts).Int(run->supervisor_pid).Text(run->supervisor_host);
    Result r;
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        fmt::format("INSERT INTO runs({}) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,"
                    "$15) ON CONFLICT (id) DO NOTHING",
                    kPgRunColumns),
        p, &r));
    if (r.Affected() == 1) return Status::OK();
    if (tries > 5) return Status::Io(fmt::format("{}: cannot draw a free run id", location_));
    // id collision within the same second: draw again
  }
}

Status PgStore::UpdateRun(const RunRecord& run) {
  Params p;
  p.Text(run.name).Text(run.status).Double(run.ended_at).Opt(run.exit_code).Int(run.signal);
  p.Int(run.attempts).Text(run.git_commit);
  if (run.git_dirty < 0) p.Null(); else p.Int(run.git_dirty);
  p.Double(run.started_at).Text(run.host);
  p.Text(run.id);
  return conn_->Exec(
      "UPDATE runs SET name=$1, status=$2, ended_at=$3, exit_code=$4, signal=$5, attempts=$6, "
      "git_commit=$7, git_dirty=$8, started_at=$9, host=$10 WHERE id=$11",
      p);
}

Status PgStore::FindRun(std::string_view id_or_name, RunRecord* run) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM runs WHERE id=$1 OR name=$1 ORDER BY (id=$1) DESC, seq DESC "
                  "LIMIT 1",
                  kPgRunColumns),
      Params().Text(id_or_name), &r));
  if (r.rows() == 1) {
    ReadPgRun(r, 0, run);
    return Status::OK();
  }
  // A unique id prefix is accepted too, as git accepts short hashes.
  if (id_or_name.size() >= 4) {
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        fmt::format("SELECT {} FROM runs WHERE left(id, length($1)) = $1 ORDER BY seq DESC "
                    "LIMIT 2",
                    kPgRunColumns),
        Params().Text(id_or_name), &r));
    if (r.rows() == 1) {
      ReadPgRun(r, 0, run);
      return Status::OK();
    }
  }
  return Status::NotFound(fmt::format(
      "no run with id or name '{}' in {} (list them with `inloop runs`)", id_or_name, location_));
}

Status PgStore::ListRuns(std::vector<RunRecord>* runs) {
  runs->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM runs ORDER BY seq DESC", kPgRunColumns), Params(), &r));
  runs->resize(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ReadPgRun(r, i, &(*runs)[static_cast<size_t>(i)]);
  return Status::OK();
}

Status PgStore::RunningRunIds(std::vector<std::string>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec("SELECT id FROM runs WHERE status='running' ORDER BY seq", Params(), &r));
  for (int i = 0; i < r.rows(); ++i) out->emplace_back(r.Text(i, 0));
  return Status::OK();
}

Status PgStore::SetParams(const std::string& run_id, const std::vector<Param>& params) {
  if (params.empty()) return Status::OK();
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  for (auto& p : params) {
    INLOOP_RETURN_IF_ERROR(conn_->Exec(
        "INSERT INTO params(run_id, key, value, source) VALUES($1,$2,$3,$4) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value=EXCLUDED.value, source=EXCLUDED.source",
        Params().Text(run_id).Text(p.key).Text(p.value).Text(p.source)));
  }
  return t.Commit();
}

Status PgStore::GetParams(const std::string& run_id, std::vector<Param>* params) {
  params->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT key, value, source FROM params WHERE run_id=$1 ORDER BY key COLLATE \"C\"",
      Params().Text(run_id), &r));
  for (int i = 0; i < r.rows(); ++i) {
    params->push_back(
        Param{std::string(r.Text(i, 0)), std::string(r.Text(i, 1)), std::string(r.Text(i, 2))});
  }
  return Status::OK();
}

Status PgStore::AddTags(const std::string& run_id, const std::vector<std::string>& tags) {
  if (tags.empty()) return Status::OK();
  Txn t(conn_.get());
  INLOOP_RETURN_IF_ERROR(t.status());
  for (auto& tag : tags) {
    INLOOP_RETURN_IF_ERROR(
        conn_->Exec("INSERT INTO tags(run_id, tag) VALUES($1,$2) ON CONFLICT DO NOTHING",
                    Params().Text(run_id).Text(tag)));
  }
  return t.Commit();
}

Status PgStore::GetTags(const std::string& run_id, std::vector<std::string>* tags) {
  tags->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT tag FROM tags WHERE run_id=$1 ORDER BY tag COLLATE \"C\"", Params().Text(run_id), &r));
  for (int i = 0; i < r.rows(); ++i) tags->emplace_back(r.Text(i, 0));
  return Status::OK();
}

Status PgStore::FindImport(const std::string& content_key, std::string* run_id) {
  run_id->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT i.run_id FROM imports i JOIN runs r ON r.id = i.run_id WHERE i.content_key=$1",
      Params().Text(content_key), &r));
  if (r.rows() > 0) *run_id = std::string(r.Text(0, 0));
  return Status::OK();
}

Status PgStore::RecordImport(const std::string& content_key, const std::string& run_id,
                             const std::string& source, const std::string& format) {
  return conn_->Exec(
      "INSERT INTO imports(content_key, run_id, source, format, imported_at) "
      "VALUES($1,$2,$3,$4,$5) ON CONFLICT (content_key) DO UPDATE SET run_id=EXCLUDED.run_id, "
      "source=EXCLUDED.source, format=EXCLUDED.format, imported_at=EXCLUDED.imported_at",
      Params().Text(content_key).Text(run_id).Text(source).Text(format).Double(NowSeconds()));
}

// Nothing to reserve: the database server's disk is not this process's to insure.
Status PgStore::ReserveSpace(const std::string&, int64_t) { return Status::OK(); }
void PgStore::ReleaseReserve(const std::string&) {}

// ---- Attempts ------------------------------------------------------------------------------

Status PgStore::PutAttempt(const AttemptRecord& a) {
  Params p;
  p.Text(a.run_id).Int(a.number).Text(a.reason).Double(a.started_at).Double(a.ended_at);
  p.Int(a.pid).Opt(a.exit_code).Int(a.signal).Text(a.crash_class).Text(a.stdout_path);
  p.Text(a.stderr_path).Text(a.stderr_tail).Int(a.lines).Int(a.truncated_lines);
  return conn_->Exec(
      "INSERT INTO attempts(run_id, number, reason, started_at, ended_at, pid, exit_code, "
      "signal, crash_class, stdout_path, stderr_path, stderr_tail, lines, truncated_lines) "
      "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) ON CONFLICT (run_id, number) DO "
      "UPDATE SET reason=EXCLUDED.reason, started_at=EXCLUDED.started_at, "
      "ended_at=EXCLUDED.ended_at, pid=EXCLUDED.pid, exit_code=EXCLUDED.exit_code, "
      "signal=EXCLUDED.signal, crash_class=EXCLUDED.crash_class, "
      "stdout_path=EXCLUDED.stdout_path, stderr_path=EXCLUDED.stderr_path, "
      "stderr_tail=EXCLUDED.stderr_tail, lines=EXCLUDED.lines, "
      "truncated_lines=EXCLUDED.truncated_lines",
      p);
}

Status PgStore::ListAttempts(const std::string& run_id, std::vector<AttemptRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT number, reason, started_at, ended_at, pid, exit_code, signal, crash_class, "
      "stdout_path, stderr_path, stderr_tail, lines, truncated_lines FROM attempts "
      "WHERE run_id=$1 ORDER BY number",
      Params().Text(run_id), &r));
  for (int i = 0; i < r.rows(); ++i) {
    AttemptRecord a;
    a.run_id = run_id;
    a.number = static_cast<int>(r.Int(i, 0));
    a.reason = std::string(r.Text(i, 1));
    a.started_at = r.Double(i, 2);
    a.ended_at = r.Double(i, 3);
    a.pid = r.Int(i, 4);
    if (!r.IsNull(i, 5)) a.exit_code = static_cast<int>(r.Int(i, 5));
    a.signal = static_cast<int>(r.Int(i, 6));
    a.crash_class = std::string(r.Text(i, 7));
    a.stdout_path = std::string(r.Text(i, 8));
    a.stderr_path = std::string(r.Text(i, 9));
    a.stderr_tail = std::string(r.Text(i, 10));
    a.lines = r.Int(i, 11);
    a.truncated_lines = r.Int(i, 12);
    out->push_back(std::move(a));
  }
  return Status::OK();
}

// ---- Events --------------------------------------------------------------------------------

Status PgStore::AddEvent(EventRecord* e) {
  if (e->time == 0) e->time = NowSeconds();
  if (e->data_json.empty()) e->data_json = "{}";
  Params p;
  p.Text(e->run_id).Double(e->time).Text(e->kind).Text(e->severity).Opt(e->step_lo);
  p.Opt(e->step_hi).Text(e->message).Text(e->data_json);
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "INSERT INTO events(run_id, time, kind, severity, step_lo, step_hi, message, data) "
      "VALUES($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
      p, &r));
  e->id = r.Int(0, 0);
  return Status::OK();
}

// ---- Actions -------------------------------------------------------------------------------

namespace {

constexpr const char* kActionColumns =
    "id, run_id, created_at, action, trigger, step, reason, state, decided_by, decided_at, note, "
    "data";

void ReadAction(const Result& r, int i, ActionRecord* a) {
  a->id = r.Int(i, 0);
  a->run_id = std::string(r.Text(i, 1));
  a->created_at = r.Double(i, 2);
  a->action = std::string(r.Text(i, 3));
  a->trigger = std::string(r.Text(i, 4));
  a->step.reset();
  if (!r.IsNull(i, 5)) a->step = r.Int(i, 5);
  a->reason = std::string(r.Text(i, 6));
  a->state = std::string(r.Text(i, 7));
  a->decided_by = std::string(r.Text(i, 8));
  a->decided_at = r.Double(i, 9);
  a->note = std::string(r.Text(i, 10));
  a->data_json = std::string(r.Text(i, 11));
  if (a->data_json.empty()) a->data_json = "{}";
}

}  // namespace

Status PgStore::AddAction(ActionRecord* a) {
  if (a->created_at == 0) a->created_at = NowSeconds();
  if (a->data_json.empty()) a->data_json = "{}";
  if (a->state.empty()) a->state = kActionPending;
  if (!KnownActionState(a->state)) {
    return Status::Invalid(fmt::format("unknown action state '{}'", a->state));
  }
  Params p;
  p.Text(a->run_id).Double(a->created_at).Text(a->action).Text(a->trigger).Opt(a->step);
  p.Text(a->reason).Text(a->state).Text(a->decided_by).Double(a->decided_at).Text(a->note);
  p.Text(a->data_json);
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "INSERT INTO actions(run_id, created_at, action, trigger, step, reason, state, decided_by, "
      "decided_at, note, data) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING id",
      p, &r));
  a->id = r.Int(0, 0);
  return Status::OK();
}

Status PgStore::GetAction(int64_t id, ActionRecord* a) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM actions WHERE id=$1", kActionColumns), Params().Int(id), &r));
  if (r.rows() == 1) {
    ReadAction(r, 0, a);
    return Status::OK();
  }
  return Status::NotFound(fmt::format("no action {} (inloop pending lists them)", id));
}

Status PgStore::ListActions(const std::string& run_id, const std::string& state,
                            std::vector<ActionRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("SELECT {} FROM actions WHERE ($1 = '' OR run_id = $1) AND "
                  "($2 = '' OR state = $2) ORDER BY id",
                  kActionColumns),
      Params().Text(run_id).Text(state), &r));
  out->resize(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ReadAction(r, i, &(*out)[static_cast<size_t>(i)]);
  return Status::OK();
}

Status PgStore::DecideAction(int64_t id, const std::string& new_state, const std::string& by,
                             const std::string& note, ActionRecord* after) {
  INLOOP_RETURN_IF_ERROR(internal::CheckDecisionState(id, new_state));
  // One statement: the state test and the change are atomic against the supervisor and against
  // a second `inloop approve/deny` racing this one.
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      fmt::format("UPDATE actions SET state=$1, decided_by=$2, decided_at=$3, note=$4 "
                  "WHERE id=$5 AND state='pending' RETURNING {}",
                  kActionColumns),
      Params().Text(new_state).Text(by).Double(NowSeconds()).Text(note).Int(id), &r));
  ActionRecord rec;
  if (r.rows() == 0) {
    INLOOP_RETURN_IF_ERROR(GetAction(id, &rec));
    return internal::AlreadyDecided(rec);
  }
  ReadAction(r, 0, &rec);
  if (after) *after = std::move(rec);
  return Status::OK();
}

Status PgStore::SetActionState(int64_t id, const std::string& state, const std::string& by) {
  INLOOP_RETURN_IF_ERROR(internal::CheckActionState(id, state));
  // The first decider stays on record: a human's approval outlives the later "applied".
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "UPDATE actions SET state=$1, "
      "decided_by = CASE WHEN $1 <> 'pending' AND COALESCE(decided_by, '') = '' THEN $2 "
      "ELSE decided_by END, "
      "decided_at = CASE WHEN $1 <> 'pending' AND COALESCE(decided_at, 0) = 0 THEN $3 "
      "ELSE decided_at END "
      "WHERE id=$4 RETURNING id",
      Params().Text(state).Text(by).Double(NowSeconds()).Int(id), &r));
  if (r.rows() == 0) {
    return Status::NotFound(fmt::format("no action {} (inloop pending lists them)", id));
  }
  return Status::OK();
}

// ---- Tokens --------------------------------------------------------------------------------

Status PgStore::AddToken(const TokenRecord& t) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "INSERT INTO tokens(name, scope, sha256, created_at) VALUES($1,$2,$3,$4) "
      "ON CONFLICT DO NOTHING",
      Params().Text(t.name).Text(t.scope).Text(t.sha256_hex).Double(t.created_at), &r));
  if (r.Affected() == 0) {
    return Status::Invalid(fmt::format(
        "token '{}' already exists (inloop token revoke {} first, or pick another name)", t.name,
        t.name));
  }
  return Status::OK();
}

Status PgStore::FindToken(std::string_view sha256_hex, TokenRecord* t) {
  Result r;
  INLOOP_RETURN_IF_ERROR(
      conn_->Exec("SELECT name, scope, sha256, created_at FROM tokens WHERE sha256=$1",
                  Params().Text(sha256_hex), &r));
  if (r.rows() == 0) return Status::NotFound("no such token");
  *t = TokenRecord{std::string(r.Text(0, 0)), std::string(r.Text(0, 1)),
                   std::string(r.Text(0, 2)), r.Double(0, 3)};
  return Status::OK();
}

Status PgStore::ListTokens(std::vector<TokenRecord>* out) {
  out->clear();
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec(
      "SELECT name, scope, sha256, created_at FROM tokens ORDER BY name COLLATE \"C\"", Params(),
      &r));
  for (int i = 0; i < r.rows(); ++i) {
    out->push_back(TokenRecord{std::string(r.Text(i, 0)), std::string(r.Text(i, 1)),
                               std::string(r.Text(i, 2)), r.Double(i, 3)});
  }
  return Status::OK();
}

Status PgStore::RevokeToken(std::string_view name) {
  Result r;
  INLOOP_RETURN_IF_ERROR(conn_->Exec("DELETE FROM tokens WHERE name=$1", Params().Text(name), &r));
  if (r.Affected() == 0) {
    return Status::NotFound(
        fmt::format("no token named '{}' (inloop token list shows them)", name));
  }
  return Status::OK();
}

}  // namespace inloop::store
