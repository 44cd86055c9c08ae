// The steps of one candidate round (round_steps.h), moved out of loop_runner.cc unchanged so
// that the slots of parallel rounds and `loop submit` measure exactly as the sequential loop.
#include "loop/round_steps.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "audit/diff_audit.h"
#include "common/file_io.h"
#include "common/json_writer.h"
#include "config/config.h"
#include "loop/tamper.h"
#include "registry/registry.h"
#include "query/series_query.h"
#include "stats/distributions.h"
#include "store/store.h"
#include "supervise/supervisor.h"

namespace inloop::loop {
namespace fs = std::filesystem;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double MeanOf(const std::vector<Sample>& v) {
  double s = 0;
  for (auto& x : v) s += x.value;
  return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
}

std::optional<double> SdOf(const std::vector<Sample>& v) {
  if (v.size() < 2) return std::nullopt;
  double m = MeanOf(v), ss = 0;
  for (auto& x : v) ss += (x.value - m) * (x.value - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::optional<double> GatePValue(const GateDecision& d, const GateConfig& g) {
  if (!d.noise_known || !(d.se > 0) || d.df <= 0) return std::nullopt;
  return 1.0 - stats::StudentTCdf((d.gain - g.min_gain) / d.se, d.df);
}

GateConfig GateOf(const LoopConfig& c) {
  GateConfig g;
  g.minimize = c.minimize;
  g.alpha = c.alpha;
  g.min_gain = c.min_gain;
  g.max_seeds = c.max_seeds;
  return g;
}

RunResult RunOnce(const LoopConfig& cfg, int64_t round, int64_t seed, const ParamValues& params,
                  const std::string& label, pthread_t signal_thread,
                  const std::vector<std::pair<std::string, std::string>>& extra_env) {
  RunResult r;
  config::Config file_cfg;
  Status s = config::ResolveConfig("", &file_cfg);
  supervise::SupervisorOptions so;
  std::string seed_text = std::to_string(seed);
  for (auto arg : cfg.command) {
    arg = ReplaceAll(arg, "{seed}", seed_text);
    arg = ReplaceAll(arg, "{round}", std::to_string(round));
    for (auto& [k, v] : params) arg = ReplaceAll(arg, "{" + k + "}", v);
    so.command.push_back(arg);
  }
  so.name = fmt::format("loop-{}-{}-s{}", cfg.name, label, seed);
  so.store_dir = cfg.store_dir;
  so.grace_seconds = cfg.grace_s;
  if (s.ok()) {
    so.patterns = file_cfg.patterns;
    so.detect = file_cfg.detect;
    so.remedy = file_cfg.remedy;
    so.parse_lines_with_sdk = file_cfg.parse_lines_with_sdk;
    so.config_path = file_cfg.path;
  }
  so.extra_env = {{"INLOOP_SEED", seed_text},
                  {"INLOOP_LOOP_ROUND", std::to_string(round)},
                  {"INLOOP_LOOP_BUDGET_S", fmt::format("{:g}", cfg.budget_s)}};
  for (auto& [k, v] : params) so.extra_env.emplace_back(ParamEnvName(k), v);
  for (auto& kv : extra_env) so.extra_env.push_back(kv);
  if (!s.ok()) {
    r.reason = s.message();
    return r;
  }
  // The budget: a timer that stops the run the way Ctrl-C would.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> fired{false};
  // The timer thread must not take any signal (SIGCHLD above all: the supervisor reads it from
  // its signalfd), so it starts with every signal blocked.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  std::thread timer([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::duration<double>(cfg.budget_s), [&] { return done; })) {
      fired = true;
      pthread_kill(signal_thread, SIGTERM);
    }
  });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  supervise::RunOutcome outcome;
  Status ss = supervise::Supervise(so, &outcome);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  timer.join();
  if (fired) {  // a SIGTERM the supervisor did not consume is ours, not the user's
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGTERM);
    timespec zero{0, 0};
    sigtimedwait(&m, nullptr, &zero);
  }
  r.run_id = outcome.run_id;
  if (!ss.ok()) {
    r.reason = ss.message();
    return r;
  }
  if (!r.run_id.empty()) {
    std::unique_ptr<store::Store> store;
    if (store::Store::Open(cfg.store_dir, false, &store).ok()) {
      (void)store->AddTags(r.run_id, {"loop:" + cfg.name, fmt::format("loop-round:{}", round)});
    }
  }
  if (fired) {
    r.reason = fmt::format("over the time budget of {:g}s: stopped", cfg.budget_s);
    return r;
  }
  if (outcome.status == store::kStopped) {
    r.interrupted = true;
    r.reason = "interrupted";
    return r;
  }
  if (outcome.store_failed) {
    r.reason = "the store failed: " + outcome.store_error;
    return r;
  }
  if (outcome.status != store::kFinished || outcome.exit_code != 0) {
    r.reason = fmt::format("the run {} (exit code {}{})", outcome.status, outcome.exit_code,
                           outcome.stop_reason.empty() ? "" : "; " + outcome.stop_reason);
    return r;
  }
  if (!cfg.eval_command.empty()) {
    r.ok = MetricFromEvaluation(cfg, round, seed, r.run_id, &r.value, &r.tampered, &r.reason);
    return r;
  }
  std::unique_ptr<store::Store> store;
  Status os = store::Store::Open(cfg.store_dir, false, &store);
  query::SeriesResult res;
  if (os.ok()) os = query::QuerySeries(store.get(), r.run_id, cfg.metric, {}, &res);
  if (!os.ok()) {
    r.reason = os.code() == Status::Code::kNotFound
                   ? fmt::format("the run logged no {}", cfg.metric)
                   : os.message();
    return r;
  }
  for (auto it = res.points.rbegin(); it != res.points.rend(); ++it) {
    if (std::isfinite(it->value)) {
      r.ok = true;
      r.value = it->value;
      return r;
    }
  }
  r.reason = fmt::format("no finite value of {} (the run diverged?)", cfg.metric);
  return r;
}

