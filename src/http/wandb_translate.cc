// W&B requests as inloop records (wandb_translate.h).
#include "http/wandb_translate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/json_writer.h"
#include "importers/wandb_json.h"
#include "ingest/number_scan.h"

namespace inloop::http::wandb {
namespace {

using graphql::Value;
using importers::WandbJsonKind;
using importers::WandbJsonLeaf;

std::string Short(std::string_view s) { return std::string(s.substr(0, 80)); }

// A file's line offset: far beyond any run, small enough that offset + lines never overflows.
constexpr int64_t kMaxOffset = int64_t{1} << 48;

Status ValidName(std::string_view field, std::string_view name) {
  if (name.size() > kMaxNameLength) {
    return Status::Invalid(fmt::format("upsertBucket: {} is longer than {} characters", field,
                                       kMaxNameLength));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return Status::Invalid(fmt::format(
          "upsertBucket: {} '{}' holds '/' or a control character", field, Short(name)));
    }
  }
  return Status::OK();
}

// An optional string member of `input` (null and absent alike).
Status StringField(const Value& input, std::string_view name, std::optional<std::string>* out) {
  const Value* v = input.Get(name);
  if (v == nullptr || v->is_null()) return Status::OK();
  if (v->kind != Value::Kind::kString) {
    return Status::Invalid(fmt::format("upsertBucket: {} must be a string", name));
  }
  *out = v->text;
  return Status::OK();
}

bool IsWandbInternal(std::string_view key) {
  return key == "_wandb" || key.rfind("_wandb.", 0) == 0;
}

// The Python client's config entry {"value": V, "desc": D}: V.
const Value* Unwrapped(const Value& v) {
  if (v.kind != Value::Kind::kObject) return &v;
  const Value* inner = v.Get("value");
  if (inner == nullptr) return &v;
  for (const auto& [n, e] : v.fields) {
    if (n != "value" && n != "desc") return &v;
  }
  return inner;
}

void AddLeaves(const std::vector<WandbJsonLeaf>& leaves, std::vector<store::Param>* out) {
  for (const WandbJsonLeaf& l : leaves) {
    if (l.path.empty() || IsWandbInternal(l.path)) continue;
    out->push_back(store::Param{l.path, importers::WandbJsonParamText(l), kParamSource});
  }
}

// A history row's step and wall time, from its numbers: `_step` (the first a step can be made
// of; else the line's offset in the file), `_timestamp` (else start time + `_runtime`, else now).
class RowClock {
 public:
  void Note(std::string_view key, double v) {
    int64_t step = 0;
    if (key == "_step" && !step_ && ingest::AsStep(v, &step)) step_ = step;
    if (key == "_timestamp") timestamp_ = v;
    if (key == "_runtime") runtime_ = v;
  }
  int64_t Step(int64_t line) const { return step_.value_or(line); }
  double Wall(double start_time, double now) const {
    if (std::isfinite(timestamp_) && timestamp_ > 0) return timestamp_;
    if (std::isfinite(runtime_) && runtime_ >= 0 && start_time > 0) return start_time + runtime_;
    return now;
  }

 private:
  std::optional<int64_t> step_;
  double timestamp_ = NAN, runtime_ = NAN;
};

RowClock ClockOf(const std::vector<WandbJsonLeaf>& leaves) {
  RowClock c;
  for (const WandbJsonLeaf& l : leaves) {
    if (l.kind == WandbJsonKind::kNumber) c.Note(l.path, l.number);
  }
  return c;
}

// Whether flattened leaves came from a JSON object (not a bare number, string or list).
bool FromObject(const std::vector<WandbJsonLeaf>& leaves) {
  return !(leaves.size() == 1 && leaves[0].path.empty() &&
           leaves[0].kind != WandbJsonKind::kEmptyObject);
}

bool IsRowMeta(std::string_view key) {
  return key == "_step" || key == "_runtime" || key == "_timestamp";
}

// One file of the request: its offset and lines.
struct FileChunk {
  int64_t offset = 0;
  std::vector<std::string_view> lines;
};

Status ChunkOf(std::string_view name, simdjson::dom::element e, FileChunk* out) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) {
    return Status::Invalid(fmt::format("file_stream: files.{} must be an object", Short(name)));
  }
  simdjson::dom::element off;
  if (!o.at_key("offset").get(off) && !off.is_null()) {
    int64_t v = 0;
    if (off.get_int64().get(v) || v < 0 || v > kMaxOffset) {
      return Status::Invalid(fmt::format(
          "file_stream: files.{}.offset must be a whole number from 0 to {}", Short(name),
          kMaxOffset));
    }
    out->offset = v;
  }
  simdjson::dom::element content;
  if (o.at_key("content").get(content) || content.is_null()) return Status::OK();
  simdjson::dom::array lines;
  if (content.get_array().get(lines)) {
    return Status::Invalid(
        fmt::format("file_stream: files.{}.content must be a list of strings", Short(name)));
  }
  for (simdjson::dom::element line : lines) {
    std::string_view s;
    if (line.get_string().get(s)) {
      return Status::Invalid(
          fmt::format("file_stream: files.{}.content must be a list of strings", Short(name)));
    }
    out->lines.push_back(s);
  }
  return Status::OK();
}

