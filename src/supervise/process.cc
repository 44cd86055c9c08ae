// Process plumbing: the training's pipes around common/subprocess, and the /proc scan for
// re-parented descendants.
#include "supervise/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "common/subprocess.h"

namespace inloop::supervise {

void SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void BecomeSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

void SignalGroup(pid_t pgid, int sig) {
  if (pgid > 0) ::kill(-pgid, sig);
}

namespace {

// The fields of /proc/PID/stat after the command name (which is in parentheses and may hold
// spaces), starting with the state: "S 1234 ..." (state, ppid, pgrp, ...).
struct ProcStat {
  pid_t pid;
  char state;
  std::vector<long long> fields;  // fields 4.. of proc(5) (ppid is fields[0])
};

// Calls fn(stat) for every process in /proc (those that vanish meanwhile are skipped).
template <typename Fn>
void ForEachProcess(Fn fn) {
  DIR* d = opendir("/proc");
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::ifstream f(fmt::format("/proc/{}/stat", pid));
    std::string stat;
    if (!std::getline(f, stat)) continue;
    auto rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 4 >= stat.size()) continue;
    ProcStat ps{static_cast<pid_t>(pid), stat[rp + 2], {}};
    const char* p = stat.c_str() + rp + 4;
    while (*p) {
      char* q;
      long long v = strtoll(p, &q, 10);
      if (q == p) break;
      ps.fields.push_back(v);
      p = q;
    }
    fn(ps);
  }
  closedir(d);
}

}  // namespace

std::vector<pid_t> ListOwnChildren(pid_t except) {
  std::vector<pid_t> out;
  pid_t self = getpid();
  ForEachProcess([&](const ProcStat& ps) {
    if (ps.pid == except || ps.fields.empty() || ps.fields[0] != self) return;
    if (ps.state != 'Z') out.push_back(ps.pid);
    if (ps.state == 'Z') waitpid(ps.pid, nullptr, WNOHANG);
  });
  return out;
}

double GroupCpuSeconds(pid_t pgid) {
  // proc(5): utime and stime are fields 14 and 15, i.e. fields[10] and fields[11] here.
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  ForEachProcess([&](const ProcStat& ps) {
    if (ps.fields.size() < 12 || ps.fields[1] != pgid) return;
    total += static_cast<double>(ps.fields[10] + ps.fields[11]) / kTick;
  });
  return total;
}

Status Spawn(const SpawnOptions& opts, Child* out) {
  if (opts.argv.empty()) return Status::Invalid("no command given after --");
  int out_pipe[2], err_pipe[2], met_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC)) return Status::Io(fmt::format("cannot create pipes: {}", std::strerror(errno)));
  if (pipe2(err_pipe, O_CLOEXEC)) {
    int e = errno;
    for (int fd : out_pipe) close(fd);
    return Status::Io(fmt::format("cannot create pipes: {}", std::strerror(e)));
  }
  if (!opts.metrics_fd_env.empty() && pipe2(met_pipe, O_CLOEXEC)) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return Status::Io(fmt::format("cannot create pipes: {}", std::strerror(e)));
  }
  // Larger pipes absorb a burst of output while the supervisor is busy, so the child never
  // blocks on a write (the default is 64 KiB; the kernel caps this at pipe-max-size).
  for (int fd : {out_pipe[1], err_pipe[1]}) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  SubprocessSpec spec;
  spec.argv = opts.argv;
  spec.env = opts.env;
  if (!opts.metrics_fd_env.empty()) {
    spec.unset_env.push_back(opts.metrics_fd_env);
    spec.unset_env.push_back(opts.metrics_fd_env + "_INO");
    spec.unset_env.push_back("INLOOP_METRICS_PATH");  // an outer inloop's; ours is in opts.env
    for (const char* v : {"INLOOP_RANKS_ADDR", "INLOOP_RANKS_TOKEN", "INLOOP_RANKS_HOST"}) {
      spec.unset_env.push_back(v);
    }
    if (met_pipe[1] >= 0) {
      spec.env.emplace_back(opts.metrics_fd_env, std::to_string(met_pipe[1]));
      spec.keep_fds.push_back(met_pipe[1]);
      // The pipe's identity: a process that did not inherit the fd (torchrun's workers) may find
      // another file under the same number, and must not write into it (docs/sdk_protocol.md).
      struct stat st;
      if (fstat(met_pipe[1], &st) == 0) {
        spec.env.emplace_back(opts.metrics_fd_env + "_INO", std::to_string(st.st_ino));
      }
    }
  }
  spec.stdout_plan = StdioPlan::Fd(out_pipe[1]);
  spec.stderr_plan = StdioPlan::Fd(err_pipe[1]);
  spec.new_process_group = true;
  pid_t pid = -1;
  Status st = StartSubprocess(spec, &pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (met_pipe[1] >= 0) close(met_pipe[1]);
  if (!st.ok()) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (met_pipe[0] >= 0) close(met_pipe[0]);
    return st;
  }
  out->pid = pid;
  out->stdout_fd = out_pipe[0];
  out->stderr_fd = err_pipe[0];
  out->metrics_fd = met_pipe[0];
  return Status::OK();
}

std::string CaptureOutput(const std::vector<std::string>& argv, int* exit_code) {
  *exit_code = -1;
  SubprocessSpec spec;
  spec.argv = argv;
  CapturedOutput r;
  if (!RunCaptured(std::move(spec), &r).ok()) return {};
  *exit_code = r.exit_code;
  return r.out;
}

}  // namespace inloop::supervise
