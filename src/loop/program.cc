// Running git and the agent through common/subprocess: children get an empty signal mask (the
// loop blocks SIGINT/SIGTERM and reads them itself) and default SIGPIPE.
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

#include "common/subprocess.h"

namespace inloop::loop {
namespace {

SubprocessSpec MakeSpec(const std::vector<std::string>& argv, const std::string& cwd,
                        const EnvPairs& env) {
  SubprocessSpec spec;
  spec.argv = argv;
  spec.cwd = cwd;
  spec.env = env;
  return spec;
}

}  // namespace

Status RunCaptured(const std::vector<std::string>& argv, const std::string& cwd, const EnvPairs& env,
                   ProgramResult* r) {
  *r = ProgramResult{};
  if (argv.empty()) return Status::Invalid("empty command");
  CapturedOutput captured;
  INLOOP_RETURN_IF_ERROR(inloop::RunCaptured(MakeSpec(argv, cwd, env), &captured));
  r->exit_code = captured.exit_code;
  r->out = std::move(captured.out);
  r->err = std::move(captured.err);
  return Status::OK();
}

Status RunInteractive(const std::vector<std::string>& argv, const std::string& cwd,
                      const EnvPairs& env, double timeout_s, const std::function<bool()>& stop,
                      AgentEnd* end, int* exit_code) {
  *end = AgentEnd::kExited;
  *exit_code = -1;
  if (argv.empty()) return Status::Invalid("empty agent command");
  SubprocessSpec spec = MakeSpec(argv, cwd, env);
  spec.stdin_plan = StdioPlan::DevNull();
  spec.new_process_group = true;
  spec.die_with_parent = true;
  pid_t pid = -1;
  Status started = StartSubprocess(spec, &pid);
  if (!started.ok()) {
    return started.code() == Status::Code::kNotFound ? Status::NotFound("agent: " + started.message())
                                                     : Status::Io("agent: " + started.message());
  }
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
  *exit_code = DecodeWaitStatus(st);
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
