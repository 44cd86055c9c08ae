// `inloop model`: register a run as a model version, list and show versions with their stage
// history, promote a candidate to champion through the gate (registry/gate.h) or with a recorded
// override. Text for people, --json (registry/registry_json.h) for machines.
#include "cli/model_cmd.h"

#include <cmath>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verb_table.h"
#include "common/display_text.h"
#include "common/json_writer.h"
#include "registry/registry.h"
#include "registry/registry_json.h"

namespace inloop::cli {
namespace {

struct ModelArgs {
  std::string store;
  bool json = false;
  std::string run, name;
  int64_t version = 0;
  std::string artifact, eval;
  std::vector<std::string> audit_allow;
  std::string override_reason;
  double max_slice_drop = 0.05;
  uint64_t seed = 1;
};

std::string Metric(double v) {
  return std::isfinite(v) ? fmt::format("{:.6g}", v) : NumberText(v);
}

void PrintVersion(const store::ModelVersionRecord& v) {
  fmt::print("{} v{}  {}\n", v.name, v.version, v.stage);
  fmt::print("  run       {}\n", v.run_id);
  fmt::print("  artifact  {}{}\n", v.artifact.empty() ? "(none)" : v.artifact,
             v.artifact_step >= 0 ? fmt::format(" (step {})", v.artifact_step) : "");
  fmt::print("  audit     {}{}{}\n", v.audit, v.audit_detail.empty() ? "" : ": ", v.audit_detail);
  fmt::print("  eval      {}\n", v.eval_path.empty() ? "(none)" : v.eval_path);
  fmt::print("  created   {} by {}\n", LocalTimeText(v.created_at), v.created_by);
  if (!v.metrics.empty()) {
    fmt::print("  metrics  ");
    for (const auto& [k, x] : v.metrics) fmt::print(" {}={}", k, Metric(x));
    fmt::print("\n");
  }
  if (!v.params.empty()) {
    fmt::print("  params   ");
    for (const store::Param& p : v.params) fmt::print(" {}={}", p.key, p.value);
    fmt::print("\n");
  }
}

void PrintChange(const store::ModelStageChange& c) {
  fmt::print("  {}  v{} {} -> {}  by {}{}  {}\n", LocalTimeText(c.at), c.version, c.from_stage,
             c.to_stage, c.by, c.override_gate ? "  OVERRIDE" : "", c.reason);
}

int Open(const ModelArgs& a, std::unique_ptr<store::Store>* st) {
  Status s = OpenStore(ResolveStore(a.store), st);
  return s.ok() ? kExitOk : Fail(s);
}

int CmdRegister(const ModelArgs& a) {
  std::unique_ptr<store::Store> st;
  if (int rc = Open(a, &st)) return rc;
  registry::RegisterOptions o;
  o.artifact = a.artifact;
  o.eval_path = a.eval;
  o.by = "cli:" + CliUser();
  o.audit_allow = a.audit_allow;
  store::ModelVersionRecord v;
  Status s = registry::RegisterRun(st.get(), a.run, a.name, o, &v);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    registry::WriteVersionJson(v, &w);
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  fmt::print("registered {} v{} (candidate) from run {}\n", v.name, v.version, v.run_id);
  fmt::print("  artifact  {}\n", v.artifact.empty() ? "(none: the run announced no checkpoint "
                                                      "that still exists; use --artifact)"
                                                    : v.artifact);
  fmt::print("  audit     {}{}{}\n", v.audit, v.audit_detail.empty() ? "" : ": ", v.audit_detail);
  fmt::print("  eval      {}\n", v.eval_path.empty() ? "(none: promotion needs --eval)" : v.eval_path);
  if (v.audit == store::kAuditFailed) {
    fmt::print(stderr, "inloop: warning: the artifact fails the audit: {} v{} cannot be promoted "
               "without --override\n", v.name, v.version);
  }
  return kExitOk;
}

int CmdList(const ModelArgs& a) {
  std::unique_ptr<store::Store> st;
  if (int rc = Open(a, &st)) return rc;
  std::vector<store::ModelVersionRecord> all;
  Status s = st->ListModelVersions("", &all);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& v : all) registry::WriteVersionJson(v, &w);
    w.EndArray();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  if (all.empty()) {
    fmt::print("no model registered (inloop model register RUN --name NAME)\n");
    return kExitOk;
  }
  fmt::print("{:<20} {:>4} {:<10} {:<22} {:<7} {:<5} {}\n", "NAME", "VER", "STAGE", "RUN",
             "AUDIT", "EVAL", "CREATED");
  for (const auto& v : all) {
    fmt::print("{:<20} {:>4} {:<10} {:<22} {:<7} {:<5} {}\n", v.name, v.version, v.stage,
               v.run_id, v.audit, v.eval_path.empty() ? "-" : "yes", LocalTimeText(v.created_at));
  }
  return kExitOk;
}

int CmdShowModel(const ModelArgs& a) {
  std::unique_ptr<store::Store> st;
  if (int rc = Open(a, &st)) return rc;
  std::vector<store::ModelVersionRecord> versions;
  std::vector<store::ModelStageChange> changes;
  Status s = st->ListModelVersions(a.name, &versions);
  if (s.ok()) s = st->ListModelStageChanges(a.name, &changes);
  if (!s.ok()) return Fail(s);
  if (versions.empty()) {
    return Fail(Status::NotFound(fmt::format("no model named {} (see `inloop model list`)", a.name)));
  }
  if (a.version > 0) {
    std::erase_if(versions, [&](const auto& v) { return v.version != a.version; });
    std::erase_if(changes, [&](const auto& c) { return c.version != a.version; });
    if (versions.empty()) {
      return Fail(Status::NotFound(fmt::format("model {} has no version {}", a.name, a.version)));
    }
  }
  if (a.json) {
    JsonWriter w;
    if (a.version > 0) {
      w.BeginObject().Key("version");
      registry::WriteVersionJson(versions.front(), &w);
      w.Key("changes").BeginArray();
      for (const auto& c : changes) registry::WriteStageChangeJson(c, &w);
      w.EndArray().EndObject();
    } else {
      registry::WriteModelJson(a.name, versions, changes, &w);
    }
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  for (const auto& v : versions) PrintVersion(v);
  if (!changes.empty()) {
    fmt::print("\nstage changes:\n");
    for (const auto& c : changes) PrintChange(c);
  }
  return kExitOk;
}

int CmdPromote(const ModelArgs& a) {
  std::unique_ptr<store::Store> st;
  if (int rc = Open(a, &st)) return rc;
  registry::PromoteOptions o;
  o.gate.max_slice_drop = a.max_slice_drop;
  o.gate.diff.seed = a.seed;
  o.override_reason = a.override_reason;
  o.by = "cli:" + CliUser();
  registry::PromoteOutcome out;
  Status s = registry::Promote(st.get(), a.name, a.version, o, &out);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("promoted").Bool(out.promoted).Key("gate");
    registry::WriteGateJson(out.gate, &w);
    if (out.promoted) {
      w.Key("change");
      registry::WriteStageChangeJson(out.change, &w);
    }
    w.EndObject();
    fmt::print("{}\n", w.str());
    return out.promoted ? kExitOk : kExitModelGateRefused;
  }
  if (!out.promoted) {
    fmt::print(stderr, "inloop: error: promotion of {} v{} refused by the gate:\n", a.name, a.version);
    for (const std::string& line : registry::FailedLines(out.gate)) {
      fmt::print(stderr, "  {}\n", line);
    }
    fmt::print(stderr, "inloop: fix those, or promote anyway with --override \"REASON\" (recorded)\n");
    return kExitModelGateRefused;
  }
  for (const registry::GateCheck& c : out.gate.checks) {
    fmt::print("  {:<12} {}  {}\n", c.name, c.passed ? "ok  " : "FAIL", c.detail);
  }
  fmt::print("{} v{} is the champion{}{}\n", a.name, a.version,
             out.retired ? fmt::format("; v{} retired", *out.retired) : "",
             out.change.override_gate
                 ? fmt::format(" (gate overridden by {}: {})", out.change.by, out.change.reason)
                 : "");
  return kExitOk;
}

}  // namespace

