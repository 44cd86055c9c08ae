// RunPipeline's scheduling loop, the cache key, and the status of steps.
#include "data/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

#include "common/secrets.h"
#include "common/subprocess.h"
#include "data/dag.h"
#include "data/slurm_jobs.h"
#include "data/step_exec.h"
#include "data/step_record.h"

namespace inloop::data {
namespace {


bool Exists(const std::string& p) {
  struct stat sb;
  return ::stat(p.c_str(), &sb) == 0;
}

// Inputs no step produces are source files: they must exist before anything runs.
Status Preflight(const PipelineSpec& spec, const Dag& dag, const std::vector<int>& selected,
                 const std::string& project_dir) {
  for (int i : selected) {
    const StepSpec& s = spec.steps[i];
    for (auto& in : s.inputs) {
      if (dag.producer.count(in) || Exists(JoinPath(project_dir, in))) continue;
      return Status::NotFound(fmt::format(
          "data step '{}' reads '{}', which does not exist and which no step produces: create it "
          "or add the step that writes it", s.name, in));
    }
    std::vector<std::string> argv;
    INLOOP_RETURN_IF_ERROR(ExpandCommand(s, &argv));
  }
  return Status::OK();
}

struct Running {
  int step = -1;
  pid_t pid = -1;
  double started = 0;
  StepKey key;
  std::string reason;
};

class Scheduler {
 public:
  Scheduler(const PipelineSpec& spec, const Dag& dag, const RunOptions& opts)
      : spec_(spec), dag_(dag), opts_(opts), data_dir_(DataDir(opts.project_dir)) {}

  Status Run(const std::vector<int>& selected, PipelineOutcome* out) {
    INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir_, &m_));
    INLOOP_RETURN_IF_ERROR(LoadQuarantine(data_dir_, &q_));
    INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir_ + "/logs"));
    for (int i : selected) {
      outcome_[i].name = spec_.steps[i].name;
      pending_.push_back(i);
    }
    for (;;) {
      StartReady();
      if (running_.empty()) break;
      WaitOne();
    }
    for (int i : selected) {
      if (outcome_[i].state.empty()) {
        outcome_[i].state = "blocked";
        outcome_[i].reason = "not reached";
      }
      if (outcome_[i].state != "up_to_date" && outcome_[i].state != "ran") out->ok = false;
      out->steps.push_back(std::move(outcome_[i]));
    }
    return CommitFiles(data_dir_, m_.files);  // the hash cache of the steps found up to date
  }

 private:
  // 0: not done, 1: succeeded, -1: did not succeed.
  int Done(int i) const {
    auto it = outcome_.find(i);
    if (it == outcome_.end() || it->second.state.empty()) return 0;
    return it->second.state == "up_to_date" || it->second.state == "ran" ? 1 : -1;
  }

  void StartReady() {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t k = 0; k < pending_.size(); ++k) {
        int i = pending_[k];
        bool ready = true;
        std::string blocked_by;
        for (int d : dag_.deps[i]) {
          int s = Done(d);
          if (s == 0) ready = false;
          if (s < 0) blocked_by = spec_.steps[d].name;
        }
        if (!blocked_by.empty()) {
          outcome_[i].state = "blocked";
          outcome_[i].reason = fmt::format("step '{}' did not succeed", blocked_by);
          Say(i, "blocked", outcome_[i].reason);
        } else if (!ready) {
          continue;
        } else if (!Begin(i)) {
          if (static_cast<int>(running_.size()) >= opts_.jobs) continue;
          Launch(i);
        }
        if (!outcome_[i].state.empty() || IsRunning(i)) {
          pending_.erase(pending_.begin() + static_cast<long>(k));
          progress = true;
          break;
        }
      }
    }
  }

  bool IsRunning(int i) const {
    for (auto& r : running_) {
      if (r.step == i) return true;
    }
    return false;
  }

  // Assesses the step; true when that settled it (up to date, or an input is missing).
  bool Begin(int i) {
    if (keys_.count(i)) return false;
    StepKey key;
    std::string why;
    Status s = AssessStep(spec_.steps[i], opts_.project_dir, &m_, &key, &why, &q_);
    if (!s.ok()) {
      outcome_[i].state = "failed";
      outcome_[i].reason = s.message();
      Say(i, "failed", s.message());
      return true;
    }
    if (why.empty()) {
      outcome_[i].state = "up_to_date";
      auto it = m_.steps.find(spec_.steps[i].name);
      outcome_[i].run_id = it->second.run_id;
      outcome_[i].outputs = it->second.outputs;
      Say(i, "up to date", "");
      return true;
    }
    reasons_[i] = why;
    keys_[i] = std::move(key);
    return false;
  }

  void Launch(int i) {
    pid_t pid = -1;
    Status s = StartStepRun(spec_.steps[i], keys_[i], opts_, {}, &pid);
    if (!s.ok()) {
      outcome_[i].state = "failed";
      outcome_[i].reason = s.message();
      Say(i, "failed", s.message());
      return;
    }
    running_.push_back(Running{i, pid, NowSeconds(), keys_[i], reasons_[i]});
    Say(i, "running", reasons_[i]);
  }

  void WaitOne() {
    int st = 0;
    pid_t pid;
    do {
      pid = ::waitpid(-1, &st, 0);
    } while (pid < 0 && errno == EINTR);
    if (pid < 0) {  // no children left: should not happen; settle what we think runs
      for (auto& r : running_) {
        outcome_[r.step].state = "failed";
        outcome_[r.step].reason = "lost track of the step's process";
      }
      running_.clear();
      return;
    }
    for (size_t k = 0; k < running_.size(); ++k) {
      if (running_[k].pid != pid) continue;
      Running r = std::move(running_[k]);
      running_.erase(running_.begin() + static_cast<long>(k));
      Finish(r, DecodeWaitStatus(st));
      return;
    }
  }

  void Finish(const Running& r, int exit_code) {
    StepOutcome& o = outcome_[r.step];
    FinishStepRun(spec_.steps[r.step], r.key, r.pid, exit_code, r.started, opts_, q_, &m_, &o);
    std::string detail = o.state == "ran" ? fmt::format("{:.1f}s, {} checks", o.seconds, o.checks.size())
                                          : o.reason;
    Say(r.step, o.state == "ran" ? "done" : o.state, detail);
  }

  void Say(int i, std::string_view state, const std::string& detail) {
    if (!opts_.progress) return;
    ++said_;
    PrintStepState(spec_.steps[i].name, state, detail, opts_.color);
  }

  const PipelineSpec& spec_;
  const Dag& dag_;
  const RunOptions& opts_;
  std::string data_dir_;
  Manifest m_;
  QuarantineList q_;
  std::vector<int> pending_;
  std::vector<Running> running_;
  std::map<int, StepOutcome> outcome_;
  std::map<int, StepKey> keys_;
  std::map<int, std::string> reasons_;
  int said_ = 0;
};

