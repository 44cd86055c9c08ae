// The model registry (registry.h): registration (what a version records), promotion through the
// gate (gate.h) and what a deploy of a model serves.
#include "registry/registry.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "audit/audit.h"
#include "detect/finding.h"
#include "remedy/checkpoints.h"
#include "remedy/timeline.h"

namespace inloop::registry {
namespace {

namespace fs = std::filesystem;

std::string Absolute(const std::string& path, const std::string& base) {
  std::error_code ec;
  fs::path p(path);
  if (p.is_relative() && !base.empty()) p = fs::path(base) / p;
  fs::path a = fs::absolute(p, ec);
  return (ec ? p : a).lexically_normal().string();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

const std::set<std::string>& FindingKinds() {
  static const std::set<std::string> kinds = [] {
    std::set<std::string> k;
    for (int i = 0; i <= static_cast<int>(detect::FindingKind::kHang); ++i) {
      k.emplace(detect::FindingKindName(static_cast<detect::FindingKind>(i)));
    }
    return k;
  }();
  return kinds;
}

// Error findings of the run's detectors with no closing update, "kind on series at step N".
struct OpenFinding {
  std::string kind, series;
  int64_t step_lo = 0;
};

std::vector<OpenFinding> OpenErrorFindings(const std::vector<store::EventRecord>& events) {
  std::vector<OpenFinding> open;
  for (const store::EventRecord& e : events) {
    if (!FindingKinds().count(e.kind)) continue;
    auto d = remedy::Parse<remedy::FindingData>(e.data_json);
    int64_t lo = e.step_lo.value_or(-1);
    if (d.update) {
      std::erase_if(open, [&](const OpenFinding& f) {
        return f.kind == e.kind && f.series == d.series && f.step_lo == lo;
      });
    } else if (e.severity == "error") {
      open.push_back(OpenFinding{e.kind, d.series, lo});
    }
  }
  return open;
}

// The newest checkpoint the run announced whose file exists, outside any error finding's steps.
std::optional<remedy::Checkpoint> NewestCheckpoint(const store::RunRecord& run,
                                                   const std::vector<store::EventRecord>& events) {
  remedy::CheckpointBook book("", run.cwd, 0);
  for (const store::EventRecord& e : events) {
    if (e.kind == remedy::event_kind::kCheckpoint) {
      auto d = remedy::Parse<remedy::CheckpointData>(e.data_json);
      std::optional<int64_t> step = d.step ? d.step : remedy::StepFromName(d.path);
      if (step && !d.path.empty()) book.Announce(Absolute(d.path, run.cwd), *step, d.attempt);
    } else if (FindingKinds().count(e.kind) && e.step_lo && e.severity == "error") {
      auto d = remedy::Parse<remedy::FindingData>(e.data_json);
      if (!d.update) {
        book.OpenAnomaly(*e.step_lo);
      } else {
        book.CloseAnomaly(*e.step_lo, e.step_hi.value_or(*e.step_lo));
      }
    }
  }
  return book.NewestGood();
}

void AuditArtifact(const std::string& path, const std::vector<std::string>& allow,
                   store::ModelVersionRecord* v) {
  audit::AuditOptions o;
  o.use_bandit = false;
  o.allow.extra = allow;
  std::vector<audit::FileVerdict> verdicts;
  Status s = audit::AuditPaths({path}, o, &verdicts);
  if (!s.ok()) {
    v->audit = store::kAuditFailed;
    v->audit_detail = s.message();
    return;
  }
  const audit::Finding* worst = nullptr;
  std::string worst_file;
  for (const audit::FileVerdict& fv : verdicts) {
    for (const audit::Finding& f : fv.findings) {
      if (!worst || f.severity > worst->severity) {
        worst = &f;
        worst_file = fv.file;
      }
    }
  }
  if (worst && worst->severity >= audit::Severity::kHigh) {
    v->audit = store::kAuditFailed;
    v->audit_detail = fmt::format("{}: {} ({}, {})", worst_file, worst->message, worst->rule,
                                  audit::SeverityName(worst->severity));
    return;
  }
  v->audit = store::kAuditPassed;
  v->audit_detail = fmt::format("{} file{} scanned{}", verdicts.size(),
                                verdicts.size() == 1 ? "" : "s",
                                worst ? fmt::format(", worst finding {} ({})", worst->rule,
                                                    audit::SeverityName(worst->severity))
                                      : "");
}

}  // namespace

Status CheckModelName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (ok) return Status::OK();
  return Status::Invalid(fmt::format(
      "model name '{}' is not allowed: use 1-64 letters, digits, '.', '_' or '-'", name));
}

Status RegisterRun(store::Store* st, const std::string& run_ref, const std::string& name,
                   const RegisterOptions& options, store::ModelVersionRecord* out) {
  INLOOP_RETURN_IF_ERROR(CheckModelName(name));
  store::RunRecord run;
  INLOOP_RETURN_IF_ERROR(st->FindRun(run_ref, &run));
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEvents(run.id, &events));
  store::ModelVersionRecord v;
  v.name = name;
  v.run_id = run.id;
  v.created_by = options.by;
  if (!options.artifact.empty()) {
    v.artifact = Absolute(options.artifact, "");
    if (!Exists(v.artifact)) {
      return Status::NotFound(fmt::format("--artifact {}: no such file or directory", options.artifact));
    }
  } else if (auto ckpt = NewestCheckpoint(run, events)) {
    v.artifact = ckpt->path;
    v.artifact_step = ckpt->step;
  }
  if (!v.artifact.empty()) AuditArtifact(v.artifact, options.audit_allow, &v);
  if (!options.eval_path.empty()) {
    v.eval_path = Absolute(options.eval_path, "");
    compare::EvalFile f;
    INLOOP_RETURN_IF_ERROR(compare::LoadEvalFile(v.eval_path, {}, &f));
    if (f.records.empty()) {
      return Status::Invalid(fmt::format(
          "--eval {}: no valid per-example record (each line a JSON object with \"id\" and "
          "\"score\" or \"correct\")",
          options.eval_path));
    }
  }
  INLOOP_RETURN_IF_ERROR(st->GetParams(run.id, &v.params));
  std::vector<store::SeriesStats> stats;
  INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run.id, &stats));
  for (const store::SeriesStats& s : stats) {
    if (s.points > 0) v.metrics.emplace_back(s.key, s.last.value);
  }
  std::sort(v.metrics.begin(), v.metrics.end());
  INLOOP_RETURN_IF_ERROR(st->AddModelVersion(&v));
  *out = std::move(v);
  return Status::OK();
}