void AddModelVerbs(CLI::App& app, VerbTable* verbs) {
  auto args = std::make_shared<ModelArgs>();
  auto* model = app.add_subcommand(
      "model", "model registry: versions of runs, candidate -> champion -> retired (docs/model_registry.md)");
  model->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--store", args->store, "store directory");
    c->add_flag("--json", args->json, "JSON output");
  };
  auto* reg = model->add_subcommand("register", "record a run as the next version of a model (candidate)");
  common(reg);
  reg->add_option("run", args->run, "run id, id prefix or name (newest wins)")->required();
  reg->add_option("--name", args->name, "the model's name")->required();
  reg->add_option("--artifact", args->artifact,
                  "the checkpoint (default: the newest checkpoint the run announced)");
  reg->add_option("--eval", args->eval,
                  "per-example eval outputs of this version (JSONL as `inloop evaldiff` reads)");
  reg->add_option("--audit-allow", args->audit_allow,
                  "a pickle global you trust in the artifact: MODULE.NAME or MODULE.*");
  verbs->Add(reg, [args] { return CmdRegister(*args); });
  auto* list = model->add_subcommand("list", "every version of every model");
  common(list);
  verbs->Add(list, [args] { return CmdList(*args); });
  auto* show = model->add_subcommand("show", "a model's versions and stage changes");
  common(show);
  show->add_option("name", args->name, "the model's name")->required();
  show->add_option("version", args->version, "only this version");
  verbs->Add(show, [args] { return CmdShowModel(*args); });
  auto* promote = model->add_subcommand(
      "promote", "make a version champion: the gate must pass, or --override \"REASON\"");
  common(promote);
  promote->add_option("name", args->name, "the model's name")->required();
  promote->add_option("version", args->version, "the version to promote")->required()
      ->check(CLI::PositiveNumber);
  promote->add_option("--override", args->override_reason,
                      "promote although the gate refuses; the reason is recorded with you and the time");
  promote->add_option("--max-slice-drop", args->max_slice_drop,
                      "largest fall of a slice's mean score allowed (default 0.05)")
      ->check(CLI::NonNegativeNumber);
  promote->add_option("--seed", args->seed, "bootstrap seed of the eval diff (default 1)");
  verbs->Add(promote, [args] { return CmdPromote(*args); });
}

}  // namespace inloop::cli
