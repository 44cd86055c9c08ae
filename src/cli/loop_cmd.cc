// `inloop loop init|run|status|log|show|best`: flags in, the loop module's calls, text or JSON
// out. Progress lines of `loop run` go to stderr; the rounds' table (or --json) to stdout. The
// approval question (--approve) is asked on the terminal, never guessed on a pipe.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/display_text.h"
#include "common/duration_text.h"
#include "common/file_io.h"
#include "common/json_writer.h"
#include "loop/loop_runner.h"
#include "loop/loop_tools.h"
#include "loop/parallel_driver.h"
#include "loop/tamper.h"
#include "loop/throughput.h"
#include "supervise/run_context.h"

namespace inloop::cli {
namespace {

using loop::LoopFailure;

int LoopFail(const Status& s, LoopFailure why) {
  fmt::print(stderr, "inloop: error: {}\n", s.message());
  switch (why) {
    case LoopFailure::kNoLoop: return kExitLoopNone;
    case LoopFailure::kDirtyTree: return kExitLoopDirtyTree;
    case LoopFailure::kGit: return kExitLoopGit;
    case LoopFailure::kInterrupted: return kExitLoopInterrupted;
    case LoopFailure::kNeedsApproval: return kExitLoopNeedsApproval;
    case LoopFailure::kBaselineFailed: return kExitLoopBaselineFailed;
    case LoopFailure::kBusy: return kExitLoopBusy;
    case LoopFailure::kNone: break;
  }
  return ExitCodeFor(s);
}

// "90", "90s", "5m", "2h", "1.5h" -> seconds; NaN when it does not parse.
double ParseSeconds(const std::string& text) {
  if (text.empty()) return std::nan("");
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string unit(end);
  if (end == text.c_str() || !std::isfinite(v) || v < 0) return std::nan("");
  if (unit.empty() || unit == "s") return v;
  if (unit == "m" || unit == "min") return v * 60;
  if (unit == "h") return v * 3600;
  return std::nan("");
}

// --until: "HH:MM" (the next such local time) or a duration from now ("30m").
double ParseUntil(const std::string& text) {
  int hh, mm;
  char extra;
  if (sscanf(text.c_str(), "%d:%d%c", &hh, &mm, &extra) == 2 && hh >= 0 && hh < 24 && mm >= 0 &&
      mm < 60) {
    time_t now = time(nullptr);
    struct tm t;
    localtime_r(&now, &t);
    t.tm_hour = hh;
    t.tm_min = mm;
    t.tm_sec = 0;
    time_t at = mktime(&t);
    if (at <= now) at += 24 * 3600;
    return static_cast<double>(at);
  }
  double d = ParseSeconds(text);
  return std::isnan(d) ? d : static_cast<double>(time(nullptr)) + d;
}

std::string Opt(const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : "-"; }
std::string Short(const std::string& sha) { return sha.substr(0, 10); }

void PrintRoundsTable(const std::vector<loop::RoundRecord>& rounds) {
  bool color = UseColor(1);
  fmt::print("{:>5}  {:<11} {:>12} {:>11}  {:<20} {:<10}  {}\n", "ROUND", "VERDICT", "METRIC",
             "GAIN", "RUN", "COMMIT", "REASON");
  for (auto& r : rounds) {
    std::string reason = r.reason;
    if (reason.size() > 90) reason = reason.substr(0, 87) + "...";
    fmt::print("{:>5}  {} {:>12} {:>11}  {:<20} {:<10}  {}\n", r.round,
               loop::PaintVerdict(r.verdict, color, 11),
               Opt(r.metric), Opt(r.gain), r.run_ids.empty() ? "-" : r.run_ids.front(),
               r.commit.empty() ? "-" : Short(r.commit), reason);
  }
}

void RoundsJson(const std::vector<loop::RoundRecord>& rounds, JsonWriter& w) {
  w.BeginArray();
  for (auto& r : rounds) loop::WriteRoundJson(r, &w);
  w.EndArray();
}

int Init(const LoopArgs& a) {
  loop::InitOptions o;
  o.cwd = supervise::CurrentDir();
  o.name = a.name;
  o.metric = a.metric;
  o.budget_s = ParseSeconds(a.budget);
  if (std::isnan(o.budget_s)) {
    fmt::print(stderr, "inloop: error: --budget {}: give a duration like 300, 90s, 5m or 1h\n", a.budget);
    return kExitUsage;
  }
  o.program = a.program;
  o.command = a.command;
  o.store_dir = ResolveStore(a.store_dir);
  o.protected_globs = a.protect;
  o.max_diff_lines = a.max_diff_lines;
  o.noise_seeds = a.seeds;
  o.max_seeds = a.max_seeds;
  o.alpha = a.alpha;
  o.min_gain = a.min_gain;
  o.seed_base = a.seed_base;
  o.max_rounds = a.max_rounds;
  o.grace_s = a.grace;
  o.replace = a.replace;
  o.eval_globs = a.eval_files;
  o.eval_command = a.eval_command;
  o.recheck_every = a.recheck_every;
  o.register_as = a.register_as;
  loop::LoopConfig c;
  LoopFailure why;
  Status s = loop::InitLoop(o, &c, &why);
  if (!s.ok()) return LoopFail(s, why);
  if (a.json) {
    std::string text = loop::ConfigJson(c);
    fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  fmt::print("loop '{}' on branch {} (from {}): {} ({}), budget {} per run\n", c.name, c.branch,
             Short(c.base_commit), c.metric, c.minimize ? "lower is better" : "higher is better",
             DurationText(c.budget_s));
  fmt::print("next: inloop loop run --agent 'CMD ...' | --search space.toml [--rounds N]\n");
  return kExitOk;
}

int Run(const LoopArgs& a) {
  if (a.agent.empty() == a.search.empty()) {
    fmt::print(stderr, "inloop: error: give exactly one proposer: --agent 'CMD ...' or "
                       "--search space.toml\n");
    return kExitUsage;
  }
  loop::RunOptions o;
  o.cwd = supervise::CurrentDir();
  o.agent = a.agent;
  o.search_path = a.search;
  o.rounds = a.rounds;
  if (!a.until.empty()) {
    o.until = ParseUntil(a.until);
    if (std::isnan(o.until)) {
      fmt::print(stderr, "inloop: error: --until {}: give HH:MM or a duration like 30m\n", a.until);
      return kExitUsage;
    }
  }
  o.agent_timeout_s = ParseSeconds(a.agent_timeout);
  if (std::isnan(o.agent_timeout_s)) {
    fmt::print(stderr, "inloop: error: --agent-timeout {}: give a duration like 20m\n",
               a.agent_timeout);
    return kExitUsage;
  }
  o.parallel = a.parallel;
  if (a.parallel > 1 && a.approve && !a.yes) {
    fmt::print(stderr, "inloop: error: --approve asks before each commit, one round at a time: "
                       "drop --parallel, or add --yes\n");
    return kExitUsage;
  }
  if (a.approve && !a.yes) {
    if (!isatty(0)) {
      fmt::print(stderr, "inloop: error: --approve asks before each commit, but stdin is not a "
                         "terminal: run it in one, or add --yes to keep without asking\n");
      return kExitLoopNeedsApproval;
    }
    o.confirm_keep = [](const loop::RoundRecord& r) {
      fmt::print(stderr, "\nround {} passed the gate: metric {} (gain {}), {} file(s): {}\n",
                 r.round, Opt(r.metric), Opt(r.gain), r.changed_files.size(),
                 fmt::join(r.changed_files, ", "));
      for (const std::string& a : r.audit) fmt::print(stderr, "  audit: {}\n", a);
      fmt::print(stderr, "commit it to the loop's branch? [y/N] ");
      std::string answer;
      if (!std::getline(std::cin, answer)) return false;
      return answer == "y" || answer == "Y" || answer == "yes";
    };
  }
  bool color = UseColor(2);
  o.say = [color](const std::string& line) {
    if (color) {
      fmt::print(stderr, "\033[1minloop loop:\033[0m {}\n", line);
    } else {
      fmt::print(stderr, "inloop loop: {}\n", line);
    }
  };
  loop::RunSummary sum;
  LoopFailure why;
  Status s = loop::RunLoop(o, &sum, &why);
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("ok").Bool(s.ok()).Key("stop_reason").String(sum.stop_reason);
    if (!s.ok()) w.Key("error").String(s.message());
    w.Key("rounds");
    RoundsJson(sum.rounds, w);
    w.EndObject();
    fmt::print("{}\n", w.str());
  } else if (!sum.rounds.empty()) {
    PrintRoundsTable(sum.rounds);
  }
  if (!s.ok()) return LoopFail(s, why);
  if (!a.json && !sum.stop_reason.empty()) fmt::print(stderr, "inloop loop: stopped: {}\n", sum.stop_reason);
  return kExitOk;
}

int Read(const LoopArgs& a) {
  loop::LoopView v;
  LoopFailure why;
  Status s = loop::LoadLoopView(supervise::CurrentDir(), &v, &why);
  if (!s.ok()) return LoopFail(s, why);
  if (a.verb == "status") {
    if (a.json) {
      fmt::print("{}\n", loop::LoopStatusJson(v));
      return kExitOk;
    }
    const auto& c = v.config;
    fmt::print("loop     {} on {} (from {})\n", c.name, c.branch, Short(c.base_commit));
    fmt::print("metric   {} ({}), budget {} per run, gate: {} champion seeds, up to {} "
               "candidate seeds, alpha {}, margin {}\n",
               c.metric, c.minimize ? "min" : "max", DurationText(c.budget_s), c.noise_seeds,
               c.max_seeds, c.alpha, c.min_gain);
    if (!c.protected_globs.empty()) fmt::print("protect  {}\n", fmt::join(c.protected_globs, " "));
    if (loop::HasEvaluation(c)) {
      fmt::print("eval     {} file(s) hashed at init{}{}\n", c.eval_files.size(),
                 c.eval_command.empty() ? "" : "; metric from: ",
                 c.eval_command.empty() ? "" : fmt::format("{}", fmt::join(c.eval_command, " ")));
    }
    fmt::print("recheck  {}\n", c.recheck_every > 0
                                   ? fmt::format("an unverified champion after {} round(s)", c.recheck_every)
                                   : std::string("off"));
    if (!c.register_as.empty()) {
      fmt::print("registry kept rounds become candidates of model {} (`inloop model show {}`)\n",
                 c.register_as, c.register_as);
    }
    if (v.state.baseline_done) {
      fmt::print("champion round {} ({}): {} {}{}\n", v.state.champion_round,
                 Short(v.state.champion_commit), c.metric, Opt(v.champion_metric),
                 v.noise_sd ? fmt::format(" (seed sd {:.3g} over {} runs)", *v.noise_sd,
                                          v.state.champion_samples.size())
                            : "");
    } else {
      fmt::print("champion none yet: the first `inloop loop run` measures the baseline\n");
    }
    std::map<std::string, int> n;
    for (auto& r : v.rounds) n[r.verdict]++;
    fmt::print("rounds   {} (kept {}, discarded {}, failed {}, rejected {}, interrupted {}, {} {}, "
               "rechecked {}, demoted {}{})\n",
               v.rounds.size(), n["kept"], n["discarded"], n["failed"], n["rejected"],
               n["interrupted"], loop::PaintVerdict("tampered", UseColor(1) && n["tampered"] > 0),
               n["tampered"], n["rechecked"], n["demoted"],
               n["conflict"] + n["stale"] > 0
                   ? fmt::format(", conflict {}, stale {}", n["conflict"], n["stale"])
                   : "");
    loop::Throughput t = loop::ComputeThroughput(v.rounds);
    if (t.hours > 0) {
      fmt::print("pace     {} experiment(s) in {:.2f} h: {:.3g}/h, kept {:.3g}/h; {:.3g} CPU-h{}{}\n",
                 t.experiments, t.hours, t.experiments_per_hour, t.kept_per_hour, t.cpu_hours,
                 t.gpu_hours > 0 ? fmt::format(", {:.3g} GPU-h", t.gpu_hours) : "",
                 t.cpu_hours_per_kept
                     ? fmt::format(" ({:.3g} CPU-h{} per kept improvement)", *t.cpu_hours_per_kept,
                                   t.gpu_hours_per_kept
                                       ? fmt::format(", {:.3g} GPU-h", *t.gpu_hours_per_kept)
                                       : "")
                     : "");
    }
    for (const loop::SlotJournal& j : loop::SlotsInFlight(v.paths)) {
      fmt::print("in flight slot {}: {} {} ({}): `inloop loop run` finishes or undoes it first\n",
                 j.slot, j.task == loop::kSlotChampion ? "champion re-run of round" : "round",
                 j.round, j.phase);
    }
    if (v.journal) {
      fmt::print("in flight round {} ({}): `inloop loop run` finishes or undoes it first\n",
                 v.journal->round, v.journal->phase);
    }
    return kExitOk;
  }
  if (a.verb == "log") {
    if (a.json) {
      JsonWriter w;
      RoundsJson(v.rounds, w);
      fmt::print("{}\n", w.str());
    } else if (v.rounds.empty()) {
      fmt::print("no rounds yet: inloop loop run --agent 'CMD ...' | --search space.toml\n");
    } else {
      PrintRoundsTable(v.rounds);
    }
    return kExitOk;
  }
  if (a.verb == "show") {
    const loop::RoundRecord* r = nullptr;
    for (auto& x : v.rounds) if (x.round == a.round) r = &x;
    if (!r) {
      fmt::print(stderr, "inloop: error: no round {} in loop '{}' ({} rounds: `inloop loop log`)\n",
                 a.round, v.config.name, v.rounds.size());
      return kExitNotFound;
    }
    std::string diff;
    if (!r->diff_path.empty()) (void)ReadFile(v.config.store_dir + "/" + r->diff_path, &diff);
    if (a.json) {
      JsonWriter w;
      w.BeginObject().Key("round");
      loop::WriteRoundJson(*r, &w);
      w.Key("diff").String(diff).EndObject();
      fmt::print("{}\n", w.str());
      return kExitOk;
    }
    fmt::print("round    {} ({}, proposer {})\n", r->round, loop::PaintVerdict(r->verdict, UseColor(1)),
               r->proposer);
    fmt::print("why      {}\n", r->reason);
    for (auto& t : r->tamper) fmt::print("tamper   {}\n", t);
    for (auto& s : r->reference_samples) {
      fmt::print("  reference seed {}: {} (run {})\n", s.seed, NumberText(s.value), s.run_id);
    }
    fmt::print("metric   {} (champion {}, gain {}, noise sd {}, threshold {})\n", Opt(r->metric),
               Opt(r->champion_metric), Opt(r->gain), Opt(r->noise_sd), Opt(r->threshold));
    for (auto& s : r->samples) fmt::print("  seed {}: {} (run {})\n", s.seed, NumberText(s.value), s.run_id);
    if (!r->run_ids.empty()) fmt::print("runs     {}\n", fmt::join(r->run_ids, " "));
    if (!r->params.empty()) {
      fmt::print("params  ");
      for (auto& [k, x] : r->params) fmt::print(" {}={}", k, x);
      fmt::print("\n");
    }
    fmt::print("parent   {}{}\n", Short(r->parent),
               r->commit.empty() ? "" : fmt::format("   commit {}", Short(r->commit)));
    if (!r->changed_files.empty()) {
      fmt::print("files    {} ({} lines)\n", fmt::join(r->changed_files, " "), r->diff_lines);
    }
    if (!diff.empty()) fmt::print("\n{}", diff);
    return kExitOk;
  }
  // best
  const loop::RoundRecord* champ = nullptr;
  for (auto& x : v.rounds) if (x.round == v.state.champion_round && (x.verdict == "kept" || x.verdict == "baseline")) champ = &x;
  if (!v.state.baseline_done || !champ) {
    fmt::print(stderr, "inloop: error: no champion yet: run `inloop loop run` first\n");
    return kExitNotFound;
  }
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("round").Int(champ->round).Key("commit").String(v.state.champion_commit);
    w.Key("metric_key").String(v.config.metric).Key("metric");
    if (v.champion_metric) w.Number(*v.champion_metric); else w.Null();
    w.Key("noise_sd");
    if (v.noise_sd) w.Number(*v.noise_sd); else w.Null();
    w.Key("run_ids").BeginArray();
    for (auto& s : v.state.champion_samples) w.String(s.run_id);
    w.EndArray().Key("params").BeginObject();
    for (auto& [k, x] : v.state.champion_params) w.Key(k).String(x);
    w.EndObject().EndObject();
    fmt::print("{}\n", w.str());
    return kExitOk;
  }
  fmt::print("best: round {} commit {}: {} {}{}\n", champ->round, Short(v.state.champion_commit),
             v.config.metric, Opt(v.champion_metric),
             v.noise_sd ? fmt::format(" (seed sd {:.3g})", *v.noise_sd) : "");
  if (!v.state.champion_params.empty()) {
    fmt::print("params");
    for (auto& [k, x] : v.state.champion_params) fmt::print(" {}={}", k, x);
    fmt::print("\n");
  }
  fmt::print("git diff {} {}\n", Short(v.config.base_commit), Short(v.state.champion_commit));
  return kExitOk;
}

}  // namespace

int CmdLoop(const LoopArgs& a) {
  if (a.verb == "init") return Init(a);
  if (a.verb == "run") return Run(a);
  return Read(a);
}

}  // namespace inloop::cli
