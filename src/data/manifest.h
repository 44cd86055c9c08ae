// Manifest: what the pipeline last built, kept in the project at .inloop/data/manifest.json
// (docs/data.md): per file its content hash under a stat key (size, mtime, inode), so a no-op
// rerun reads no data; per step the cache key and its parts, the inputs and outputs by hash, the
// run that built them and whether it passed validation. Written atomically after every step, so a
// crash loses at most the step in flight. Several processes may finish steps at once (a local run,
// Slurm jobs): each commits its step's record under an flock on DATA_DIR/manifest.lock
// (CommitStep), reading the manifest afresh. A Manifest value is not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::data {

struct FileVersion {
  std::string path;
  std::string sha256;  // hex of the content
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t inode = 0;
};

struct OutputRecord {
  std::string path;
  std::string sha256;
  int64_t size = 0;
  std::string previous_sha256;  // the version before this one, "" for the first
};

struct StepRecord {
  std::string key;           // hex: what the outputs are a function of
  std::string command_hash;  // parts of the key, to say why a step is stale
  std::string env_hash;
  std::vector<std::pair<std::string, std::string>> inputs;  // path, sha256
  std::vector<OutputRecord> outputs;
  std::string run_id;
  std::string status;  // "ok", "failed" (the command), "invalid" (an error check)
  std::string message;
  double finished_at = 0;
};

struct Manifest {
  std::map<std::string, FileVersion> files;  // by path as the config names it
  std::map<std::string, StepRecord> steps;
};

// The directory of the manifest and the validation profiles for a project directory.
std::string DataDir(const std::string& project_dir);

// `path` under `dir` unless absolute (or `dir` is "" or ".").
std::string JoinPath(const std::string& dir, const std::string& path);

// mkdir -p.
Status MakeDirs(const std::string& dir);

// A missing manifest is an empty one; a corrupt one is Corrupt naming the file.
Status LoadManifest(const std::string& data_dir, Manifest* m);
Status SaveManifest(const std::string& data_dir, const Manifest& m);

// Runs `fn` holding the project's data lock (an exclusive flock on DATA_DIR/manifest.lock, waited
// for): what is read, changed and written back under it (the manifest, the Slurm job records)
// cannot lose another process's update. Holders keep it for milliseconds.
Status WithDataLock(const std::string& data_dir, const std::function<Status()>& fn);

// Under the data lock: the manifest on disk with step `name`'s record set to `rec` and the hash
// cache entries of `files` merged in.
Status CommitStep(const std::string& data_dir, const std::string& name, const StepRecord& rec,
                  const std::map<std::string, FileVersion>& files);

// Under the data lock: the hash cache entries of `files` merged into the manifest on disk.
Status CommitFiles(const std::string& data_dir, const std::map<std::string, FileVersion>& files);

// Streams the file through SHA-256. NotFound when it does not exist.
Status Sha256File(const std::string& path, std::string* hex, int64_t* size);

// The content hash of `path` (relative to `project_dir`), from the manifest's stat cache when
// size, mtime and inode match, else hashed and cached in `m`. NotFound when it is missing.
Status HashFile(const std::string& project_dir, const std::string& path, Manifest* m,
                FileVersion* out);

}  // namespace inloop::data
