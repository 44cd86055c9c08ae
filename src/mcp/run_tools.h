// The tools through which an agent runs experiments over MCP, not just reads them:
//   start_run      {command, name?, budget_s?, policy?, cwd?} -> {run_id}: `inloop run` (this
//                  binary, doctor included) started in the background, within [mcp]'s limits
//   run_status     {run} -> status, attempts, last values, findings by kind, ETTR
//   wait_run       {run, timeout_s} -> the status once the run is no longer running (or at the
//                  timeout)
//   stop_run       {run} -> SIGTERM to the supervisor of a run this server started
//   propose_action {run, action, reason, plan?} -> a pending action for a person (assist's
//                  propose_action: recorded, never applied by the agent)
// The supervisor is never started through a shell: argv goes element by element to
// StartSubprocess. Budgets are enforced by this server (Tick): past its budget_s a run's supervisor
// gets SIGTERM, which it forwards and records; when the server ends, runs it started that are
// still running are stopped the same way, so no run outlives the limits the human set.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "assist/tools.h"
#include "config/mcp_config.h"

namespace inloop::mcp {

struct LauncherOptions {
  config::McpConfig limits;
  std::string root;         // the project directory: cwd is confined to it
  std::string store_dir;    // absolute; passed to `inloop run --store`
  std::string config_path;  // inloop.toml the server loaded ("" when none): `inloop run --config`
  std::string self_exe;     // this binary ("" -> /proc/self/exe)
};

class RunLauncher {
 public:
  explicit RunLauncher(LauncherOptions o);
  ~RunLauncher();  // stops the runs still in flight (SIGTERM) and reaps what has exited
  RunLauncher(const RunLauncher&) = delete;
  RunLauncher& operator=(const RunLauncher&) = delete;

  // Reaps supervisors that exited and sends SIGTERM to those past their budget.
  void Tick();
  // Supervisors this server started that have not exited.
  int Running() const;

  // start_run, run_status, wait_run, stop_run, propose_action (the handlers use this launcher).
  void Register(assist::ToolRegistry* r);

 private:
  struct Started {
    std::string run_id;
    pid_t pid = 0;
    double deadline = 0;  // monotonic seconds
    int64_t budget_s = 0;
    bool exited = false;
    bool budget_stopped = false;
    int err_fd = -1;  // the supervisor's stderr (an unlinked temp file), truncated by Tick
  };
  Status Start(const assist::ToolArgs& args, std::string* out);
  Status Status_(assist::ToolContext& ctx, const std::string& ref, std::string* out);
  Status Wait(assist::ToolContext& ctx, const assist::ToolArgs& args, std::string* out);
  Status Stop(assist::ToolContext& ctx, const std::string& ref, std::string* out);
  Started* Find(const std::string& run_id);

  LauncherOptions o_;
  std::vector<Started> started_;
};

}  // namespace inloop::mcp