// The declared checks, so that a changed validation rebuilds and revalidates the step.
std::string ValidationFingerprint(const StepSpec& step) {
  std::string f;
  auto check = [&](const CheckSpec& c) {
    f += fmt::format("{}|{}|{}|{}|{}|{}|{};", c.enabled, int(c.severity), c.min.value_or(NAN),
                     c.max.value_or(NAN), c.max_rate.value_or(NAN), c.field, c.threshold);
  };
  for (auto& v : step.validate) {
    f += fmt::format("validate {} {} {} {} {};", v.output, v.format, int(v.severity), v.dtype, v.vocab_size);
    for (auto& [k, t] : v.schema) f += k + "=" + t + ";";
    for (const CheckSpec* c : {&v.rows, &v.nulls, &v.empty, &v.duplicates, &v.near_duplicates,
                               &v.length, &v.repeated_ngrams}) {
      check(*c);
    }
    f += fmt::format("drift {} {} {} {};", v.drift.enabled, int(v.drift.severity), v.drift.max_effect, v.drift.alpha);
    for (auto& n : v.drift.numeric) f += "n:" + n + ";";
    for (auto& n : v.drift.categorical) f += "c:" + n + ";";
  }
  return f;
}

}  // namespace

Status AssessStep(const StepSpec& step, const std::string& project_dir, Manifest* m, StepKey* key,
                  std::string* stale_reason, const QuarantineList* quarantine) {
  *key = StepKey{};
  INLOOP_RETURN_IF_ERROR(ExpandCommand(step, &key->argv));
  std::string argv_text, env_text;
  for (auto& a : key->argv) argv_text += a + '\0';
  // Project files the command names besides its inputs and outputs (its script) are part of what
  // it does: their content is in the key too.
  for (auto& a : key->argv) {
    if (a.empty() || a[0] == '/' || a[0] == '-' || a.find("..") != std::string::npos) continue;
    if (std::count(step.inputs.begin(), step.inputs.end(), a) ||
        std::count(step.outputs.begin(), step.outputs.end(), a)) {
      continue;
    }
    FileVersion v;
    if (HashFile(project_dir, a, m, &v).ok()) argv_text += "file " + a + '\0' + v.sha256 + '\0';
  }
  argv_text += ValidationFingerprint(step);
  if (quarantine) {
    for (auto& o : step.outputs) {
      auto it = quarantine->find(o);
      if (it == quarantine->end()) continue;
      argv_text += "quarantine " + o + '\0';
      for (auto& r : it->second) argv_text += fmt::format("{:x},", r.hash);
    }
  }
  key->command_hash = Sha256Hex(argv_text);
  for (auto& e : step.env) {
    const char* v = std::getenv(e.c_str());
    env_text += v ? fmt::format("{}={}", e, v) : fmt::format("{} unset", e);
    env_text += '\0';
  }
  key->env_hash = Sha256Hex(env_text);
  std::string all = "inloop-data-1\n" + key->command_hash + "\n" + key->env_hash + "\n";
  for (auto& in : step.inputs) {
    FileVersion v;
    Status s = HashFile(project_dir, in, m, &v);
    if (!s.ok()) return Status::NotFound(fmt::format("data step '{}': its input '{}' does not exist", step.name, in));
    key->inputs.emplace_back(in, v.sha256);
    all += in + '\0' + v.sha256 + "\n";
  }
  key->key = Sha256Hex(all);
  auto it = m->steps.find(step.name);
  if (it == m->steps.end()) {
    *stale_reason = "never built";
    return Status::OK();
  }
  const StepRecord& r = it->second;
  if (r.status != "ok") {
    *stale_reason = fmt::format("the last run {}", r.status == "invalid" ? "failed validation" : "failed");
    return Status::OK();
  }
  if (r.key == key->key) {
    for (auto& o : r.outputs) {
      FileVersion v;
      if (!HashFile(project_dir, o.path, m, &v).ok()) {
        *stale_reason = fmt::format("output '{}' is missing", o.path);
        return Status::OK();
      }
      if (v.sha256 != o.sha256) {
        *stale_reason = fmt::format("output '{}' was modified since it was built", o.path);
        return Status::OK();
      }
    }
    stale_reason->clear();
    return Status::OK();
  }
  if (r.command_hash != key->command_hash) {
    *stale_reason = "its command, a file the command names, its validation or its quarantine changed";
  } else if (r.env_hash != key->env_hash) {
    *stale_reason = "an environment variable of its key changed";
  } else {
    *stale_reason = "its inputs changed";
    std::map<std::string, std::string> old(r.inputs.begin(), r.inputs.end());
    for (auto& [p, h] : key->inputs) {
      auto o = old.find(p);
      if (o == old.end()) {
        *stale_reason = fmt::format("input '{}' is new", p);
        break;
      }
      if (o->second != h) {
        *stale_reason = fmt::format("input '{}' changed", p);
        break;
      }
    }
  }
  return Status::OK();
}