void AddVerdictEvent(const LoopConfig& cfg, const GateConfig& gate,
                     const std::vector<Sample>& champion, const RoundRecord& rec,
                     const GateDecision* d) {
  std::unique_ptr<store::Store> store;
  if (!store::Store::Open(cfg.store_dir, false, &store).ok()) return;
  store::EventRecord e;
  // A round refused before it ran (a protected path, too large a diff) has no run: its verdict
  // is an event of the loop alone.
  e.run_id = rec.run_ids.empty() ? "" : rec.run_ids.front();
  e.time = NowSeconds();
  e.kind = "loop_verdict";
  e.severity = rec.verdict == kKept ? "info"
               : rec.verdict == kFailed || rec.verdict == kTampered ? "error" : "warning";
  e.message = fmt::format("loop {} round {}: {} ({})", cfg.name, rec.round, rec.verdict,
                          rec.reason);
  JsonWriter w;
  w.BeginObject().Key("loop").String(cfg.name).Key("round").Int(rec.round);
  w.Key("verdict").String(rec.verdict).Key("metric_key").String(cfg.metric);
  w.Key("goal").String(cfg.minimize ? "min" : "max");
  w.Key("candidate").BeginArray();
  for (auto& s : rec.samples) w.Number(s.value);
  w.EndArray().Key("champion").BeginArray();
  for (auto& s : champion) w.Number(s.value);
  w.EndArray();
  if (d) {
    w.Key("candidate_mean").Number(d->candidate_mean).Key("champion_mean").Number(d->champion_mean);
    w.Key("gain").Number(d->gain).Key("noise_sd").Number(d->noise_sd).Key("se").Number(d->se);
    w.Key("critical").Number(d->critical).Key("threshold").Number(d->threshold);
    w.Key("df").Int(d->df).Key("alpha").Number(gate.alpha).Key("min_gain").Number(gate.min_gain);
  }
  w.Key("parent").String(rec.parent).Key("reason").String(rec.reason);
  w.Key("diff_path").String(rec.diff_path).EndObject();
  e.data_json = w.Take();
  (void)store->AddEvent(&e);
}

void RecordRoundInStore(const LoopConfig& cfg, const RoundRecord& rec) {
  std::unique_ptr<store::Store> store;
  if (!store::Store::Open(cfg.store_dir, false, &store).ok()) return;
  store::EventRecord e;
  e.run_id = rec.run_ids.empty() ? "" : rec.run_ids.front();
  e.time = NowSeconds();
  e.kind = "loop_round";
  e.severity = "info";
  e.message = fmt::format("loop {} round {}: {}", cfg.name, rec.round, rec.verdict);
  JsonWriter w;
  w.BeginObject().Key("loop").String(cfg.name).Key("metric_key").String(cfg.metric);
  w.Key("goal").String(cfg.minimize ? "min" : "max").Key("branch").String(cfg.branch);
  w.Key("record");
  WriteRoundJson(rec, &w);
  if (rec.verdict == kKept && !cfg.register_as.empty() && !rec.run_ids.empty()) {
    // The new champion goes into the model registry as a candidate; its promotion to the
    // registry's champion stays behind the registry's gate (eval evidence or an override).
    registry::RegisterOptions ro;
    ro.by = fmt::format("loop {} round {}", cfg.name, rec.round);
    store::ModelVersionRecord v;
    Status rs = registry::RegisterRun(store.get(), rec.run_ids.front(), cfg.register_as, ro, &v);
    w.Key("registered").BeginObject().Key("model").String(cfg.register_as);
    if (rs.ok()) {
      w.Key("version").Int(v.version);
      e.message += fmt::format("; registered as {} v{}", cfg.register_as, v.version);
    } else {
      w.Key("error").String(rs.message());
      e.message += fmt::format("; not registered as {}: {}", cfg.register_as, rs.message());
    }
    w.EndObject();
  }
  w.EndObject();
  e.data_json = w.Take();
  (void)store->AddEvent(&e);
}


