// Format detection from names and a bounded read of a file's head.
#include "importers/detect_format.h"

#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include "importers/mlflow_reader.h"
#include "importers/text_input.h"
#include "importers/wandb_reader.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace fs = std::filesystem;
namespace {

constexpr size_t kHeadBytes = 64u << 10;
constexpr size_t kJsonHeadBytes = 1u << 20;  // two JSONL records may be long
constexpr int kSparseRows = 50;

std::string Lower(std::string s) {
  for (char& c : s) c = ingest::ToLower(c);
  return s;
}

// Up to `max` bytes from the start of the file ("" when unreadable). *whole: all of it was read.
std::string Head(const fs::path& p, size_t max, bool* whole) {
  std::string out;
  *whole = false;
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return out;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  out.resize(max + 1);
  size_t n = std::fread(out.data(), 1, max + 1, f);
  *whole = n <= max;
  out.resize(std::min(n, max));
  return out;
}

// Complete lines of `head` (the last one only when the head is the whole file).
std::vector<std::string_view> Lines(std::string_view head, bool whole) {
  std::vector<std::string_view> lines;
  head = StripBom(head);
  size_t i = 0;
  while (i < head.size()) {
    size_t e = i;
    while (e < head.size() && head[e] != '\n' && head[e] != '\r') ++e;
    if (e == head.size() && !whole) break;
    lines.push_back(head.substr(i, e - i));
    if (e + 1 < head.size() && head[e] == '\r' && head[e + 1] == '\n') ++e;
    i = e + 1;
  }
  return lines;
}

// Cells of a CSV line (quotes honoured within the line).
std::vector<std::string_view> Cells(std::string_view line) {
  std::vector<std::string_view> cells;
  bool quoted = false;
  size_t b = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"') quoted = !quoted;
    if (i == line.size() || (line[i] == ',' && !quoted)) {
      cells.push_back(ingest::TrimSpace(line.substr(b, i - b)));
      b = i + 1;
    }
  }
  return cells;
}

bool LooksSparseEpochStep(const fs::path& p) {
  bool whole;
  std::string head = Head(p, kHeadBytes, &whole);
  std::vector<std::string_view> lines = Lines(head, whole);
  if (lines.empty()) return false;
  bool epoch = false, step = false;
  for (std::string_view c : Cells(lines[0])) {
    epoch = epoch || c == "epoch";
    step = step || c == "step";
  }
  if (!epoch || !step) return false;
  for (size_t i = 1; i < lines.size() && i <= kSparseRows; ++i) {
    if (ingest::TrimSpace(lines[i]).empty()) continue;
    for (std::string_view c : Cells(lines[i]))
      if (c.empty()) return true;
  }
  return false;
}

bool IsWholeObjectLine(std::string_view line) {
  line = ingest::TrimSpace(line);
  if (line.size() < 2 || line.front() != '{' || line.back() != '}') return false;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      // The object must close on its last byte, not earlier.
      if (--depth == 0 && i + 1 != line.size()) return false;
    }
  }
  return depth == 0 && !in_string;
}

std::string JsonKind(const fs::path& p) {
  bool whole;
  std::string head = Head(p, kJsonHeadBytes, &whole);
  std::string_view body = ingest::TrimSpace(StripBom(head));
  if (body.empty() || body.front() != '{') return "";
  int objects = 0;
  for (std::string_view line : Lines(head, whole)) {
    if (ingest::TrimSpace(line).empty()) continue;
    if (!IsWholeObjectLine(line)) break;
    if (++objects == 2) return "jsonl";
  }
  if (body.find("\"log_history\"") != std::string_view::npos) return "trainer_state";
  return "";
}

}  // namespace

std::string DetectFormat(const fs::path& p) {
  std::error_code ec;
  if (fs::is_directory(p, ec))
    return IsMlflowRunDir(p) ? "mlflow" : IsWandbRunDir(p) ? "wandb" : "";
  const std::string name = p.filename().string();
  if (name.rfind("events.out.tfevents.", 0) == 0) return "tfevents";
  if (name == "trainer_state.json") return "trainer_state";
  const std::string ext = Lower(p.extension().string());
  if (ext == ".wandb" || name == "wandb-history.jsonl") return "wandb";
  if (ext == ".csv") {
    if (name == "metrics.csv" && fs::is_regular_file(p.parent_path() / "hparams.yaml", ec))
      return "lightning";
    return LooksSparseEpochStep(p) ? "lightning" : "csv";
  }
  if (ext == ".jsonl" || ext == ".ndjson") return "jsonl";
  if (ext == ".json") return JsonKind(p);
  if (ext == ".log" || ext == ".txt" || ext == ".out" || ext == ".tsv") return "log";
  return "";
}

}  // namespace inloop::importers
