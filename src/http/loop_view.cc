// Loop rounds from `loop_round` events (loop_view.h).
#include "http/loop_view.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <map>
#include <optional>
#include <vector>

#include "common/json_fields.h"
#include "common/json_writer.h"
#include "http/json_views.h"
#include "http/server_metrics.h"
#include "loop/throughput.h"

namespace inloop::http {
namespace {

struct Round {
  int64_t number = 0;
  std::string verdict;
  std::optional<double> metric;
  std::string commit;
  std::string parent;  // a demoted round: the reference the champion went back to
  std::string run_id;
  std::string record_json;  // as stored
  double time = 0;
};

struct Loop {
  std::string name, metric_key, goal, branch;
  std::vector<Round> rounds;  // in the order they finished; a new baseline starts over
};

// Every loop in the store, by name. Events that do not parse are skipped (the view is advice;
// the repository's rounds.jsonl stays the record).
Status LoadLoops(store::Store* st, std::map<std::string, Loop>* loops) {
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEventsOfKind("loop_round", &events));
  simdjson::dom::parser parser;
  for (const auto& ev : events) {
    simdjson::dom::element root, rec;
    if (parser.parse(ev.data_json).get(root) != simdjson::SUCCESS) continue;
    if (root["record"].get(rec) != simdjson::SUCCESS || !rec.is_object()) continue;
    std::string name = JsonString(root, "loop");
    if (name.empty()) continue;
    Loop& loop = (*loops)[name];
    loop.name = name;
    loop.metric_key = JsonString(root, "metric_key");
    loop.goal = JsonString(root, "goal");
    loop.branch = JsonString(root, "branch");
    Round r;
    int64_t n = 0;
    if (rec["round"].get(n) == simdjson::SUCCESS) r.number = n;
    r.verdict = JsonString(rec, "verdict");
    double m = 0;
    if (rec["metric"].get(m) == simdjson::SUCCESS) r.metric = m;
    r.commit = JsonString(rec, "commit");
    r.parent = JsonString(rec, "parent");
    r.run_id = JsonString(rec, "run_id");
    r.record_json = simdjson::minify(rec);
    r.time = ev.time;
    if (r.verdict == "baseline") loop.rounds.clear();  // `loop init --replace` started over
    loop.rounds.push_back(std::move(r));
  }
  return Status::OK();
}

loop::Throughput ThroughputOf(const Loop& loop) {
  std::vector<loop::RoundRecord> records;
  for (const Round& r : loop.rounds) {
    loop::RoundRecord rec;
    if (loop::ParseRoundJson(r.record_json, &rec).ok()) records.push_back(std::move(rec));
  }
  return loop::ComputeThroughput(records);
}

// Indexes into rounds of the champions in order: the baseline, then every kept round.
std::vector<size_t> Lineage(const Loop& loop) {
  std::vector<size_t> out;
  for (size_t i = 0; i < loop.rounds.size(); ++i) {
    const std::string& v = loop.rounds[i].verdict;
    if (v == "baseline" || v == "kept") out.push_back(i);
    if (v == "demoted") {  // loop/recheck.h: back to the reference
      while (out.size() > 1 && loop.rounds[out.back()].commit != loop.rounds[i].parent) out.pop_back();
    }
  }
  return out;
}

void OptNumber(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) w.Number(*v); else w.Null();
}

}  // namespace

