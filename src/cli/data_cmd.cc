// `inloop data run [STEP...] [--slurm]`, `inloop data exec-step STEP` (a Slurm job's body),
// `inloop data status`, `inloop data lineage OUTPUT`, `inloop data
// quarantine OUTPUT --lines A-B | --from-run RUN`: the config's pipeline run, assessed, traced and pruned (src/data/). Text for people on stdout (progress on stderr),
// or one JSON document with --json. Exit codes: 0, kExitDataFailed when a step failed, was
// invalid or blocked (run) or is stale (status --check), else the error's.
#include "cli/data_cmd.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verb_table.h"
#include "common/json_writer.h"
#include "config/config.h"
#include "data/data_read.h"
#include "data/lineage.h"
#include "data/quarantine.h"
#include "data/validate.h"
#include "data/runner.h"
#include "data/slurm_executor.h"
#include "data/slurm_step.h"
#include "report/run_report.h"
#include "store/store.h"

namespace inloop::cli {
namespace {

struct DataArgs {
  std::string store;
  std::string config_path;
  bool json = false;
  std::vector<std::string> steps;
  int jobs = 1;
  bool slurm = false;  // run: submit the steps as Slurm jobs
  bool local = false;  // run: here, whatever [data] executor says
  bool wait = false;   // run --slurm: until the jobs are done
  std::string partition, time, script_dir;
  std::string exec_step;  // exec-step: the step
  bool check = false;
  std::string output;
  std::string lines;   // quarantine
  std::string reason;  // quarantine
  std::string from_run;  // quarantine: the records behind a run's skipped data window
  bool all = false;      // quarantine --from-run: every record of the window, not the flagged ones
  std::string file;    // check
  std::string like;    // check: the output whose checks apply
};

struct Project {
  config::Config cfg;
  std::string dir = ".";
  std::string store;
};

int LoadProject(const DataArgs& a, Project* p) {
  Status s = config::ResolveConfig(a.config_path, &p->cfg);
  if (!s.ok()) return Fail(s);
  if (p->cfg.data.steps.empty()) {
    return Fail(Status::NotFound(
        "no [[data.step]] in the config (./inloop.toml or --config): see docs/data.md"));
  }
  if (!p->cfg.path.empty()) {
    std::string d = std::filesystem::path(p->cfg.path).parent_path().string();
    if (!d.empty()) p->dir = d;
  }
  p->store = ResolveStore(a.store, p->cfg.store);
  return 0;
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "inloop";
  return std::string(buf, static_cast<size_t>(n));
}

void WriteChecks(JsonWriter& w, const std::vector<data::CheckResult>& checks) {
  w.BeginArray();
  for (auto& c : checks) w.Raw(data::CheckResultJson(c));
  w.EndArray();
}

data::RunOptions RunOptionsFor(const DataArgs& a, const Project& p) {
  data::RunOptions o;
  o.project_dir = p.dir;
  o.store_dir = std::filesystem::absolute(p.store).string();
  o.config_path = p.cfg.path.empty() ? "" : std::filesystem::absolute(p.cfg.path).string();
  o.inloop_exe = SelfExe();
  o.jobs = a.jobs;
  o.targets = a.steps;
  o.progress = true;
  o.color = UseColor(2);
  return o;
}

void PrintRunJson(const data::PipelineOutcome& out) {
  JsonWriter w;
  w.BeginObject().Key("ok").Bool(out.ok).Key("steps").BeginArray();
  for (auto& st : out.steps) {
    w.BeginObject().Key("name").String(st.name).Key("state").String(st.state);
    w.Key("reason").String(st.reason).Key("run_id").String(st.run_id).Key("job_id").String(st.job_id);
    w.Key("exit_code").Int(st.exit_code).Key("seconds").Number(st.seconds).Key("outputs").BeginArray();
    for (auto& op : st.outputs) {
      w.BeginObject().Key("path").String(op.path).Key("sha256").String(op.sha256).Key("size").Int(op.size).EndObject();
    }
    w.EndArray().Key("checks");
    WriteChecks(w, st.checks);
    w.EndObject();
  }
  w.EndArray().EndObject();
  fmt::print("{}\n", w.str());
}

int CmdDataRun(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  if (a.slurm && a.local) return Fail(Status::Invalid("--slurm and --local contradict each other: give one"));
  bool slurm = a.slurm || (p.cfg.data.executor == "slurm" && !a.local);
  if (!slurm && (a.wait || !a.partition.empty() || !a.time.empty() || !a.script_dir.empty())) {
    return Fail(Status::Invalid("--wait, --partition, --time and --script-dir are for Slurm: add --slurm "
                                "(or set [data] executor = \"slurm\")"));
  }
  data::RunOptions o = RunOptionsFor(a, p);
  data::PipelineOutcome out;
  Status s;
  if (slurm) {
    o.project_dir = std::filesystem::absolute(p.dir).lexically_normal().string();  // the jobs' chdir
    if (o.project_dir.size() > 1 && o.project_dir.back() == '/') o.project_dir.pop_back();
    data::SlurmOptions so;
    so.partition = a.partition.empty() ? p.cfg.data.slurm_partition : a.partition;
    so.time = a.time.empty() ? p.cfg.data.slurm_time : a.time;
    so.script_dir = a.script_dir.empty() ? "" : std::filesystem::absolute(a.script_dir).string();
    so.wait = a.wait;
    s = data::SubmitPipeline(p.cfg.data, o, so, &out);
  } else {
    s = data::RunPipeline(p.cfg.data, o, &out);
  }
  if (!s.ok()) return Fail(s);
  if (a.json) {
    PrintRunJson(out);
  } else {
    int ran = 0, fresh = 0, queued = 0, bad = 0;
    for (auto& st : out.steps) {
      (st.state == "ran"                                    ? ran
       : st.state == "up_to_date"                           ? fresh
       : st.state == "submitted" || st.state == "in_flight" ? queued
                                                            : bad)++;
      for (auto& c : st.checks) {
        if (!c.passed) {
          fmt::print("  {} {}: {} {}{}: {}\n", st.name, c.severity == data::Severity::kError ? "ERROR" : "warning",
                     c.check, c.output, c.field.empty() ? "" : "." + c.field, c.message);
          for (auto& e : c.examples) fmt::print("      {}\n", e);
        }
      }
    }
    if (queued > 0) {
      fmt::print("{} steps: {} submitted or already queued as Slurm jobs, {} up to date, {} failed or "
                 "blocked (`inloop data status` follows them)\n", out.steps.size(), queued, fresh, bad);
    } else {
      fmt::print("{} steps: {} ran, {} up to date, {} failed or blocked\n", out.steps.size(), ran, fresh, bad);
    }
  }
  return out.ok ? 0 : kExitDataFailed;
}

// The body of a job `data run --slurm` submitted: one step, recorded by the job itself.
int CmdDataExecStep(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  data::RunOptions o = RunOptionsFor(a, p);
  const char* job = std::getenv("SLURM_JOB_ID");
  data::StepOutcome out;
  Status s = data::ExecStep(p.cfg.data, a.exec_step, o, job ? job : "", &out);
  if (!s.ok()) return Fail(s);
  return out.state == "ran" || out.state == "up_to_date" ? 0 : kExitDataFailed;
}

int CmdDataStatus(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  std::vector<data::StepStatus> st;
  Status s = data::PipelineStatus(p.cfg.data, p.dir, a.steps, &st);
  if (!s.ok()) return Fail(s);
  data::AddJobStatus(p.cfg.data, p.dir, &st);
  bool all = true;
  for (auto& x : st) all &= x.up_to_date;
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("up_to_date").Bool(all).Key("steps").BeginArray();
    for (auto& x : st) {
      w.BeginObject().Key("name").String(x.name).Key("up_to_date").Bool(x.up_to_date);
      w.Key("reason").String(x.reason).Key("run_id").String(x.run_id).Key("last_status").String(x.last_status);
      w.Key("job_id").String(x.job_id).Key("job_state").String(x.job_state).Key("job_reason").String(x.job_reason);
      w.EndObject();
    }
    w.EndArray().EndObject();
    fmt::print("{}\n", w.str());
  } else {
    bool color = UseColor(1);
    for (auto& x : st) {
      std::string state = x.up_to_date ? "up to date" : "stale";
      if (color) state = fmt::format("{}{}\033[0m", x.up_to_date ? "\033[32m" : "\033[33m", state);
      std::string job;
      if (x.job_state == "queued" || x.job_state == "running") {
        job = fmt::format("  [Slurm job {} {}]", x.job_id, x.job_state);
      } else if (!x.job_id.empty() && !x.up_to_date) {
        job = fmt::format("  [last Slurm job {}: {}{}]", x.job_id, x.job_state,
                          x.job_reason.empty() ? "" : ", " + x.job_reason);
      }
      fmt::print("{:<16} {}{}{}{}\n", x.name, state, x.reason.empty() ? "" : ": " + x.reason,
                 x.run_id.empty() ? "" : fmt::format("  (run {})", x.run_id), job);
    }
  }
  return a.check && !all ? kExitDataFailed : 0;
}

int CmdDataLineage(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  data::Lineage l;
  Status s = data::BuildLineage(p.cfg.data, p.dir, p.store, a.output, &l);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    fmt::print("{}\n", data::LineageJson(l));
    return 0;
  }
  auto short_hash = [](const std::string& h) { return h.empty() ? std::string("?") : h.substr(0, 12); };
  fmt::print("{} @ {}\n", l.output, short_hash(l.sha256));
  for (auto& st : l.chain) {
    std::string pad(2 * (st.depth + 1), ' ');
    fmt::print("{}<- step {} ({}{})\n", pad, st.step, st.status,
               st.run_id.empty() ? "" : ", run " + st.run_id);
    for (auto& [path, h] : st.inputs) fmt::print("{}     reads {} @ {}\n", pad, path, short_hash(h));
  }
  if (!l.source_files.empty()) {
    std::string s;
    for (auto& f : l.source_files) s += (s.empty() ? "" : ", ") + f;
    fmt::print("sources: {}\n", s);
  }
  if (!l.consuming_steps.empty()) {
    std::string s;
    for (auto& f : l.consuming_steps) s += (s.empty() ? "" : ", ") + f;
    fmt::print("read by steps: {}\n", s);
  }
  if (l.consumers.empty()) {
    fmt::print("consumed by: no runs yet\n");
  } else {
    fmt::print("consumed by:\n");
    for (auto& c : l.consumers) {
      fmt::print("  run {} {} ({}, via {}) read {}{}\n", c.run_id, c.run_name, c.run_status, c.source,
                 short_hash(c.sha256), c.current ? " (current)" : c.sha256.empty() ? "" : " (an older version)");
    }
  }
  return 0;
}

