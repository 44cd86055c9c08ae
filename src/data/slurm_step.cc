// A step run by its Slurm job (slurm_step.h).
#include "data/slurm_step.h"

#include <fmt/format.h>

#include "common/subprocess.h"
#include "data/manifest.h"
#include "data/quarantine.h"
#include "data/slurm_jobs.h"
#include "data/step_exec.h"

namespace inloop::data {
namespace {

void Note(const std::string& data_dir, const std::string& name, const std::string& job_id,
          const StepOutcome& o) {
  if (job_id.empty()) return;
  Status s = UpdateStepJob(data_dir, name, job_id, o.state, o.reason, o.run_id, NowSeconds());
  if (!s.ok()) fmt::print(stderr, "inloop: warning: the step's job record was not updated: {}\n", s.message());
}

}  // namespace

Status ExecStep(const PipelineSpec& spec, const std::string& name, const RunOptions& opts,
                const std::string& job_id, StepOutcome* out) {
  *out = StepOutcome{};
  out->name = name;
  out->job_id = job_id;
  const StepSpec* step = nullptr;
  for (auto& s : spec.steps) {
    if (s.name == name) step = &s;
  }
  if (!step) {
    return Status::NotFound(fmt::format("no data step is named '{}' in the config: was it renamed "
                                        "after the job was submitted?", name));
  }
  std::string data_dir = DataDir(opts.project_dir);
  out->state = "running";
  Note(data_dir, name, job_id, *out);
  Manifest m;
  QuarantineList q;
  INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir, &m));
  INLOOP_RETURN_IF_ERROR(LoadQuarantine(data_dir, &q));
  StepKey key;
  std::string why;
  Status s = AssessStep(*step, opts.project_dir, &m, &key, &why, &q);
  if (!s.ok()) {
    out->state = "failed";
    out->reason = s.message();
  } else if (why.empty()) {
    out->state = "up_to_date";
    out->run_id = m.steps[name].run_id;
    out->outputs = m.steps[name].outputs;
  } else {
    PrintStepState(name, "running", why, false);
    pid_t pid = -1;
    double started = NowSeconds();
    std::vector<std::pair<std::string, std::string>> env;
    if (!job_id.empty()) env.emplace_back("INLOOP_DATA_JOB", job_id);
    s = StartStepRun(*step, key, opts, env, &pid);
    if (!s.ok()) {
      out->state = "failed";
      out->reason = s.message();
    } else {
      int code = WaitSubprocess(pid);
      FinishStepRun(*step, key, pid, code, started, opts, q, &m, out);
    }
  }
  if (out->state != "ran" && out->state != "up_to_date") {
    PrintStepState(name, out->state, out->reason, false);
  } else {
    PrintStepState(name, out->state == "ran" ? "done" : "up to date", "", false);
  }
  Note(data_dir, name, job_id, *out);
  (void)CommitFiles(data_dir, m.files);
  return Status::OK();
}

}  // namespace inloop::data