HttpResponse ListLoops(store::Store* st) {
  std::map<std::string, Loop> loops;
  Status s = LoadLoops(st, &loops);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  w.BeginObject().Key("loops").BeginArray();
  for (const auto& [name, loop] : loops) {
    std::map<std::string, int64_t> counts;
    std::optional<double> baseline;
    for (const Round& r : loop.rounds) {
      ++counts[r.verdict];
      if (r.verdict == "baseline") baseline = r.metric;
    }
    w.BeginObject().Key("name").String(name).Key("metric_key").String(loop.metric_key);
    w.Key("goal").String(loop.goal).Key("branch").String(loop.branch);
    w.Key("rounds").Int(static_cast<int64_t>(loop.rounds.size()));
    for (const char* v : {"kept", "discarded", "failed", "rejected", "interrupted", "tampered",
                          "rechecked", "demoted"}) {
      w.Key(v).Int(counts[v]);
    }
    OptNumber(w, "baseline", baseline);
    std::vector<size_t> lineage = Lineage(loop);
    w.Key("champion");
    if (lineage.empty()) {
      w.Null();
    } else {
      const Round& c = loop.rounds[lineage.back()];
      w.BeginObject().Key("round").Int(c.number);
      OptNumber(w, "metric", c.metric);
      w.Key("commit").String(c.commit).Key("run_id").String(c.run_id).EndObject();
    }
    w.Key("throughput");
    loop::WriteThroughputJson(ThroughputOf(loop), &w);
    w.Key("last_at").Number(loop.rounds.empty() ? 0 : loop.rounds.back().time);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

HttpResponse LoopRounds(store::Store* st, const std::string& name) {
  std::map<std::string, Loop> loops;
  Status s = LoadLoops(st, &loops);
  if (!s.ok()) return ErrorFor(s);
  auto it = loops.find(name);
  if (it == loops.end()) {
    return JsonError(404, fmt::format("no research loop named '{}' has recorded a round in this "
                                      "store (see GET /api/v1/loops)", name.substr(0, 200)));
  }
  const Loop& loop = it->second;
  JsonWriter w;
  w.BeginObject().Key("name").String(loop.name).Key("metric_key").String(loop.metric_key);
  w.Key("goal").String(loop.goal).Key("branch").String(loop.branch);
  w.Key("rounds").BeginArray();
  for (const Round& r : loop.rounds) {
    // The stored record with the time it was recorded added.
    std::string rec = r.record_json;
    if (rec.size() >= 2 && rec.back() == '}') {
      rec.pop_back();
      rec += fmt::format("{}\"time\":{}}}", rec.size() > 1 ? "," : "", JsonNumber(r.time));
    }
    WriteStoredJson(w, rec, "{}");
  }
  w.EndArray().Key("lineage").BeginArray();
  for (size_t i : Lineage(loop)) w.Int(loop.rounds[i].number);
  w.EndArray().EndObject();
  return JsonResponse(w.Take());
}

std::string LoopMetricsText(store::Store* st) {
  std::map<std::string, Loop> loops;
  if (!LoadLoops(st, &loops).ok() || loops.empty()) return "";
  struct Gauge {
    const char* name;
    const char* help;
    double (*get)(const loop::Throughput&);
  };
  static const Gauge kGauges[] = {
      {"inloop_loop_experiments_per_hour", "Research-loop rounds judged per hour of loop time",
       [](const loop::Throughput& t) { return t.experiments_per_hour; }},
      {"inloop_loop_kept_per_hour", "Research-loop improvements kept per hour of loop time",
       [](const loop::Throughput& t) { return t.kept_per_hour; }},
      {"inloop_loop_experiments", "Research-loop rounds judged",
       [](const loop::Throughput& t) { return static_cast<double>(t.experiments); }},
      {"inloop_loop_kept", "Research-loop improvements kept",
       [](const loop::Throughput& t) { return static_cast<double>(t.kept); }},
      {"inloop_loop_cpu_hours", "CPU-hours the loop's rounds used",
       [](const loop::Throughput& t) { return t.cpu_hours; }},
      {"inloop_loop_gpu_hours", "GPU-hours of the loop's rounds that were given a device",
       [](const loop::Throughput& t) { return t.gpu_hours; }},
  };
  std::map<std::string, loop::Throughput> pace;
  for (const auto& [name, loop] : loops) pace[name] = ThroughputOf(loop);
  std::string out;
  for (const Gauge& g : kGauges) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", g.name, g.help, g.name);
    for (const auto& [name, t] : pace) {
      out += fmt::format("{}{{loop=\"{}\"}} {}\n", g.name, PrometheusLabelValue(name),
                         JsonNumber(g.get(t)));
    }
  }
  out += "# HELP inloop_loop_cpu_hours_per_kept CPU-hours per kept improvement\n"
         "# TYPE inloop_loop_cpu_hours_per_kept gauge\n";
  for (const auto& [name, t] : pace) {
    if (t.cpu_hours_per_kept) {
      out += fmt::format("inloop_loop_cpu_hours_per_kept{{loop=\"{}\"}} {}\n",
                         PrometheusLabelValue(name), JsonNumber(*t.cpu_hours_per_kept));
    }
  }
  out += "# HELP inloop_loop_gpu_hours_per_kept GPU-hours per kept improvement\n"
         "# TYPE inloop_loop_gpu_hours_per_kept gauge\n";
  for (const auto& [name, t] : pace) {
    if (t.gpu_hours_per_kept) {
      out += fmt::format("inloop_loop_gpu_hours_per_kept{{loop=\"{}\"}} {}\n",
                         PrometheusLabelValue(name), JsonNumber(*t.gpu_hours_per_kept));
    }
  }
  return out;
}

}  // namespace inloop::http