// What to quarantine: an output and its lines, with why.
struct QuarantineJob {
  std::string output;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::string reason;
};

// --from-run RUN: the records of the data windows the doctor skipped in RUN ("Data behind the
// spike" of its report), the flagged ones or (--all) every one.
Status JobsFromRun(const DataArgs& a, const Project& p, std::vector<QuarantineJob>* jobs) {
  std::unique_ptr<store::Store> st;
  INLOOP_RETURN_IF_ERROR(OpenStore(p.store, &st));
  report::ReportOptions o;
  o.run = a.from_run;
  o.auto_baseline = false;
  o.chart_columns = 1;
  report::RunReport r;
  INLOOP_RETURN_IF_ERROR(report::BuildRunReport(st.get(), o, &r));
  if (r.spike_data.empty()) {
    return Status::NotFound(fmt::format(
        "run {} has no skipped data window with a data index behind it (the doctor skipped no "
        "window, or the script did not call inloop.batch): nothing to quarantine", r.run.id));
  }
  for (auto& d : r.spike_data) {
    if (!d.error.empty()) return Status::NotFound(fmt::format("{}: {}", d.path, d.error));
    std::string output;
    for (auto& step : p.cfg.data.steps) {
      for (auto& out : step.outputs) {
        if (data::AbsolutePath(out, p.dir) == d.path) output = out;
      }
    }
    if (output.empty()) {
      return Status::NotFound(fmt::format("run {} read {}, which no [[data.step]] of this config "
                                          "produces: quarantine works on pipeline outputs", r.run.id, d.path));
    }
    std::vector<int64_t> recs = d.flagged;
    if (a.all) {
      recs.clear();
      for (auto& [lo, hi] : d.window) {
        for (int64_t i = lo; i < hi; ++i) recs.push_back(i);
      }
    }
    if (recs.empty()) {
      return Status::NotFound(fmt::format(
          "nothing in the skipped window of run {} stood out ({}): --all quarantines every record "
          "it read", r.run.id, d.summary));
    }
    QuarantineJob j;
    j.output = output;
    INLOOP_RETURN_IF_ERROR(data::ParseLineRanges(data::LineRangesText(recs), &j.ranges));
    j.reason = a.reason.empty() ? fmt::format("run {}: skipped data window; {}", r.run.id, d.summary) : a.reason;
    if (j.reason.size() > 300) j.reason = j.reason.substr(0, 297) + "...";
    jobs->push_back(std::move(j));
  }
  return Status::OK();
}

