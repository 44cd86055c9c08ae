// MLflow run directories: small files read whole, metric files line by line.
#include "importers/mlflow_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "importers/simple_yaml.h"
#include "importers/text_input.h"
#include "ingest/number_scan.h"

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
  while (lines.Next(&line, &no, &too_long)) {
    if (!too_long && ingest::TrimSpace(line).empty()) continue;
    ++out->records;
    Fields(line, &parts);
    double ts = 0, value = 0, step_v = 0;
    int64_t step = 0;
    const char* bad = nullptr;
    if (too_long || parts.size() < 2 || parts.size() > 3) {
      bad = "expected 'timestamp_ms value step'";
    } else if (!ingest::ParseNumericString(parts[0], &ts) || !(ts >= 0)) {
      bad = "the timestamp is not a number of milliseconds";
    } else if (!ingest::ParseNumericString(parts[1], &value)) {
      bad = "the value is not a number";
    } else if (parts.size() == 3 &&
               !(ingest::ParseNumericString(parts[2], &step_v) && ingest::AsStep(step_v, &step))) {
      bad = "the step is not a whole number >= 0";
    }
    if (bad) {
      out->Issue(path, -1, no, fmt::format("{} ('{}'); line skipped", bad, Excerpt(line, 40)));
      ++out->skipped["mlflow:bad metric line"];
      continue;
    }
    run->Add(f.key, step, ts / 1000.0, value);
  }
  if (!lines.status().ok()) out->Issue(path, -1, no, lines.status().message());
  out->bytes += lines.bytes();
}

}  // namespace

bool IsMlflowRunDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "meta.yaml", ec) &&
         (fs::is_directory(dir / "metrics", ec) || fs::is_directory(dir / "params", ec));
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
    }
    if (!uuid.empty()) run_id = uuid;
  } else if (s.code() != Status::Code::kNotFound) {
    out->Issue(meta_path, -1, 0, s.message() + "; names taken from the folders");
  }
  run.SetParam("mlflow.run_id", run_id);
  run.SetParam("mlflow.experiment_id", experiment_id);

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
    if (f.key == "mlflow.runName") {
      if (!value.empty()) run_name = value;
    } else if (f.key.rfind("mlflow.", 0) == 0) {
      run.SetParam(f.key, std::move(value));
    } else {
      run.tags.push_back(f.key + "=" + value);
    }
  }
  for (const KeyFile& f : KeyFiles(dir / "metrics")) ReadMetricFile(f, &run, out);

  run.name = !run_name.empty() ? run_name : run_id;
  out->runs.push_back(std::move(run));
  return Status::OK();
}

}  // namespace inloop::importers
