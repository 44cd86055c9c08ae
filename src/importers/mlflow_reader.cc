// MLflow run directories: small files read whole, metric files line by line.
#include "importers/mlflow_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "importers/simple_yaml.h"
#include "importers/text_input.h"
#include "importers/tfevents.h"
#include "ingest/number_scan.h"
#include "store/catalog.h"

namespace inloop::importers {
namespace fs = std::filesystem;
namespace {

// Param and tag values are short; a larger file is not a value.
constexpr size_t kMaxValueBytes = 1u << 20;

struct KeyFile {
  std::string key;  // path under the folder, '/'-separated
  fs::path path;
};

// Regular files under `root` (recursively, links not followed), sorted by key.
std::vector<KeyFile> KeyFiles(const fs::path& root) {
  std::vector<KeyFile> files;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return files;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_regular_file(ec2) || it->is_symlink(ec2)) continue;
    files.push_back(KeyFile{it->path().lexically_relative(root).generic_string(), it->path()});
  }
  std::sort(files.begin(), files.end(),
            [](const KeyFile& a, const KeyFile& b) { return a.key < b.key; });
  return files;
}

std::string DropLineEnd(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

// Splits on runs of spaces/tabs.
void Fields(std::string_view line, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t b = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > b) out->push_back(line.substr(b, i - b));
  }
}

// Digits only, at most 18 of them: the usual form of MLflow's timestamps and steps, read without
// the general number parser (the import's hot loop). Anything else: false.
bool PlainInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

void ReadMetricFile(const KeyFile& f, ImportedRun* run, ImportBatch* out) {
  const std::string path = f.path.string();
  LineReader lines;
  Status s = lines.Open(path);
  if (!s.ok()) {
    out->Issue(path, -1, 0, s.message() + "; metric skipped");
    return;
  }
  std::string_view line;
  int64_t no = 0;
  bool too_long = false;
  std::vector<std::string_view> parts;
  size_t series = static_cast<size_t>(-1);  // resolved at the first good line
  int64_t counted = 0;  // of lines.bytes(), already in out->bytes (the progress bar reads it)
  while (lines.Next(&line, &no, &too_long)) {
    if ((no & 0xFFF) == 0) {
      out->bytes += lines.bytes() - counted;
      counted = lines.bytes();
    }
    if (!too_long && ingest::TrimSpace(line).empty()) continue;
    ++out->records;
    Fields(line, &parts);
    double ts = 0, value = 0, step_v = 0;
    int64_t step = 0;
    auto timestamp = [&ts](std::string_view t) {
      int64_t ms = 0;
      if (PlainInt(t, &ms)) {
        ts = static_cast<double>(ms);
        return true;
      }
      return ingest::ParseNumericString(t, &ts) && ts >= 0;
    };
    const char* bad = nullptr;
    if (too_long || parts.size() < 2 || parts.size() > 3) {
      bad = "expected 'timestamp_ms value step'";
    } else if (!timestamp(parts[0])) {
      bad = "the timestamp is not a number of milliseconds";
    } else if (!ingest::ParseNumericString(parts[1], &value)) {
      bad = "the value is not a number";
    } else if (parts.size() == 3 && !PlainInt(parts[2], &step) &&
               !(ingest::ParseNumericString(parts[2], &step_v) && ingest::AsStep(step_v, &step))) {
      bad = "the step is not a whole number >= 0";
    }
    if (bad) {
      out->Issue(path, -1, no, fmt::format("{} ('{}'); line skipped", bad, Excerpt(line, 40)));
      ++out->skipped["mlflow:bad metric line"];
      continue;
    }
    if (series == static_cast<size_t>(-1)) series = run->SeriesIndex(f.key);
    run->Push(series, Point{step, ts / 1000.0, value});
  }
  if (!lines.status().ok()) out->Issue(path, -1, no, lines.status().message());
  out->bytes += lines.bytes() - counted;
}