int CmdDataQuarantine(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  bool by_lines = !a.output.empty() || !a.lines.empty();
  if (a.from_run.empty() ? (a.output.empty() || a.lines.empty()) : by_lines) {
    return Fail(Status::Invalid("give OUTPUT --lines A-B, or --from-run RUN (the records of the data "
                                "window the doctor skipped)"));
  }
  std::vector<QuarantineJob> jobs;
  if (!a.from_run.empty()) {
    if (Status s = JobsFromRun(a, p, &jobs); !s.ok()) return Fail(s);
  } else {
    bool produced = false;
    for (auto& st : p.cfg.data.steps) {
      for (auto& o : st.outputs) produced |= (o == a.output);
    }
    if (!produced) {
      return Fail(Status::NotFound(fmt::format("no data step produces '{}': give an output path as "
                                               "[[data.step]] outputs name it", a.output)));
    }
    QuarantineJob j{a.output, {}, a.reason};
    if (Status s = data::ParseLineRanges(a.lines, &j.ranges); !s.ok()) return Fail(s);
    jobs.push_back(std::move(j));
  }
  std::string dir = data::DataDir(p.dir);
  data::QuarantineList q;
  Status s = data::LoadQuarantine(dir, &q);
  std::vector<int64_t> added(jobs.size(), 0);
  for (size_t i = 0; i < jobs.size() && s.ok(); ++i) {
    std::string path = std::filesystem::path(p.dir) / jobs[i].output;
    s = data::QuarantineLines(path, jobs[i].output, jobs[i].ranges, jobs[i].reason, &q, &added[i]);
  }
  if (s.ok()) s = data::SaveQuarantine(dir, q);
  if (!s.ok()) return Fail(s);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string& out = jobs[i].output;
    if (a.json) {
      JsonWriter w;
      w.BeginObject().Key("output").String(out).Key("added").Int(added[i]);
      w.Key("quarantined").Int(static_cast<int64_t>(q[out].size())).EndObject();
      fmt::print("{}\n", w.str());
    } else {
      fmt::print("{} records of {} quarantined ({} in all); the next `inloop data run` rebuilds it "
                 "without them\n", added[i], out, q[out].size());
    }
  }
  return 0;
}

