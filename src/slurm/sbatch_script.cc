// Rendering the sbatch script (sbatch_script.h).
#include "slurm/sbatch_script.h"

#include <fmt/format.h>

namespace inloop::slurm {
namespace {

bool SafeShellChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '=' ||
         c == '+' || c == '@' || c == '%';
}

// #SBATCH values: no space, quote, shell or comment character, nothing sbatch could read as a
// second option.
bool SafeDirectiveValue(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/' || c == ',' || c == ':' || c == '+' ||
              c == '@' || c == '%' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

Status CheckValue(std::string_view field, const std::string& v) {
  if (SafeDirectiveValue(v)) return Status::OK();
  return Status::Invalid(fmt::format(
      "{} '{}' cannot go into an #SBATCH line: use letters, digits and _-.,:/+@%[] only", field,
      v));
}

}  // namespace

std::string ShellQuote(std::string_view arg) {
  if (!arg.empty()) {
    bool safe = true;
    for (char c : arg) safe = safe && SafeShellChar(c);
    if (safe) return std::string(arg);
  }
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string ContinueKeyExpr() { return "\"slurm-${SLURM_CLUSTER_NAME:-cluster}-${SLURM_JOB_ID}\""; }

Status BuildSbatchScript(const SbatchRequest& r, std::string* script) {
  if (r.command.empty() && r.body_args.empty()) {
    return Status::Invalid("no command to submit: put it after --");
  }
  if (r.inloop_binary.empty() || r.inloop_binary[0] != '/') {
    return Status::Invalid("the inloop binary's path must be absolute");
  }
  if (r.nodes < 1) return Status::Invalid(fmt::format("--nodes must be >= 1 (got {})", r.nodes));
  if (r.gpus_per_node < 0) {
    return Status::Invalid(fmt::format("--gpus-per-node must be >= 0 (got {})", r.gpus_per_node));
  }
  if (r.signal_seconds < 1 || r.signal_seconds > 65535) {
    return Status::Invalid(
        fmt::format("--signal-seconds must be within 1..65535 (got {})", r.signal_seconds));
  }
  INLOOP_RETURN_IF_ERROR(CheckValue("--name", r.job_name));
  if (!r.partition.empty()) INLOOP_RETURN_IF_ERROR(CheckValue("--partition", r.partition));
  if (!r.time.empty()) INLOOP_RETURN_IF_ERROR(CheckValue("--time", r.time));
  for (const auto& n : r.exclude) INLOOP_RETURN_IF_ERROR(CheckValue("an excluded node", n));

  std::string s = "#!/bin/bash\n";
  s += r.body_args.empty()
           ? "# Written by `inloop submit --slurm`. A requeued job continues the same inloop run.\n"
           : "# Written by inloop. The job runs an inloop verb that starts its own `inloop run`.\n";
  s += fmt::format("#SBATCH --job-name={}\n", r.job_name);
  s += fmt::format("#SBATCH --nodes={}\n", r.nodes);
  if (r.nodes > 1) s += "#SBATCH --ntasks-per-node=1\n";
  if (r.gpus_per_node > 0) s += fmt::format("#SBATCH --gpus-per-node={}\n", r.gpus_per_node);
  if (!r.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", r.partition);
  if (!r.time.empty()) s += fmt::format("#SBATCH --time={}\n", r.time);
  s += "#SBATCH --requeue\n";
  s += "#SBATCH --open-mode=append\n";
  if (r.body_args.empty()) s += fmt::format("#SBATCH --signal=B:USR1@{}\n", r.signal_seconds);
  if (!r.exclude.empty()) {
    std::string list;
    for (const auto& n : r.exclude) list += (list.empty() ? "" : ",") + n;
    s += fmt::format("#SBATCH --exclude={}\n", list);
  }
  s += "\n";
  if (!r.chdir.empty()) s += "cd " + ShellQuote(r.chdir) + " || exit 1\n";
  if (!r.body_args.empty()) {
    std::string line = "exec " + ShellQuote(r.inloop_binary);
    for (const auto& a : r.body_args) line += " " + ShellQuote(a);
    *script = s + line + "\n";
    return Status::OK();
  }
  // exec: inloop becomes the batch shell, so the B:USR1 signal reaches it directly.
  std::string line = "exec " + ShellQuote(r.inloop_binary) + " run --continue-run " +
                     ContinueKeyExpr();
  for (const auto& o : r.run_options) line += " " + ShellQuote(o);
  line += " --";
  // More than one node: srun starts one task per node under the supervisor.
  if (r.nodes > 1) line += " srun --kill-on-bad-exit=1";
  for (const auto& a : r.command) line += " " + ShellQuote(a);
  s += line + "\n";
  *script = std::move(s);
  return Status::OK();
}

}  // namespace inloop::slurm
