#include "importers/import_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

#include "common/hex.h"
#include "common/secrets.h"
#include "importers/detect_format.h"
#include "importers/import_writer.h"
#include "importers/mlflow_reader.h"
#include "importers/readers.h"
#include "importers/wandb_reader.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;

// One unit of import: the files that make one reader call's worth of runs.
struct Group {
  std::string format;
  std::string source;              // what the user sees: a file, or a directory
  std::vector<std::string> files;  // read in this order (event files sorted by name)
  int64_t bytes = 0;
};

// XXH3-128 over the files' bytes in order, each followed by its length so that moving bytes
// between files changes the key. A change-detection key, not a defence against forged files:
// XXH3 reads at memory speed, where SHA-256 (the key before "xxh3:" keys) was a tenth of an
// import's CPU time. Stores that hold SHA-256 keys from older imports still find those runs by
// their stat keys; a file touched since (same bytes, new stat) is imported once more.
Status ContentKey(const std::vector<std::string>& files, std::string* key) {
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                        XXH3_freeState);
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK)
    return Status::Io("import: cannot start an XXH3 digest (out of memory)");
  std::vector<char> buf(1 << 20);
  for (auto& f : files) {
    int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", f, strerror(errno)));
    uint64_t total = 0;
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status s = Status::Io(fmt::format("{}: read failed: {}", f, strerror(errno)));
        close(fd);
        return s;
      }
      if (n == 0) break;
      XXH3_128bits_update(state.get(), buf.data(), static_cast<size_t>(n));
      total += static_cast<uint64_t>(n);
    }
    close(fd);
    XXH3_128bits_update(state.get(), &total, sizeof(total));
  }
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(state.get()));
  *key = "xxh3:" + LowerHex(c.digest, sizeof(c.digest));
  return Status::OK();
}

// A cheap stand-in for the content key: SHA-256 of each file's path, device, inode, size and
// modification and change times (nanoseconds). Any write changes the change time (which no call
// can set back), so equal stat keys mean the same bytes as when the key was recorded; a copied
// or touched file gets a new stat key and is hashed in full. Empty when a file cannot be stat'ed.
std::string StatKey(const std::vector<std::string>& files) {
  std::string sig;
  for (auto& f : files) {
    struct stat sb;
    if (::stat(f.c_str(), &sb) != 0) return "";
    sig += fmt::format("{}\n{}:{}:{}:{}.{}:{}.{}\n", f, sb.st_dev, sb.st_ino, sb.st_size,
                       sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, sb.st_ctim.tv_sec,
                       sb.st_ctim.tv_nsec);
  }
  return "stat:" + Sha256Hex(sig);
}

