// The step job records' JSON form and the queue (slurm_jobs.h).
#include "data/slurm_jobs.h"

#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "common/json_fields.h"
#include "common/json_writer.h"
#include "common/subprocess.h"
#include "data/manifest.h"

namespace inloop::data {
namespace {

std::string JobsPath(const std::string& data_dir) { return data_dir + "/slurm_jobs.json"; }

Status SaveStepJobs(const std::string& data_dir, const StepJobs& jobs) {
  return WriteFileAtomically(JobsPath(data_dir), StepJobsJson(jobs) + "\n");
}

}  // namespace

std::string StepJobsJson(const StepJobs& jobs) {
  JsonWriter w;
  w.BeginObject().Key("version").Int(1).Key("steps").BeginArray();
  for (auto& [name, j] : jobs) {
    w.BeginObject().Key("step").String(name).Key("job_id").String(j.job_id).Key("state").String(j.state);
    w.Key("reason").String(j.reason).Key("run_id").String(j.run_id).Key("after").BeginArray();
    for (auto& a : j.after) w.String(a);
    w.EndArray().Key("submitted_at").Number(j.submitted_at).Key("updated_at").Number(j.updated_at);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Status ParseStepJobs(const std::string& text, StepJobs* jobs) {
  jobs->clear();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array steps;
  if (parser.parse(text).get(doc) || doc["steps"].get_array().get(steps)) {
    return Status::Corrupt("not a valid Slurm job record");
  }
  for (auto st : steps) {
    std::string name = JsonString(st, "step");
    if (name.empty()) continue;
    StepJob j;
    j.job_id = JsonString(st, "job_id");
    j.state = JsonString(st, "state");
    j.reason = JsonString(st, "reason");
    j.run_id = JsonString(st, "run_id");
    simdjson::dom::array after;
    if (!st["after"].get_array().get(after)) {
      for (auto a : after) {
        std::string_view v;
        if (!a.get_string().get(v)) j.after.emplace_back(v);
      }
    }
    j.submitted_at = JsonDouble(st, "submitted_at");
    j.updated_at = JsonDouble(st, "updated_at");
    (*jobs)[name] = std::move(j);
  }
  return Status::OK();
}

Status LoadStepJobs(const std::string& data_dir, StepJobs* jobs) {
  jobs->clear();
  std::string text;
  Status s = ReadFile(JobsPath(data_dir), &text);
  if (!s.ok()) return s.code() == Status::Code::kNotFound ? Status::OK() : s;
  s = ParseStepJobs(text, jobs);
  if (!s.ok()) {
    return Status::Corrupt(fmt::format("{}: {}; delete it (the jobs' steps are in the manifest)",
                                       JobsPath(data_dir), s.message()));
  }
  return Status::OK();
}

Status RecordStepJob(const std::string& data_dir, const std::string& step, const StepJob& job) {
  return WithDataLock(data_dir, [&] {
    StepJobs jobs;
    INLOOP_RETURN_IF_ERROR(LoadStepJobs(data_dir, &jobs));
    auto it = jobs.find(step);
    if (it != jobs.end() && it->second.job_id == job.job_id && it->second.state != "submitted") {
      it->second.after = job.after;
      it->second.submitted_at = job.submitted_at;
    } else {
      jobs[step] = job;
    }
    return SaveStepJobs(data_dir, jobs);
  });
}

Status UpdateStepJob(const std::string& data_dir, const std::string& step, const std::string& job_id,
                     const std::string& state, const std::string& reason, const std::string& run_id,
                     double now) {
  return WithDataLock(data_dir, [&] {
    StepJobs jobs;
    INLOOP_RETURN_IF_ERROR(LoadStepJobs(data_dir, &jobs));
    auto it = jobs.find(step);
    if (it == jobs.end() || it->second.job_id != job_id) {
      StepJob fresh;
      fresh.job_id = job_id;
      it = jobs.insert_or_assign(step, fresh).first;
    }
    it->second.state = state;
    it->second.reason = reason;
    if (!run_id.empty()) it->second.run_id = run_id;
    it->second.updated_at = now;
    return SaveStepJobs(data_dir, jobs);
  });
}

Status QueueStates(const std::vector<std::string>& job_ids, std::map<std::string, std::string>* states) {
  states->clear();
  if (job_ids.empty()) return Status::OK();
  std::set<std::string> wanted(job_ids.begin(), job_ids.end());
  SubprocessSpec spec;
  // All of this user's jobs rather than -j LIST: squeue refuses a list naming a job it has purged.
  spec.argv = {"squeue", "--me", "--noheader", "--format=%i|%T"};
  CapturedOutput out;
  Status s = RunCaptured(spec, &out);
  if (!s.ok()) return Status::Io(fmt::format("cannot run squeue: {}", s.message()));
  if (out.exit_code != 0) {
    std::string err = out.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Status::Io(fmt::format("squeue failed (exit code {}): {}", out.exit_code, err));
  }
  size_t pos = 0;
  while (pos < out.out.size()) {
    size_t nl = out.out.find('\n', pos);
    if (nl == std::string::npos) nl = out.out.size();
    std::string line = out.out.substr(pos, nl - pos);
    pos = nl + 1;
    size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::string id = line.substr(0, bar);
    if (wanted.count(id)) (*states)[id] = line.substr(bar + 1);
  }
  return Status::OK();
}

bool IsLive(const StepJob& job) { return job.state == "submitted" || job.state == "running"; }

Status QueueOfLiveJobs(const StepJobs& jobs, const std::vector<std::string>& steps,
                       std::map<std::string, std::string>* states) {
  std::vector<std::string> live;
  for (auto& name : steps) {
    auto it = jobs.find(name);
    if (it != jobs.end() && IsLive(it->second)) live.push_back(it->second.job_id);
  }
  return QueueStates(live, states);
}

Status RefuseLiveJobs(const std::string& data_dir, const std::vector<std::string>& steps) {
  StepJobs jobs;
  INLOOP_RETURN_IF_ERROR(LoadStepJobs(data_dir, &jobs));
  std::map<std::string, std::string> queue;
  Status s = QueueOfLiveJobs(jobs, steps, &queue);
  if (!s.ok()) {
    fmt::print(stderr, "inloop: warning: {} (not checked whether the steps' Slurm jobs still run)\n", s.message());
    return Status::OK();
  }
  for (auto& name : steps) {
    auto it = jobs.find(name);
    if (it == jobs.end() || !queue.count(it->second.job_id)) continue;
    return Status::Invalid(fmt::format(
        "data step '{}' is being built by Slurm job {} ({}): let it finish (`inloop data status` "
        "follows it) or scancel it before running the pipeline here", name, it->second.job_id,
        queue[it->second.job_id]));
  }
  return Status::OK();
}

}  // namespace inloop::data