// MLflow's RunStatus enum (1 RUNNING, 2 SCHEDULED, 3 FINISHED, 4 FAILED, 5 KILLED), as a number
// or by name, as a store status. A run still RUNNING in a copied store is not running here.
std::string StatusFrom(const std::string& v) {
  if (v == "3" || v == "FINISHED") return store::kFinished;
  if (v == "4" || v == "FAILED") return store::kFailed;
  if (v == "5" || v == "KILLED") return store::kStopped;
  if (v == "1" || v == "2" || v == "RUNNING" || v == "SCHEDULED") return store::kInterrupted;
  return "";
}

// Milliseconds since the epoch as seconds; 0 for null, empty or not a number.
double SecondsFromMs(const std::string& v) {
  double ms = 0;
  if (!ingest::ParseNumericString(v, &ms) || !(ms > 0) || !std::isfinite(ms)) return 0;
  return ms / 1000.0;
}

// The experiment's name from <experiment folder>/meta.yaml, "" when there is none.
std::string ExperimentName(const fs::path& experiment_dir) {
  std::string meta;
  if (!ReadWholeFile((experiment_dir / "meta.yaml").string(), &meta, kMaxValueBytes).ok())
    return "";
  std::vector<YamlEntry> entries;
  std::vector<YamlProblem> problems;
  ReadSimpleYaml(meta, &entries, &problems);
  for (auto& e : entries)
    if (e.key == "name") return e.value;
  return "";
}

// Event files anywhere under artifacts/, read into `run` with their series keyed by the event
// file's folder (relative to artifacts/) and the tag.
void ReadArtifactEvents(const fs::path& artifacts, ImportedRun* run, ImportBatch* out) {
  for (const KeyFile& f : KeyFiles(artifacts)) {
    if (f.path.filename().string().rfind("events.out.tfevents.", 0) != 0) {
      ++out->skipped["mlflow:artifact (not metrics)"];  // models, plots, files the run saved
      continue;
    }
    ImportBatch events;
    Status s = ReadTfEventsFile(f.path.string(), &events);
    for (auto& i : events.issues) out->issues.push_back(std::move(i));
    for (auto& [k, v] : events.skipped) out->skipped[k] += v;
    out->records += events.records;
    out->bytes += events.bytes;
    if (!s.ok()) {
      out->Issue(f.path.string(), -1, 0, s.message() + "; event file skipped");
      continue;
    }
    std::string prefix = fs::path(f.key).parent_path().generic_string();
    if (!prefix.empty()) prefix += '/';
    for (auto& r : events.runs)
      for (auto& series : r.series)
        for (auto& p : series.points) run->Add(prefix + series.key, p.step, p.wall_time, p.value);
  }
}

enum class MetaKind { kNone, kRun, kExperiment, kUnknown };

// What dir/meta.yaml describes, by its keys: a run has run_uuid, or run_id with experiment_id or
// artifact_uri (a model registry version, mlruns/models/<name>/version-N/, has run_id alone); an
// experiment has artifact_location.
MetaKind ReadMetaKind(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "meta.yaml", ec)) return MetaKind::kNone;
  std::string meta;
  if (!ReadWholeFile((dir / "meta.yaml").string(), &meta, kMaxValueBytes).ok())
    return MetaKind::kUnknown;
  bool experiment = false, run_id = false, run_context = false;
  for (std::string_view rest = meta; !rest.empty();) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.rfind("run_uuid:", 0) == 0) return MetaKind::kRun;
    run_id = run_id || line.rfind("run_id:", 0) == 0;
    run_context = run_context || line.rfind("experiment_id:", 0) == 0 ||
                  line.rfind("artifact_uri:", 0) == 0;
    experiment = experiment || line.rfind("artifact_location:", 0) == 0;
  }
  if (run_id && run_context) return MetaKind::kRun;
  return experiment ? MetaKind::kExperiment : MetaKind::kUnknown;
}

}  // namespace

bool IsMlflowRunDir(const fs::path& dir) {
  MetaKind k = ReadMetaKind(dir);
  if (k == MetaKind::kRun) return true;
  if (k != MetaKind::kUnknown) return false;
  std::error_code ec;
  return fs::is_directory(dir / "metrics", ec) || fs::is_directory(dir / "params", ec);
}