int64_t FileSize(const std::string& f) {
  std::error_code ec;
  auto n = fs::file_size(f, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// The top-level "global_step" of a trainer_state.json (Trainer writes keys sorted, so it comes
// before log_history, near the start); -1 when it cannot be read.
int64_t GlobalStep(const fs::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return -1;
  std::string head(64u << 10, '\0');
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  constexpr std::string_view kKey = "\"global_step\"";
  size_t i = head.find(kKey);
  if (i == std::string::npos) return -1;
  i += kKey.size();
  auto skip_space = [&] {
    while (i < head.size() && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' ||
                               head[i] == '\t'))
      ++i;
  };
  skip_space();
  if (i >= head.size() || head[i] != ':') return -1;
  ++i;
  skip_space();
  int64_t step = 0;
  size_t digits = 0;
  for (; i < head.size() && head[i] >= '0' && head[i] <= '9' && digits < 18; ++i, ++digits)
    step = step * 10 + (head[i] - '0');
  return digits > 0 ? step : -1;
}

// Where a trainer_state.json stands among the copies of one output_dir: the final one in
// output_dir/ ranks over last-checkpoint/ (what Trainer pushes with hub_strategy="checkpoint"),
// which ranks over checkpoint-N/ (higher N first). 0: not one of these.
struct CopyRank {
  int64_t step = -1;  // global_step
  int place = 0;      // 3 output_dir, 2 last-checkpoint, 1 checkpoint-N
  long long n = 0;    // N of checkpoint-N
  bool operator>(const CopyRank& o) const {
    if (step != o.step) return step > o.step;
    if (place != o.place) return place > o.place;
    return n > o.n;
  }
};

// trainer_state.json in output_dir/checkpoint-N/ or output_dir/last-checkpoint/ is a prefix of
// the newest copy (the one with the highest global_step, ties to the rank above): only that one
// is a run of its own. Returns the newer copy's path, or "" when `file` is the newest.
std::string SupersedingTrainerState(const fs::path& file, std::map<std::string, int64_t>* steps) {
  auto step_of = [steps](const fs::path& f) {
    auto [it, fresh] = steps->emplace(f.string(), 0);
    if (fresh) it->second = GlobalStep(f);
    return it->second;
  };
  static const std::regex kCheckpoint(R"(checkpoint-(\d{1,18}))");
  auto place_of = [](const std::string& dir_name, long long* n) {
    std::smatch m;
    if (dir_name == "last-checkpoint") return 2;
    if (std::regex_match(dir_name, m, kCheckpoint)) {
      *n = std::stoll(m[1].str());
      return 1;
    }
    return 0;
  };
  fs::path dir = file.parent_path();
  CopyRank mine;
  mine.place = place_of(dir.filename().string(), &mine.n);
  if (mine.place == 0) return "";  // the output_dir's own copy is never superseded
  mine.step = step_of(file);
  fs::path out = dir.parent_path();
  std::error_code ec;
  std::string best;
  CopyRank best_rank = mine;
  auto consider = [&](const fs::path& other, CopyRank r) {
    std::error_code e2;
    if (!fs::is_regular_file(other, e2)) return;
    r.step = step_of(other);
    if (r > best_rank) {
      best_rank = r;
      best = other.string();
    }
  };
  consider(out / "trainer_state.json", CopyRank{-1, 3, 0});
  for (auto& e : fs::directory_iterator(out, ec)) {
    CopyRank r;
    r.place = place_of(e.path().filename().string(), &r.n);
    if (r.place == 0 || e.path() == dir) continue;
    consider(e.path() / "trainer_state.json", r);
  }
  return best;
}

class Planner {
 public:
  Planner(ImportSummary* summary) : summary_(summary) {}

  Status AddPath(const std::string& arg) {
    std::error_code ec;
    fs::path p(arg);
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st))
      return Status::NotFound(fmt::format("import: {}: no such file or directory", arg));
    if (fs::is_directory(st)) {
      if (IsMlflowRunDir(p.string())) {
        AddMlflow(p);
        return Status::OK();
      }
      if (IsWandbRunDir(p)) {
        AddWandb(p);
        return Status::OK();
      }
      Walk(p);
      return Status::OK();
    }
    std::string format = DetectFormat(p);
    if (format.empty())
      return Status::Invalid(fmt::format(
          "import: {}: not a format inloop reads (TensorBoard event files, trainer_state.json, "
          "Lightning metrics.csv, CSV, JSONL, MLflow and W&B run directories, .wandb files, "
          ".log/.txt/.out/.tsv logs)",
          arg));
    AddFile(p, format, /*named=*/true);
    return Status::OK();
  }

  std::vector<Group> Take() {
    std::vector<Group> out;
    for (auto& [dir, g] : tfevents_) {
      std::sort(g.files.begin(), g.files.end());
      out.push_back(std::move(g));
    }
    for (auto& g : others_) out.push_back(std::move(g));
    return out;
  }

 private:
  // Walks `root` in name order (a directory iterator's order is the file system's), so that of
  // two copies the first by name is imported and the other reported as its duplicate.
  void Walk(const fs::path& root) {
    std::vector<fs::path> dirs, wandb_dirs, files;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& e = *it;
      std::error_code e2;
      if (e.is_symlink(e2)) continue;  // never follow links out of the tree, nor in circles
      if (e.is_directory(e2)) {
        std::string name = e.path().filename().string();
        // Our own store, version control and caches hold nothing to import.
        if (name == ".inloop" || name == ".git" || name == "__pycache__" ||
            name == "node_modules") {
          it.disable_recursion_pending();
          continue;
        }
        if (IsMlflowRunDir(e.path().string())) {
          dirs.push_back(e.path());
          it.disable_recursion_pending();
        } else if (IsWandbRunDir(e.path())) {
          wandb_dirs.push_back(e.path());  // its logs/ and files/output.log are not runs
          it.disable_recursion_pending();
        }
        continue;
      }
      if (e.is_regular_file(e2)) files.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    std::sort(wandb_dirs.begin(), wandb_dirs.end());
    std::sort(files.begin(), files.end());
    for (const fs::path& d : dirs) AddMlflow(d);
    for (const fs::path& d : wandb_dirs) AddWandb(d);
    for (const fs::path& f : files) {
      std::string format = DetectFormat(f);
      if (format.empty()) {
        if (ReadWithItsRun(f)) continue;
        summary_->skipped["file:unrecognized"]++;
        Skip(f.string(), "unrecognized", "not a format inloop reads");
        continue;
      }
      AddFile(f, format, /*named=*/false);
    }
    if (ec)
      summary_->issues.push_back(
          ImportIssue{root.string(), -1, 0, fmt::format("cannot walk: {}", ec.message())});
  }

  void AddMlflow(const fs::path& dir) {
    std::string d = fs::weakly_canonical(dir).string();
    if (!seen_.insert(d).second) return;
    Group g{"mlflow", dir.string(), {}, 0};
    std::error_code ec;
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code e2;
      if (it->is_regular_file(e2) && !it->is_symlink(e2)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) g.bytes += FileSize(f);
    g.files = std::move(files);
    others_.push_back(std::move(g));
  }

  void Skip(std::string path, std::string reason, std::string detail) {
    summary_->skipped_paths.push_back(
        SkippedPath{std::move(path), std::move(reason), std::move(detail)});
  }

  // Files that are not runs but are read as part of one: Lightning's hparams.yaml beside its
  // metrics.csv, and an MLflow experiment's meta.yaml (its name tags the experiment's runs).
  static bool ReadWithItsRun(const fs::path& p) {
    std::error_code ec;
    std::string name = p.filename().string();
    if (name == "hparams.yaml") return fs::is_regular_file(p.parent_path() / "metrics.csv", ec);
    if (name == "meta.yaml") return IsMlflowExperimentDir(p.parent_path());
    return false;
  }

  // A W&B run directory: a run per .wandb file, or the pre-0.10 layout as one run. Each group's
  // content key covers the side files read with it (summary, config, metadata).
  void AddWandb(const fs::path& dir) {
    if (!seen_.insert(fs::weakly_canonical(dir).string()).second) return;
    std::vector<std::string> side = WandbSideFiles(dir);
    std::vector<std::string> logs = WandbLogFiles(dir);
    if (logs.empty()) AddWandbGroup(dir.string(), {}, side);
    for (const std::string& f : logs) AddWandbGroup(f, {f}, side);
  }
  void AddWandbGroup(const std::string& source, std::vector<std::string> files,
                     const std::vector<std::string>& side) {
    if (!files.empty() && !seen_.insert(fs::weakly_canonical(files.front()).string()).second)
      return;
    files.insert(files.end(), side.begin(), side.end());
    Group g{"wandb", source, std::move(files), 0};
    for (auto& f : g.files) g.bytes += FileSize(f);
    others_.push_back(std::move(g));
  }

  void AddFile(const fs::path& p, const std::string& format, bool named) {
    if (format == "wandb") {
      fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
      if (p.extension() != ".wandb") return AddWandb(dir);  // wandb-history.jsonl
      return AddWandbGroup(p.string(), {p.string()}, WandbSideFiles(dir));
    }
    std::string canon = fs::weakly_canonical(p).string();
    if (!seen_.insert(canon).second) return;  // named twice, or inside a named directory
    if (format == "trainer_state" && !named) {
      std::string newer = SupersedingTrainerState(p, &global_steps_);
      if (!newer.empty()) {
        summary_->skipped["trainer_state:superseded_checkpoint"]++;
        Skip(p.string(), "superseded",
             fmt::format("an older copy of {} (name it to import it anyway)", newer));
        return;
      }
    }
    int64_t size = FileSize(p.string());
    if (format == "tfevents") {
      std::string dir = p.parent_path().string();
      Group& g = tfevents_[fs::weakly_canonical(p.parent_path()).string()];
      if (g.format.empty()) {
        g.format = "tfevents";
        g.source = dir.empty() ? "." : dir;
      }
      g.files.push_back(p.string());
      g.bytes += size;
      return;
    }
    Group g{format, p.string(), {p.string()}, size};
    if (format == "lightning") {
      // hparams.yaml is part of the run: a changed hparams file is a different import.
      fs::path h = p.parent_path() / "hparams.yaml";
      std::error_code ec;
      if (fs::is_regular_file(h, ec)) g.files.push_back(h.string());
    }
    others_.push_back(std::move(g));
  }

  ImportSummary* summary_;
  std::map<std::string, Group> tfevents_;  // by canonical directory
  std::vector<Group> others_;
  std::set<std::string> seen_;
  std::map<std::string, int64_t> global_steps_;  // trainer_state.json path -> global_step
};

