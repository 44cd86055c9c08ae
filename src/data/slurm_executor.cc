// The driver of `inloop data run --slurm` and the job column of `inloop data status`
// (slurm_executor.h).
#include "data/slurm_executor.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "data/manifest.h"
#include "data/quarantine.h"
#include "data/slurm_jobs.h"
#include "data/slurm_plan.h"
#include "data/step_exec.h"
#include "slurm/sbatch_script.h"
#include "slurm/sbatch_submit.h"

namespace inloop::data {
namespace {

bool Succeeded(const std::string& state) { return state == "ran" || state == "up_to_date"; }

// A job name sbatch takes as it is: anything outside [A-Za-z0-9_.-] becomes '_'.
std::string JobName(const std::string& step) {
  std::string out = "data.";
  for (char c : step) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.substr(0, 64);
}

std::string JoinIds(const std::vector<std::string>& ids, const char* sep) {
  std::string s;
  for (auto& id : ids) s += (s.empty() ? "" : sep) + id;
  return s;
}

class Driver {
 public:
  Driver(const PipelineSpec& spec, const Dag& dag, const RunOptions& opts, const SlurmOptions& so)
      : spec_(spec), dag_(dag), opts_(opts), so_(so), data_dir_(DataDir(opts.project_dir)) {}

  Status Submit(const std::vector<int>& selected, PipelineOutcome* out) {
    INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir_, &m_));
    INLOOP_RETURN_IF_ERROR(LoadQuarantine(data_dir_, &q_));
    StepJobs jobs;
    INLOOP_RETURN_IF_ERROR(LoadStepJobs(data_dir_, &jobs));
    std::vector<std::string> names, selected_names;
    for (auto& s : spec_.steps) names.push_back(s.name);
    for (int i : selected) selected_names.push_back(names[i]);
    std::map<std::string, std::string> queue;
    INLOOP_RETURN_IF_ERROR(QueueOfLiveJobs(jobs, selected_names, &queue));
    SlurmPlan plan(names, dag_.deps, selected);
    for (int i : selected) {
      auto it = jobs.find(spec_.steps[i].name);
      if (it != jobs.end() && IsLive(it->second) && queue.count(it->second.job_id)) {
        plan.InFlight(i, it->second.job_id);
      }
    }
    for (PlanAction a = plan.Next(); a.kind != PlanAction::Kind::kDone; a = plan.Next()) {
      if (a.kind == PlanAction::Kind::kAssess) {
        StepKey key;
        std::string why;
        Status s = AssessStep(spec_.steps[a.step], opts_.project_dir, &m_, &key, &why, &q_);
        if (s.ok()) {
          plan.Assessed(a.step, why.empty(), why);
        } else {
          plan.AssessFailed(a.step, s.message());
        }
        continue;
      }
      std::string job_id;
      Status s = SubmitStep(a.step, a.after, plan.step(a.step).reason, &job_id);
      if (s.ok()) {
        plan.Submitted(a.step, job_id);
      } else {
        plan.SubmitFailed(a.step, s.message());
      }
    }
    (void)CommitFiles(data_dir_, m_.files);
    for (int i : selected) out->steps.push_back(Outcome(i, plan.step(i)));
    for (auto& o : out->steps) {
      if (o.state == "failed" || o.state == "blocked") out->ok = false;
    }
    return Status::OK();
  }

