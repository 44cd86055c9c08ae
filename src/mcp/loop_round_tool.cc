// The loop_round tool (loop_round_tool.h).
#include "mcp/loop_round_tool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/subprocess.h"
#include "loop/loop_runner.h"

namespace inloop::mcp {
namespace {

using assist::ObjectArg;
using assist::StringArg;
using assist::Tool;
using assist::ToolArgs;
using assist::ToolContext;

constexpr int kExitLoopBusyCode = 56;  // cli/exit_codes.h kExitLoopBusy

std::string BusyMessage(const std::string& top) {
  return fmt::format("another `inloop loop run` holds the repository {}: submit the round when "
                     "it has ended", top);
}

// Whether another process holds the loop's lock right now (it is taken again by the round).
bool LockHeld(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

Status LoopRound(const std::string& root, const std::string& exe, const ToolArgs& args,
                 std::string* out) {
  std::optional<std::string> diff = args.Str("diff");
  std::optional<std::string> branch = args.Str("branch");
  if (diff.has_value() == branch.has_value()) {
    return Status::Invalid("give exactly one of diff (a unified diff against the champion) or "
                           "branch (a branch of this repository)");
  }
  loop::LoopView v;
  loop::LoopFailure why = loop::LoopFailure::kNone;
  Status s = loop::LoadLoopView(root, &v, &why);
  if (!s.ok()) {
    if (why == loop::LoopFailure::kNoLoop) {
      return Status::Invalid(fmt::format(
          "no research loop is initialised in {}: a person starts one with `inloop loop init "
          "--metric KEY:min --budget 5m -- CMD ...`", root));
    }
    return s;
  }
  if (LockHeld(v.paths.lock())) return Status::Invalid(BusyMessage(v.repo.top()));
  if (!v.state.baseline_done) {
    return Status::Invalid("the loop has no baseline yet: a person runs `inloop loop run` once "
                           "(it measures the unchanged command) before rounds are submitted");
  }
  SubprocessSpec spec;
  spec.argv = {exe, "loop", "submit", "--json"};
  std::string temp;
  if (diff) {
    if (diff->empty()) return Status::Invalid("diff: empty; give a unified diff (git diff)");
    char tmpl[] = "/tmp/inloop-loop-round-XXXXXX";
    int fd = ::mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) return Status::Io("cannot create a temporary file for the diff");
    ::close(fd);
    temp = tmpl;
    if (diff->back() != '\n') diff->push_back('\n');
    INLOOP_RETURN_IF_ERROR(WriteFileAtomically(temp, *diff));
    spec.argv.insert(spec.argv.end(), {"--diff", temp});
  } else {
    spec.argv.insert(spec.argv.end(), {"--branch", *branch});
  }
  spec.cwd = v.config.workdir;
  spec.stdin_plan = StdioPlan::DevNull();
  CapturedOutput res;
  s = RunCaptured(spec, &res);
  if (!temp.empty()) ::unlink(temp.c_str());
  INLOOP_RETURN_IF_ERROR(s);
  if (res.exit_code == kExitLoopBusyCode) return Status::Invalid(BusyMessage(v.repo.top()));
  std::string text = res.out;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.front() != '{') {
    std::string err = res.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    auto nl = err.rfind('\n');
    return Status::Invalid(fmt::format("the round did not run: {}",
                                       nl == std::string::npos ? err : err.substr(nl + 1)));
  }
  *out = text;
  return Status::OK();
}

}  // namespace

void RegisterLoopRoundTool(assist::ToolRegistry* r, const std::string& root,
                           const std::string& self_exe) {
  std::string exe = self_exe;
  if (exe.empty()) {
    std::error_code ec;
    exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  }
  assist::Schema diff = StringArg("a unified diff (as `git diff` prints it) against the loop's "
                                  "champion; applied with git apply");
  diff.max_length = 1 << 20;
  assist::Schema branch = StringArg("a branch of this repository: its change since it left the "
                                    "loop's branch is the round's change");
  branch.max_length = 200;
  r->Register(Tool{
      "loop_round",
      "Submit a change as one round of this project's research loop (inloop loop): the loop's "
      "own training command runs supervised on the change, with more seeds while the result is "
      "within the seed noise, and the noise-aware gate decides against the champion. Give "
      "exactly one of diff or branch. Returns {round, verdict (kept, discarded, failed, "
      "rejected), reason, metric, champion_metric, gain (positive = better), noise_sd, "
      "threshold, p_value, seeds, commit (when kept), record}. A kept change is committed on the "
      "loop's branch. Refused when no loop is initialised or another `inloop loop run` holds the "
      "repository. Blocks until the gate decides (up to the loop's budget per seed).",
      ObjectArg("", {{"diff", false, diff}, {"branch", false, branch}}),
      [root, exe](ToolContext&, const ToolArgs& a, std::string* out) {
        return LoopRound(root, exe, a, out);
      }});
}

}  // namespace inloop::mcp