namespace {

// The change is audited before it runs (audit/diff_audit.h): a critical finding rejects the
// round; the others stay on the round's record and are shown under --approve.
void AuditRoundDiff(const LoopConfig& cfg, const std::string& diff, const SayFn& say,
                    RoundRecord* rec) {
  audit::DiffAuditOptions ao;
  ao.metric_key = cfg.metric;
  for (const audit::Finding& f : audit::AuditDiff(diff, ao)) {
    rec->audit.push_back(fmt::format("{} {} {}:{}: {}", audit::SeverityName(f.severity), f.rule,
                                     f.file, f.line, f.message));
    if (f.severity == audit::Severity::kCritical && rec->verdict.empty()) {
      rec->verdict = IsTamperRule(f.rule, cfg) ? kTampered : kRejected;
      rec->reason = fmt::format("audit: {} ({}:{}, {})", f.message, f.file, f.line, f.rule);
    }
  }
  if (!rec->audit.empty()) {
    if (say) say(fmt::format("round {}: the audit of the change found {} thing(s){}", rec->round,
                    rec->audit.size(), rec->verdict.empty() ? "" : ": " + rec->verdict));
  }
}

Status SaveDiff(const GitRepo& repo, const LoopConfig& cfg, int64_t round,
                const std::string& base, std::string* rel, std::string* diff) {
  INLOOP_RETURN_IF_ERROR(repo.StagedDiff(base, diff));
  *rel = fmt::format("loops/{}/round-{:04d}.diff", cfg.name, round);
  std::string abs = cfg.store_dir + "/" + *rel;
  std::error_code ec;
  fs::create_directories(fs::path(abs).parent_path(), ec);
  return WriteFileAtomically(abs, *diff);
}

}  // namespace

bool CheckEvaluation(const LoopPaths& paths, const LoopConfig& cfg, const std::string& repo_top,
                     RoundRecord* rec) {
  if (!HasEvaluation(cfg) && cfg.eval_fingerprint.empty()) return false;
  LoopConfig on_disk;
  if (!LoadConfig(paths, &on_disk).ok()) on_disk = LoopConfig{};
  std::vector<std::string> evidence = TamperedPaths(rec->changed_files, cfg);
  for (auto& e : VerifyEvaluation(cfg, repo_top, on_disk)) evidence.push_back(e);
  if (evidence.empty()) return false;
  if (ConfigJson(on_disk) != ConfigJson(cfg)) (void)SaveConfig(paths, cfg);  // ours: put back
  rec->verdict = kTampered;
  rec->reason = "tampered: " + evidence.front() +
                (evidence.size() > 1 ? fmt::format(" (and {} more)", evidence.size() - 1) : "");
  for (auto& e : evidence) rec->tamper.push_back(e);
  return true;
}

Status CheckChange(const GitRepo& repo, const LoopPaths& paths, const LoopConfig& cfg,
                   const std::string& base, bool allow_empty, const SayFn& say, RoundRecord* rec) {
  INLOOP_RETURN_IF_ERROR(repo.StageAgainst(base, &rec->changed_files, &rec->diff_lines));
  std::string diff;
  if (!rec->changed_files.empty()) {
    INLOOP_RETURN_IF_ERROR(SaveDiff(repo, cfg, rec->round, base, &rec->diff_path, &diff));
  }
  CheckEvaluation(paths, cfg, repo.top(), rec);
  std::string glob;
  for (auto& f : rec->changed_files) {
    if (rec->verdict.empty() && MatchesProtected(f, cfg.protected_globs, &glob)) {
      rec->verdict = kRejected;
      rec->reason = fmt::format("touches the protected path {} (matches '{}')", f, glob);
      break;
    }
  }
  if (rec->verdict.empty() && cfg.max_diff_lines > 0 && rec->diff_lines > cfg.max_diff_lines) {
    rec->verdict = kRejected;
    rec->reason = fmt::format("the diff has {} changed lines, over the limit of {}",
                              rec->diff_lines, cfg.max_diff_lines);
  }
  if (rec->verdict.empty() && !allow_empty && rec->changed_files.empty()) {
    rec->verdict = kRejected;
    rec->reason = "the agent changed nothing";
  }
  if (rec->verdict.empty() && !diff.empty()) AuditRoundDiff(cfg, diff, say, rec);
  return Status::OK();
}