// Runs the checks declared for output `like` on any file (drift left out): records picked out of a
// dataset, e.g. the ones a skipped training window read, held to the same checks.
int CmdDataCheck(const DataArgs& a) {
  Project p;
  if (int rc = LoadProject(a, &p)) return rc;
  const data::ValidationSpec* spec = nullptr;
  for (auto& st : p.cfg.data.steps) {
    for (auto& v : st.validate) {
      if (v.output == a.like) spec = &v;
    }
  }
  if (!spec) {
    return Fail(Status::NotFound(fmt::format(
        "no [[data.step.validate]] declares checks for '{}': --like names a validated output", a.like)));
  }
  data::ValidationSpec v = *spec;
  v.output = a.file;
  v.drift.enabled = false;
  v.rows.enabled = false;  // a sample, not the dataset
  std::vector<data::CheckResult> results;
  Status s = data::ValidateOutput(a.file, v, nullptr, &results, nullptr);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("file").String(a.file).Key("like").String(a.like).Key("checks");
    WriteChecks(w, results);
    w.EndObject();
    fmt::print("{}\n", w.str());
  } else {
    for (auto& c : results) {
      fmt::print("{:<8} {}{}: {}\n", c.passed ? "passed" : c.severity == data::Severity::kError ? "ERROR" : "warning",
                 c.check, c.field.empty() ? "" : "." + c.field, c.message);
      for (auto& e : c.examples) fmt::print("           {}\n", e);
    }
  }
  return data::AnyErrorFailed(results) ? kExitDataFailed : 0;
}

}  // namespace

