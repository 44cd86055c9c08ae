// `inloop audit`: scans checkpoints and model files for code that runs when they are loaded, and
// training/serving code and configs for what makes that possible (audit/code_scan.h).
// Owns: format detection (pickle, torch zip and legacy files, numpy .npy object arrays,
// safetensors, archives it refuses to look inside), the walk over directories, and turning each
// file into a FileVerdict. Pickles are read by audit/pickle_scan.h (never unpickled), ZIP members
// by audit/zip_reader.h, safetensors headers by audit/safetensors_check.h.
#pragma once

#include <string>
#include <vector>

#include "audit/allowlist.h"
#include "audit/finding.h"
#include "common/status.h"

namespace inloop::audit {

struct AuditOptions {
  Allowlist allow;
  bool use_bandit = true;  // run Debian's bandit over Python files when it is installed
};

// Scans one file (any size: it is memory-mapped, only pickles are read in full).
FileVerdict AuditFile(const std::string& path, const AuditOptions& options);

// Scans the files named and, for directories, every file below them with a model file's or an
// archive's extension (.pt .pth .pkl .pickle .bin .ckpt .safetensors .npy .npz .joblib .model,
// .tar .zip .7z .gz .tgz .xz .bz2 .zst), Python sources (.py: audit/code_scan.h rules, bandit,
// secrets) and configs (.yaml .yml .toml .json .cfg .ini .env .sh: secrets), in sorted order,
// skipping .git, node_modules, virtual environments and __pycache__. NotFound when a path does not exist.
Status AuditPaths(const std::vector<std::string>& paths, const AuditOptions& options,
                  std::vector<FileVerdict>* out);

}  // namespace inloop::audit
