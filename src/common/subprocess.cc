// fork/exec with every allocation done before fork(); see the contract in subprocess.h.
#include "common/subprocess.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

extern char** environ;

namespace inloop {
namespace {

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

// Everything the child touches, laid out before fork().
struct ExecPlan {
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::vector<std::string> candidates;  // paths to execve, in order
  std::vector<char*> sh_argv;           // {"/bin/sh", <candidate>, argv[1..], nullptr}
};

Status Validate(const SubprocessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Status::Invalid("no command to run");
  for (const auto& a : spec.argv) {
    if (HasNul(a)) return Status::Invalid(fmt::format("an argument of `{}` holds a NUL byte", spec.argv[0]));
  }
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || HasNul(k) || HasNul(v)) {
      return Status::Invalid(fmt::format("bad environment variable name or value for `{}`: '{}'",
                                         spec.argv[0], k));
    }
  }
  if (HasNul(spec.cwd)) return Status::Invalid("the working directory holds a NUL byte");
  return Status::OK();
}

bool NameIs(std::string_view kv, std::string_view name) {
  return kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=';
}

void BuildPlan(const SubprocessSpec& spec, ExecPlan* p) {
  std::string path_value;
  bool path_set = false;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    bool drop = false;
    for (const auto& [k, v] : spec.env) drop = drop || NameIs(kv, k);
    for (const auto& k : spec.unset_env) drop = drop || NameIs(kv, k);
    if (drop) continue;
    p->env_strings.emplace_back(kv);
    if (NameIs(kv, "PATH")) {
      path_value = std::string(kv.substr(5));
      path_set = true;
    }
  }
  for (const auto& [k, v] : spec.env) {
    p->env_strings.push_back(k + "=" + v);
    if (k == "PATH") {
      path_value = v;
      path_set = true;
    }
  }
  for (auto& s : p->env_strings) p->envp.push_back(s.data());
  p->envp.push_back(nullptr);

  p->args = spec.argv;
  for (auto& a : p->args) p->argv.push_back(a.data());
  p->argv.push_back(nullptr);

  const std::string& file = spec.argv[0];
  if (file.find('/') != std::string::npos) {
    p->candidates.push_back(file);
  } else {
    if (!path_set) path_value = "/bin:/usr/bin";
    size_t start = 0;
    for (;;) {
      size_t colon = path_value.find(':', start);
      std::string dir = path_value.substr(start, colon == std::string::npos ? std::string::npos
                                                                            : colon - start);
      p->candidates.push_back(dir.empty() ? file : dir + "/" + file);  // empty entry: the cwd
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  static char kSh[] = "/bin/sh";
  p->sh_argv.push_back(kSh);
  p->sh_argv.push_back(nullptr);  // the candidate, filled in by the child
  for (size_t i = 1; i < p->args.size(); ++i) p->sh_argv.push_back(p->args[i].data());
  p->sh_argv.push_back(nullptr);
}

[[noreturn]] void Fail(int err_fd, int err) {
  ssize_t w = write(err_fd, &err, sizeof err);
  (void)w;
  _exit(127);
}

void Redirect(const StdioPlan& plan, int target, int devnull) {
  if (plan.kind == StdioPlan::Kind::kDevNull && devnull >= 0) dup2(devnull, target);
  if (plan.kind == StdioPlan::Kind::kFd && plan.fd >= 0) {
    if (plan.fd == target) {
      int fl = fcntl(target, F_GETFD);
      if (fl >= 0) fcntl(target, F_SETFD, fl & ~FD_CLOEXEC);
    } else {
      dup2(plan.fd, target);  // the copy does not carry FD_CLOEXEC
    }
  }
}

// The child between fork() and exec(): async-signal-safe calls only, no allocation.
[[noreturn]] void ChildAfterFork(const SubprocessSpec& spec, ExecPlan& p, pid_t parent,
                                 int devnull, int err_fd) {
  if (spec.new_process_group) setpgid(0, 0);
  if (spec.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  }
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGXFSZ}) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  Redirect(spec.stdin_plan, 0, devnull);
  Redirect(spec.stdout_plan, 1, devnull);
  Redirect(spec.stderr_plan, 2, devnull);
  // Nothing else of inloop's survives exec (ENOSYS on old kernels: then only the descriptors
  // opened with O_CLOEXEC are closed, which is all of inloop's own).
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  for (int fd : spec.keep_fds) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) Fail(err_fd, errno);

  int err = ENOENT;
  bool saw_eacces = false;
  for (auto& cand : p.candidates) {
    execve(cand.c_str(), p.argv.data(), p.envp.data());
    int e = errno;
    if (e == ENOEXEC) {  // no #! line: run it with the shell, as execvp does
      p.sh_argv[1] = cand.data();
      execve(p.sh_argv[0], p.sh_argv.data(), p.envp.data());
      e = errno;
    }
    if (e == EACCES) saw_eacces = true;
    if (e != ENOENT && e != ENOTDIR && e != EACCES) {
      err = e;
      saw_eacces = false;
      break;
    }
  }
  Fail(err_fd, saw_eacces ? EACCES : err);
}

}  // namespace