bool IsMlflowExperimentDir(const fs::path& dir) {
  return ReadMetaKind(dir) == MetaKind::kExperiment;
}

Status ReadMlflowRun(const std::string& run_dir, ImportBatch* out) {
  std::error_code ec;
  fs::path dir = fs::absolute(run_dir, ec).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "run/" ends in an empty component
  if (!fs::is_directory(dir, ec))
    return Status::NotFound(fmt::format("{}: not a directory (an MLflow run folder)", run_dir));

  ImportedRun run;
  run.format = "mlflow";
  run.source = run_dir;
  run.StreamTo(std::exchange(out->stream, nullptr));
  std::string run_id = dir.filename().string();
  std::string experiment_id = dir.parent_path().filename().string();
  std::string run_name;

  const std::string meta_path = (dir / "meta.yaml").string();
  std::string meta;
  Status s = ReadWholeFile(meta_path, &meta, kMaxValueBytes);
  if (s.ok()) {
    out->bytes += static_cast<int64_t>(meta.size());
    std::vector<YamlEntry> entries;
    std::vector<YamlProblem> problems;
    ReadSimpleYaml(meta, &entries, &problems);
    for (auto& p : problems) out->Issue(meta_path, -1, p.line, p.message);
    std::string uuid;
    for (auto& e : entries) {
      if (e.key == "run_uuid") uuid = e.value;
      if (e.key == "run_id" && !e.value.empty()) uuid = e.value;
      if (e.key == "experiment_id" && !e.value.empty()) experiment_id = e.value;
      if (e.key == "run_name") run_name = e.value;
      if (e.key == "start_time") run.started_at = SecondsFromMs(e.value);
      if (e.key == "end_time") run.ended_at = SecondsFromMs(e.value);
      if (e.key == "status") run.status = StatusFrom(e.value);
      if (e.key == "user_id" && !e.value.empty()) run.tags.push_back("user=" + e.value);
      if (e.key == "lifecycle_stage" && e.value == "deleted")
        run.tags.push_back("lifecycle=deleted");
    }
    if (!uuid.empty()) run_id = uuid;
  } else if (s.code() != Status::Code::kNotFound) {
    out->Issue(meta_path, -1, 0, s.message() + "; names taken from the folders");
  }
  run.SetParam("mlflow.run_id", run_id);
  run.SetParam("mlflow.experiment_id", experiment_id);
  std::string experiment =
      IsMlflowExperimentDir(dir.parent_path()) ? ExperimentName(dir.parent_path()) : "";
  if (!experiment.empty()) run.tags.push_back("experiment=" + experiment);

  for (const KeyFile& f : KeyFiles(dir / "params")) {
    std::string value;
    Status r = ReadWholeFile(f.path.string(), &value, kMaxValueBytes);
    if (!r.ok()) {
      out->Issue(f.path.string(), -1, 0, r.message() + "; param skipped");
      continue;
    }
    out->bytes += static_cast<int64_t>(value.size());
    run.SetParam(f.key, DropLineEnd(std::move(value)));
  }
  for (const KeyFile& f : KeyFiles(dir / "tags")) {
    std::string value;
    Status r = ReadWholeFile(f.path.string(), &value, kMaxValueBytes);
    if (!r.ok()) {
      out->Issue(f.path.string(), -1, 0, r.message() + "; tag skipped");
      continue;
    }
    out->bytes += static_cast<int64_t>(value.size());
    value = DropLineEnd(std::move(value));
    if (f.key == "mlflow.runName" && !value.empty()) run_name = value;
    run.tags.push_back(f.key + "=" + value);
  }
  for (const KeyFile& f : KeyFiles(dir / "metrics")) ReadMetricFile(f, &run, out);
  ReadArtifactEvents(dir / "artifacts", &run, out);

  run.name = !run_name.empty() ? run_name : run_id;
  out->runs.push_back(std::move(run));
  return Status::OK();
}

}  // namespace inloop::importers
