// loop_status as JSON and as a registered tool.
#include "loop/loop_tools.h"

#include <map>

#include "common/json_writer.h"
#include "loop/parallel_driver.h"
#include "loop/throughput.h"

namespace inloop::loop {
namespace {

void WriteStatus(const LoopView& v, JsonWriter& w) {
  const LoopConfig& c = v.config;
  w.Key("name").String(c.name).Key("branch").String(c.branch).Key("metric").String(c.metric);
  w.Key("goal").String(c.minimize ? "min" : "max").Key("budget_s").Number(c.budget_s);
  w.Key("base_commit").String(c.base_commit).Key("workdir").String(c.workdir);
  w.Key("store").String(c.store_dir).Key("program").String(c.program);
  w.Key("command").BeginArray();
  for (auto& a : c.command) w.String(a);
  w.EndArray().Key("protected").BeginArray();
  for (auto& g : c.protected_globs) w.String(g);
  w.EndArray().Key("max_diff_lines").Int(c.max_diff_lines);
  w.Key("gate").BeginObject().Key("noise_seeds").Int(c.noise_seeds);
  w.Key("max_seeds").Int(c.max_seeds).Key("alpha").Number(c.alpha);
  w.Key("min_gain").Number(c.min_gain).EndObject();
  w.Key("evaluation").BeginObject().Key("files").BeginArray();
  for (auto& f : c.eval_files) w.BeginObject().Key("path").String(f.path).Key("sha256").String(f.sha256).EndObject();
  w.EndArray().Key("command").BeginArray();
  for (auto& a : c.eval_command) w.String(a);
  w.EndArray().Key("fingerprint").String(c.eval_fingerprint).EndObject();
  w.Key("recheck").BeginObject().Key("every").Int(c.recheck_every);
  w.Key("reference_commit").String(v.state.recheck.reference_commit);
  w.Key("reference_round").Int(v.state.recheck.reference_round);
  w.Key("pending").Int(v.state.recheck.pending).EndObject();
  w.Key("champion");
  if (v.state.baseline_done) {
    w.BeginObject().Key("round").Int(v.state.champion_round);
    w.Key("commit").String(v.state.champion_commit).Key("metric");
    if (v.champion_metric) w.Number(*v.champion_metric); else w.Null();
    w.Key("noise_sd");
    if (v.noise_sd) w.Number(*v.noise_sd); else w.Null();
    w.Key("samples").BeginArray();
    for (auto& s : v.state.champion_samples) {
      w.BeginObject().Key("seed").Int(s.seed).Key("value").Number(s.value);
      w.Key("run_id").String(s.run_id).EndObject();
    }
    w.EndArray().Key("params").BeginObject();
    for (auto& [k, x] : v.state.champion_params) w.Key(k).String(x);
    w.EndObject().EndObject();
  } else {
    w.Null();
  }
  std::map<std::string, int64_t> counts;
  for (auto& r : v.rounds) counts[r.verdict]++;
  w.Key("rounds").BeginObject().Key("total").Int(static_cast<int64_t>(v.rounds.size()));
  for (const char* k : {kBaseline, kKept, kDiscarded, kFailed, kRejected, kInterruptedRound,
                        kTampered, kRechecked, kDemoted, kConflict, kStale}) {
    w.Key(k).Int(counts[k]);
  }
  w.EndObject().Key("throughput");
  WriteThroughputJson(ComputeThroughput(v.rounds), &w);
  w.Key("next_round").Int(v.state.next_round).Key("in_flight");
  if (v.journal) {
    w.BeginObject().Key("round").Int(v.journal->round).Key("phase").String(v.journal->phase);
    w.Key("base").String(v.journal->base).EndObject();
  } else {
    w.Null();
  }
  // Rounds in flight in the slots of a `loop run --parallel` (or left by a killed one).
  w.Key("slots_in_flight").BeginArray();
  for (const SlotJournal& j : SlotsInFlight(v.paths)) {
    w.BeginObject().Key("slot").Int(j.slot).Key("round").Int(j.round).Key("task").String(j.task);
    w.Key("phase").String(j.phase).Key("base").String(j.base).EndObject();
  }
  w.EndArray();
}

}  // namespace

std::string LoopStatusJson(const LoopView& v) {
  JsonWriter w;
  w.BeginObject();
  WriteStatus(v, w);
  w.EndObject();
  return w.Take();
}

void RegisterLoopTools(assist::ToolRegistry* r, const std::string& dir) {
  r->Register(assist::Tool{
      "loop_status",
      "The research loop of this repository (inloop loop): its metric and goal, the champion "
      "(commit, metric, seed noise), counts of kept/discarded/failed/rejected/tampered/demoted "
      "rounds, the declared evaluation and re-check settings, the round "
      "in flight, and the last rounds with their verdicts, metrics, gains and commits.",
      assist::ObjectArg("", {{"last", false, assist::IntegerArg("how many of the latest rounds "
                                                                "to list (default 10)", 0, 1000)}}),
      [dir](assist::ToolContext&, const assist::ToolArgs& args, std::string* out) -> Status {
        LoopView v;
        LoopFailure why;
        INLOOP_RETURN_IF_ERROR(LoadLoopView(dir, &v, &why));
        int64_t last = args.Int("last").value_or(10);
        JsonWriter w;
        w.BeginObject();
        WriteStatus(v, w);
        w.Key("last_rounds").BeginArray();
        size_t from = v.rounds.size() > static_cast<size_t>(last)
                          ? v.rounds.size() - static_cast<size_t>(last) : 0;
        for (size_t i = from; i < v.rounds.size(); ++i) WriteRoundJson(v.rounds[i], &w);
        w.EndArray().EndObject();
        *out = w.Take();
        return Status::OK();
      }});
}

}  // namespace inloop::loop