Status PreparePipeline(const PipelineSpec& spec, const std::vector<std::string>& targets,
                       const std::string& project_dir, Dag* dag, std::vector<int>* selected) {
  INLOOP_RETURN_IF_ERROR(BuildDag(spec, dag));
  INLOOP_RETURN_IF_ERROR(SelectSteps(spec, *dag, targets, selected));
  if (selected->empty()) return Status::NotFound("no [[data.step]] in the config: nothing to run");
  return Preflight(spec, *dag, *selected, project_dir);
}

Status LockPipeline(const std::string& project_dir, int* fd) {
  // One pipeline run per project at a time: the manifest is read, then written after each step.
  std::string data_dir = DataDir(project_dir);
  INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir));
  std::string lock_path = data_dir + "/lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return Status::Io(fmt::format("{}: cannot open the pipeline's lock", lock_path));
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock);
    return Status::Invalid(fmt::format(
        "another `inloop data run` is running in this project (it holds {}): wait for it to end",
        lock_path));
  }
  *fd = lock;
  return Status::OK();
}

Status RunPipeline(const PipelineSpec& spec, const RunOptions& opts, PipelineOutcome* out) {
  *out = PipelineOutcome{};
  Dag dag;
  std::vector<int> selected;
  INLOOP_RETURN_IF_ERROR(PreparePipeline(spec, opts.targets, opts.project_dir, &dag, &selected));
  int lock = -1;
  INLOOP_RETURN_IF_ERROR(LockPipeline(opts.project_dir, &lock));
  std::vector<std::string> names;
  for (int i : selected) names.push_back(spec.steps[i].name);
  Status s = RefuseLiveJobs(DataDir(opts.project_dir), names);
  if (!s.ok()) {
    ::close(lock);
    return s;
  }
  Scheduler sched(spec, dag, opts);
  s = sched.Run(selected, out);
  ::close(lock);
  return s;
}

Status PipelineStatus(const PipelineSpec& spec, const std::string& project_dir,
                      const std::vector<std::string>& targets, std::vector<StepStatus>* out) {
  out->clear();
  Dag dag;
  INLOOP_RETURN_IF_ERROR(BuildDag(spec, &dag));
  std::vector<int> selected;
  INLOOP_RETURN_IF_ERROR(SelectSteps(spec, dag, targets, &selected));
  Manifest m;
  INLOOP_RETURN_IF_ERROR(LoadManifest(DataDir(project_dir), &m));
  QuarantineList q;
  INLOOP_RETURN_IF_ERROR(LoadQuarantine(DataDir(project_dir), &q));
  std::map<int, bool> fresh;
  for (int i : selected) {
    const StepSpec& s = spec.steps[i];
    StepStatus st;
    st.name = s.name;
    auto rec = m.steps.find(s.name);
    if (rec != m.steps.end()) {
      st.run_id = rec->second.run_id;
      st.last_status = rec->second.status;
    }
    for (int d : dag.deps[i]) {
      if (!fresh[d]) st.reason = fmt::format("step '{}' it depends on is stale", spec.steps[d].name);
    }
    if (st.reason.empty()) {
      StepKey key;
      Status ks = AssessStep(s, project_dir, &m, &key, &st.reason, &q);
      if (!ks.ok()) st.reason = ks.message();
    }
    st.up_to_date = st.reason.empty();
    fresh[i] = st.up_to_date;
    out->push_back(std::move(st));
  }
  return Status::OK();
}

}  // namespace inloop::data
