// What becomes of the training when inloop itself dies (kill -9, OOM killer, a crash): it is
// ended with its process group, never left half-alive writing into a closed pipe.
//
// Each attempt gets a guard: a second inloop process (`inloop __group-guard PGID GRACE`) in its
// own process group, with terminal signals ignored, that holds the read end of a pipe whose write
// end only the supervisor has. When the attempt ends normally the supervisor writes "done" and
// closes the pipe; the guard exits. When the pipe closes without "done" (the supervisor died),
// the guard sends SIGTERM to the training's process group, then SIGKILL after GRACE seconds if
// anything of it is still there, the same grace a forwarded Ctrl-C gets. The run then reads
// `interrupted` and can be resumed from its last checkpoint.
//
// Why not PR_SET_PDEATHSIG on the training: it reaches only the direct child (not torchrun's
// workers or a `sh -c` wrapper's children) and fires when the forking thread exits.
#pragma once

#include <sys/types.h>

#include "common/status.h"

namespace inloop::supervise {

class GroupGuard {
 public:
  GroupGuard() = default;
  GroupGuard(const GroupGuard&) = delete;
  GroupGuard& operator=(const GroupGuard&) = delete;
  ~GroupGuard() { Release(); }

  // Starts the guard of process group `pgid` (this binary, through /proc/self/exe).
  Status Start(pid_t pgid, double grace_s);
  // The attempt ended under the supervisor's eyes: tells the guard to stand down and reaps it.
  void Release();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int write_fd_ = -1;
};

// The guard process's main: `inloop __group-guard PGID GRACE_S`, the pipe on stdin.
int GroupGuardMain(int argc, char** argv);

}  // namespace inloop::supervise
