// JSON forms and rules of the replication protocol (protocol.h). Parsing is strict: a field of
// the wrong type, out of range or too long is refused with its name, never half-applied.
#include "sync/protocol.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"

namespace inloop::sync {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

const char* StreamName(store::LogStream s) {
  return s == store::LogStream::kStdout ? "stdout" : "stderr";
}

bool StreamOf(std::string_view name, store::LogStream* s) {
  if (name == "stdout") {
    *s = store::LogStream::kStdout;
  } else if (name == "stderr") {
    *s = store::LogStream::kStderr;
  } else {
    return false;
  }
  return true;
}

bool KnownStatus(std::string_view s) {
  return s == store::kRunning || s == store::kFinished || s == store::kFailed ||
         s == store::kStopped || s == store::kInterrupted;
}

void WriteOptInt(JsonWriter& w, std::string_view k, const std::optional<int64_t>& v) {
  w.Key(k);
  if (v) {
    w.Int(*v);
  } else {
    w.Null();
  }
}

void WriteRun(JsonWriter& w, const store::RunRecord& r) {
  w.BeginObject().Key("name").String(r.name).Key("status").String(r.status);
  w.Key("command").BeginArray();
  for (auto& c : r.command) w.String(c);
  w.EndArray();
  w.Key("cwd").String(r.cwd).Key("host").String(r.host).Key("git_commit").String(r.git_commit);
  w.Key("git_dirty").Int(r.git_dirty).Key("started_at").Number(r.started_at);
  w.Key("ended_at").Number(r.ended_at);
  WriteOptInt(w, "exit_code", r.exit_code ? std::optional<int64_t>(*r.exit_code) : std::nullopt);
  w.Key("signal").Int(r.signal).Key("attempts").Int(r.attempts);
  w.Key("supervisor_pid").Int(r.supervisor_pid).Key("supervisor_host").String(r.supervisor_host);
  w.EndObject();
}

void WriteAttempt(JsonWriter& w, const store::AttemptRecord& a) {
  w.BeginObject().Key("number").Int(a.number).Key("reason").String(a.reason);
  w.Key("started_at").Number(a.started_at).Key("ended_at").Number(a.ended_at);
  w.Key("pid").Int(a.pid);
  WriteOptInt(w, "exit_code", a.exit_code ? std::optional<int64_t>(*a.exit_code) : std::nullopt);
  w.Key("signal").Int(a.signal).Key("crash_class").String(a.crash_class);
  w.Key("stderr_tail").String(a.stderr_tail).Key("lines").Int(a.lines);
  w.Key("truncated_lines").Int(a.truncated_lines).EndObject();
}

void WriteEvent(JsonWriter& w, const store::EventRecord& e) {
  w.BeginObject().Key("time").Number(e.time).Key("kind").String(e.kind);
  w.Key("severity").String(e.severity);
  WriteOptInt(w, "step_lo", e.step_lo);
  WriteOptInt(w, "step_hi", e.step_hi);
  w.Key("message").String(e.message).Key("data_json").String(e.data_json).EndObject();
}

// Field readers: each returns Invalid naming `path` when the field is missing (unless optional)
// or of the wrong kind.
class Reader {
 public:
  Reader(element obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Status Str(std::string_view k, size_t max, std::string* out, bool required = true) {
    element e;
    if (obj_[k].get(e)) return required ? Missing(k, "a string") : Status::OK();
    std::string_view sv;
    if (e.get_string().get(sv)) return Bad(k, "must be a string");
    if (sv.size() > max) return Bad(k, fmt::format("longer than {} bytes", max));
    *out = std::string(sv);
    return Status::OK();
  }
  Status Int(std::string_view k, int64_t lo, int64_t hi, int64_t* out, bool required = true) {
    element e;
    if (obj_[k].get(e)) return required ? Missing(k, "an integer") : Status::OK();
    int64_t v = 0;
    if (e.get_int64().get(v)) return Bad(k, "must be an integer");
    if (v < lo || v > hi) return Bad(k, fmt::format("must be from {} to {}", lo, hi));
    *out = v;
    return Status::OK();
  }
  Status OptInt(std::string_view k, int64_t lo, int64_t hi, std::optional<int64_t>* out) {
    element e;
    if (obj_[k].get(e) || e.is_null()) return Status::OK();
    int64_t v = 0;
    INLOOP_RETURN_IF_ERROR(Int(k, lo, hi, &v));
    *out = v;
    return Status::OK();
  }
  Status Time(std::string_view k, double* out) {
    element e;
    if (obj_[k].get(e)) return Missing(k, "a number");
    double v = 0;
    if (e.get_double().get(v) || !std::isfinite(v)) return Bad(k, "must be a finite number");
    *out = v;
    return Status::OK();
  }
  Status Array(std::string_view k, array* out, bool* present) {
    element e;
    *present = false;
    if (obj_[k].get(e)) return Status::OK();
    if (e.get_array().get(*out)) return Bad(k, "must be an array");
    *present = true;
    return Status::OK();
  }
  std::string Path(std::string_view k) const { return fmt::format("{}{}", path_, k); }

 private:
  Status Missing(std::string_view k, std::string_view what) {
    return Status::Invalid(fmt::format("{}: required, {}", Path(k), what));
  }
  Status Bad(std::string_view k, std::string_view why) {
    return Status::Invalid(fmt::format("{}: {}", Path(k), why));
  }
  element obj_;
  std::string path_;
};

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kIntMax = std::numeric_limits<int>::max();

Status StringArray(array arr, const std::string& path, size_t max_items,
                   std::vector<std::string>* out) {
  if (arr.size() > max_items) {
    return Status::Invalid(fmt::format("{}: more than {} items", path, max_items));
  }
  size_t i = 0;
  for (element a : arr) {
    std::string_view sv;
    if (a.get_string().get(sv) || sv.size() > kMaxNameBytes) {
      return Status::Invalid(
          fmt::format("{}[{}]: must be a string of at most {} bytes", path, i, kMaxNameBytes));
    }
    out->emplace_back(sv);
    ++i;
  }
  return Status::OK();
}

Status ParseRun(element e, store::RunRecord* r) {
  if (!e.is_object()) return Status::Invalid("run: required, an object");
  Reader rd(e, "run.");
  INLOOP_RETURN_IF_ERROR(rd.Str("name", kMaxNameBytes, &r->name));
  if (r->name.empty()) return Status::Invalid("run.name: must not be empty");
  INLOOP_RETURN_IF_ERROR(rd.Str("status", 32, &r->status));
  if (!KnownStatus(r->status)) {
    return Status::Invalid(
        "run.status: must be running, finished, failed, stopped or interrupted");
  }
  array cmd;
  bool has = false;
  INLOOP_RETURN_IF_ERROR(rd.Array("command", &cmd, &has));
  if (has) INLOOP_RETURN_IF_ERROR(StringArray(cmd, "run.command", 10000, &r->command));
  INLOOP_RETURN_IF_ERROR(rd.Str("cwd", kMaxNameBytes, &r->cwd, false));
  INLOOP_RETURN_IF_ERROR(rd.Str("host", kMaxNameBytes, &r->host, false));
  INLOOP_RETURN_IF_ERROR(rd.Str("git_commit", 256, &r->git_commit, false));
  int64_t v = -1;
  INLOOP_RETURN_IF_ERROR(rd.Int("git_dirty", -1, 1, &v, false));
  r->git_dirty = static_cast<int>(v);
  INLOOP_RETURN_IF_ERROR(rd.Time("started_at", &r->started_at));
  INLOOP_RETURN_IF_ERROR(rd.Time("ended_at", &r->ended_at));
  std::optional<int64_t> code;
  INLOOP_RETURN_IF_ERROR(rd.OptInt("exit_code", -1, 1024, &code));
  if (code) r->exit_code = static_cast<int>(*code);
  v = 0;
  INLOOP_RETURN_IF_ERROR(rd.Int("signal", 0, 128, &v, false));
  r->signal = static_cast<int>(v);
  v = 0;
  INLOOP_RETURN_IF_ERROR(rd.Int("attempts", 0, kIntMax, &v, false));
  r->attempts = static_cast<int>(v);
  INLOOP_RETURN_IF_ERROR(rd.Int("supervisor_pid", 0, kI64Max, &r->supervisor_pid, false));
  return rd.Str("supervisor_host", kMaxNameBytes, &r->supervisor_host, false);
}

Status ParseAttempt(element e, size_t i, store::AttemptRecord* a) {
  std::string p = fmt::format("attempts[{}].", i);
  if (!e.is_object()) return Status::Invalid(fmt::format("attempts[{}]: must be an object", i));
  Reader rd(e, p);
  int64_t v = 0;
  INLOOP_RETURN_IF_ERROR(rd.Int("number", 1, kIntMax, &v));
  a->number = static_cast<int>(v);
  INLOOP_RETURN_IF_ERROR(rd.Str("reason", kMaxNameBytes, &a->reason, false));
  INLOOP_RETURN_IF_ERROR(rd.Time("started_at", &a->started_at));
  INLOOP_RETURN_IF_ERROR(rd.Time("ended_at", &a->ended_at));
  INLOOP_RETURN_IF_ERROR(rd.Int("pid", 0, kI64Max, &a->pid, false));
  std::optional<int64_t> code;
  INLOOP_RETURN_IF_ERROR(rd.OptInt("exit_code", -1, 1024, &code));
  if (code) a->exit_code = static_cast<int>(*code);
  v = 0;
  INLOOP_RETURN_IF_ERROR(rd.Int("signal", 0, 128, &v, false));
  a->signal = static_cast<int>(v);
  INLOOP_RETURN_IF_ERROR(rd.Str("crash_class", kMaxNameBytes, &a->crash_class, false));
  INLOOP_RETURN_IF_ERROR(rd.Str("stderr_tail", kMaxTextBytes, &a->stderr_tail, false));
  INLOOP_RETURN_IF_ERROR(rd.Int("lines", 0, kI64Max, &a->lines, false));
  return rd.Int("truncated_lines", 0, kI64Max, &a->truncated_lines, false);
}

Status ParseEvent(element e, size_t i, store::EventRecord* ev) {
  if (!e.is_object()) return Status::Invalid(fmt::format("events[{}]: must be an object", i));
  Reader rd(e, fmt::format("events[{}].", i));
  INLOOP_RETURN_IF_ERROR(rd.Time("time", &ev->time));
  INLOOP_RETURN_IF_ERROR(rd.Str("kind", kMaxNameBytes, &ev->kind));
  if (ev->kind.empty()) return Status::Invalid(fmt::format("events[{}].kind: empty", i));
  INLOOP_RETURN_IF_ERROR(rd.Str("severity", 32, &ev->severity));
  INLOOP_RETURN_IF_ERROR(rd.OptInt("step_lo", kI64Min, kI64Max, &ev->step_lo));
  INLOOP_RETURN_IF_ERROR(rd.OptInt("step_hi", kI64Min, kI64Max, &ev->step_hi));
  INLOOP_RETURN_IF_ERROR(rd.Str("message", kMaxTextBytes, &ev->message, false));
  ev->data_json = "{}";
  INLOOP_RETURN_IF_ERROR(rd.Str("data_json", kMaxTextBytes, &ev->data_json, false));
  simdjson::dom::parser p;
  element d;
  if (p.parse(ev->data_json).get(d) || !d.is_object()) {
    return Status::Invalid(fmt::format("events[{}].data_json: must hold a JSON object", i));
  }
  return Status::OK();
}

bool ValueOf(element e, double* out) {
  if (e.is_number()) return !e.get_double().get(*out);
  std::string_view s;
  if (e.get_string().get(s)) return false;
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
  } else if (s == "Infinity") {
    *out = std::numeric_limits<double>::infinity();
  } else if (s == "-Infinity") {
    *out = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

Status ParseSeries(element e, size_t i, size_t* budget, SeriesBatch* s) {
  if (!e.is_object()) return Status::Invalid(fmt::format("series[{}]: must be an object", i));
  Reader rd(e, fmt::format("series[{}].", i));
  INLOOP_RETURN_IF_ERROR(rd.Str("key", kMaxNameBytes, &s->key));
  if (s->key.empty()) return Status::Invalid(fmt::format("series[{}].key: empty", i));
  INLOOP_RETURN_IF_ERROR(rd.Int("from", 0, kI64Max / 2, &s->from));
  array pts;
  bool has = false;
  INLOOP_RETURN_IF_ERROR(rd.Array("points", &pts, &has));
  if (!has) return Status::Invalid(fmt::format("series[{}].points: required, an array", i));
  if (pts.size() > *budget) {
    return Status::Invalid(fmt::format("series: more than {} points in one batch", kMaxBatchPoints));
  }
  *budget -= pts.size();
  s->points.reserve(pts.size());
  size_t j = 0;
  for (element p : pts) {
    array triple;
    Point pt;
    element st, wt, val;
    if (p.get_array().get(triple) || triple.size() != 3 || triple.at(0).get(st) ||
        st.get_int64().get(pt.step) || triple.at(1).get(wt) || wt.get_double().get(pt.wall_time) ||
        !std::isfinite(pt.wall_time) || triple.at(2).get(val) || !ValueOf(val, &pt.value)) {
      return Status::Invalid(fmt::format(
          "series[{}].points[{}]: must be [step (integer), wall_time (finite number), value "
          "(number, \"NaN\", \"Infinity\" or \"-Infinity\")]",
          i, j));
    }
    s->points.push_back(pt);
    ++j;
  }
  return Status::OK();
}

Status ParseParams(array arr, SyncBatch* b) {
  if (arr.size() > 100000) return Status::Invalid("params: more than 100000 items");
  b->params.emplace();
  size_t i = 0;
  for (element p : arr) {
    if (!p.is_object()) return Status::Invalid(fmt::format("params[{}]: must be an object", i));
    Reader pr(p, fmt::format("params[{}].", i));
    store::Param param;
    INLOOP_RETURN_IF_ERROR(pr.Str("key", kMaxNameBytes, &param.key));
    if (param.key.empty()) return Status::Invalid(fmt::format("params[{}].key: empty", i));
    INLOOP_RETURN_IF_ERROR(pr.Str("value", kMaxTextBytes, &param.value));
    INLOOP_RETURN_IF_ERROR(pr.Str("source", 64, &param.source, false));
    b->params->push_back(std::move(param));
    ++i;
  }
  return Status::OK();
}

Status ParseLogs(array arr, SyncBatch* b) {
  size_t budget = kMaxBatchLogBytes;
  size_t i = 0;
  for (element l : arr) {
    if (!l.is_object()) return Status::Invalid(fmt::format("logs[{}]: must be an object", i));
    Reader lr(l, fmt::format("logs[{}].", i));
    LogBatch lb;
    int64_t v = 0;
    INLOOP_RETURN_IF_ERROR(lr.Int("attempt", 1, kIntMax, &v));
    lb.attempt = static_cast<int>(v);
    std::string stream, text;
    INLOOP_RETURN_IF_ERROR(lr.Str("stream", 16, &stream));
    if (!StreamOf(stream, &lb.stream)) {
      return Status::Invalid(fmt::format("logs[{}].stream: must be stdout or stderr", i));
    }
    INLOOP_RETURN_IF_ERROR(lr.Int("from", 0, kI64Max / 2, &lb.from));
    INLOOP_RETURN_IF_ERROR(lr.Str("base64", kMaxBatchLogBytes / 3 * 4 + 4, &text));
    if (!Base64Decode(text, &lb.bytes)) {
      return Status::Invalid(fmt::format("logs[{}].base64: not base64", i));
    }
    if (lb.bytes.size() > budget) {
      return Status::Invalid(
          fmt::format("logs: more than {} bytes in one batch", kMaxBatchLogBytes));
    }
    budget -= lb.bytes.size();
    for (auto& prev : b->logs) {
      if (prev.attempt == lb.attempt && prev.stream == lb.stream) {
        return Status::Invalid(fmt::format("logs[{}]: attempt {} {} appears twice", i,
                                           lb.attempt, stream));
      }
    }
    b->logs.push_back(std::move(lb));
    ++i;
  }
  return Status::OK();
}

Status ParseBatchDoc(element doc, SyncBatch* b) {
  if (!doc.is_object()) return Status::Invalid("body: not a JSON object");
  Reader rd(doc, "");
  INLOOP_RETURN_IF_ERROR(rd.Str("origin", 64, &b->origin));
  if (!ValidOrigin(b->origin)) return Status::Invalid("origin: must be 16 to 64 of [0-9a-z]");
  INLOOP_RETURN_IF_ERROR(rd.Str("origin_run", 128, &b->origin_run));
  if (b->origin_run.empty()) return Status::Invalid("origin_run: must not be empty");
  element e;
  if (doc["run"].get(e)) return Status::Invalid("run: required, an object");
  INLOOP_RETURN_IF_ERROR(ParseRun(e, &b->run));
  array arr;
  bool has = false;
  INLOOP_RETURN_IF_ERROR(rd.Array("params", &arr, &has));
  if (has) INLOOP_RETURN_IF_ERROR(ParseParams(arr, b));
  INLOOP_RETURN_IF_ERROR(rd.Array("tags", &arr, &has));
  if (has) {
    b->tags.emplace();
    INLOOP_RETURN_IF_ERROR(StringArray(arr, "tags", 10000, &*b->tags));
    for (auto& t : *b->tags) {
      if (t.empty()) return Status::Invalid("tags: must be non-empty strings");
    }
  }
  INLOOP_RETURN_IF_ERROR(rd.Array("attempts", &arr, &has));
  if (has) {
    if (arr.size() > 100000) return Status::Invalid("attempts: more than 100000 items");
    size_t i = 0;
    for (element a : arr) {
      store::AttemptRecord rec;
      INLOOP_RETURN_IF_ERROR(ParseAttempt(a, i++, &rec));
      b->attempts.push_back(std::move(rec));
    }
  }
  INLOOP_RETURN_IF_ERROR(rd.Int("events_from", 0, kI64Max / 2, &b->events_from, false));
  INLOOP_RETURN_IF_ERROR(rd.Array("events", &arr, &has));
  if (has) {
    if (arr.size() > kMaxBatchEvents) {
      return Status::Invalid(fmt::format("events: more than {} in one batch", kMaxBatchEvents));
    }
    size_t i = 0;
    for (element ev : arr) {
      store::EventRecord rec;
      INLOOP_RETURN_IF_ERROR(ParseEvent(ev, i++, &rec));
      b->events.push_back(std::move(rec));
    }
  }
  INLOOP_RETURN_IF_ERROR(rd.Array("series", &arr, &has));
  if (has) {
    if (arr.size() > kMaxBatchSeries) {
      return Status::Invalid(fmt::format("series: more than {} in one batch", kMaxBatchSeries));
    }
    size_t budget = kMaxBatchPoints;
    size_t i = 0;
    for (element s : arr) {
      SeriesBatch sb;
      INLOOP_RETURN_IF_ERROR(ParseSeries(s, i++, &budget, &sb));
      for (auto& prev : b->series) {
        if (prev.key == sb.key) {
          return Status::Invalid(fmt::format("series: key '{}' appears twice", sb.key));
        }
      }
      b->series.push_back(std::move(sb));
    }
  }
  INLOOP_RETURN_IF_ERROR(rd.Array("logs", &arr, &has));
  if (has) INLOOP_RETURN_IF_ERROR(ParseLogs(arr, b));
  return Status::OK();
}

}  // namespace

int64_t SeriesMarks::total() const {
  int64_t t = 0;
  for (int64_t c : segments) t += c;
  return t;
}

const SeriesMarks* SyncMarks::Find(std::string_view key) const {
  auto it = std::lower_bound(series.begin(), series.end(), key,
                             [](const SeriesMarks& m, std::string_view k) { return m.key < k; });
  return it != series.end() && it->key == key ? &*it : nullptr;
}

int64_t SyncMarks::LogBytes(int attempt, store::LogStream stream) const {
  for (auto& l : logs) {
    if (l.attempt == attempt && l.stream == stream) return l.bytes;
  }
  return 0;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16 | static_cast<uint8_t>(in[i + 1]) << 8 |
                 static_cast<uint8_t>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) return false;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=') : 0;
    if (pad == 1 && in[i + 2] == '=') return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int d = k >= 4 - pad ? 0 : val(in[i + k]);
      if (d < 0) return false;
      v = v << 6 | static_cast<uint32_t>(d);
    }
    out->push_back(static_cast<char>(v >> 16));
    if (pad < 2) out->push_back(static_cast<char>(v >> 8 & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(v & 0xff));
  }
  return true;
}

