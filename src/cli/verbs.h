// The verbs that bring other tools' files in, compare and distill: `inloop import`
// (import_cmd.cc), `inloop compare` (compare_cmd.cc), `inloop evaldiff` (evaldiff_cmd.cc),
// `inloop report` (report_cmd.cc), `inloop insights` (insights_cmd.cc), `inloop ask`
// (ask_cmd.cc). Each returns the process exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compare/eval_diff.h"
#include "remedy/timeline.h"

namespace inloop::cli {

struct ImportArgs {
  std::string store_dir;
  std::string name;
  std::vector<std::string> tags;
  std::vector<std::string> paths;
  bool json = false;
  bool strict = false;  // any problem in an input file makes the exit code 5
};
int CmdImport(const ImportArgs& a);

}  // namespace inloop::cli

namespace inloop::cli {

struct CompareArgs {
  std::string store_dir;
  std::vector<std::string> a, b;  // run refs or name patterns (fnmatch: seed-*)
  std::string key;
  std::string align = "step";
  std::string goal;  // "", "min", "max"
  double tokens_per_step = 0;
  std::string html;
  bool json = false;
};
int CmdCompare(const CompareArgs& a);

// `inloop evaldiff OLD.jsonl NEW.jsonl`: two model versions' per-example eval results
// (compare/eval_diff.h). Returns 0, or 3 (a file is missing) / 4 (nothing matched) with the error
// printed. Warnings (mismatched ids, bad lines) go to stderr and do not fail the run. With `html`
// also writes the standalone comparison page there.
int CmdEvalDiff(const std::string& old_path, const std::string& new_path,
                const compare::EvalDiffOptions& options, bool json, int top,
                const std::string& html);

// `inloop insights`: patterns across runs (insights/insights.h): param importance, learning-curve
// extrapolation of running runs, a scaling fit. Returns 0, or the exit code of the error.
struct InsightsArgs {
  std::string store_dir;
  std::string runs;   // filter: name pattern, tag:T, status:S
  std::string key;
  std::string goal;   // "", "min", "max"
  std::string x_key;
  std::optional<double> at;
  std::optional<double> horizon;
  bool json = false;
};
int CmdInsights(const InsightsArgs& a);

// `inloop ask "QUESTION" [--run RUN]` (ask_cmd.cc): the assistant over an OpenAI-compatible
// endpoint from INLOOP_LLM_URL / INLOOP_LLM_MODEL / INLOOP_LLM_KEY. Exit codes 20-27 for the
// endpoint's failures (exit_codes.h).
struct AskArgs {
  std::string store_dir;
  std::string question;
  std::string run;
  bool json = false;
  int max_tool_calls = 8;
  int max_tokens = 1024;
  int64_t token_budget = 60000;
  double timeout_s = 120;  // idle: seconds without a byte from the endpoint
};
int CmdAsk(const AskArgs& a);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop report RUN`: what happened in a run, what was done about it and what it achieved,
// against a baseline, with recommendations (report/run_report.h). Markdown (default) or HTML, or
// the facts as JSON; to stdout or to `out`. Returns 0, or the exit code of the error printed
// (3 for an unknown run, baseline or key).
struct ReportArgs {
  std::string store_dir;
  std::string run;
  std::string baseline;
  bool no_baseline = false;
  std::string key;
  std::string format = "md";  // md | html
  std::string out;            // empty: stdout
  bool json = false;
};
int CmdReport(const ReportArgs& a);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop serve` (serve_cmd.cc): REST API, SSE, ingest and the dashboard (src/http/,
// docs/http_api.md). Blocks until SIGINT/SIGTERM; exit codes 30-34 (exit_codes.h).
struct ServeArgs {
  std::string store_dir;
  std::string bind = "127.0.0.1";
  int port = 8642;  // 0: any free port (printed)
  std::string token;  // else INLOOP_TOKEN, else a random one; required for a non-loopback bind
  bool no_token = false;                 // loopback only
  std::vector<std::string> allow_hosts;  // more Host names (http/admission.h)
  int threads = 4;
  int handlers = 16;
  size_t max_body_mb = 32;
  int poll_ms = 0;  // live-run poll interval (0: the default, 200 ms)
};
int CmdServe(const ServeArgs& a);
// `inloop token create NAME --scope S | list | revoke NAME` (token_cmd.cc): named API tokens of
// `inloop serve`, kept in the store as SHA-256 digests (docs/security.md).
struct TokenArgs {
  std::string verb;  // create, list, revoke
  std::string store_dir;
  std::string name;
  std::string scope;
  bool json = false;
};
int CmdToken(const TokenArgs& a);
// `inloop loop init|run|status|log|show|best` (loop_cmd.cc): the research loop (loop/). Exit
// codes 50-56 (exit_codes.h) besides the common ones.
struct LoopArgs {
  std::string verb;  // init, run, status, log, show, best
  std::string store_dir;
  bool json = false;
  // init
  std::string name = "default";
  std::string metric;
  std::string budget = "5m";
  std::string program;
  std::vector<std::string> protect;
  int64_t max_diff_lines = 0;
  int seeds = 3;
  int max_seeds = 3;
  double alpha = 0.05;
  double min_gain = 0;
  int64_t seed_base = 0;
  int64_t max_rounds = 0;
  double grace = 10;
  bool replace = false;
  std::vector<std::string> eval_files;
  std::string eval_command;
  int recheck_every = 5;
  std::string register_as;
  std::vector<std::string> command;
  // run
  std::string agent;
  std::string search;
  int64_t rounds = 0;
  std::string until;
  std::string agent_timeout = "1h";
  bool approve = false;
  bool yes = false;
  int parallel = 1;
  // show
  int64_t round = -1;
};
int CmdLoop(const LoopArgs& a);

// `inloop mcp` (mcp_cmd.cc): the MCP server over stdio (mcp/mcp_server.h) until stdin closes.
int CmdMcp(const std::string& store_dir);
// `inloop deploy [flags] -- SERVER_CMD... [-- CANDIDATE_CMD...]` and `inloop deploy
// status|promote|rollback|compare` (deploy_cmd.cc, gateway/deploy.h). argv[0] is "deploy"; the
// verb parses its own flags because the server commands follow the separators verbatim. Exit
// codes 40-44 (exit_codes.h).
int CmdDeploy(int argc, char** argv);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop sdk path`: writes the Python SDK compiled into this binary where Python can import it
// (src/sdk/python_sdk.h) and prints the directory for PYTHONPATH. Returns 0, or the I/O exit code.
int CmdSdkPath(const std::string& store_dir, bool json);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop audit PATH...`: checkpoints and model files scanned for code that runs when they load
// (src/audit/audit.h). Text, --json, or SARIF 2.1.0 (--sarif FILE, "-" for stdout). Returns 0,
// kExitAuditFindings when a finding reaches `fail_on`, or the error's exit code.
struct AuditArgs {
  std::vector<std::string> paths;
  std::vector<std::string> allow;  // "module.name" or "module.*" the user trusts
  std::string fail_on = "high";
  std::string sarif;
  bool json = false;
  bool quiet = false;              // text: only files with findings
  bool surface = false;            // also list what Python files import and expose (serving)
};
int CmdAudit(const AuditArgs& a);

// `inloop run --audit` / [audit] policy: audits the files `command` names before the first
// attempt. Returns 0 to go on ("off"; nothing at high or above; "warn" prints and goes on; "ask"
// and a "y" on the terminal), else kExitAuditFindings (block, ask refused or no terminal).
// `record` (may be null) receives the findings at medium or above, for the run's timeline.
int AuditBeforeRun(const std::vector<std::string>& command, const std::string& policy,
                   const std::vector<std::string>& allow,
                   std::vector<remedy::AuditData>* record = nullptr);

}  // namespace inloop::cli

namespace inloop::cli {

// `inloop logs RUN` (logs_cmd.cc): an attempt's stdout or stderr as the store kept it
// (compressed, or raw in stores made before compression), read through the store: the last
// --tail lines, or --count lines from line --from (1-based); the whole log by default.
struct LogsArgs {
  std::string store_dir;
  std::string run_ref;
  int attempt = 0;  // 0: the last attempt
  bool stderr_stream = false;
  std::optional<int64_t> tail;
  int64_t from = 1;
  std::optional<int64_t> count;
  bool json = false;
};
int CmdLogs(const LogsArgs& a);

}  // namespace inloop::cli
