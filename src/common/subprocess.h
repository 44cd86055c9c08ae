// The one way this tree starts another program. Every fork site (the supervised training, git,
// the loop's agent, deploy replicas) goes through StartSubprocess, so that one rule holds
// everywhere: nothing is allocated and no lock is taken between fork() and exec().
//
// Contract:
// - Everything the child needs is built in the parent before fork(): argv, the full envp (the
//   caller's environment with `env` overrides and `unset_env` removed), and the list of paths to
//   try (argv[0] itself when it holds a '/', else each PATH entry of the *child's* environment,
//   "/bin:/usr/bin" when PATH is unset), plus the /bin/sh argv used when a file has no #! line
//   (ENOEXEC, as execvp does).
// - The child then calls only async-signal-safe functions: setpgid, prctl, getppid, sigaction,
//   sigprocmask, dup2, fcntl, close_range, chdir, execve, write, _exit.
// - File descriptors: 0/1/2 as asked (inherit, /dev/null, or a given fd); every other descriptor
//   is closed on exec (close_range(3, ~0, CLOSE_RANGE_CLOEXEC)), except those in `keep_fds`, so
//   no store file, socket or pipe of inloop leaks into the program (as Python's subprocess does by
//   default).
// - Signals: the child starts with an empty signal mask and SIGPIPE, SIGINT, SIGTERM, SIGXFSZ at
//   their defaults, whatever inloop blocked or ignored.
// - Errors: argv empty, a NUL byte in an argument, or an environment name that is empty or holds
//   '=' -> Invalid before anything runs; exec failure (not found, not executable, bad cwd) comes
//   back from StartSubprocess through a close-on-exec pipe as NotFound/Io naming the program
//   and the cause; the failed child is already reaped then.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop {

// What a standard stream of the child is connected to.
struct StdioPlan {
  enum class Kind { kInherit, kDevNull, kFd };
  Kind kind = Kind::kInherit;
  int fd = -1;  // for kFd: dup2'ed onto the stream in the child (the caller keeps and closes it)

  static StdioPlan Inherit() { return {}; }
  static StdioPlan DevNull() { return {Kind::kDevNull, -1}; }
  static StdioPlan Fd(int fd) { return {Kind::kFd, fd}; }
};

struct SubprocessSpec {
  std::vector<std::string> argv;                          // argv[0] searched in PATH
  std::vector<std::pair<std::string, std::string>> env;  // added or overridden
  std::vector<std::string> unset_env;                     // removed from the inherited ones
  std::string cwd;                                        // empty: the caller's
  StdioPlan stdin_plan, stdout_plan, stderr_plan;
  std::vector<int> keep_fds;        // stay open in the child, at the same numbers
  bool new_process_group = false;   // setpgid(0, 0): the child leads its own group
  bool die_with_parent = false;     // PR_SET_PDEATHSIG(SIGKILL)
};

// Starts the program. On success *pid is the child (when new_process_group, also its group id).
Status StartSubprocess(const SubprocessSpec& spec, pid_t* pid);

// waitpid(pid) through EINTR; returns the exit code, 128 + signal when killed, -1 on error.
int WaitSubprocess(pid_t pid);

// Decodes a waitpid status the same way.
int DecodeWaitStatus(int status);

struct CapturedOutput {
  int exit_code = -1;  // 128 + signal when killed
  bool timed_out = false;  // killed (SIGKILL; its process group when it leads one) at the timeout
  std::string out;
  std::string err;
};

// Runs the program to its end with stdin from /dev/null, capturing stdout and stderr (both
// drained concurrently, so neither can fill its pipe and stall the child). With timeout_s > 0 a
// program still running after that many seconds is killed and `timed_out` set; what it wrote is
// kept (a grandchild that still holds the pipes gets two more seconds, then is not waited for).
Status RunCaptured(SubprocessSpec spec, CapturedOutput* result, double timeout_s = 0);

}  // namespace inloop