// The lines of `c` past `have` (the count already stored): the index of the first new one.
size_t FirstNew(const FileChunk& c, int64_t have) {
  if (c.offset >= have) return 0;
  int64_t skip = have - c.offset;
  return skip >= static_cast<int64_t>(c.lines.size()) ? c.lines.size()
                                                      : static_cast<size_t>(skip);
}

// Series keys of one request, each stored once. The rows of a history file name the same keys
// in the same order, so a key is first compared with the one at its place in the row before,
// and hashed only when that differs.
class KeyTable {
 public:
  explicit KeyTable(std::vector<std::string>* keys) : keys_(keys) {}

  uint32_t Index(std::string_view key, size_t place) {
    if (place < prev_.size() && prev_[place] != kNone && (*keys_)[prev_[place]] == key)
      return prev_[place];
    uint32_t idx;
    if (auto it = index_.find(key); it != index_.end()) {
      idx = it->second;
    } else {
      idx = static_cast<uint32_t>(keys_->size());
      keys_->emplace_back(key);
      index_.emplace(std::string(key), idx);
    }
    if (place >= prev_.size()) prev_.resize(place + 1, kNone);
    prev_[place] = idx;
    return idx;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<std::string>* keys_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
  std::vector<uint32_t> prev_;
};

struct RowMember {
  std::string_view key;
  double value = 0;
};

// A history line that is one JSON object of plain keys (no escapes) and number values, the
// shape wandb.log of scalars writes: its members into *out, with no string made per value.
// False for any other line, which the general reader (FlattenWandbJson) then takes.
bool FlatNumberRow(std::string_view s, std::vector<RowMember>* out) {
  out->clear();
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && ingest::IsSpace(s[i])) ++i;
  };
  auto end = [&] {
    ++i;
    ws();
    return i == s.size();
  };
  ws();
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  ws();
  if (i < s.size() && s[i] == '}') return end();
  for (;;) {
    ws();
    if (i >= s.size() || s[i] != '"') return false;
    size_t kb = ++i;
    while (i < s.size() && s[i] != '"' && s[i] != '\\') ++i;
    if (i >= s.size() || s[i] != '"') return false;
    std::string_view key = s.substr(kb, i - kb);
    ++i;
    ws();
    if (i >= s.size() || s[i] != ':') return false;
    ++i;
    ws();
    double v = 0;
    if (!importers::ScanWandbJsonNumber(s, &i, &v)) return false;
    out->push_back(RowMember{key, v});
    ws();
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    return i < s.size() && s[i] == '}' && end();
  }
}

Status History(const FileChunk& c, const FileStreamState& have, double start_time, double now,
               FileStreamUpdate* out) {
  size_t first = FirstNew(c, have.history_lines);
  out->resent_lines += static_cast<int64_t>(first);
  KeyTable keys(&out->keys);
  std::vector<RowMember> row;
  std::vector<WandbJsonLeaf> leaves;
  for (size_t i = first; i < c.lines.size(); ++i) {
    int64_t line_no = c.offset + static_cast<int64_t>(i);
    size_t place = 0;
    if (FlatNumberRow(c.lines[i], &row)) {
      if (out->points.empty()) out->points.reserve(row.size() * (c.lines.size() - i));
      RowClock clock;
      for (const RowMember& m : row) clock.Note(m.key, m.value);
      int64_t step = clock.Step(line_no);
      double wall = clock.Wall(start_time, now);
      for (const RowMember& m : row) {
        if (IsRowMeta(m.key) || m.key.empty()) continue;
        out->points.push_back(KeyedPoint{keys.Index(m.key, place++), step, wall, m.value});
      }
      continue;
    }
    leaves.clear();
    if (!importers::FlattenWandbJson(c.lines[i], "", &leaves) || !FromObject(leaves)) {
      return Status::Invalid(fmt::format(
          "file_stream: wandb-history.jsonl line {} is not a JSON object: {}", line_no,
          Short(c.lines[i])));
    }
    RowClock clock = ClockOf(leaves);
    int64_t step = clock.Step(line_no);
    double wall = clock.Wall(start_time, now);
    for (WandbJsonLeaf& l : leaves) {
      if (IsRowMeta(l.path) || l.path.empty()) continue;
      if (l.kind != WandbJsonKind::kNumber) {
        ++out->non_numeric;
        continue;
      }
      out->points.push_back(KeyedPoint{keys.Index(l.path, place++), step, wall, l.number});
    }
  }
  int64_t end = c.offset + static_cast<int64_t>(c.lines.size());
  out->history_lines = std::max(have.history_lines, end);
  return Status::OK();
}

}  // namespace

