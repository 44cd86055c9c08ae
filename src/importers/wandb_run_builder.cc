// One W&B run from its records and side files (see wandb_reader.h for what becomes of what).
#include "importers/wandb_run_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "importers/text_input.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

std::string Join(const std::vector<std::string_view>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < parts.size(); ++i) {
    if (i > 0) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

std::vector<std::string_view> PathOf(const WandbItem& item) {
  if (!item.key.empty() || item.nested_key.empty()) return {item.key};
  return item.nested_key;
}

bool StartsWith(const std::vector<std::string_view>& parts,
                const std::vector<std::string_view>& prefix) {
  if (parts.size() <= prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (parts[i] != prefix[i]) return false;
  return true;
}

// Erases `key` and every key nested under it.
void Erase(std::map<std::string, WandbJsonLeaf>* m, const std::string& key) {
  auto it = m->lower_bound(key);
  while (it != m->end() && it->first.compare(0, key.size(), key) == 0 &&
         (it->first.size() == key.size() || it->first[key.size()] == '.')) {
    it = m->erase(it);
  }
}

// The Record field of a record kind this importer does not read, as the report counts it.
const char* OtherKind(int field) {
  switch (field) {
    case 4:
    case 13: return "wandb:console line";
    case 7: return "wandb:system stats";
    case 8: return "wandb:artifact";
    case 9: return "wandb:tensorboard";
    case 10: return "wandb:alert";
  }
  return nullptr;
}

bool IsRowMeta(std::string_view key) {
  return key == "_step" || key == "_runtime" || key == "_timestamp";
}

}  // namespace

WandbRunBuilder::WandbRunBuilder(std::string source, std::string fallback_name)
    : fallback_name_(std::move(fallback_name)) {
  run_.format = "wandb";
  run_.source = std::move(source);
}

bool WandbRunBuilder::Leaves(const std::vector<WandbItem>& items,
                             std::vector<WandbJsonLeaf>* out, std::string* bad_key,
                             bool number_text) {
  // wandb-core splits a logged media dict into one item per leaf: a `_type` leaf with a string
  // value marks its parent path as one media value.
  std::vector<std::pair<std::vector<std::string_view>, std::string>> media;
  std::vector<WandbJsonLeaf> tmp;
  for (const WandbItem& item : items) {
    if (item.key.empty() && item.nested_key.size() >= 2 && item.nested_key.back() == "_type") {
      tmp.clear();
      if (FlattenWandbJson(item.value_json, "", &tmp) && tmp.size() == 1 &&
          tmp[0].kind == WandbJsonKind::kString) {
        media.emplace_back(
            std::vector<std::string_view>(item.nested_key.begin(), item.nested_key.end() - 1),
            tmp[0].text);
      }
    }
  }
  bool ok = true;
  for (const WandbItem& item : items) {
    if (media.empty() && (!item.key.empty() || item.nested_key.empty())) {
      // A top-level key (a history row's usual item): its path is the key itself.
      if (!number_text) {  // a bare number, read without the general parser or its text
        std::string_view json = item.value_json;
        size_t end = 0;
        double v = 0;
        if (ScanWandbJsonNumber(json, &end, &v) && end == json.size()) {
          out->push_back(WandbJsonLeaf{std::string(item.key), WandbJsonKind::kNumber, v, {}});
          continue;
        }
      }
      size_t before = out->size();
      if (!FlattenWandbJson(item.value_json, item.key, out)) {
        out->resize(before);
        if (ok) *bad_key = std::string(item.key);
        ok = false;
      }
      continue;
    }
    std::vector<std::string_view> parts = PathOf(item);
    bool folded = false;
    for (const auto& [prefix, type] : media) {
      if (!StartsWith(parts, prefix)) continue;
      folded = true;
      if (parts.size() == prefix.size() + 1 && parts.back() == "_type")
        out->push_back(WandbJsonLeaf{Join(prefix, prefix.size()), WandbJsonKind::kMedia, 0, type});
      break;
    }
    if (folded) continue;
    std::string path = Join(parts, parts.size());
    size_t before = out->size();
    if (!FlattenWandbJson(item.value_json, path, out)) {
      out->resize(before);
      if (ok) *bad_key = path;
      ok = false;
    }
  }
  return ok;
}

void WandbRunBuilder::Row(const std::vector<WandbJsonLeaf>& leaves, bool has_step_num,
                          int64_t step_num, ImportBatch* batch) {
  ++rows_;
  int64_t step = 0;
  bool got = false;
  double timestamp = NAN, runtime = NAN;
  for (const WandbJsonLeaf& l : leaves) {
    if (l.kind != WandbJsonKind::kNumber) continue;
    if (l.path == "_step" && !got) got = ingest::AsStep(l.number, &step);
    if (l.path == "_timestamp") timestamp = l.number;
    if (l.path == "_runtime") runtime = l.number;
  }
  if (!got && has_step_num) {
    step = step_num;
    got = true;
  }
  if (!got) step = has_step_ ? last_step_ + 1 : 0;
  has_step_ = true;
  last_step_ = step;
  double wall = 0;
  if (std::isfinite(timestamp) && timestamp > 0) wall = timestamp;
  else if (std::isfinite(runtime) && start_time_ > 0) wall = start_time_ + runtime;
  max_wall_ = std::max(max_wall_, wall);
  size_t place = 0;
  for (const WandbJsonLeaf& l : leaves) {
    if (IsRowMeta(l.path)) continue;
    if (l.kind == WandbJsonKind::kNumber) {
      if (place == row_series_.size()) row_series_.push_back(run_.SeriesIndex(l.path));
      size_t& s = row_series_[place++];
      if (run_.series[s].key != l.path) s = run_.SeriesIndex(l.path);
      run_.Push(s, Point{step, wall, l.number});
      continue;
    }
    std::string kind = WandbJsonKindName(l);
    ++non_numeric_.by_key[l.path][kind];
    ++batch->skipped["wandb:" + kind];
  }
}

void WandbRunBuilder::Add(const WandbRecord& rec, int64_t offset, const std::string& path,
                          ImportBatch* batch) {
  std::string bad;
  auto leaves = [&](const std::vector<WandbItem>& items, const char* what) {
    scratch_.clear();
    // History numbers become points: their JSON text (kept for params) is not needed.
    if (!Leaves(items, &scratch_, &bad, rec.type != WandbRecord::kHistory))
      batch->Issue(path, offset, 0,
                   fmt::format("byte {}: {} record: the value of '{}' is not JSON; that value "
                               "skipped",
                               offset, what, Excerpt(bad)));
  };
  switch (rec.type) {
    case WandbRecord::kHistory:
      leaves(rec.items, "history");
      Row(scratch_, rec.has_step_num, rec.step_num, batch);
      return;
    case WandbRecord::kSummary:
    case WandbRecord::kConfig: {
      bool config = rec.type == WandbRecord::kConfig;
      auto* m = config ? &config_ : &summary_;
      if (config) ++config_records_;
      leaves(rec.items, config ? "config" : "summary");
      for (WandbJsonLeaf& l : scratch_) {
        Erase(m, l.path);
        (*m)[l.path] = std::move(l);
      }
      for (const WandbItem& item : rec.removes) {
        std::vector<std::string_view> parts = PathOf(item);
        Erase(m, Join(parts, parts.size()));
      }
      return;
    }
    case WandbRecord::kRun:
      RunRecord(rec.run);
      leaves(rec.items, "run config");
      for (WandbJsonLeaf& l : scratch_) {
        Erase(&config_, l.path);
        config_[l.path] = std::move(l);
      }
      return;
    case WandbRecord::kExit:
      has_exit_ = true;
      exit_code_ = rec.exit_code;
      exit_runtime_ = rec.runtime;
      meta_["exit_code"] = std::to_string(rec.exit_code);
      return;
    case WandbRecord::kTelemetry:
      if (!rec.cli_version.empty()) meta_["cli_version"] = std::string(rec.cli_version);
      if (!rec.python_version.empty()) meta_["python_version"] = std::string(rec.python_version);
      return;
    case WandbRecord::kOther:
      if (const char* kind = OtherKind(rec.field)) ++batch->skipped[kind];
      return;
  }
}

void WandbRunBuilder::Meta(const std::string& key, std::string_view value) {
  if (!value.empty()) meta_.emplace(key, std::string(value));
}

void WandbRunBuilder::RunRecord(const WandbRunInfo& r) {
  has_run_ = true;
  if (!r.run_id.empty()) run_id_ = std::string(r.run_id);
  if (!r.display_name.empty()) display_name_ = std::string(r.display_name);
  if (r.has_start_time && std::isfinite(r.start_time) && r.start_time > 0)
    start_time_ = r.start_time;
  // A resumed run writes its run record again: the newest values win.
  auto set = [&](const char* key, std::string_view v) {
    if (!v.empty()) meta_[key] = std::string(v);
  };
  set("run_id", r.run_id);
  set("entity", r.entity);
  set("project", r.project);
  set("group", r.run_group);
  set("job_type", r.job_type);
  set("host", r.host);
  set("notes", r.notes);
  for (std::string_view t : r.tags) {
    std::string tag(t);
    bool seen = false;
    for (const std::string& have : run_.tags) seen = seen || have == tag;
    if (!seen && !tag.empty()) run_.tags.push_back(std::move(tag));
  }
}

void WandbRunBuilder::SummaryJson(const std::vector<WandbJsonLeaf>& leaves) {
  for (const WandbJsonLeaf& l : leaves) {
    Erase(&summary_, l.path);
    summary_[l.path] = l;
  }
}

void WandbRunBuilder::ConfigYaml(const std::vector<std::pair<std::string, std::string>>& entries) {
  if (has_config()) return;
  for (const auto& [key, value] : entries) {
    std::vector<std::string_view> parts;
    std::string_view k = key;
    for (size_t b = 0;;) {
      size_t e = k.find('/', b);
      parts.push_back(k.substr(b, e == std::string_view::npos ? e : e - b));
      if (e == std::string_view::npos) break;
      b = e + 1;
    }
    if (parts[0] == "wandb_version" || parts[0] == "_wandb") continue;
    if (parts.size() >= 2 && parts[1] == "desc") continue;
    if (parts.size() >= 2 && parts[1] == "value") parts.erase(parts.begin() + 1);
    std::string path = Join(parts, parts.size());
    config_[path] = WandbJsonLeaf{path, WandbJsonKind::kString, 0, value};
  }
}

void WandbRunBuilder::Metadata(const std::vector<WandbJsonLeaf>& leaves) {
  static const char* const kKept[] = {"program", "codePath", "host",    "python",
                                      "os",      "gpu",      "gpu_count", "cpu_count",
                                      "cuda",    "git.remote", "git.commit", "args"};
  for (const WandbJsonLeaf& l : leaves) {
    if (l.path == "startedAt" && l.kind == WandbJsonKind::kString && start_time_ == 0) {
      double t;
      if (ParseWallTime(l.text, &t)) start_time_ = t;
    } else if (l.path == "project") {
      if (l.kind == WandbJsonKind::kString) Meta("project", l.text);
    } else if (l.path == "state" && l.kind == WandbJsonKind::kString) {
      state_ = l.text;
      Meta("state", l.text);
    } else if (l.path == "exitcode" && l.kind == WandbJsonKind::kNumber) {
      Meta("exit_code", l.text);
    } else {
      for (const char* k : kKept)
        if (l.path == k && l.kind != WandbJsonKind::kNull) Meta(k, WandbJsonParamText(l));
    }
  }
}

// The exit record's code (0 finished, else failed); before 0.10 the metadata's state. A .wandb
// log with no exit record was cut short (killed, or copied while running): interrupted.
std::string WandbRunBuilder::RunStatus() const {
  if (has_exit_) return exit_code_ == 0 ? store::kFinished : store::kFailed;
  if (state_ == "finished") return store::kFinished;
  if (state_ == "failed" || state_ == "crashed") return store::kFailed;
  if (state_ == "killed") return store::kStopped;
  if (state_ == "running" || has_run_) return store::kInterrupted;
  return "";
}

ImportedRun WandbRunBuilder::Finish(WandbNonNumeric* non_numeric) {
  run_.name = !display_name_.empty() ? display_name_ : !run_id_.empty() ? run_id_ : fallback_name_;
  for (const auto& [key, leaf] : config_) {
    if (key == "_wandb" || key.rfind("_wandb.", 0) == 0) continue;
    run_.SetParam(key, WandbJsonParamText(leaf));
  }
  for (const auto& [key, leaf] : summary_) {
    if (key.empty() || key[0] == '_') continue;
    if (leaf.kind == WandbJsonKind::kNumber || leaf.kind == WandbJsonKind::kString ||
        leaf.kind == WandbJsonKind::kBool)
      run_.SetParam("summary/" + key, WandbJsonParamText(leaf));
  }
  for (const auto& [key, value] : meta_) run_.SetParam("wandb/" + key, value);
  run_.started_at = start_time_;
  run_.status = RunStatus();
  if (auto host = meta_.find("host"); host != meta_.end()) run_.host = host->second;
  // The end: the exit record's runtime, or the last row when that is later (a crashed client
  // may write runtime 0).
  if (has_exit_ && start_time_ > 0)
    run_.ended_at = start_time_ + static_cast<double>(exit_runtime_);
  run_.ended_at = std::max(run_.ended_at, max_wall_);
  if (non_numeric != nullptr)
    for (auto& [key, kinds] : non_numeric_.by_key)
      for (auto& [kind, n] : kinds) non_numeric->by_key[key][kind] += n;
  return std::move(run_);
}

}  // namespace inloop::importers
