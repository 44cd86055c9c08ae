// CheckpointBook: the checkpoints of one run and which of them are good to restart from. A
// checkpoint is known from the SDK (complete when announced) or from a configured glob (complete
// once its size stopped changing for a settle time). It is good when complete, on the live
// timeline (not from a future abandoned by a rollback) and no anomaly was open at its step.
// Scan() reads the file system, and NewestGood() checks that the file still exists (SetExists)
// and may be loaded (SetTrusted);
// everything else is pure bookkeeping with caller-given times.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace inloop::remedy {

struct Checkpoint {
  std::string path;
  int64_t step = 0;
  std::string source;  // "sdk" or "glob"
  int attempt = 0;     // the attempt that wrote it (0: found on disk before the run)
  bool complete = false;
  bool abandoned = false;  // its step is past a rollback point: a future that was thrown away
  // glob bookkeeping: size and modification time seen, and since when they have not changed
  int64_t size = -1;
  int64_t mtime_ns = 0;
  double size_since = 0;
};

class CheckpointBook {
 public:
  CheckpointBook(std::string glob, std::string base_dir, double settle_seconds);

  // The process announced a complete checkpoint through the SDK.
  void Announce(const std::string& path, int64_t step, int attempt);
  // Re-reads the glob (no-op without one): new files, sizes, completion.
  void Scan(double now, int attempt);

  // An anomaly began at `step` on the live timeline (nothing at or after it is good until it
  // ends), or ended at `step_hi`.
  void OpenAnomaly(int64_t step_lo);
  void CloseAnomaly(int64_t step_lo, int64_t step_hi);

  // The newest good checkpoint with step < before (no bound when unset); its file must exist.
  std::optional<Checkpoint> NewestGood(std::optional<int64_t> before = std::nullopt) const;

  // A restart from `step` (0: from scratch): checkpoints and anomalies past it are abandoned.
  void RewindTo(int64_t step);

  const std::vector<Checkpoint>& all() const { return all_; }
  // How NewestGood checks that a checkpoint's file exists (default: stat); replay tests of the
  // remedy controller set their own.
  void SetExists(std::function<bool(const std::string&)> exists) { exists_ = std::move(exists); }
  // Whether a checkpoint may be loaded at all (the supervisor's `[audit]` scan of its file);
  // unset: every one. Asked only of the newest candidates, until one passes.
  void SetTrusted(std::function<bool(const Checkpoint&)> trusted) { trusted_ = std::move(trusted); }

 private:
  bool InAnomaly(int64_t step) const;
  Checkpoint* Find(const std::string& path);

  std::string glob_, base_dir_;
  double settle_;
  std::function<bool(const std::string&)> exists_;
  std::function<bool(const Checkpoint&)> trusted_;
  std::vector<Checkpoint> all_;
  struct Anomaly {
    int64_t lo, hi;  // hi == INT64_MAX while open
  };
  std::vector<Anomaly> anomalies_;
};

// The step in a checkpoint's file name: the last run of digits in its last path component
// ("ckpt-0000250.pt" -> 250, "checkpoint-500/" -> 500); nullopt when it has none.
std::optional<int64_t> StepFromName(const std::string& path);

}  // namespace inloop::remedy