Status ParseUpsert(const Value& input, RunUpsert* out) {
  if (input.kind != Value::Kind::kObject) {
    return Status::Invalid("upsertBucket: `input` must be an object");
  }
  std::optional<std::string> s;
  INLOOP_RETURN_IF_ERROR(StringField(input, "id", &s));
  out->id = s.value_or("");
  s.reset();
  INLOOP_RETURN_IF_ERROR(StringField(input, "name", &s));
  out->run_name = s.value_or("");
  s.reset();
  INLOOP_RETURN_IF_ERROR(StringField(input, "modelName", &s));
  out->project = s && !s->empty() ? *s : "uncategorized";
  s.reset();
  INLOOP_RETURN_IF_ERROR(StringField(input, "entityName", &s));
  out->entity = s && !s->empty() ? *s : kDefaultEntity;
  if (out->run_name.empty() && out->id.empty()) {
    return Status::Invalid("upsertBucket: name (the run's id) or id is required");
  }
  INLOOP_RETURN_IF_ERROR(ValidName("name", out->run_name));
  INLOOP_RETURN_IF_ERROR(ValidName("modelName", out->project));
  INLOOP_RETURN_IF_ERROR(ValidName("entityName", out->entity));
  INLOOP_RETURN_IF_ERROR(StringField(input, "displayName", &out->display_name));
  if (out->display_name && out->display_name->size() > kMaxNameLength) {
    return Status::Invalid(
        fmt::format("upsertBucket: displayName is longer than {} characters", kMaxNameLength));
  }
  static const std::pair<const char*, const char*> kMeta[] = {
      {"groupName", "wandb/group"}, {"jobType", "wandb/job_type"}, {"host", "wandb/host"},
      {"notes", "wandb/notes"},     {"description", "wandb/notes"}, {"jobProgram", "wandb/program"},
      {"program", "wandb/program"}, {"commit", "wandb/git.commit"}, {"jobRepo", "wandb/git.remote"},
      {"sweep", "wandb/sweep"}};
  for (const auto& [field, param] : kMeta) {
    std::optional<std::string> v;
    INLOOP_RETURN_IF_ERROR(StringField(input, field, &v));
    if (v && !v->empty()) out->meta.push_back(store::Param{param, *v, kParamSource});
  }
  INLOOP_RETURN_IF_ERROR(StringField(input, "state", &out->state));
  if (const Value* tags = input.Get("tags"); tags != nullptr && !tags->is_null()) {
    if (tags->kind != Value::Kind::kList) {
      return Status::Invalid("upsertBucket: tags must be a list of strings");
    }
    out->tags.emplace();
    for (const Value& t : tags->list) {
      if (t.kind != Value::Kind::kString || t.text.empty() || t.text.size() > kMaxNameLength) {
        return Status::Invalid(fmt::format(
            "upsertBucket: tags must be strings of 1 to {} characters", kMaxNameLength));
      }
      out->tags->push_back(t.text);
    }
  }
  std::optional<std::string> json;
  INLOOP_RETURN_IF_ERROR(StringField(input, "config", &json));
  if (json) {
    out->config.emplace();
    INLOOP_RETURN_IF_ERROR(ConfigParams(*json, &*out->config));
  }
  json.reset();
  INLOOP_RETURN_IF_ERROR(StringField(input, "summaryMetrics", &json));
  if (json) {
    out->summary.emplace();
    INLOOP_RETURN_IF_ERROR(SummaryParams(*json, &*out->summary));
  }
  return Status::OK();
}

Status ConfigParams(std::string_view json, std::vector<store::Param>* out) {
  Value v;
  std::vector<WandbJsonLeaf> leaves;
  if (!graphql::ValueOfJson(json, &v).ok()) {
    // Python's json writes NaN and Infinity bare: read those with W&B's own JSON reader.
    if (!importers::FlattenWandbJson(json, "", &leaves) || !FromObject(leaves)) {
      return Status::Invalid(
          fmt::format("upsertBucket: config must be a JSON object: {}", Short(json)));
    }
    AddLeaves(leaves, out);
    return Status::OK();
  }
  if (v.kind != Value::Kind::kObject) {
    return Status::Invalid(fmt::format("upsertBucket: config must be a JSON object: {}",
                                       Short(json)));
  }
  for (const auto& [key, entry] : v.fields) {
    if (key.empty() || IsWandbInternal(key)) continue;
    JsonWriter w;
    graphql::WriteValue(*Unwrapped(entry), &w);
    leaves.clear();
    if (importers::FlattenWandbJson(w.str(), key, &leaves)) AddLeaves(leaves, out);
  }
  return Status::OK();
}