// Reads a group into a batch with the reader of its format; event files of one directory become
// one run. A run that streams (batch->stream) hands its points on while it is read.
Status ReadGroup(const Group& g, ImportBatch* batch) {
  if (g.format == "tfevents") {
    std::error_code ec;
    fs::path dir = fs::absolute(fs::path(g.files.front()), ec).lexically_normal().parent_path();
    if (ec) dir = fs::path(g.files.front()).parent_path();
    ImportedRun run;
    run.name = dir.filename().string();
    run.format = "tfevents";
    run.source = g.source;
    run.StreamTo(std::exchange(batch->stream, nullptr));
    for (auto& f : g.files) INLOOP_RETURN_IF_ERROR(ReadTfEventsInto(f, &run, batch));
    batch->runs.push_back(std::move(run));
    return Status::OK();
  }
  bool dir_format = g.format == "mlflow" || g.format == "wandb";
  return ReadFile(g.format, dir_format ? g.source : g.files.front(), batch);
}

std::string RunNameFor(const ImportOptions& opts, const ImportedRun& r, size_t runs_in_import) {
  if (opts.name.empty()) return r.name.empty() ? "import" : r.name;
  if (runs_in_import <= 1) return opts.name;
  return opts.name + "/" + (r.name.empty() ? "import" : r.name);
}

