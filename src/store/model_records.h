// Records of the model registry (store.h, "Model registry"; registry/registry.h owns the rules):
// a model version (a run, its artifact, config, final metrics, eval outputs and the artifact's
// audit) and the trail of its stage changes. Plain structs, no behaviour; their one JSON form is
// registry/registry_json.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/catalog.h"

namespace inloop::store {

// Stages of a model version: candidate -> champion -> retired (one champion per name).
inline constexpr const char* kStageCandidate = "candidate";
inline constexpr const char* kStageChampion = "champion";
inline constexpr const char* kStageRetired = "retired";

// The artifact's audit (audit/audit.h) at registration.
inline constexpr const char* kAuditPassed = "passed";
inline constexpr const char* kAuditFailed = "failed";
inline constexpr const char* kAuditNone = "none";  // no artifact to scan

struct ModelVersionRecord {
  std::string name;         // the model's name; versions are numbered per name
  int64_t version = 0;      // assigned by AddModelVersion: 1, 2, ...
  std::string run_id;
  std::string stage = kStageCandidate;
  std::string artifact;     // absolute path of the checkpoint, "" when none
  int64_t artifact_step = -1;  // the checkpoint's step when it came from the run's events
  std::string eval_path;    // absolute path of the per-example eval outputs (JSONL), "" when none
  std::string audit = kAuditNone;  // kAuditPassed / kAuditFailed / kAuditNone
  std::string audit_detail;        // one line: the worst finding, or what was scanned
  std::vector<Param> params;       // the run's config/params
  std::vector<std::pair<std::string, double>> metrics;  // final value of each series, by key
  double created_at = 0;    // seconds since epoch
  std::string created_by;   // "cli:USER@HOST", "loop", ...
};

// One stage change of a version (promotion, the retirement it caused, an override).
struct ModelStageChange {
  int64_t id = 0;           // assigned by ChangeModelStage
  std::string name;
  int64_t version = 0;
  std::string from_stage;
  std::string to_stage;
  double at = 0;            // seconds since epoch
  std::string by;           // "cli:USER@HOST", "http:TOKEN", "loop"
  std::string reason;       // the override's reason, or why (e.g. "promoted v3")
  bool override_gate = false;  // promoted although the gate refused
  std::string gate_json = "{}";  // the gate's verdict and numbers (registry::GateResult JSON)
  // Not stored: when >= 0, the change applies only while the name's champion is this version
  // (0: none), so a promotion judged against one champion cannot land after another took over.
  int64_t expect_champion = -1;
};

}  // namespace inloop::store