Status ModelStateOf(store::Store* st, const std::string& name, ModelState* out) {
  *out = ModelState{};
  INLOOP_RETURN_IF_ERROR(st->ListModelVersions(name, &out->versions));
  for (const store::ModelVersionRecord& v : out->versions) {
    if (v.stage == store::kStageChampion) out->champion = v;
  }
  int64_t after = out->champion ? out->champion->version : 0;
  for (const store::ModelVersionRecord& v : out->versions) {
    if (v.stage == store::kStageCandidate && v.version > after) out->newer_candidate = v;
  }
  return Status::OK();
}

Status EvaluatePromotion(store::Store* st, const store::ModelVersionRecord& candidate,
                         const GateOptions& options, GateResult* out) {
  ModelState state;
  INLOOP_RETURN_IF_ERROR(ModelStateOf(st, candidate.name, &state));
  GateEvidence e;
  e.candidate = fmt::format("{} v{}", candidate.name, candidate.version);
  e.candidate_has_eval = !candidate.eval_path.empty();
  compare::EvalDiffReport diff;
  if (state.champion && state.champion->version != candidate.version) {
    e.champion = state.champion->version;
    if (state.champion->eval_path.empty()) {
      e.diff_error = fmt::format("the champion v{} has no eval outputs to compare against "
                                 "(promote with --override, or register it again with --eval)",
                                 state.champion->version);
    } else if (candidate.eval_path.empty()) {
      e.diff_error = "no eval outputs to compare with the champion's";
    } else {
      Status s = compare::RunEvalDiff(state.champion->eval_path, candidate.eval_path,
                                      options.diff, &diff);
      if (s.ok()) {
        e.diff = &diff;
      } else {
        e.diff_error = fmt::format("eval diff against v{} failed: {}", state.champion->version,
                                   s.message());
      }
    }
  }
  store::RunRecord run;
  e.run_id = candidate.run_id;
  Status s = st->FindRun(candidate.run_id, &run);
  if (s.ok()) {
    e.run_status = run.status;
    std::vector<store::EventRecord> events;
    INLOOP_RETURN_IF_ERROR(st->ListEvents(run.id, &events));
    for (const OpenFinding& f : OpenErrorFindings(events)) {
      e.open_findings.push_back(
          fmt::format("{}{}{} at step {}", f.kind, f.series.empty() ? "" : " on ", f.series, f.step_lo));
    }
    std::vector<store::ActionRecord> pending;
    INLOOP_RETURN_IF_ERROR(st->ListActions(run.id, store::kActionPending, &pending));
    e.pending_actions = static_cast<int64_t>(pending.size());
  } else if (s.code() == Status::Code::kNotFound) {
    e.run_status = "deleted";
  } else {
    return s;
  }
  e.audit = candidate.audit;
  e.audit_detail = candidate.audit_detail;
  *out = EvaluateGate(e, options);
  return Status::OK();
}

