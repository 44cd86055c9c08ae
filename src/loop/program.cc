// fork/exec plumbing for git and the agent. Children get an empty signal mask (the loop blocks
// SIGINT/SIGTERM and reads them itself) and default SIGPIPE.
#include "loop/program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

namespace inloop::loop {
namespace {

[[noreturn]] void ExecChild(const std::vector<std::string>& argv, const std::string& cwd,
                            const EnvPairs& env, int err_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
    int e = errno;
    (void)!write(err_fd, &e, sizeof(e));
    _exit(127);
  }
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  int e = errno;
  (void)!write(err_fd, &e, sizeof(e));
  _exit(127);
}

// Reads the exec-error pipe: 0 when exec succeeded (pipe closed empty).
int ExecErrno(int fd) {
  int e = 0;
  ssize_t n;
  do {
    n = read(fd, &e, sizeof(e));
  } while (n < 0 && errno == EINTR);
  close(fd);
  return n == sizeof(e) ? e : 0;
}

int DecodeWait(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

}  // namespace

Status RunCaptured(const std::vector<std::string>& argv, const std::string& cwd, const EnvPairs& env,
                   ProgramResult* r) {
  *r = ProgramResult{};
  if (argv.empty()) return Status::Invalid("empty command");
  int out[2], err[2], ex[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) {
    return Status::Io(fmt::format("pipe: {}", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) return Status::Io(fmt::format("fork: {}", strerror(errno)));
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    ExecChild(argv, cwd, env, ex[1]);
  }
  close(out[1]);
  close(err[1]);
  close(ex[1]);
  pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* dst[2] = {&r->out, &r->err};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !p[i].revents) continue;
      ssize_t got = read(p[i].fd, buf, sizeof(buf));
      if (got > 0) {
        dst[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(p[i].fd);
        p[i].fd = -1;
        --open_fds;
      }
    }
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  int e = ExecErrno(ex[0]);
  if (e) return Status::Io(fmt::format("cannot run {}: {}", argv[0], strerror(e)));
  r->exit_code = DecodeWait(st);
  return Status::OK();
}

Status RunInteractive(const std::vector<std::string>& argv, const std::string& cwd,
                      const EnvPairs& env, double timeout_s, const std::function<bool()>& stop,
                      AgentEnd* end, int* exit_code) {
  *end = AgentEnd::kExited;
  *exit_code = -1;
  if (argv.empty()) return Status::Invalid("empty agent command");
  int ex[2];
  if (pipe2(ex, O_CLOEXEC)) return Status::Io(fmt::format("pipe: {}", strerror(errno)));
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Status::Io(fmt::format("fork: {}", strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // inloop died before the line above
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    ExecChild(argv, cwd, env, ex[1]);
  }
  setpgid(pid, pid);
  close(ex[1]);
  int e = ExecErrno(ex[0]);
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  int st = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    auto now = std::chrono::steady_clock::now();
    if (kill_at == std::chrono::steady_clock::time_point::max()) {
      bool timed_out = std::chrono::duration<double>(now - start).count() > timeout_s;
      if (timed_out || stop()) {
        *end = timed_out ? AgentEnd::kTimedOut : AgentEnd::kStopped;
        ::kill(-pid, SIGTERM);
        kill_at = now + std::chrono::seconds(5);
      }
    } else if (now >= kill_at) {
      ::kill(-pid, SIGKILL);
    }
    usleep(20 * 1000);
  }
  // Whatever the agent left running in its group goes with it.
  ::kill(-pid, SIGKILL);
  if (e) return Status::NotFound(fmt::format("cannot run agent {}: {}", argv[0], strerror(e)));
  *exit_code = DecodeWait(st);
  return Status::OK();
}

Status SplitCommandLine(const std::string& line, std::vector<std::string>* argv) {
  argv->clear();
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string::npos) return Status::Invalid("unterminated ' in the agent command");
      cur.append(line, i + 1, end - i - 1);
      i = end;
      in_word = true;
    } else if (c == '"') {
      ++i;
      for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() &&
            std::strchr("\"\\$`", line[i + 1]) != nullptr) {
          ++i;
        }
        cur += line[i];
      }
      if (i >= line.size()) return Status::Invalid("unterminated \" in the agent command");
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) argv->push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) argv->push_back(std::move(cur));
  if (argv->empty()) return Status::Invalid("the agent command is empty");
  return Status::OK();
}

}  // namespace inloop::loop
