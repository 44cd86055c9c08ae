// `inloop run`: resolves the config and flags into SupervisorOptions and supervises the command.
#include "cli/run_cmd.h"

#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "config/config.h"
#include "remedy/remedy_config.h"
#include "supervise/supervisor.h"
#include "sync/live_upload.h"

namespace inloop::cli {

CLI::App* AddRunCommand(CLI::App& app, RunArgs* args) {
  auto* run = app.add_subcommand("run", "run a training command under supervision");
  run->add_option("--store", args->store, "store directory (default ./.inloop or $INLOOP_STORE)");
  run->add_option("--name", args->name, "run name (default: the script's name)");
  run->add_option("--config", args->config_path,
                  "inloop.toml (default ./inloop.toml when present)");
  run->add_option("--grace", args->grace,
                  "seconds between the forwarded signal and SIGKILL (default 30)");
  run->add_option("--policy", args->policy,
                  "what to do about failures: auto (act), ask (wait for inloop approve/deny), "
                  "observe (record only); default [remedy] policy, else auto");
  run->add_flag("--audit", args->audit,
                "before starting, `inloop audit` the files the command names and refuse on a "
                "high finding ([audit] policy: warn, ask or block)");
  run->add_option("--server", args->server,
                  "also stream the run to this `inloop serve` (http://host:port); the local "
                  "store keeps it while the server is unreachable");
  run->add_option("--token", args->token,
                  "token for --server, scope ingest (default $INLOOP_TOKEN)");
  run->add_option("--drain", args->drain,
                  "seconds to keep uploading after the command ended (default 30); what is left "
                  "is sent by `inloop sync`")
      ->check(CLI::Range(0.0, 86400.0));
  run->add_option("--continue-run", args->continue_run,
                  "continue the run recorded with this key as a new attempt from its newest "
                  "good checkpoint (a new key starts a run that keeps it); `inloop submit "
                  "--slurm` passes the job's identity so a requeued job continues its run");
  run->add_option("--exclude-after", args->exclude_after,
                  "inside a Slurm job: a node with this many hardware faults in the ledger is "
                  "excluded when the job is requeued (default 2)")
      ->check(CLI::Range(1, 1000000));
  run->add_option("command", args->command, "the command, after --")->expected(-1);
  run->prefix_command();
  return run;
}

int CmdRun(const RunArgs& args) {
  config::Config cfg;
  Status s = config::ResolveConfig(args.config_path, &cfg);
  if (!s.ok()) return Fail(s);
  if (args.audit && cfg.audit_policy == "off") cfg.audit_policy = "block";
  if (!args.policy.empty() && !remedy::ParseMode(args.policy, &cfg.remedy.mode)) {
    fmt::print(stderr, "inloop: error: --policy must be auto, ask or observe (got '{}')\n",
               args.policy);
    return kExitUsage;
  }
  if (args.command.empty()) {
    fmt::print(stderr,
               "inloop: error: no command to run: use `inloop run [options] -- CMD ARGS...`\n");
    return kExitUsage;
  }
  supervise::SupervisorOptions opts;
  if (int rc = AuditBeforeRun(args.command, cfg.audit_policy, cfg.audit_allow,
                              &opts.audit_findings);
      rc != 0) {
    return rc;
  }
  opts.audit_policy = cfg.audit_policy;
  opts.audit_allow = cfg.audit_allow;
  opts.command = args.command;
  opts.name = args.name;
  opts.store_dir = ResolveStore(args.store, cfg.store);
  opts.grace_seconds = args.grace.value_or(cfg.grace_seconds);
  opts.ranks_listen = cfg.ranks_listen;
  opts.patterns = cfg.patterns;
  opts.detect = cfg.detect;
  opts.remedy = cfg.remedy;
  opts.parse_lines_with_sdk = cfg.parse_lines_with_sdk;
  opts.config_path = cfg.path;
  opts.color = UseColor(2);
  if (!args.server.empty() && !args.server.starts_with("http://") &&
      !args.server.starts_with("https://")) {
    fmt::print(stderr, "inloop: error: --server must be an http:// or https:// URL (got '{}')\n",
               args.server.substr(0, 200));
    return kExitUsage;
  }
  std::unique_ptr<sync::LiveUpload> upload;
  if (!args.server.empty()) {
    sync::LiveUploadOptions uo;
    uo.store_dir = opts.store_dir;
    uo.url = args.server;
    uo.token = args.token;
    uo.continue_key = args.continue_run;
    if (const char* env = std::getenv("INLOOP_TOKEN"); uo.token.empty() && env) uo.token = env;
    upload = std::make_unique<sync::LiveUpload>(uo);
    upload->Start();
  }
  opts.continue_key = args.continue_run;
  opts.exclude_after = args.exclude_after;
  supervise::RunOutcome out;
  s = supervise::Supervise(opts, &out);
  if (upload) {
    std::string line = upload->Finish(args.drain, out.run_id);
    if (!line.empty()) fmt::print(stderr, "inloop: {}\n", line);
  }
  if (!s.ok()) return Fail(s);
  if (out.requeued) return kExitRequeued;
  if (out.store_failed && out.exit_code == 0) return kExitStoreFailed;
  if (out.policy_stopped) return kExitPolicyStopped;
  return out.exit_code;
}

}  // namespace inloop::cli
