// What a run records about where it came from: params parsed from the command line
// (`--lr 3e-4`, `--lr=3e-4`, `-n 5`, bare `--flag`), the host, the cwd, and the git commit and
// dirty flag of the cwd when it is a work tree (git is run with fixed arguments only).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "store/catalog.h"

namespace inloop::supervise {

// Params from argv[1..] of the training command. Positional arguments are skipped.
std::vector<store::Param> ParamsFromArgv(const std::vector<std::string>& argv);

struct GitInfo {
  std::string commit;  // empty when not a repository or git is missing
  int dirty = -1;
};
GitInfo ReadGitInfo(const std::string& cwd);

std::string HostName();
std::string CurrentDir();

// A default run name from the command: the script's base name without extension
// (`python train.py` -> "train"), else the program's base name.
std::string DefaultRunName(const std::vector<std::string>& argv);

}  // namespace inloop::supervise
