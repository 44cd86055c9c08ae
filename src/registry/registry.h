// The model registry: named models whose versions are runs with their artifact (a checkpoint),
// config, final metrics, per-example eval outputs and the artifact's audit; stages candidate ->
// champion -> retired, one champion per name, every stage change recorded with who, when, why
// and the gate's numbers (store.h "Model registry"; docs/model_registry.md). `inloop model`,
// `inloop deploy --model`, the HTTP API and the loop call these; the gate's rules are gate.h's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "registry/gate.h"
#include "store/store.h"

namespace inloop::registry {

// A model name: [A-Za-z0-9._-]{1,64}. Invalid names the rule.
Status CheckModelName(std::string_view name);

struct RegisterOptions {
  // The checkpoint; empty: the newest checkpoint the run announced (checkpoint events) whose
  // file still exists, or none.
  std::string artifact;
  std::string eval_path;  // per-example eval outputs (JSONL, compare/eval_diff.h); may be empty
  std::string by;         // who registers: "cli:USER@HOST", "loop", ...
  std::vector<std::string> audit_allow;  // pickle globals trusted in the artifact (MODULE.NAME)
};

// Registers run `run_ref` (id, id prefix or name) as the next version of `name`, stage
// candidate. The artifact is scanned by audit/ (a failing scan is recorded, not an error: it
// blocks promotion unless overridden). NotFound: no such run, artifact or eval file; Invalid: a
// bad name or an eval file without a single valid record.
//
// The loop's hook: call it with the champion round's run id (and its eval outputs when the
// evaluation writes per-example results) to register a loop's champion automatically; then
// Promote() it, which applies the gate against the registry's current champion.
Status RegisterRun(store::Store* st, const std::string& run_ref, const std::string& name,
                   const RegisterOptions& options, store::ModelVersionRecord* out);

struct PromoteOptions {
  GateOptions gate;
  std::string override_reason;  // non-empty: promote even when the gate refuses, recorded
  std::string by;
};

struct PromoteOutcome {
  GateResult gate;
  bool promoted = false;           // false: the gate refused and there was no override
  store::ModelStageChange change;  // the recorded change, when promoted
  std::optional<int64_t> retired;  // the champion it replaced
};

// Applies the gate to `name` v`version` against the current champion and, when it passes or an
// override reason is given, makes the version champion (retiring the previous one). OK with
// promoted=false when refused. NotFound: no such version; Invalid: it is champion already.
Status Promote(store::Store* st, const std::string& name, int64_t version,
               const PromoteOptions& options, PromoteOutcome* out);

// The gate of `name` v`version` against the current champion, without changing anything.
Status EvaluatePromotion(store::Store* st, const store::ModelVersionRecord& candidate,
                         const GateOptions& options, GateResult* out);

// The champion of `name` (nullopt when none) and the newest candidate registered after it.
struct ModelState {
  std::vector<store::ModelVersionRecord> versions;  // by version
  std::optional<store::ModelVersionRecord> champion;
  std::optional<store::ModelVersionRecord> newer_candidate;
};
Status ModelStateOf(store::Store* st, const std::string& name, ModelState* out);

// What `inloop deploy --model NAME` serves: the champion's artifact, and the newest candidate
// newer than it (to shadow) when that one has an artifact. NotFound names what is missing.
struct DeployTargets {
  store::ModelVersionRecord champion;
  std::optional<store::ModelVersionRecord> shadow;
};
Status DeployTargetsOf(store::Store* st, const std::string& name, DeployTargets* out);

// Replaces every "{artifact}" in `argv` with `artifact`.
std::vector<std::string> WithArtifact(const std::vector<std::string>& argv,
                                      const std::string& artifact);

}  // namespace inloop::registry