std::optional<GateDecision> MeasureCandidate(const MeasureOptions& o, RoundRecord* rec,
                                             bool* interrupted) {
  *interrupted = false;
  const LoopConfig& cfg = *o.cfg;
  std::optional<GateDecision> decision;
  for (int i = 0; i < std::max(1, cfg.max_seeds); ++i) {
    int64_t seed = cfg.seed_base + i;
    if (o.say) o.say(fmt::format("round {}: run with seed {}", o.round, seed));
    RunResult r = RunOnce(cfg, o.round, seed, o.params, o.label, o.signal_thread, o.extra_env);
    if (!r.run_id.empty()) rec->run_ids.push_back(r.run_id);
    if (o.after_run) o.after_run();
    if (r.interrupted) {
      *interrupted = true;
      return decision;
    }
    if (r.tampered) {
      rec->verdict = kTampered;
      rec->reason = "tampered: " + r.reason;
      rec->tamper.push_back(r.reason);
    }
    // The run itself may have rewritten the evaluation.
    if (r.tampered || (o.evaluation_changed && o.evaluation_changed(rec))) break;
    if (!r.ok) {
      rec->verdict = kFailed;
      rec->reason = r.reason;
      break;
    }
    rec->samples.push_back({seed, r.value, r.run_id});
    std::vector<double> cand;
    for (auto& s : rec->samples) cand.push_back(s.value);
    decision = JudgeCandidate(o.gate, o.champion, cand);
    rec->metric = decision->candidate_mean;
    rec->gain = decision->gain;
    rec->threshold = decision->threshold;
    rec->p_value = GatePValue(*decision, o.gate);
    if (decision->noise_known) rec->noise_sd = decision->noise_sd;
    if (o.say) {
      o.say(fmt::format("round {}: {} = {:.6g}: {}", o.round, cfg.metric, r.value,
                        decision->reason));
    }
    if (decision->verdict == GateVerdict::kMoreSeeds) continue;
    rec->verdict = decision->verdict == GateVerdict::kKeep ? kKept : kDiscarded;
    rec->reason = decision->reason;
    break;
  }
  return decision;
}

Status WriteLoopHistory(const LoopPaths& paths, const LoopConfig& cfg, const LoopState& st,
                        int64_t round, const std::string& path) {
  std::vector<RoundRecord> rounds;
  INLOOP_RETURN_IF_ERROR(LoadRounds(paths, &rounds));
  JsonWriter w;
  w.BeginObject().Key("round").Int(round);
  w.Key("loop").BeginObject().Key("name").String(cfg.name).Key("metric").String(cfg.metric);
  w.Key("goal").String(cfg.minimize ? "min" : "max").Key("budget_s").Number(cfg.budget_s);
  w.Key("branch").String(cfg.branch).Key("program").String(cfg.program);
  w.Key("protected").BeginArray();
  for (auto& g : cfg.protected_globs) w.String(g);
  w.EndArray().Key("max_diff_lines").Int(cfg.max_diff_lines);
  w.Key("evaluation").BeginArray();  // tamper.h: changing these makes the round `tampered`
  for (auto& f : cfg.eval_files) w.String(f.path);
  w.EndArray().EndObject();
  w.Key("champion").BeginObject().Key("commit").String(st.champion_commit);
  w.Key("round").Int(st.champion_round).Key("metric").Number(MeanOf(st.champion_samples));
  w.Key("noise_sd");
  if (auto sd = SdOf(st.champion_samples)) w.Number(*sd); else w.Null();
  w.EndObject();
  w.Key("rounds").BeginArray();
  for (auto& r : rounds) WriteRoundJson(r, &w);
  w.EndArray().EndObject();
  return WriteFileAtomically(path.empty() ? paths.history() : path, w.Take() + "\n");
}

std::string KeptCommitMessage(const LoopConfig& cfg, const RoundRecord& rec) {
  std::string params;
  for (auto& [k, v] : rec.params) params += fmt::format("{}{}={}", params.empty() ? "" : " ", k, v);
  return fmt::format(
      "loop {} round {}: {} {:.6g} (gain {:.4g} over {:.6g})\n\n"
      "inloop-round: {}\ninloop-run: {}\ninloop-metric: {}={:.9g}\ninloop-gain: {:.9g}\n"
      "inloop-noise-sd: {:.6g}\ninloop-parent: {}\n{}",
      cfg.name, rec.round, cfg.metric, rec.metric.value_or(0), rec.gain.value_or(0),
      rec.champion_metric.value_or(0), rec.round,
      rec.run_ids.empty() ? "" : rec.run_ids.front(), cfg.metric, rec.metric.value_or(0),
      rec.gain.value_or(0), rec.noise_sd.value_or(0), rec.parent,
      params.empty() ? "" : "inloop-params: " + params + "\n");
}

}  // namespace inloop::loop