// What an earlier import of the same bytes made.
Status Existing(store::Store* st, const std::string& run_id, const Group& g,
                ImportedRunResult* res) {
  store::RunRecord prior;
  INLOOP_RETURN_IF_ERROR(st->FindRun(run_id, &prior));
  std::vector<store::SeriesStats> series;
  INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run_id, &series));
  res->run_id = run_id;
  res->name = prior.name;
  res->format = g.format;
  res->source = g.source;
  res->already_imported = true;
  res->series = static_cast<int64_t>(series.size());
  for (auto& s : series) res->points += s.points;
  return Status::OK();
}

// Why a read input gave no run, from what its reader counted.
std::string EmptyDetail(const ImportBatch& b) {
  std::string what;
  for (auto& [k, v] : b.skipped) what += fmt::format("{}{} {}", what.empty() ? "" : ", ", v, k);
  std::string problems =
      b.issues.empty() ? "" : fmt::format("; {} problem{}", b.issues.size(),
                                          b.issues.size() == 1 ? "" : "s");
  if (b.records == 0) return "no records in it" + problems;
  return fmt::format("{} record{} read, none held a metric, param or tag{}{}", b.records,
                     b.records == 1 ? "" : "s", what.empty() ? "" : " (" + what + ")", problems);
}

// The folder that holds a source: a file's folder, or a source folder's parent.
std::string HoldingDir(const std::string& source) {
  fs::path p = fs::path(source).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/" ends in an empty component
  std::string d = p.parent_path().string();
  return d.empty() ? "." : d;
}

// Reads one group and writes the runs it makes; a run of a single-run format streams into the
// store while it is read. `done_bytes` were read before this group.
Status ImportGroup(store::Store* st, const Group& g, const std::string& key,
                   const std::string& stat_key, const ImportOptions& opts, size_t groups,
                   int64_t done_bytes, const std::function<void(int64_t, int64_t)>& report,
                   int64_t* points, ImportSummary* out) {
  ImportBatch batch;
  const int64_t before = *points;
  RunSink sink(st, opts.stream_points, [&](int64_t pts) {
    report(done_bytes + std::min(batch.bytes, g.bytes), before + pts);
  });
  batch.stream = &sink;
  Status read = ReadGroup(g, &batch);
  if (!read.ok()) {
    sink.Abandon(read);
    return read;
  }
  out->bytes += g.bytes;
  out->records += batch.records;
  for (auto& [k, v] : batch.skipped) out->skipped[k] += v;
  for (auto& i : batch.issues) out->issues.push_back(std::move(i));
  if (batch.runs.empty())
    out->skipped_paths.push_back(SkippedPath{g.source, "empty", EmptyDetail(batch)});
  for (auto& r : batch.runs) {
    ImportedRunResult res;
    res.format = r.format;
    res.source = r.source;
    // A file with several runs (long CSV) keys each run by its name as well.
    std::string run_key = batch.runs.size() > 1 ? key + ":" + r.name : key;
    // (A streamed run's key was looked up before it was read, and its points are written.)
    std::string existing;
    if (r.sink() != &sink) INLOOP_RETURN_IF_ERROR(st->FindImport(run_key, &existing));
    if (!existing.empty()) {
      INLOOP_RETURN_IF_ERROR(Existing(st, existing, g, &res));
      res.format = r.format;
      res.source = r.source;
      out->runs.push_back(std::move(res));
      continue;
    }
    std::string name = RunNameFor(opts, r, batch.runs.size() * groups);
    if (r.sink() == &sink) {
      if (Status f = sink.Finish(r, name, opts, run_key, &res); !f.ok()) {
        sink.Abandon(f);
        return f;
      }
      out->peak_buffered_points = std::max(out->peak_buffered_points, sink.peak_buffered());
    } else {  // kept whole by its reader: written at once
      int64_t at = *points;
      RunSink whole(st, opts.stream_points, [&](int64_t pts) { report(done_bytes, at + pts); });
      INLOOP_RETURN_IF_ERROR(whole.Finish(r, name, opts, run_key, &res));
    }
    *points += res.points;
    out->points += res.points;
    if (batch.runs.size() == 1 && !stat_key.empty())
      INLOOP_RETURN_IF_ERROR(st->RecordImport(stat_key, res.run_id, g.source, g.format));
    out->runs.push_back(std::move(res));
  }
  return Status::OK();
}

}  // namespace

