// Process plumbing: fork/exec with pipes, a CLOEXEC error pipe to report exec failures, /proc
// scan for re-parented descendants.
#include "supervise/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

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
  int out_pipe[2], err_pipe[2], exec_pipe[2], met_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC) || pipe2(exec_pipe, O_CLOEXEC)) {
    return Status::Io(fmt::format("cannot create pipes: {}", std::strerror(errno)));
  }
  if (!opts.metrics_fd_env.empty() && pipe2(met_pipe, O_CLOEXEC)) {
    return Status::Io(fmt::format("cannot create pipes: {}", std::strerror(errno)));
  }
  // Larger pipes absorb a burst of output while the supervisor is busy, so the child never
  // blocks on a write (the default is 64 KiB; the kernel caps this at pipe-max-size).
  for (int fd : {out_pipe[1], err_pipe[1]}) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    bool overridden = false;
    for (auto& [k, v] : opts.env) {
      if (kv.size() > k.size() && kv.substr(0, k.size()) == k && kv[k.size()] == '=') {
        overridden = true;
      }
    }
    if (!overridden && !(met_pipe[1] >= 0 && kv.rfind(opts.metrics_fd_env + "=", 0) == 0)) {
      env_strings.emplace_back(kv);
    }
  }
  for (auto& [k, v] : opts.env) env_strings.push_back(k + "=" + v);
  if (met_pipe[1] >= 0) env_strings.push_back(fmt::format("{}={}", opts.metrics_fd_env, met_pipe[1]));
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = opts.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return Status::Io(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (met_pipe[1] >= 0) {
      int fl = fcntl(met_pipe[1], F_GETFD);
      fcntl(met_pipe[1], F_SETFD, fl & ~FD_CLOEXEC);
    }
    // execvpe searches PATH from the child's environment like a shell would.
    execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    ssize_t w = write(exec_pipe[1], &err, sizeof(err));
    (void)w;
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, to win the race with an early signal
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);
  if (met_pipe[1] >= 0) close(met_pipe[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n == sizeof(err)) {
    waitpid(pid, nullptr, 0);
    close(out_pipe[0]);
    close(err_pipe[0]);
    if (met_pipe[0] >= 0) close(met_pipe[0]);
    std::string msg = fmt::format("cannot run '{}': {}", opts.argv[0], std::strerror(err));
    if (err == ENOENT) return Status::NotFound(msg + " (check the command name and PATH)");
    return Status::Io(msg);
  }
  out->pid = pid;
  out->stdout_fd = out_pipe[0];
  out->stderr_fd = err_pipe[0];
  out->metrics_fd = met_pipe[0];
  return Status::OK();
}

std::string CaptureOutput(const std::vector<std::string>& argv, int* exit_code) {
  *exit_code = -1;
  int p[2];
  if (pipe2(p, O_CLOEXEC)) return {};
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return {};
  }
  if (pid == 0) {
    dup2(p[1], 1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    std::vector<char*> args;
    std::vector<std::string> copy = argv;
    for (auto& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(p[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) *exit_code = WEXITSTATUS(st);
  return out;
}

}  // namespace inloop::supervise
