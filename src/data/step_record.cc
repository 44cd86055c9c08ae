// Validation and store records of a finished step.
#include "data/step_record.h"

#include <fmt/format.h>

#include "common/json_writer.h"
#include "data/data_read.h"
#include "data/profile.h"
#include "data/validate.h"
#include "store/store.h"

namespace inloop::data {
std::string FindStepRun(const std::string& store_dir, const std::string& name, pid_t pid) {
  std::unique_ptr<store::Store> st;
  if (!store::Store::Open(store_dir, false, &st).ok()) return "";
  std::vector<store::RunRecord> runs;
  if (!st->ListRuns(&runs).ok()) return "";
  for (auto& r : runs) {
    if (r.name == name && r.supervisor_pid == pid) return r.id;
  }
  return "";
}

void ValidateStep(const StepSpec& step, const std::string& project_dir, const std::string& data_dir,
                  const StepRecord& rec, std::vector<CheckResult>* results) {
  (void)MakeDirs(data_dir + "/profiles");
  for (auto& spec : step.validate) {
    const OutputRecord* o = nullptr;
    for (auto& x : rec.outputs) {
      if (x.path == spec.output) o = &x;
    }
    if (!o) continue;
    Profile previous, current;
    bool have_prev = !o->previous_sha256.empty() &&
                     LoadProfile(data_dir + "/profiles/" + o->previous_sha256 + ".json", &previous).ok();
    std::vector<CheckResult> rs;
    Status s = ValidateOutput(JoinPath(project_dir, spec.output), spec, have_prev ? &previous : nullptr, &rs, &current);
    if (!s.ok()) {
      CheckResult r;
      r.output = spec.output;
      r.check = "parse";
      r.severity = spec.severity;
      r.passed = false;
      r.message = s.message();
      rs.push_back(r);
    } else {
      (void)SaveProfile(data_dir + "/profiles/" + o->sha256 + ".json", current);
    }
    results->insert(results->end(), rs.begin(), rs.end());
  }
}

void RecordStepEvents(const std::string& store_dir, const StepSpec& step, const StepRecord& rec,
                      const std::vector<CheckResult>& results) {
  if (rec.run_id.empty()) return;
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(store_dir, false, &st);
  if (s.ok()) s = st->AddTags(rec.run_id, {"data-step"});
  for (size_t i = 0; s.ok() && i < results.size(); ++i) {
    const CheckResult& r = results[i];
    store::EventRecord e;
    e.run_id = rec.run_id;
    e.kind = kDataCheckEvent;
    e.severity = r.passed ? "info" : r.severity == Severity::kError ? "error" : "warning";
    e.message = fmt::format("{} {} on {}{}: {}", r.passed ? "passed" : "FAILED", r.check, r.output,
                            r.field.empty() ? "" : "." + r.field, r.message);
    e.data_json = CheckResultJson(r);
    s = st->AddEvent(&e);
  }
  if (s.ok()) {
    JsonWriter w;
    w.BeginObject().Key("step").String(step.name).Key("key").String(rec.key).Key("status").String(rec.status);
    w.Key("inputs").BeginArray();
    for (auto& [p, h] : rec.inputs) w.BeginObject().Key("path").String(p).Key("sha256").String(h).EndObject();
    w.EndArray().Key("outputs").BeginArray();
    for (auto& o : rec.outputs) {
      w.BeginObject().Key("path").String(o.path).Key("sha256").String(o.sha256).Key("size").Int(o.size);
      w.Key("previous_sha256").String(o.previous_sha256).EndObject();
    }
    w.EndArray().EndObject();
    store::EventRecord e;
    e.run_id = rec.run_id;
    e.kind = kDataStepEvent;
    e.severity = rec.status == "ok" ? "info" : "error";
    e.message = rec.status == "ok" ? fmt::format("data step {}: {} outputs built and validated", step.name, rec.outputs.size())
                                   : fmt::format("data step {}: {}", step.name, rec.message);
    e.data_json = w.Take();
    s = st->AddEvent(&e);
  }
  if (!s.ok()) fmt::print(stderr, "inloop: warning: the data step's results were not recorded: {}\n", s.message());
}

std::string FirstFailure(const std::vector<CheckResult>& results) {
  for (auto& r : results) {
    if (!r.passed && r.severity == Severity::kError) {
      return fmt::format("{} on {}: {}", r.check, r.output, r.message);
    }
  }
  return "";
}

}  // namespace inloop::data