int DecodeWaitStatus(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

int WaitSubprocess(pid_t pid) {
  int st = 0;
  for (;;) {
    if (waitpid(pid, &st, 0) == pid) return DecodeWaitStatus(st);
    if (errno != EINTR) return -1;
  }
}

Status StartSubprocess(const SubprocessSpec& spec, pid_t* pid) {
  INLOOP_RETURN_IF_ERROR(Validate(spec));
  ExecPlan plan;
  BuildPlan(spec, &plan);
  int devnull = -1;
  for (const StdioPlan* s : {&spec.stdin_plan, &spec.stdout_plan, &spec.stderr_plan}) {
    if (s->kind == StdioPlan::Kind::kDevNull && devnull < 0) devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  }
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    if (devnull >= 0) close(devnull);
    return Status::Io(fmt::format("cannot start `{}`: pipe: {}", spec.argv[0], std::strerror(e)));
  }
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) ChildAfterFork(spec, plan, parent, devnull, err_pipe[1]);
  int fork_errno = errno;
  close(err_pipe[1]);
  if (devnull >= 0) close(devnull);
  if (child < 0) {
    close(err_pipe[0]);
    return Status::Io(fmt::format("cannot start `{}`: fork: {}", spec.argv[0], std::strerror(fork_errno)));
  }
  if (spec.new_process_group) setpgid(child, child);  // from both sides: no race with a signal
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(err_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    WaitSubprocess(child);
    std::string msg = fmt::format("cannot run '{}': {}", spec.argv[0], std::strerror(child_errno));
    if (child_errno == ENOENT) {
      return Status::NotFound(msg + (spec.cwd.empty() ? " (check the command name and PATH)"
                                                      : " (check the command name, PATH and the working directory)"));
    }
    return Status::Io(msg);
  }
  *pid = child;
  return Status::OK();
}

Status RunCaptured(SubprocessSpec spec, CapturedOutput* r, double timeout_s) {
  *r = CapturedOutput{};
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Status::Io(fmt::format("pipe: {}", std::strerror(errno)));
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close(out[0]);
    close(out[1]);
    return Status::Io(fmt::format("pipe: {}", std::strerror(e)));
  }
  spec.stdin_plan = StdioPlan::DevNull();
  spec.stdout_plan = StdioPlan::Fd(out[1]);
  spec.stderr_plan = StdioPlan::Fd(err[1]);
  pid_t pid = -1;
  Status st = StartSubprocess(spec, &pid);
  close(out[1]);
  close(err[1]);
  if (!st.ok()) {
    close(out[0]);
    close(err[0]);
    return st;
  }
  pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* dst[2] = {&r->out, &r->err};
  int open_fds = 2;
  char buf[8192];
  using Clock = std::chrono::steady_clock;
  const bool timed = timeout_s > 0;
  Clock::time_point deadline =
      timed ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(timeout_s))
            : Clock::time_point::max();
  while (open_fds > 0) {
    int wait_ms = -1;
    if (timed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        if (r->timed_out) break;  // killed, and a grandchild still holds the pipes: stop here
        r->timed_out = true;
        ::kill(spec.new_process_group ? -pid : pid, SIGKILL);
        deadline = Clock::now() + std::chrono::seconds(2);
        continue;
      }
      wait_ms = static_cast<int>(std::min<int64_t>(left.count() + 1, 60'000));
    }
    int n = poll(p, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !p[i].revents) continue;
      ssize_t got = read(p[i].fd, buf, sizeof buf);
      if (got > 0) {
        dst[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(p[i].fd);
        p[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& q : p) {
    if (q.fd >= 0) close(q.fd);
  }
  r->exit_code = WaitSubprocess(pid);
  return Status::OK();
}

}  // namespace inloop
