// The per-attempt guard that ends the training's process group if inloop dies; see the header.
#include "supervise/group_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "common/subprocess.h"

namespace inloop::supervise {
namespace {

bool GroupAlive(pid_t pgid) { return ::kill(-pgid, 0) == 0 || errno == EPERM; }

}  // namespace

Status GroupGuard::Start(pid_t pgid, double grace_s) {
  Release();
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    return Status::Io(fmt::format("cannot start the process-group guard: pipe: {}", std::strerror(errno)));
  }
  SubprocessSpec spec;
  spec.argv = {"/proc/self/exe", "__group-guard", std::to_string(pgid), fmt::format("{}", grace_s)};
  spec.stdin_plan = StdioPlan::Fd(p[0]);
  spec.stdout_plan = StdioPlan::DevNull();
  spec.new_process_group = true;  // Ctrl-C at the terminal reaches the training, not the guard
  Status st = StartSubprocess(spec, &pid_);
  close(p[0]);
  if (!st.ok()) {
    close(p[1]);
    pid_ = -1;
    return st;
  }
  write_fd_ = p[1];
  return Status::OK();
}

void GroupGuard::Release() {
  if (write_fd_ >= 0) {
    ssize_t w = write(write_fd_, "done\n", 5);
    (void)w;
    close(write_fd_);
    write_fd_ = -1;
  }
  if (pid_ > 0) {
    WaitSubprocess(pid_);  // it exits at once on "done"
    pid_ = -1;
  }
}

int GroupGuardMain(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "inloop __group-guard: internal use only (PGID GRACE_S)\n");
    return 2;
  }
  pid_t pgid = static_cast<pid_t>(std::atol(argv[2]));
  double grace_s = std::atof(argv[3]);
  if (pgid <= 1) return 2;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) {
    signal(sig, SIG_IGN);
  }
  std::string got;
  char buf[64];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (got.find("done") != std::string::npos) return 0;
  // The supervisor is gone without saying so: end the training like a forwarded Ctrl-C would.
  if (!GroupAlive(pgid)) return 0;
  ::kill(-pgid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, grace_s) * 1000));
  while (std::chrono::steady_clock::now() < deadline && GroupAlive(pgid)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (GroupAlive(pgid)) ::kill(-pgid, SIGKILL);
  return 0;
}

}  // namespace inloop::supervise