Status SummaryParams(std::string_view json, std::vector<store::Param>* out) {
  std::vector<WandbJsonLeaf> leaves;
  if (!importers::FlattenWandbJson(json, "", &leaves) || !FromObject(leaves)) {
    return Status::Invalid(fmt::format("summary must be a JSON object: {}", Short(json)));
  }
  for (const WandbJsonLeaf& l : leaves) {
    if (l.path.empty() || l.path[0] == '_') continue;
    if (l.kind == WandbJsonKind::kNumber || l.kind == WandbJsonKind::kString ||
        l.kind == WandbJsonKind::kBool) {
      out->push_back(
          store::Param{"summary/" + l.path, importers::WandbJsonParamText(l), kParamSource});
    }
  }
  return Status::OK();
}

std::string ConfigJsonOf(const std::vector<store::Param>& params) {
  JsonWriter w;
  w.BeginObject();
  for (const store::Param& p : params) {
    if (p.source != kParamSource || p.key.rfind("wandb/", 0) == 0 ||
        p.key.rfind("summary/", 0) == 0) {
      continue;
    }
    w.Key(p.key).BeginObject().Key("value").String(p.value).EndObject();
  }
  w.EndObject();
  return w.Take();
}

Status ParseFileStream(std::string_view body, const FileStreamState& have, double start_time,
                       double now, FileStreamUpdate* out) {
  *out = FileStreamUpdate{};
  out->history_lines = have.history_lines;
  out->output_lines = have.output_lines;
  // One parser per thread, kept: its buffers (several times the body) are not allocated and
  // faulted in again for every request. A body past 16 MiB gets its own, so that no thread
  // holds on to a buffer of the largest request it ever saw.
  thread_local simdjson::dom::parser kept;
  simdjson::dom::parser own;
  simdjson::dom::parser& parser = body.size() <= (size_t{16} << 20) ? kept : own;
  simdjson::dom::element doc;
  simdjson::dom::object top;
  if (parser.parse(body.data(), body.size()).get(doc) || doc.get_object().get(top)) {
    return Status::Invalid("file_stream: the body must be a JSON object");
  }
  simdjson::dom::element files;
  if (!top.at_key("files").get(files) && !files.is_null()) {
    simdjson::dom::object fo;
    if (files.get_object().get(fo)) {
      return Status::Invalid("file_stream: files must be an object of file name -> chunk");
    }
    for (auto [name, chunk_json] : fo) {
      FileChunk c;
      INLOOP_RETURN_IF_ERROR(ChunkOf(name, chunk_json, &c));
      if (name == "wandb-history.jsonl") {
        INLOOP_RETURN_IF_ERROR(History(c, have, start_time, now, out));
      } else if (name == "wandb-summary.json") {
        if (c.lines.empty()) continue;
        // The whole summary each time: the last line is the newest.
        std::vector<store::Param> summary;
        INLOOP_RETURN_IF_ERROR(SummaryParams(c.lines.back(), &summary));
        out->summary = std::move(summary);
      } else if (name == "output.log") {
        size_t first = FirstNew(c, have.output_lines);
        for (size_t i = first; i < c.lines.size(); ++i) {
          out->output.append(c.lines[i]);
          out->output.push_back('\n');
        }
        int64_t end = c.offset + static_cast<int64_t>(c.lines.size());
        out->output_lines = std::max(have.output_lines, end);
      } else {
        out->ignored_files.emplace_back(Short(name));
      }
    }
  }
  simdjson::dom::element e;
  if (!top.at_key("complete").get(e) && !e.is_null()) {
    bool b = false;
    if (e.get_bool().get(b)) return Status::Invalid("file_stream: complete must be true or false");
    out->complete = b;
  }
  if (!top.at_key("exitcode").get(e) && !e.is_null()) {
    int64_t code = 0;
    if (e.get_int64().get(code)) {
      return Status::Invalid("file_stream: exitcode must be a whole number");
    }
    out->exit_code = code;
  }
  if (!top.at_key("preempting").get(e) && !e.is_null()) {
    bool b = false;
    if (e.get_bool().get(b)) {
      return Status::Invalid("file_stream: preempting must be true or false");
    }
    out->preempting = b;
  }
  return Status::OK();
}

const char* StatusOfExit(std::optional<int64_t> exit_code) {
  return !exit_code || *exit_code == 0 ? store::kFinished : store::kFailed;
}

}  // namespace inloop::http::wandb
