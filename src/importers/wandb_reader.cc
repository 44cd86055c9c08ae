// W&B run directories: which files make a run, and reading them (rules in wandb_reader.h).
#include "importers/wandb_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "importers/simple_yaml.h"
#include "importers/text_input.h"
#include "importers/wandb_json.h"
#include "importers/wandb_log.h"
#include "importers/wandb_record.h"
#include "importers/wandb_run_builder.h"

namespace inloop::importers {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxSideFileBytes = 64u << 20;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// A side file of the run in `dir`: files/<name> (0.10 and later), else <name> (before 0.10).
fs::path Side(const fs::path& dir, const char* name) {
  fs::path in_files = dir / "files" / name;
  if (IsFile(in_files)) return in_files;
  fs::path direct = dir / name;
  return IsFile(direct) ? direct : fs::path();
}

// The run id in a run directory's name (run-YYYYMMDD_HHMMSS-<id>, offline-run-...), else the
// name itself.
std::string IdFromDir(const fs::path& dir) {
  std::string name = dir.filename().string();
  if (name.empty()) name = dir.parent_path().filename().string();
  size_t dash = name.rfind('-');
  if ((name.rfind("run-", 0) == 0 || name.rfind("offline-run-", 0) == 0) &&
      dash != std::string::npos && dash + 1 < name.size())
    return name.substr(dash + 1);
  return name.empty() ? "wandb" : name;
}

// Reads a JSON side file into leaves; problems become issues.
bool JsonSide(const fs::path& p, ImportBatch* out, std::vector<WandbJsonLeaf>* leaves) {
  std::string text;
  Status s = ReadWholeFile(p.string(), &text, kMaxSideFileBytes);
  if (!s.ok()) {
    out->Issue(p.string(), -1, 0, s.message() + "; file ignored");
    return false;
  }
  out->bytes += static_cast<int64_t>(text.size());
  if (!FlattenWandbJson(StripBom(text), "", leaves)) {
    leaves->clear();
    out->Issue(p.string(), -1, 0, "not valid JSON; file ignored");
    return false;
  }
  return true;
}

// wandb-summary.json, config.yaml and wandb-metadata.json of the run in `dir`.
void ReadSideFiles(const fs::path& dir, WandbRunBuilder* b, ImportBatch* out) {
  std::vector<WandbJsonLeaf> leaves;
  if (fs::path p = Side(dir, "wandb-metadata.json"); !p.empty() && JsonSide(p, out, &leaves))
    b->Metadata(leaves);
  leaves.clear();
  if (fs::path p = Side(dir, "wandb-summary.json"); !p.empty() && JsonSide(p, out, &leaves))
    b->SummaryJson(leaves);
  fs::path cfg = Side(dir, "config.yaml");
  if (cfg.empty() || b->has_config()) return;
  std::string text;
  Status s = ReadWholeFile(cfg.string(), &text, kMaxSideFileBytes);
  if (!s.ok()) {
    out->Issue(cfg.string(), -1, 0, s.message() + "; file ignored");
    return;
  }
  out->bytes += static_cast<int64_t>(text.size());
  std::vector<YamlEntry> entries;
  std::vector<YamlProblem> problems;
  ReadSimpleYaml(text, &entries, &problems);
  for (const YamlProblem& p : problems) out->Issue(cfg.string(), -1, p.line, p.message);
  std::vector<std::pair<std::string, std::string>> kv;
  for (YamlEntry& e : entries) kv.emplace_back(std::move(e.key), std::move(e.value));
  b->ConfigYaml(kv);
}

// The records of one .wandb log into the builder. False when the file has no W&B header.
bool ReadRecords(WandbLogReader* log, const std::string& path, WandbRunBuilder* b,
                 ImportBatch* out) {
  auto drain = [&] {
    for (WandbLogProblem& p : log->TakeProblems()) out->Issue(path, p.offset, 0, p.message);
  };
  bool header = log->ReadHeader();
  if (header) {
    std::string_view payload;
    int64_t offset;
    WandbRecord rec;
    while (log->Next(&payload, &offset)) {
      drain();
      ++out->records;
      if (!DecodeWandbRecord(payload, &rec)) {
        out->Issue(path, offset, 0,
                   fmt::format("byte {}: the record there ({} bytes) is not a valid W&B record "
                               "(protobuf); record skipped",
                               offset, payload.size()));
        ++out->skipped["wandb:bad record"];
        continue;
      }
      b->Add(rec, offset, path, out);
    }
  }
  drain();
  out->bytes += log->counts().bytes;
  return header;
}

void Emit(WandbRunBuilder* b, ImportBatch* out, WandbNonNumeric* non_numeric) {
  ImportedRun run = b->Finish(non_numeric);
  out->runs.push_back(std::move(run));
}

Status ReadWandbFile(const fs::path& file, ImportBatch* out, WandbNonNumeric* non_numeric) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr)
    return Status::Io(fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  fs::path dir = file.parent_path();
  WandbRunBuilder b(file.string(), IdFromDir(dir.empty() ? fs::path(".") : dir));
  b.StreamTo(std::exchange(out->stream, nullptr));
  WandbLogReader log(f);
  bool header = ReadRecords(&log, file.string(), &b, out);
  if (std::ferror(f))
    out->Issue(file.string(), log.counts().bytes, 0, "read error; the rest of the file skipped");
  if (!header) return Status::OK();  // not a W&B log: the issue says so, no run
  ReadSideFiles(dir.empty() ? fs::path(".") : dir, &b, out);
  Emit(&b, out, non_numeric);
  return Status::OK();
}