bool ValidOrigin(std::string_view id) {
  if (id.size() < 16 || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

std::string EncodeBatch(const SyncBatch& b) {
  JsonWriter w;
  w.BeginObject().Key("origin").String(b.origin).Key("origin_run").String(b.origin_run);
  w.Key("run");
  WriteRun(w, b.run);
  if (b.params) {
    w.Key("params").BeginArray();
    for (auto& p : *b.params) {
      w.BeginObject().Key("key").String(p.key).Key("value").String(p.value);
      w.Key("source").String(p.source).EndObject();
    }
    w.EndArray();
  }
  if (b.tags) {
    w.Key("tags").BeginArray();
    for (auto& t : *b.tags) w.String(t);
    w.EndArray();
  }
  w.Key("attempts").BeginArray();
  for (auto& a : b.attempts) WriteAttempt(w, a);
  w.EndArray();
  w.Key("events_from").Int(b.events_from).Key("events").BeginArray();
  for (auto& e : b.events) WriteEvent(w, e);
  w.EndArray();
  w.Key("series").BeginArray();
  for (auto& s : b.series) {
    w.BeginObject().Key("key").String(s.key).Key("from").Int(s.from).Key("points").BeginArray();
    for (auto& p : s.points) {
      w.BeginArray().Int(p.step).Number(p.wall_time).Number(p.value).EndArray();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().Key("logs").BeginArray();
  for (auto& l : b.logs) {
    w.BeginObject().Key("attempt").Int(l.attempt).Key("stream").String(StreamName(l.stream));
    w.Key("from").Int(l.from).Key("base64").String(Base64Encode(l.bytes)).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Status ParseBatch(std::string_view json, SyncBatch* out) {
  if (json.empty()) return Status::Invalid("body: empty (send a JSON object)");
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) {
    return Status::Invalid("body: not valid JSON");
  }
  SyncBatch b;
  INLOOP_RETURN_IF_ERROR(ParseBatchDoc(doc, &b));
  *out = std::move(b);
  return Status::OK();
}

std::string EncodeMarks(const SyncMarks& m) {
  JsonWriter w;
  w.BeginObject().Key("run_id").String(m.run_id).Key("status").String(m.status);
  w.Key("events").Int(m.events).Key("series").BeginArray();
  for (auto& s : m.series) {
    w.BeginObject().Key("key").String(s.key).Key("segments").BeginArray();
    for (int64_t c : s.segments) w.Int(c);
    w.EndArray().EndObject();
  }
  w.EndArray().Key("logs").BeginArray();
  for (auto& l : m.logs) {
    w.BeginObject().Key("attempt").Int(l.attempt).Key("stream").String(StreamName(l.stream));
    w.Key("bytes").Int(l.bytes).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Status ParseMarks(std::string_view json, SyncMarks* out) {
  simdjson::dom::parser parser;
  element doc;
  if (json.empty() || parser.parse(json.data(), json.size()).get(doc) || !doc.is_object()) {
    return Status::Invalid("sync answer: not a JSON object");
  }
  SyncMarks m;
  Reader rd(doc, "sync answer: ");
  INLOOP_RETURN_IF_ERROR(rd.Str("run_id", 128, &m.run_id));
  INLOOP_RETURN_IF_ERROR(rd.Str("status", 32, &m.status));
  INLOOP_RETURN_IF_ERROR(rd.Int("events", 0, kI64Max, &m.events));
  array arr;
  bool has = false;
  INLOOP_RETURN_IF_ERROR(rd.Array("series", &arr, &has));
  if (!has) return Status::Invalid("sync answer: series: required, an array");
  for (element s : arr) {
    SeriesMarks sm;
    Reader sr(s, "sync answer: series.");
    array segs;
    if (!s.is_object()) return Status::Invalid("sync answer: series: items must be objects");
    INLOOP_RETURN_IF_ERROR(sr.Str("key", kMaxNameBytes, &sm.key));
    INLOOP_RETURN_IF_ERROR(sr.Array("segments", &segs, &has));
    for (element c : segs) {
      int64_t v = 0;
      if (c.get_int64().get(v) || v < 0) {
        return Status::Invalid("sync answer: series.segments: must be counts");
      }
      sm.segments.push_back(v);
    }
    m.series.push_back(std::move(sm));
  }
  array logs;
  bool has_logs = false;
  INLOOP_RETURN_IF_ERROR(rd.Array("logs", &logs, &has_logs));
  for (size_t i = 0; has_logs && i < logs.size(); ++i) {
    element l;
    if (logs.at(i).get(l)) return Status::Invalid("sync answer: logs: unreadable");
    if (!l.is_object()) return Status::Invalid("sync answer: logs: items must be objects");
    Reader lr(l, "sync answer: logs.");
    LogMarks lm;
    int64_t v = 0;
    std::string stream;
    INLOOP_RETURN_IF_ERROR(lr.Int("attempt", 1, kIntMax, &v));
    lm.attempt = static_cast<int>(v);
    INLOOP_RETURN_IF_ERROR(lr.Str("stream", 16, &stream));
    if (!StreamOf(stream, &lm.stream)) return Status::Invalid("sync answer: logs.stream: unknown");
    INLOOP_RETURN_IF_ERROR(lr.Int("bytes", 0, kI64Max, &lm.bytes));
    m.logs.push_back(lm);
  }
  std::sort(m.series.begin(), m.series.end(),
            [](const SeriesMarks& a, const SeriesMarks& b) { return a.key < b.key; });
  *out = std::move(m);
  return Status::OK();
}

Overlap OverlapOf(int64_t held, int64_t from, int64_t n) {
  Overlap o;
  if (from > held) {
    o.gap = true;
    return o;
  }
  o.skip = std::min(n, held - from);
  return o;
}

SegmentCounter::SegmentCounter(std::vector<int64_t> segments, int64_t last_step)
    : segments_(std::move(segments)), last_step_(last_step) {
  for (int64_t c : segments_) total_ += c;
}

void SegmentCounter::Add(int64_t step) {
  if (segments_.empty()) {
    segments_.push_back(0);
  } else if (segments_.back() > 0 && step < last_step_) {
    segments_.push_back(0);
  }
  ++segments_.back();
  ++total_;
  last_step_ = step;
}

bool SegmentsAgree(const std::vector<int64_t>& origin, const std::vector<int64_t>& server,
                   std::string* why) {
  for (size_t i = 0; i < server.size(); ++i) {
    bool last = i + 1 == server.size();
    if (i >= origin.size()) {
      *why = fmt::format("the server has {} segments, this store {}", server.size(),
                         origin.size());
      return false;
    }
    if (last ? server[i] > origin[i] : server[i] != origin[i]) {
      *why = fmt::format("segment {} holds {} points on the server and {} here", i, server[i],
                         origin[i]);
      return false;
    }
  }
  return true;
}

}  // namespace inloop::sync
