// Starting a step's supervised run and recording what it built (step_exec.h).
#include "data/step_exec.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "common/subprocess.h"
#include "data/step_record.h"

namespace inloop::data {
namespace {

// Drops the quarantined records from the step's fresh outputs; one result per output it touched.
bool ApplyStepQuarantine(const StepSpec& step, const std::string& project_dir, const QuarantineList& q,
                         std::vector<CheckResult>* results, std::string* why) {
  for (auto& path : step.outputs) {
    auto it = q.find(path);
    if (it == q.end() || it->second.empty()) continue;
    int64_t removed = 0;
    Status s = ApplyQuarantine(JoinPath(project_dir, path), it->second, &removed);
    if (!s.ok()) {
      *why = s.message();
      return false;
    }
    CheckResult r;
    r.output = path;
    r.check = "quarantine";
    r.severity = Severity::kWarn;
    r.value = double(removed);
    r.numbers = {{"removed", double(removed)}, {"quarantined", double(it->second.size())}};
    r.message = fmt::format("{} quarantined records removed ({} on the list)", removed, it->second.size());
    results->push_back(std::move(r));
  }
  return true;
}

bool HashOutputs(const StepSpec& step, const std::string& project_dir, const StepRecord* prev,
                 Manifest* m, StepRecord* rec, std::string* why) {
  for (auto& path : step.outputs) {
    FileVersion v;
    Status s = HashFile(project_dir, path, m, &v);
    if (!s.ok()) {
      *why = fmt::format("the command succeeded but did not write its output '{}'", path);
      return false;
    }
    OutputRecord orec{path, v.sha256, v.size, ""};
    if (prev) {
      for (auto& po : prev->outputs) {
        if (po.path != path) continue;
        // Drift is measured against the last version that passed.
        std::string good = prev->status == "ok" ? po.sha256 : po.previous_sha256;
        orec.previous_sha256 = good == v.sha256 ? po.previous_sha256 : good;
      }
    }
    rec->outputs.push_back(orec);
  }
  return true;
}

}  // namespace

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status StartStepRun(const StepSpec& step, const StepKey& key, const RunOptions& opts,
                    const std::vector<std::pair<std::string, std::string>>& extra_env, pid_t* pid) {
  for (auto& o : step.outputs) {
    std::string dir = JoinPath(opts.project_dir, o);
    size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0) (void)MakeDirs(dir.substr(0, slash));
  }
  std::string data_dir = DataDir(opts.project_dir);
  INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir + "/logs"));
  SubprocessSpec sp;
  sp.argv = {opts.inloop_exe, "run", "--store", opts.store_dir, "--name", "data." + step.name,
             "--policy", "observe"};
  if (!opts.config_path.empty()) {
    sp.argv.push_back("--config");
    sp.argv.push_back(opts.config_path);
  }
  sp.argv.push_back("--");
  sp.argv.insert(sp.argv.end(), key.argv.begin(), key.argv.end());
  sp.cwd = opts.project_dir;
  sp.env = {{"INLOOP_DATA_STEP", step.name}, {"NO_COLOR", "1"}};
  sp.env.insert(sp.env.end(), extra_env.begin(), extra_env.end());
  std::string log = data_dir + "/logs/" + step.name + ".log";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  sp.stdin_plan = StdioPlan::DevNull();
  sp.stdout_plan = fd >= 0 ? StdioPlan::Fd(fd) : StdioPlan::DevNull();
  sp.stderr_plan = sp.stdout_plan;
  Status s = StartSubprocess(sp, pid);
  if (fd >= 0) ::close(fd);
  return s;
}

void FinishStepRun(const StepSpec& step, const StepKey& key, pid_t pid, int exit_code,
                   double started, const RunOptions& opts, const QuarantineList& q, Manifest* m,
                   StepOutcome* o) {
  std::string data_dir = DataDir(opts.project_dir);
  o->exit_code = exit_code;
  o->seconds = NowSeconds() - started;
  o->run_id = FindStepRun(opts.store_dir, "data." + step.name, pid);
  StepRecord rec;
  rec.key = key.key;
  rec.command_hash = key.command_hash;
  rec.env_hash = key.env_hash;
  rec.inputs = key.inputs;
  rec.run_id = o->run_id;
  rec.finished_at = NowSeconds();
  auto prev = m->steps.find(step.name);
  std::string why;
  if (exit_code != 0) {
    if (prev != m->steps.end()) {  // keep the last good versions for the next drift check
      for (auto& po : prev->second.outputs) {
        rec.outputs.push_back({po.path, "", 0, prev->second.status == "ok" ? po.sha256 : po.previous_sha256});
      }
    }
    o->state = "failed";
    o->reason = fmt::format("the command exited with {} (its output: {}/logs/{}.log{})", exit_code,
                            data_dir, step.name,
                            o->run_id.empty() ? "" : fmt::format(", inloop logs {}", o->run_id));
  } else if (!ApplyStepQuarantine(step, opts.project_dir, q, &o->checks, &why) ||
             !HashOutputs(step, opts.project_dir, prev == m->steps.end() ? nullptr : &prev->second, m,
                          &rec, &why)) {
    o->state = "failed";
    o->reason = why;
  } else {
    std::vector<CheckResult> checks;
    ValidateStep(step, opts.project_dir, data_dir, rec, &checks);
    o->checks.insert(o->checks.end(), checks.begin(), checks.end());
    o->state = AnyErrorFailed(o->checks) ? "invalid" : "ran";
    if (o->state == "invalid") o->reason = FirstFailure(o->checks);
  }
  rec.status = o->state == "ran" ? "ok" : o->state;
  rec.message = o->reason;
  o->outputs = rec.outputs;
  RecordStepEvents(opts.store_dir, step, rec, o->checks);
  Status s = CommitStep(data_dir, step.name, rec, m->files);
  m->steps[step.name] = std::move(rec);
  if (!s.ok() && o->state == "ran") {
    o->state = "failed";
    o->reason = s.message();
  }
}

void PrintStepState(std::string_view name, std::string_view state, std::string_view detail,
                    bool color) {
  const char* c = "";
  if (color) {
    c = state == "done" || state == "ran" || state == "up to date" || state == "up_to_date"
            ? "\033[32m"
        : state == "running" || state == "submitted" || state == "in flight" ? "\033[36m"
                                                                               : "\033[31m";
  }
  fmt::print(stderr, "data: {:<16} {}{}{}{}\n", name, c, state, color ? "\033[0m" : "",
             detail.empty() ? "" : fmt::format(" ({})", detail));
}

}  // namespace inloop::data