void AddDataVerbs(CLI::App& app, VerbTable* verbs) {
  auto args = std::make_shared<DataArgs>();
  auto* data = app.add_subcommand("data", "data pipelines: [[data.step]] in inloop.toml (docs/data.md)");
  data->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--store", args->store, "store directory");
    c->add_option("--config", args->config_path, "inloop.toml (default ./inloop.toml)");
    c->add_flag("--json", args->json, "JSON output");
  };
  auto* run = data->add_subcommand("run", "build what is out of date, validating every output");
  common(run);
  run->add_option("steps", args->steps, "only these steps (and what they depend on)");
  run->add_option("--jobs,-j", args->jobs, "independent steps run at once (default 1)")->check(CLI::Range(1, 256));
  run->add_flag("--slurm", args->slurm, "submit each out-of-date step as a Slurm job (docs/data.md)");
  run->add_flag("--local", args->local, "run the steps here even if [data] executor = \"slurm\"");
  run->add_flag("--wait", args->wait, "--slurm: wait until the jobs are done and report what they recorded");
  run->add_option("--partition", args->partition, "--slurm: the jobs' partition (default [data.slurm] partition)");
  run->add_option("--time", args->time, "--slurm: each job's time limit (default [data.slurm] time)");
  run->add_option("--script-dir", args->script_dir,
                  "--slurm: where the sbatch scripts and the jobs' output go (default .inloop/data/slurm)");
  verbs->Add(run, [args] { return CmdDataRun(*args); });
  auto* exec = data->add_subcommand(
      "exec-step", "run one step as a Slurm job of `data run --slurm` does: assess, build, validate, record");
  common(exec);
  exec->add_option("step", args->exec_step, "the step's name")->required();
  verbs->Add(exec, [args] { return CmdDataExecStep(*args); });
  auto* status = data->add_subcommand("status", "each step: up to date, or stale and why");
  common(status);
  status->add_option("steps", args->steps, "only these steps (and what they depend on)");
  status->add_flag("--check", args->check, "exit non-zero when a step is stale");
  verbs->Add(status, [args] { return CmdDataStatus(*args); });
  auto* lineage = data->add_subcommand("lineage", "the steps, inputs and runs behind an output");
  common(lineage);
  lineage->add_option("output", args->output, "an output path as [[data.step]] names it")->required();
  verbs->Add(lineage, [args] { return CmdDataLineage(*args); });
  auto* quarantine = data->add_subcommand(
      "quarantine", "drop records (JSONL or text lines) of an output from its next version");
  common(quarantine);
  quarantine->add_option("output", args->output, "an output path as [[data.step]] names it");
  quarantine->add_option("--lines", args->lines, "1-based lines or ranges of the current version: 3-9,12");
  quarantine->add_option("--from-run", args->from_run,
                         "the records of the data window the doctor skipped in this run (the ones "
                         "`inloop report RUN` flags under \"Data behind the spike\")");
  quarantine->add_flag("--all", args->all, "with --from-run: every record the window read");
  quarantine->add_option("--reason", args->reason, "why (kept with the records)");
  verbs->Add(quarantine, [args] { return CmdDataQuarantine(*args); });
  auto* check = data->add_subcommand("check", "hold any file to the checks declared for an output");
  common(check);
  check->add_option("file", args->file, "the file to check")->required();
  check->add_option("--like", args->like, "the output whose [[data.step.validate]] checks apply")->required();
  verbs->Add(check, [args] { return CmdDataCheck(*args); });
}

}  // namespace inloop::cli
