// Tamper-evidence of the research loop: the evaluation (its files: metric script, eval data,
// timers; the budget and gate settings in the loop's config; an optional evaluation command whose
// stdout alone may give the metric) is declared and hashed (sha256) at `loop init`. Every round
// checks it after the proposer and again after each training run (a run can rewrite files while
// it runs), and checks the round's diff; a round that changed any of it, or whose metric did not
// come from the evaluation's own output, gets the verdict `tampered`: rejected, tree reset, diff
// kept in the store, the evidence on the round's record.
//
// The guard rails stay one set: eval files are protected paths whose change means `tampered`
// rather than `rejected`, and the diff audit's critical findings about the experiment's budget
// or the metric channel (audit/diff_audit.h: loop.budget_edit, loop.log_write, and
// loop.metric_print once an evaluation command is declared) count as tampering in a loop that
// declared an evaluation. Format: docs/loop.md.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "loop/loop_state.h"

namespace inloop::loop {

// Every regular file under `top` whose path relative to it matches one of `globs` (the protected
// globs' rules: MatchesProtected), sorted by path, with its sha256. `.git`, `__pycache__` and
// `skip_dir` (the store, when inside) are not walked. Invalid, naming the glob, when a glob matches no file.
Status HashEvalFiles(const std::string& top, const std::vector<std::string>& globs,
                     const std::string& skip_dir, std::vector<EvalFile>* out);

// The evaluation command's arguments that name files inside the work tree (`python3 eval.py`:
// eval.py), relative to `top`: they are part of the evaluation without being listed.
std::vector<std::string> EvalCommandFiles(const std::string& top, const std::string& workdir,
                                          const std::vector<std::string>& eval_command);

// sha256 over what decides a round's number: metric and goal, budget and grace, command and
// evaluation command, the gate's and the re-checks' settings, guard rails, the evaluation's
// globs and file hashes. Set at init; a config whose fingerprint no longer matches was edited.
std::string EvalFingerprint(const LoopConfig& c);

// The evidence that the evaluation changed since init, one line each (empty: intact): a file
// changed or gone, a new file under an evaluation glob, `on_disk` (the config file now) differing
// from `c` in a fingerprinted setting.
std::vector<std::string> VerifyEvaluation(const LoopConfig& c, const std::string& top,
                                          const LoopConfig& on_disk);

// Changed paths of a round's diff that belong to the evaluation, one line of evidence each.
std::vector<std::string> TamperedPaths(const std::vector<std::string>& changed, const LoopConfig& c);

// Whether a critical finding of the diff audit is tampering in this loop (see above).
bool IsTamperRule(const std::string& rule, const LoopConfig& c);

// The verdict as printed: `tampered` in red (bold), `demoted` in yellow when `color` (the CLI
// passes UseColor, which honours NO_COLOR); padded to `width` before the colour codes, so
// tables stay aligned.
std::string PaintVerdict(const std::string& verdict, bool color, int width = 0);

// Whether the loop declared an evaluation (files or a command).
bool HasEvaluation(const LoopConfig& c);

// The metric from the evaluation command's stdout: the last line giving `key` as `key=V`,
// `key: V`, `"key": V` (a JSON line) or `key V`. NotFound naming the key when no line does.
Status ParseEvalOutput(const std::string& stdout_text, const std::string& key, double* value);

// Runs the evaluation command (argv templates {seed} {round} {run_id}; env INLOOP_SEED,
// INLOOP_RUN_ID, INLOOP_LOOP_ROUND) in the work dir after a training run and reads the metric
// from its stdout. Failed with the reason (exit code, no metric) otherwise.
Status RunEvaluation(const LoopConfig& c, int64_t round, int64_t seed, const std::string& run_id,
                     double* value, std::string* output_tail);

// At init: hashes the evaluation's files (c->eval_globs and the files EvalCommandFiles names,
// added to the globs so a new file beside them is seen too) into c->eval_files. The fingerprint
// is set last, by the caller, once every setting is in: c->eval_fingerprint = EvalFingerprint(*c).
Status DeclareEvaluation(const std::string& top, LoopConfig* c);

// The metric of a finished training run when an evaluation command is declared: the training
// must not have logged the metric itself (that is `tampered`, *tampered set, *reason the
// evidence); the evaluation command's stdout gives the value. The result is a `loop_eval` event
// on the run in the store (value, the output's tail). Not ok: the evaluation failed (*reason).
bool MetricFromEvaluation(const LoopConfig& c, int64_t round, int64_t seed,
                          const std::string& run_id, double* value, bool* tampered,
                          std::string* reason);

}  // namespace inloop::loop