Status Promote(store::Store* st, const std::string& name, int64_t version,
               const PromoteOptions& options, PromoteOutcome* out) {
  *out = PromoteOutcome{};
  store::ModelVersionRecord cand;
  INLOOP_RETURN_IF_ERROR(st->GetModelVersion(name, version, &cand));
  if (cand.stage == store::kStageChampion) {
    return Status::Invalid(fmt::format("{} v{} is the champion already", name, version));
  }
  INLOOP_RETURN_IF_ERROR(EvaluatePromotion(st, cand, options.gate, &out->gate));
  if (!out->gate.passed && options.override_reason.empty()) return Status::OK();
  store::ModelStageChange& c = out->change;
  c.name = name;
  c.version = version;
  c.from_stage = cand.stage;
  c.to_stage = store::kStageChampion;
  c.by = options.by;
  c.override_gate = !out->gate.passed;
  c.reason = !options.override_reason.empty() ? options.override_reason : "the gate passed";
  c.gate_json = GateJson(out->gate);
  c.expect_champion = out->gate.champion.value_or(0);  // the one the gate judged against
  out->retired = out->gate.champion;
  INLOOP_RETURN_IF_ERROR(st->ChangeModelStage(&c));
  out->promoted = true;
  return Status::OK();
}

Status DeployTargetsOf(store::Store* st, const std::string& name, DeployTargets* out) {
  INLOOP_RETURN_IF_ERROR(CheckModelName(name));
  ModelState state;
  INLOOP_RETURN_IF_ERROR(ModelStateOf(st, name, &state));
  if (state.versions.empty()) {
    return Status::NotFound(fmt::format(
        "no model named {} (register one with `inloop model register RUN --name {}`)", name, name));
  }
  if (!state.champion) {
    return Status::NotFound(fmt::format(
        "model {} has no champion (promote one with `inloop model promote {} VERSION`)", name, name));
  }
  if (state.champion->artifact.empty()) {
    return Status::NotFound(fmt::format(
        "the champion {} v{} has no artifact to serve (register its run with --artifact PATH)",
        name, state.champion->version));
  }
  out->champion = *state.champion;
  out->shadow.reset();
  if (state.newer_candidate && !state.newer_candidate->artifact.empty()) {
    out->shadow = state.newer_candidate;
  }
  return Status::OK();
}

std::vector<std::string> WithArtifact(const std::vector<std::string>& argv,
                                      const std::string& artifact) {
  std::vector<std::string> out;
  for (std::string a : argv) {
    for (size_t at = a.find("{artifact}"); at != std::string::npos;
         at = a.find("{artifact}", at + artifact.size())) {
      a.replace(at, 10, artifact);
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace inloop::registry
