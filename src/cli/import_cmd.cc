#include "cli/verbs.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "common/display_text.h"
#include "cli/exit_codes.h"
#include "common/json_writer.h"
#include "importers/import_driver.h"

namespace inloop::cli {
namespace {

// A one-line progress bar on stderr, redrawn at most every 100 ms; only on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { Clear(); }
  void Update(int64_t bytes, int64_t total, int64_t points) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    double frac = total > 0 ? static_cast<double>(bytes) / static_cast<double>(total) : 0;
    frac = std::clamp(frac, 0.0, 1.0);
    int filled = static_cast<int>(frac * 30);
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0;
    fmt::print(stderr,
               "\r\033[Kimport [{:=<{}}{: <{}}] {:3.0f}%  {:.1f}/{:.1f} MB  {:.0f} MB/s  {} points",
               "", filled, "", 30 - filled, frac * 100, bytes / 1e6, total / 1e6, rate, points);
    fflush(stderr);
  }
  void Clear() {
    if (enabled_ && drawn_) fmt::print(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_;
};

std::string Where(const importers::ImportIssue& i) {
  // Binary readers already start their messages with "byte N".
  if (i.offset >= 0 && i.message.rfind("byte ", 0) == 0) return i.path;
  if (i.offset >= 0) return fmt::format("{}: byte {}", i.path, i.offset);
  return FileAndLine(i.path, i.line);
}

void RunJson(JsonWriter& w, const importers::ImportedRunResult& r) {
  w.BeginObject().Key("id").String(r.run_id).Key("name").String(r.name);
  w.Key("format").String(r.format).Key("source").String(r.source);
  w.Key("points").Int(r.points).Key("series").Int(r.series);
  w.Key("status").String(r.already_imported ? "already_imported" : "imported").EndObject();
}

size_t Fresh(const importers::ImportSummary& s) {
  size_t fresh = 0;
  for (auto& r : s.runs) fresh += r.already_imported ? 0 : 1;
  return fresh;
}

void PrintJson(const importers::ImportSummary& s, double seconds) {
  JsonWriter w;
  w.BeginObject().Key("runs").BeginArray();
  for (auto& r : s.runs) RunJson(w, r);
  w.EndArray().Key("directories").BeginArray();
  for (const importers::DirectoryReport& d : importers::ByDirectory(s)) {
    w.BeginObject().Key("dir").String(d.dir).Key("runs").BeginArray();
    for (size_t i : d.runs) RunJson(w, s.runs[i]);
    w.EndArray().Key("skipped").BeginArray();
    for (size_t i : d.skipped) {
      const importers::SkippedPath& k = s.skipped_paths[i];
      w.BeginObject().Key("path").String(k.path).Key("reason").String(k.reason);
      w.Key("detail").String(k.detail).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().Key("issues").BeginArray();
  for (auto& i : s.issues) {
    w.BeginObject().Key("path").String(i.path);
    if (i.offset >= 0) w.Key("offset").Int(i.offset);
    if (i.line > 0) w.Key("line").Int(i.line);
    w.Key("message").String(i.message).EndObject();
  }
  w.EndArray().Key("skipped").BeginObject();
  for (auto& [k, v] : s.skipped) w.Key(k).Int(v);
  w.EndObject();
  size_t fresh = Fresh(s);
  w.Key("totals").BeginObject().Key("imported").Int(static_cast<int64_t>(fresh));
  w.Key("already_imported").Int(static_cast<int64_t>(s.runs.size() - fresh));
  w.Key("skipped_paths").Int(static_cast<int64_t>(s.skipped_paths.size())).EndObject();
  w.Key("files").Int(s.files).Key("bytes").Int(s.bytes).Key("records").Int(s.records);
  w.Key("points").Int(s.points).Key("seconds").Number(seconds).EndObject();
  fmt::print("{}\n", w.str());
}

// Unrecognized files are many in some trees (checkpoints, images): a count and a few names.
constexpr size_t kNamesShown = 3;

void PrintDirectory(const importers::ImportSummary& s, const importers::DirectoryReport& d) {
  fmt::print("{}/\n", d.dir);
  for (size_t i : d.runs) {
    const importers::ImportedRunResult& r = s.runs[i];
    if (r.already_imported)
      fmt::print("  already imported  {}  {}  (same bytes as before: {})\n", r.run_id, r.name,
                 r.source);
    else
      fmt::print("  imported  {}  {}  {} points in {} series  [{}] {}\n", r.run_id, r.name,
                 r.points, r.series, r.format, r.source);
  }
  std::vector<std::string> unrecognized;
  for (size_t i : d.skipped) {
    const importers::SkippedPath& k = s.skipped_paths[i];
    if (k.reason == "unrecognized")
      unrecognized.push_back(std::filesystem::path(k.path).filename().string());
    else
      fmt::print("  skipped   {}  ({}: {})\n", k.path, k.reason, k.detail);
  }
  if (unrecognized.empty()) return;
  std::string names;
  for (size_t i = 0; i < unrecognized.size() && i < kNamesShown; ++i)
    names += (i ? ", " : "") + unrecognized[i];
  if (unrecognized.size() > kNamesShown)
    names += fmt::format(", +{} more", unrecognized.size() - kNamesShown);
  fmt::print("  skipped   {} file{} of no format inloop reads: {}\n", unrecognized.size(),
             unrecognized.size() == 1 ? "" : "s", names);
}

void PrintText(const importers::ImportSummary& s, double seconds) {
  for (const importers::DirectoryReport& d : importers::ByDirectory(s)) PrintDirectory(s, d);
  for (auto& i : s.issues) fmt::print(stderr, "warning: {}: {}\n", Where(i), i.message);
  if (!s.skipped.empty()) {
    std::string parts;
    for (auto& [k, v] : s.skipped) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", v, k);
    fmt::print("skipped: {}\n", parts);
  }
  size_t fresh = Fresh(s);
  fmt::print("{} run{} imported ({} already there), {} path{} skipped, {} points from {} file{} "
             "({:.1f} MB) in {:.2f} s{}\n",
             fresh, fresh == 1 ? "" : "s", s.runs.size() - fresh, s.skipped_paths.size(),
             s.skipped_paths.size() == 1 ? "" : "s", s.points, s.files, s.files == 1 ? "" : "s",
             s.bytes / 1e6, seconds,
             s.issues.empty() ? "" : fmt::format(", {} problem{} (above)", s.issues.size(),
                                                 s.issues.size() == 1 ? "" : "s"));
}

}  // namespace

int CmdImport(const ImportArgs& a) {
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(ResolveStore(a.store_dir), true, &st);
  if (!s.ok()) return Fail(s);
  ProgressLine bar(!a.json && isatty(2));
  importers::ImportOptions opts;
  opts.name = a.name;
  opts.tags = a.tags;
  opts.progress = [&](int64_t b, int64_t t, int64_t p) { bar.Update(b, t, p); };
  importers::ImportSummary sum;
  auto t0 = std::chrono::steady_clock::now();
  s = importers::ImportPaths(st.get(), a.paths, opts, &sum);
  bar.Clear();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) return Fail(s);
  if (a.json) PrintJson(sum, secs); else PrintText(sum, secs);
  if (sum.runs.empty()) {
    // Say why: no input of a known format at all, or inputs that were skipped (listed above).
    bool known = false;
    for (auto& k : sum.skipped_paths) known = known || k.reason != "unrecognized";
    fmt::print(stderr, "inloop: error: nothing to import in {}: {}\n", fmt::join(a.paths, " "),
               known ? "every input was skipped (see the reasons above)"
                     : sum.issues.empty() ? "no file of a known format"
                                          : "no file of a known format held a readable metric");
    return kExitNotFound;
  }
  if (a.strict && !sum.issues.empty()) return kExitCorrupt;
  return kExitOk;
}

}  // namespace inloop::cli
