// `inloop run [options] -- CMD ARGS...` (run_cmd.cc): its flags as one struct, their
// registration on the command line, and the verb itself. New run options go here: a field in
// RunArgs, its flag in AddRunCommand, its use in CmdRun.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace inloop::cli {

struct RunArgs {
  std::string store;        // --store (default [store] of the config, $INLOOP_STORE, ./.inloop)
  std::string name;         // --name
  std::string config_path;  // --config
  std::optional<double> grace;
  std::string policy;       // auto | ask | observe, "" = the config's
  bool audit = false;       // --audit
  bool allow_invalid_data = false;  // --allow-invalid-data: train on outputs the pipeline refused
  std::string server;       // --server URL: stream the run to an `inloop serve` (sync/)
  std::string token;        // --token (default $INLOOP_TOKEN): a server token with scope ingest
  double drain = 30;        // --drain: seconds to finish the upload after the command ended
  // --continue-run KEY: the run recorded with KEY gets a new attempt (reason requeue) from its
  // newest good checkpoint; a new KEY starts a run that keeps it (`inloop submit --slurm`).
  std::string continue_run;
  int exclude_after = 2;    // --exclude-after: faults that put a Slurm node on the exclude list
  std::vector<std::string> command;  // after --
};

// Adds the `run` subcommand with its flags bound to *args; returns it.
CLI::App* AddRunCommand(CLI::App& app, RunArgs* args);

// Returns the process exit code (the child's, or one of exit_codes.h).
int CmdRun(const RunArgs& args);

}  // namespace inloop::cli
