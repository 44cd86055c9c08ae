// `inloop submit --slurm [options] -- CMD`: writes the sbatch script in which `inloop run`
// supervises CMD (slurm/sbatch_script.h), keeps it beside the run (the store's slurm/ folder or
// --script-dir), submits it with `sbatch --parsable` (a fixed argv, no shell) and prints the job
// id. Nodes the lemon-node ledger holds at --exclude-after faults or more are excluded: the
// store's ledger, or with --server and no --store the server's (GET /api/v1/nodes).
#include <unistd.h>

#include <climits>
#include <memory>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/slurm_verbs.h"
#include "common/json_writer.h"
#include "slurm/sbatch_script.h"
#include "slurm/sbatch_submit.h"
#include "supervise/run_context.h"

namespace inloop::cli {
namespace {

struct SubmitArgs {
  bool slurm = false;
  int nodes = 1;
  int gpus_per_node = 0;
  std::string partition, time, name, store, server, token, script_dir;
  int signal_seconds = 120;
  int exclude_after = 2;
  bool dry_run = false;
  bool json = false;
  std::vector<std::string> command;
};

std::string AbsolutePath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  std::string cwd = supervise::CurrentDir();
  return p.empty() || p == "." ? cwd : cwd + "/" + p;
}

std::string SelfBinary() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// A job name sbatch takes as it is: anything outside [A-Za-z0-9_.-] becomes '_'.
std::string JobName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "inloop" : out.substr(0, 64);
}

// A flag the user has to change: exit 2, as for CLI11's own complaints.
int UsageError(const std::string& message) {
  fmt::print(stderr, "inloop: error: {}\n", message);
  return kExitUsage;
}

int CmdSubmit(const SubmitArgs& a) {
  if (!a.slurm) return UsageError("submit needs a scheduler: `inloop submit --slurm ... -- CMD`");
  if (a.command.empty()) {
    return UsageError("no command to submit: `inloop submit --slurm [options] -- CMD`");
  }
  if (a.server.empty() != a.token.empty()) return UsageError("--server and --token go together");
  std::string store = a.server.empty() || !a.store.empty() ? AbsolutePath(ResolveStore(a.store))
                                                           : std::string();
  std::vector<slurm::NodeFaults> ledger;
  if (!store.empty()) {
    Status s = ReadNodeLedger(store, &ledger);
    if (!s.ok()) return Fail(s);
  } else {
    // The job reports to a server: the ledger is the server's (GET /api/v1/nodes). A server
    // that is down does not stop a submission (the job spools until it is back); one that
    // refuses the token or is not an inloop server does.
    Status s = ReadServerNodeLedger(a.server, a.token, &ledger);
    if (s.code() == Status::Code::kIo) {
      fmt::print(stderr, "inloop: warning: {}; submitting without excluding lemon nodes\n",
                 s.message());
    } else if (!s.ok()) {
      return Fail(s);
    }
  }
  slurm::SbatchRequest r;
  std::string name = a.name.empty() ? supervise::DefaultRunName(a.command) : a.name;
  r.job_name = JobName(name);
  r.nodes = a.nodes;
  r.gpus_per_node = a.gpus_per_node;
  r.partition = a.partition;
  r.time = a.time;
  r.signal_seconds = a.signal_seconds;
  r.exclude = slurm::LemonNodes(ledger, a.exclude_after);
  r.chdir = supervise::CurrentDir();
  r.inloop_binary = SelfBinary();
  if (!a.server.empty()) {
    r.run_options = {"--server", a.server, "--token", a.token};
  } else {
    r.run_options = {"--store", store};
  }
  r.run_options.insert(r.run_options.end(),
                       {"--name", name, "--exclude-after", fmt::format("{}", a.exclude_after)});
  r.command = a.command;
  std::string script;
  Status s = slurm::BuildSbatchScript(r, &script);
  if (!s.ok()) return UsageError(s.message());
  if (a.dry_run) {
    std::fwrite(script.data(), 1, script.size(), stdout);
    return kExitOk;
  }

  std::string dir = !a.script_dir.empty() ? AbsolutePath(a.script_dir)
                    : !store.empty()       ? store + "/slurm"
                                           : AbsolutePath(".inloop-slurm");
  slurm::SubmittedJob job;
  s = slurm::SubmitScript(dir, r.job_name, script, {}, &job);
  if (!s.ok()) return Fail(s);
  const std::string& job_id = job.job_id;
  const std::string& path = job.script;
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("job_id").String(job_id).Key("script").String(path);
    w.Key("output").String(job.output).Key("exclude").BeginArray();
    for (const auto& n : r.exclude) w.String(n);
    w.EndArray().EndObject();
    fmt::print("{}\n", w.Take());
  } else {
    fmt::print("{}\n", job_id);
    fmt::print(stderr, "inloop: submitted job {} (script {}{})\n", job_id, path,
               r.exclude.empty() ? std::string()
                                 : fmt::format(", excluding {} lemon node(s)", r.exclude.size()));
  }
  return kExitOk;
}

}  // namespace

void AddSubmitVerb(CLI::App& app, VerbTable* verbs) {
  auto a = std::make_shared<SubmitArgs>();
  auto* cmd = app.add_subcommand(
      "submit", "submit a training command as a batch job whose requeues continue one run");
  cmd->add_flag("--slurm", a->slurm, "submit to Slurm (sbatch)");
  cmd->add_option("--nodes", a->nodes, "nodes (default 1; more runs the command under srun)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--gpus-per-node", a->gpus_per_node, "GPUs per node (default none asked)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--partition", a->partition, "partition (default the cluster's)");
  cmd->add_option("--time", a->time, "time limit, e.g. 04:00:00 (default the partition's)");
  cmd->add_option("--signal-seconds", a->signal_seconds,
                  "SIGUSR1 this many seconds before the time limit, to checkpoint (default 120)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--name", a->name, "run and job name (default: the script's name)");
  cmd->add_option("--store", a->store, "store directory on disk the nodes share");
  cmd->add_option("--server", a->server, "an `inloop serve` URL the job reports to");
  cmd->add_option("--token", a->token, "the server's API token");
  cmd->add_option("--script-dir", a->script_dir,
                  "where the script and the job's output go (default STORE/slurm)");
  cmd->add_option("--exclude-after", a->exclude_after,
                  "exclude nodes with at least this many hardware faults in the ledger "
                  "(default 2)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--dry-run", a->dry_run, "print the script, submit nothing");
  cmd->add_flag("--json", a->json, "JSON output: job id, script, output, excluded nodes");
  cmd->add_option("command", a->command, "the command, after --")->expected(-1);
  cmd->prefix_command();
  verbs->Add(cmd, [a] { return CmdSubmit(*a); });
}

}  // namespace inloop::cli
