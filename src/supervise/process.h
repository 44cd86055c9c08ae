// Child process plumbing for the supervisor: spawning a command in its own process group with
// its stdout/stderr on pipes and an extra inherited pipe for the SDK, signalling the group, and
// finding descendants that were re-parented to us (we are a child subreaper) so that none is
// ever left behind. Never builds a command from log or network content: argv is passed as is.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::supervise {

struct SpawnOptions {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added or overridden
  // Environment variable that receives the SDK pipe's fd number (empty: no SDK pipe).
  std::string metrics_fd_env = "INLOOP_METRICS_FD";
};

struct Child {
  pid_t pid = -1;  // also the process group id
  int stdout_fd = -1;
  int stderr_fd = -1;
  int metrics_fd = -1;  // read end of the SDK pipe, -1 when none
};

// Spawns argv[0] (searched in PATH) through common/subprocess in its own process group, with
// stdout/stderr on pipes and the SDK pipe's write end as the only other descriptor it inherits.
// On exec failure returns Status::NotFound/Io with the errno text; the child is already reaped.
Status Spawn(const SpawnOptions& opts, Child* out);

// Makes this process a child subreaper (orphaned descendants are re-parented to it).
void BecomeSubreaper();

// Pids whose parent is this process, other than `except`.
std::vector<pid_t> ListOwnChildren(pid_t except);

// Sends sig to the process group pgid (ignores ESRCH).
void SignalGroup(pid_t pgid, int sig);

// CPU seconds (user + system) used so far by the live processes of process group `pgid`.
double GroupCpuSeconds(pid_t pgid);

// Sets O_NONBLOCK on fd.
void SetNonBlocking(int fd);

// Runs a helper program with fixed argv (e.g. git) and returns its stdout; empty on failure.
std::string CaptureOutput(const std::vector<std::string>& argv, int* exit_code);

}  // namespace inloop::supervise