// The pre-0.10 layout: wandb-history.jsonl, one JSON object per row.
Status ReadOldLayout(const fs::path& dir, ImportBatch* out, WandbNonNumeric* non_numeric) {
  WandbRunBuilder b(dir.string(), IdFromDir(dir));
  b.StreamTo(std::exchange(out->stream, nullptr));
  fs::path hist = Side(dir, "wandb-history.jsonl");
  if (!hist.empty()) {
    LineReader lines;
    INLOOP_RETURN_IF_ERROR(lines.Open(hist.string()));
    std::string_view line;
    int64_t no = 0;
    bool too_long = false;
    std::vector<WandbJsonLeaf> leaves;
    while (lines.Next(&line, &no, &too_long)) {
      if (too_long) {
        out->Issue(hist.string(), -1, no,
                   fmt::format("line longer than {} bytes; skipped", kMaxLineBytes));
        continue;
      }
      line = StripBom(line);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      ++out->records;
      leaves.clear();
      if (!FlattenWandbJson(line, "", &leaves)) {
        out->Issue(hist.string(), -1, no,
                   fmt::format("not a JSON object ('{}'); line skipped", Excerpt(line, 40)));
        ++out->skipped["wandb:bad line"];
        continue;
      }
      b.Row(leaves, false, 0, out);
    }
    out->bytes += lines.bytes();
    INLOOP_RETURN_IF_ERROR(lines.status());
  }
  ReadSideFiles(dir, &b, out);
  Emit(&b, out, non_numeric);
  return Status::OK();
}

}  // namespace

bool IsWandbRunDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (!WandbLogFiles(dir).empty()) return true;
  if (!Side(dir, "wandb-history.jsonl").empty()) return true;
  return !Side(dir, "wandb-summary.json").empty() &&
         (!Side(dir, "config.yaml").empty() || !Side(dir, "wandb-metadata.json").empty());
}

std::vector<std::string> WandbLogFiles(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->path().extension() == ".wandb" && it->is_regular_file(e2) && !it->is_symlink(e2))
      out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> WandbSideFiles(const fs::path& dir) {
  std::vector<std::string> out;
  for (const char* name :
       {"wandb-history.jsonl", "wandb-summary.json", "config.yaml", "wandb-metadata.json"}) {
    fs::path p = Side(dir, name);
    if (!p.empty()) out.push_back(p.string());
  }
  return out;
}

Status ReadWandbRun(const std::string& path, ImportBatch* out, WandbNonNumeric* non_numeric) {
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec))
    return Status::NotFound(fmt::format("{}: no such file or directory", path));
  if (!fs::is_directory(p, ec)) return ReadWandbFile(p, out, non_numeric);
  std::vector<std::string> logs = WandbLogFiles(p);
  for (const std::string& f : logs) INLOOP_RETURN_IF_ERROR(ReadWandbFile(f, out, non_numeric));
  if (!logs.empty()) return Status::OK();
  return ReadOldLayout(p, out, non_numeric);
}

void ReadWandbBytes(std::string_view bytes, const std::string& path, ImportBatch* out,
                    WandbNonNumeric* non_numeric) {
  WandbRunBuilder b(path, "wandb");
  WandbLogReader log(bytes);
  if (ReadRecords(&log, path, &b, out)) Emit(&b, out, non_numeric);
}

}  // namespace inloop::importers
