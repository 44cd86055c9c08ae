// Checkpoint bookkeeping (see checkpoints.h).
#include "remedy/checkpoints.h"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <filesystem>

namespace inloop::remedy {
namespace {

// What changes while a checkpoint is written: its size and modification time (for a directory,
// the total size of its regular files and the directory's own time).
struct FileSig {
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileSig&) const = default;
};

FileSig SigOf(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return {};
  FileSig sig;
  sig.mtime_ns = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
  if (!S_ISDIR(sb.st_mode)) {
    sig.size = sb.st_size;
    return sig;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t total = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2)) total += static_cast<int64_t>(it->file_size(e2));
  }
  sig.size = total;
  return sig;
}

bool Exists(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0;
}

}  // namespace

std::optional<int64_t> StepFromName(const std::string& path) {
  std::string_view p(path);
  while (!p.empty() && p.back() == '/') p.remove_suffix(1);
  size_t slash = p.rfind('/');
  if (slash != std::string_view::npos) p.remove_prefix(slash + 1);
  size_t end = p.size();
  while (end > 0 && !(p[end - 1] >= '0' && p[end - 1] <= '9')) --end;
  if (end == 0) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && p[begin - 1] >= '0' && p[begin - 1] <= '9') --begin;
  if (end - begin > 18) return std::nullopt;
  int64_t v = 0;
  for (size_t i = begin; i < end; ++i) v = v * 10 + (p[i] - '0');
  return v;
}

CheckpointBook::CheckpointBook(std::string glob, std::string base_dir, double settle_seconds)
    : glob_(std::move(glob)), base_dir_(std::move(base_dir)), settle_(settle_seconds) {}

Checkpoint* CheckpointBook::Find(const std::string& path) {
  for (auto& c : all_) {
    if (c.path == path) return &c;
  }
  return nullptr;
}

void CheckpointBook::Announce(const std::string& path, int64_t step, int attempt) {
  Checkpoint* c = Find(path);
  if (c == nullptr) {
    all_.push_back(Checkpoint{});
    c = &all_.back();
    c->path = path;
  }
  c->step = step;
  c->source = "sdk";
  c->attempt = attempt;
  c->complete = true;
  c->abandoned = false;
}

void CheckpointBook::Scan(double now, int attempt) {
  if (glob_.empty()) return;
  std::string pattern = glob_;
  if (pattern[0] != '/' && !base_dir_.empty()) pattern = base_dir_ + "/" + pattern;
  glob_t g{};
  if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string path = g.gl_pathv[i];
      // Temp files of a save in progress ("x.pt.tmp.123") are not checkpoints.
      if (path.find(".tmp") != std::string::npos || path.find(".partial") != std::string::npos) {
        continue;
      }
      std::optional<int64_t> step = StepFromName(path);
      if (!step) continue;
      Checkpoint* c = Find(path);
      if (c == nullptr) {
        all_.push_back(Checkpoint{});
        c = &all_.back();
        c->path = path;
        c->step = *step;
        c->source = "glob";
        c->attempt = attempt;
      } else if (c->source == "sdk") {
        continue;
      }
      FileSig sig = SigOf(path);
      if (sig.size != c->size || sig.mtime_ns != c->mtime_ns) {
        bool first_sight = c->size < 0;
        if (!first_sight) c->abandoned = false;  // rewritten: a save on the live timeline
        c->size = sig.size;
        c->mtime_ns = sig.mtime_ns;
        // A file first seen with an old modification time has not changed since then: it
        // settled already (a checkpoint found only at decision time still counts).
        c->size_since = first_sight ? std::min(now, static_cast<double>(sig.mtime_ns) / 1e9) : now;
        c->complete = sig.size > 0 && now - c->size_since >= settle_;
      } else if (sig.size > 0 && now - c->size_since >= settle_) {
        c->complete = true;
      }
    }
  }
  ::globfree(&g);
}

void CheckpointBook::OpenAnomaly(int64_t step_lo) {
  for (auto& a : anomalies_) {
    if (a.lo == step_lo) return;
  }
  anomalies_.push_back({step_lo, INT64_MAX});
}

void CheckpointBook::CloseAnomaly(int64_t step_lo, int64_t step_hi) {
  for (auto& a : anomalies_) {
    if (a.lo == step_lo) a.hi = step_hi;
  }
}

bool CheckpointBook::InAnomaly(int64_t step) const {
  for (auto& a : anomalies_) {
    if (step >= a.lo && step <= a.hi) return true;
  }
  return false;
}

std::optional<Checkpoint> CheckpointBook::NewestGood(std::optional<int64_t> before) const {
  std::vector<const Checkpoint*> candidates;
  for (auto& c : all_) {
    if (!c.complete || c.abandoned) continue;
    if (before && c.step >= *before) continue;
    if (InAnomaly(c.step)) continue;
    candidates.push_back(&c);
  }
  // Newest first; the file checks (existence, trust) run only until one passes.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Checkpoint* a, const Checkpoint* b) { return a->step > b->step; });
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Checkpoint& c = *candidates[i];  // among equal steps the first known, as always
    if (!(exists_ ? exists_(c.path) : Exists(c.path))) continue;
    if (trusted_ && !trusted_(c)) continue;
    return c;
  }
  return std::nullopt;
}

void CheckpointBook::RewindTo(int64_t step) {
  for (auto& c : all_) {
    if (c.step > step) c.abandoned = true;
  }
  std::erase_if(anomalies_, [&](const Anomaly& a) { return a.lo > step; });
}

}  // namespace inloop::remedy