std::vector<DirectoryReport> ByDirectory(const ImportSummary& s) {
  std::map<std::string, DirectoryReport> dirs;
  for (size_t i = 0; i < s.runs.size(); ++i) dirs[HoldingDir(s.runs[i].source)].runs.push_back(i);
  for (size_t i = 0; i < s.skipped_paths.size(); ++i)
    dirs[HoldingDir(s.skipped_paths[i].path)].skipped.push_back(i);
  std::vector<DirectoryReport> out;
  for (auto& [dir, r] : dirs) {
    r.dir = dir;
    out.push_back(std::move(r));
  }
  return out;
}

Status ImportPaths(store::Store* st, const std::vector<std::string>& paths,
                   const ImportOptions& opts, ImportSummary* out) {
  Planner plan(out);
  for (auto& p : paths) INLOOP_RETURN_IF_ERROR(plan.AddPath(p));
  std::vector<Group> groups = plan.Take();
  int64_t total_bytes = 0;
  for (auto& g : groups) total_bytes += g.bytes;
  int64_t done_bytes = 0, points = 0;
  auto report = [&](int64_t bytes, int64_t pts) {
    if (opts.progress) opts.progress(bytes, total_bytes, pts);
  };
  report(0, 0);
  std::map<std::string, std::string> sources;  // content key -> the first group's source
  std::map<std::string, std::string> run_sources;  // run met again -> the first group's source
  auto duplicate = [&](const Group& g, const std::string& first) {
    out->skipped_paths.push_back(
        SkippedPath{g.source, "duplicate", fmt::format("the same bytes as {}", first)});
    out->skipped["file:duplicate"]++;
  };
  // The same bytes as one run before: nothing to read again.
  auto existing_run = [&](const Group& g, const std::string& run_id) -> Status {
    auto [first, fresh] = run_sources.emplace(run_id, g.source);
    if (!fresh) {
      duplicate(g, first->second);
      return Status::OK();
    }
    ImportedRunResult res;
    INLOOP_RETURN_IF_ERROR(Existing(st, run_id, g, &res));
    out->runs.push_back(std::move(res));
    return Status::OK();
  };
  for (auto& g : groups) {
    out->files += static_cast<int64_t>(g.files.size());
    // Unchanged files (stat key) need no hashing at all.
    std::string stat_key = StatKey(g.files), existing;
    if (!stat_key.empty()) INLOOP_RETURN_IF_ERROR(st->FindImport(stat_key, &existing));
    if (!existing.empty()) {
      INLOOP_RETURN_IF_ERROR(existing_run(g, existing));
      done_bytes += g.bytes;
      out->bytes += g.bytes;
      report(done_bytes, points);
      continue;
    }
    std::string key;
    INLOOP_RETURN_IF_ERROR(ContentKey(g.files, &key));
    auto [first, fresh] = sources.emplace(key, g.source);
    if (!fresh) {  // a copy of an input met earlier in this import
      duplicate(g, first->second);
      done_bytes += g.bytes;
      out->bytes += g.bytes;
      continue;
    }
    INLOOP_RETURN_IF_ERROR(st->FindImport(key, &existing));
    if (!existing.empty()) {
      INLOOP_RETURN_IF_ERROR(existing_run(g, existing));
      if (!stat_key.empty())  // the next import of these files finds the run by their stat
        INLOOP_RETURN_IF_ERROR(st->RecordImport(stat_key, existing, g.source, g.format));
      done_bytes += g.bytes;
      out->bytes += g.bytes;
      report(done_bytes, points);
      continue;
    }
    INLOOP_RETURN_IF_ERROR(ImportGroup(st, g, key, stat_key, opts, groups.size(), done_bytes,
                                       report, &points, out));
    done_bytes += g.bytes;
    report(done_bytes, points);
  }
  return Status::OK();
}

}  // namespace inloop::importers