  // Polls the queue until the jobs of `out` have left it, then reads what they recorded.
  Status Wait(PipelineOutcome* out) {
    std::vector<std::string> ids;
    for (auto& o : out->steps) {
      if (o.state == "submitted" || o.state == "in_flight") ids.push_back(o.job_id);
    }
    int failures = 0;
    for (;;) {
      std::map<std::string, std::string> queue;
      Status s = QueueStates(ids, &queue);
      if (!s.ok()) {
        if (++failures >= 10) return s;
      } else {
        failures = 0;
        if (queue.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(so_.poll_seconds));
    }
    Manifest m;
    StepJobs jobs;
    INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir_, &m));
    INLOOP_RETURN_IF_ERROR(LoadStepJobs(data_dir_, &jobs));
    std::map<std::string, std::string> final_state;
    out->ok = true;
    for (auto& o : out->steps) {
      if (o.state == "submitted" || o.state == "in_flight") {
        StepJob rec;
        auto it = jobs.find(o.name);
        if (it != jobs.end() && it->second.job_id == o.job_id) rec = it->second;
        std::string dep_failed;
        for (int d : dag_.deps[Index(o.name)]) {
          const std::string& dn = spec_.steps[d].name;
          if (final_state.count(dn) && !Succeeded(final_state[dn]) && dep_failed.empty()) dep_failed = dn;
        }
        JobView v = ViewJob(rec.state, rec.reason, "", dep_failed);
        o.state = v.state;
        o.reason = v.reason;
        o.run_id = rec.run_id;
        auto ms = m.steps.find(o.name);
        if (Succeeded(o.state) && ms != m.steps.end()) o.outputs = ms->second.outputs;
        Say(o.name, o.state, Succeeded(o.state) ? fmt::format("job {}, run {}", o.job_id, o.run_id)
                                                : fmt::format("job {}: {}", o.job_id, o.reason));
      }
      final_state[o.name] = o.state;
      if (!Succeeded(o.state)) out->ok = false;
    }
    return Status::OK();
  }

 private:
  int Index(const std::string& name) const {
    for (size_t i = 0; i < spec_.steps.size(); ++i) {
      if (spec_.steps[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }

  Status SubmitStep(int i, const std::vector<std::string>& after, const std::string& reason,
                    std::string* job_id) {
    const StepSpec& step = spec_.steps[i];
    slurm::SbatchRequest r;
    r.job_name = JobName(step.name);
    r.partition = so_.partition;
    r.time = so_.time;
    r.chdir = opts_.project_dir;
    r.inloop_binary = opts_.inloop_exe;
    r.body_args = {"data", "exec-step", "--store", opts_.store_dir};
    if (!opts_.config_path.empty()) r.body_args.insert(r.body_args.end(), {"--config", opts_.config_path});
    r.body_args.push_back(step.name);
    std::string script;
    INLOOP_RETURN_IF_ERROR(slurm::BuildSbatchScript(r, &script));
    std::vector<std::string> args;
    if (!after.empty()) {
      args = {"--dependency=afterok:" + JoinIds(after, ":"), "--kill-on-invalid-dep=yes"};
    }
    slurm::SubmittedJob job;
    INLOOP_RETURN_IF_ERROR(slurm::SubmitScript(
        so_.script_dir.empty() ? data_dir_ + "/slurm" : so_.script_dir, r.job_name, script, args, &job));
    *job_id = job.job_id;
    StepJob rec;
    rec.job_id = job.job_id;
    rec.state = "submitted";
    rec.reason = reason;
    rec.after = after;
    rec.submitted_at = rec.updated_at = NowSeconds();
    Status s = RecordStepJob(data_dir_, step.name, rec);
    if (!s.ok()) {
      fmt::print(stderr, "inloop: warning: job {} of step '{}' was not recorded: {}\n", job.job_id,
                 step.name, s.message());
    }
    return Status::OK();
  }

  StepOutcome Outcome(int i, const PlannedStep& p) {
    StepOutcome o;
    o.name = spec_.steps[i].name;
    o.state = PlanStateName(p.state);
    o.reason = p.reason;
    o.job_id = p.job_id;
    if (p.state == PlanState::kUpToDate) {
      auto it = m_.steps.find(o.name);
      if (it != m_.steps.end()) {
        o.run_id = it->second.run_id;
        o.outputs = it->second.outputs;
      }
      Say(o.name, "up to date", "");
    } else if (p.state == PlanState::kSubmitted || p.state == PlanState::kInFlight) {
      std::string detail = fmt::format("job {}", p.job_id);
      if (!p.after.empty()) detail += ", after " + JoinIds(p.after, ",");
      if (!p.reason.empty()) detail += "; " + p.reason;
      Say(o.name, p.state == PlanState::kSubmitted ? "submitted" : "in flight", detail);
    } else {
      Say(o.name, o.state, o.reason);
    }
    return o;
  }

  void Say(const std::string& name, std::string_view state, const std::string& detail) {
    if (!opts_.progress) return;
    PrintStepState(name, state, detail, opts_.color);
  }

  const PipelineSpec& spec_;
  const Dag& dag_;
  const RunOptions& opts_;
  const SlurmOptions& so_;
  std::string data_dir_;
  Manifest m_;
  QuarantineList q_;
};

}  // namespace

Status SubmitPipeline(const PipelineSpec& spec, const RunOptions& opts, const SlurmOptions& so,
                      PipelineOutcome* out) {
  *out = PipelineOutcome{};
  Dag dag;
  std::vector<int> selected;
  INLOOP_RETURN_IF_ERROR(PreparePipeline(spec, opts.targets, opts.project_dir, &dag, &selected));
  int lock = -1;
  INLOOP_RETURN_IF_ERROR(LockPipeline(opts.project_dir, &lock));
  Driver d(spec, dag, opts, so);
  Status s = d.Submit(selected, out);
  if (s.ok() && so.wait) s = d.Wait(out);
  ::close(lock);
  return s;
}

void AddJobStatus(const PipelineSpec& spec, const std::string& project_dir, std::vector<StepStatus>* status) {
  StepJobs jobs;
  Status s = LoadStepJobs(DataDir(project_dir), &jobs);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: warning: {}\n", s.message());
    return;
  }
  std::vector<std::string> names;
  for (auto& st : *status) names.push_back(st.name);
  std::map<std::string, std::string> queue;
  bool have_queue = true;
  s = QueueOfLiveJobs(jobs, names, &queue);
  if (!s.ok()) {
    have_queue = false;
    fmt::print(stderr, "inloop: warning: the Slurm queue was not read: {}\n", s.message());
  }
  Dag dag;
  (void)BuildDag(spec, &dag);
  std::map<std::string, std::string> states;
  for (auto& st : *status) {
    auto it = jobs.find(st.name);
    if (it == jobs.end()) continue;
    const StepJob& j = it->second;
    st.job_id = j.job_id;
    if (!have_queue && IsLive(j)) {
      st.job_state = j.state;
      st.job_reason = j.reason;
    } else {
      std::string dep_failed;
      for (size_t i = 0; i < spec.steps.size() && i < dag.deps.size(); ++i) {
        if (spec.steps[i].name != st.name) continue;
        for (int d : dag.deps[i]) {
          auto ds = states.find(spec.steps[d].name);
          if (ds != states.end() && !Succeeded(ds->second) && ds->second != "queued" &&
              ds->second != "running" && dep_failed.empty()) {
            dep_failed = spec.steps[d].name;
          }
        }
      }
      auto q = queue.find(j.job_id);
      JobView v = ViewJob(j.state, j.reason, q == queue.end() ? "" : q->second, dep_failed);
      st.job_state = v.state;
      st.job_reason = v.reason;
    }
    states[st.name] = st.job_state;
  }
}

}  // namespace inloop::data
