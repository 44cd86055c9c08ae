// Running helper programs for the research loop: git (captured output) and the proposer agent
// (output on the terminal, interruptible, with a timeout). Always argv vectors through
// fork/exec, never a shell; an agent command line given as one string is split here by
// shell-like quoting rules without any expansion.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop::loop {

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

struct ProgramResult {
  int exit_code = -1;  // 128+signal when killed
  std::string out;
  std::string err;
};

// Runs argv in `cwd` with stdin from /dev/null, capturing stdout and stderr. Io when it cannot
// be started; otherwise OK with the exit code in *r.
Status RunCaptured(const std::vector<std::string>& argv, const std::string& cwd, const EnvPairs& env,
                   ProgramResult* r);

enum class AgentEnd { kExited, kTimedOut, kStopped };

// Runs argv in `cwd` with the terminal's stdout/stderr, in its own process group (killed with
// SIGKILL should inloop die: PR_SET_PDEATHSIG). Polls `stop()` every 100 ms; when it returns
// true or `timeout_s` passes, the group gets SIGTERM, then SIGKILL after 5 s.
Status RunInteractive(const std::vector<std::string>& argv, const std::string& cwd,
                      const EnvPairs& env, double timeout_s, const std::function<bool()>& stop,
                      AgentEnd* end, int* exit_code);

// Splits a command line by POSIX shell quoting ('...', "...", backslash) without expansion of
// any kind. Invalid on an unterminated quote.
Status SplitCommandLine(const std::string& line, std::vector<std::string>* argv);

}  // namespace inloop::loop
