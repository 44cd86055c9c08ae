// JSON in and out of the loop's files: JsonWriter to write, simdjson to read. Every write of a
// whole file is atomic (temp + rename); rounds.jsonl is appended with O_APPEND and fsync, and a
// torn last line (a crash mid-append) is skipped on read.
#include "loop/loop_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file_io.h"

namespace inloop::loop {
namespace {

using simdjson::dom::element;

void Strings(JsonWriter& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (auto& s : v) w.String(s);
  w.EndArray();
}

void Values(JsonWriter& w, const ParamValues& v) {
  w.BeginObject();
  for (auto& [k, x] : v) w.Key(k).String(x);
  w.EndObject();
}

void Samples(JsonWriter& w, const std::vector<Sample>& v) {
  w.BeginArray();
  for (auto& s : v) {
    w.BeginObject().Key("seed").Int(s.seed).Key("value").Number(s.value);
    w.Key("run_id").String(s.run_id).EndObject();
  }
  w.EndArray();
}

void Opt(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) w.Number(*v); else w.Null();
}

std::string Str(element e, const char* key) {
  std::string_view s;
  if (e[key].get(s)) return {};
  return std::string(s);
}
double Num(element e, const char* key, double def = 0) {
  double d;
  if (!e[key].get(d)) return d;
  int64_t i;
  if (!e[key].get(i)) return static_cast<double>(i);
  std::string_view s;  // "NaN" / "Infinity" per JsonWriter's convention
  if (!e[key].get(s)) {
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return INFINITY;
    if (s == "-Infinity") return -INFINITY;
  }
  return def;
}
std::optional<double> OptNum(element e, const char* key) {
  element v;
  if (e[key].get(v) || v.is_null()) return std::nullopt;
  return Num(e, key);
}
int64_t Int(element e, const char* key, int64_t def = 0) {
  int64_t i;
  if (!e[key].get(i)) return i;
  double d;
  if (!e[key].get(d)) return static_cast<int64_t>(d);
  return def;
}
bool Bool(element e, const char* key) {
  bool b;
  return !e[key].get(b) && b;
}
std::vector<std::string> StrList(element e, const char* key) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (e[key].get(a)) return out;
  for (element x : a) {
    std::string_view s;
    if (!x.get(s)) out.emplace_back(s);
  }
  return out;
}
ParamValues ValuesOf(element e, const char* key) {
  ParamValues out;
  simdjson::dom::object o;
  if (e[key].get(o)) return out;
  for (auto field : o) {
    std::string_view s;
    if (!field.value.get(s)) out.emplace_back(std::string(field.key), std::string(s));
  }
  return out;
}
std::vector<Sample> SamplesOf(element e, const char* key) {
  std::vector<Sample> out;
  simdjson::dom::array a;
  if (e[key].get(a)) return out;
  for (element x : a) out.push_back({Int(x, "seed"), Num(x, "value"), Str(x, "run_id")});
  return out;
}

RoundRecord RoundOf(element e) {
  RoundRecord r;
  r.round = Int(e, "round");
  r.verdict = Str(e, "verdict");
  r.proposer = Str(e, "proposer");
  r.reason = Str(e, "reason");
  r.samples = SamplesOf(e, "samples");
  r.run_ids = StrList(e, "run_ids");
  r.metric = OptNum(e, "metric");
  r.gain = OptNum(e, "gain");
  r.champion_metric = OptNum(e, "champion_metric");
  r.noise_sd = OptNum(e, "noise_sd");
  r.threshold = OptNum(e, "threshold");
  r.p_value = OptNum(e, "p_value");
  r.commit = Str(e, "commit");
  r.parent = Str(e, "parent");
  r.params = ValuesOf(e, "params");
  r.audit = StrList(e, "audit");
  r.tamper = StrList(e, "tamper");
  r.reference_samples = SamplesOf(e, "reference_samples");
  r.changed_files = StrList(e, "changed_files");
  r.diff_lines = Int(e, "diff_lines");
  r.diff_path = Str(e, "diff_path");
  r.started_at = Num(e, "started_at");
  r.ended_at = Num(e, "ended_at");
  r.cpu_s = Num(e, "cpu_s");
  r.device = Str(e, "device");
  return r;
}

Status ParseFile(const std::string& path, simdjson::dom::parser& parser, element* doc,
                 bool* missing) {
  std::string text;
  Status s = ReadFile(path, &text);
  *missing = s.code() == Status::Code::kNotFound;
  if (!s.ok()) return s;
  if (parser.parse(text).get(*doc)) {
    return Status::Corrupt(fmt::format("{}: not valid JSON (remove it, or run `inloop loop init "
                                       "--replace`)", path));
  }
  return Status::OK();
}

}  // namespace

std::string ConfigJson(const LoopConfig& c) {
  JsonWriter w;
  w.BeginObject().Key("format").Int(1).Key("name").String(c.name);
  w.Key("metric").String(c.metric).Key("goal").String(c.minimize ? "min" : "max");
  w.Key("budget_s").Number(c.budget_s).Key("program").String(c.program);
  w.Key("command");
  Strings(w, c.command);
  w.Key("branch").String(c.branch).Key("base_commit").String(c.base_commit);
  w.Key("workdir").String(c.workdir).Key("store").String(c.store_dir);
  w.Key("protected");
  Strings(w, c.protected_globs);
  w.Key("max_diff_lines").Int(c.max_diff_lines).Key("noise_seeds").Int(c.noise_seeds);
  w.Key("max_seeds").Int(c.max_seeds).Key("alpha").Number(c.alpha);
  w.Key("min_gain").Number(c.min_gain).Key("seed_base").Int(c.seed_base);
  w.Key("max_rounds").Int(c.max_rounds).Key("grace_s").Number(c.grace_s);
  w.Key("created_at").Number(c.created_at);
  w.Key("eval_globs");
  Strings(w, c.eval_globs);
  w.Key("eval_command");
  Strings(w, c.eval_command);
  w.Key("eval_files").BeginArray();
  for (auto& f : c.eval_files) w.BeginObject().Key("path").String(f.path).Key("sha256").String(f.sha256).EndObject();
  w.EndArray().Key("eval_fingerprint").String(c.eval_fingerprint);
  w.Key("recheck_every").Int(c.recheck_every).Key("register_as").String(c.register_as).EndObject();
  return w.Take() + "\n";
}

std::string StateJson(const LoopState& s) {
  JsonWriter w;
  w.BeginObject().Key("next_round").Int(s.next_round).Key("baseline_done").Bool(s.baseline_done);
  w.Key("champion_commit").String(s.champion_commit).Key("champion_round").Int(s.champion_round);
  w.Key("champion_samples");
  Samples(w, s.champion_samples);
  w.Key("champion_params");
  Values(w, s.champion_params);
  w.Key("recheck").BeginObject().Key("pending").Int(s.recheck.pending);
  w.Key("reference_commit").String(s.recheck.reference_commit);
  w.Key("reference_round").Int(s.recheck.reference_round).Key("reference_params");
  Values(w, s.recheck.reference_params);
  w.EndObject().EndObject();
  return w.Take() + "\n";
}

void WriteRoundJson(const RoundRecord& r, JsonWriter* wp) {
  JsonWriter& w = *wp;
  w.BeginObject().Key("round").Int(r.round).Key("verdict").String(r.verdict);
  w.Key("proposer").String(r.proposer).Key("reason").String(r.reason);
  w.Key("run_id").String(r.run_ids.empty() ? "" : r.run_ids.front());
  w.Key("run_ids");
  Strings(w, r.run_ids);
  w.Key("samples");
  Samples(w, r.samples);
  Opt(w, "metric", r.metric);
  Opt(w, "gain", r.gain);
  Opt(w, "champion_metric", r.champion_metric);
  Opt(w, "noise_sd", r.noise_sd);
  Opt(w, "threshold", r.threshold);
  Opt(w, "p_value", r.p_value);
  w.Key("commit").String(r.commit).Key("parent").String(r.parent);
  w.Key("params");
  Values(w, r.params);
  w.Key("changed_files");
  Strings(w, r.changed_files);
  w.Key("diff_lines").Int(r.diff_lines).Key("diff_path").String(r.diff_path);
  w.Key("audit");
  Strings(w, r.audit);
  w.Key("tamper");
  Strings(w, r.tamper);
  w.Key("reference_samples");
  Samples(w, r.reference_samples);
  w.Key("started_at").Number(r.started_at).Key("ended_at").Number(r.ended_at);
  w.Key("cpu_s").Number(r.cpu_s).Key("device").String(r.device);
  w.EndObject();
}

Status ParseRoundJson(const std::string& text, RoundRecord* r) {
  simdjson::dom::parser parser;
  element e;
  if (parser.parse(text).get(e) || !e.is_object()) {
    return Status::Corrupt("a loop round record is not a JSON object");
  }
  *r = RoundOf(e);
  return Status::OK();
}

std::string JournalJson(const Journal& j) {
  JsonWriter w;
  w.BeginObject().Key("round").Int(j.round).Key("phase").String(j.phase);
  w.Key("base").String(j.base).Key("branch").String(j.branch);
  w.Key("started_at").Number(j.started_at).Key("record");
  WriteRoundJson(j.record, &w);
  w.EndObject();
  return w.Take() + "\n";
}

Status LoadConfig(const LoopPaths& p, LoopConfig* c) {
  simdjson::dom::parser parser;
  element e;
  bool missing = false;
  Status s = ParseFile(p.config(), parser, &e, &missing);
  if (missing) {
    return Status::NotFound("no research loop in this repository: start one with `inloop loop "
                            "init --metric KEY:min --budget 5m -- CMD ...`");
  }
  INLOOP_RETURN_IF_ERROR(s);
  *c = LoopConfig{};
  c->name = Str(e, "name");
  c->metric = Str(e, "metric");
  c->minimize = Str(e, "goal") != "max";
  c->budget_s = Num(e, "budget_s", 300);
  c->program = Str(e, "program");
  c->command = StrList(e, "command");
  c->branch = Str(e, "branch");
  c->base_commit = Str(e, "base_commit");
  c->workdir = Str(e, "workdir");
  c->store_dir = Str(e, "store");
  c->protected_globs = StrList(e, "protected");
  c->max_diff_lines = Int(e, "max_diff_lines");
  c->noise_seeds = static_cast<int>(Int(e, "noise_seeds", 3));
  c->max_seeds = static_cast<int>(Int(e, "max_seeds", 3));
  c->alpha = Num(e, "alpha", 0.05);
  c->min_gain = Num(e, "min_gain");
  c->seed_base = Int(e, "seed_base");
  c->max_rounds = Int(e, "max_rounds");
  c->grace_s = Num(e, "grace_s", 10);
  c->created_at = Num(e, "created_at");
  c->eval_globs = StrList(e, "eval_globs");
  c->eval_command = StrList(e, "eval_command");
  simdjson::dom::array files;
  if (!e["eval_files"].get(files)) {
    for (element f : files) c->eval_files.push_back({Str(f, "path"), Str(f, "sha256")});
  }
  c->eval_fingerprint = Str(e, "eval_fingerprint");
  c->recheck_every = static_cast<int>(Int(e, "recheck_every", 0));  // older loops: off
  c->register_as = Str(e, "register_as");
  if (c->metric.empty() || c->command.empty() || c->branch.empty()) {
    return Status::Corrupt(fmt::format("{}: metric, command or branch missing", p.config()));
  }
  return Status::OK();
}

Status LoadState(const LoopPaths& p, LoopState* st) {
  simdjson::dom::parser parser;
  element e;
  bool missing = false;
  Status s = ParseFile(p.state(), parser, &e, &missing);
  *st = LoopState{};
  if (missing) return Status::OK();
  INLOOP_RETURN_IF_ERROR(s);
  st->next_round = Int(e, "next_round", 1);
  st->baseline_done = Bool(e, "baseline_done");
  st->champion_commit = Str(e, "champion_commit");
  st->champion_round = Int(e, "champion_round");
  st->champion_samples = SamplesOf(e, "champion_samples");
  st->champion_params = ValuesOf(e, "champion_params");
  element rc;
  if (!e["recheck"].get(rc)) {
    st->recheck.pending = Int(rc, "pending");
    st->recheck.reference_commit = Str(rc, "reference_commit");
    st->recheck.reference_round = Int(rc, "reference_round");
    st->recheck.reference_params = ValuesOf(rc, "reference_params");
  }
  return Status::OK();
}

Status LoadRounds(const LoopPaths& p, std::vector<RoundRecord>* rounds) {
  rounds->clear();
  std::string text;
  Status s = ReadFile(p.rounds(), &text);
  if (s.code() == Status::Code::kNotFound) return Status::OK();
  INLOOP_RETURN_IF_ERROR(s);
  simdjson::dom::parser parser;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    element e;
    if (line.empty() || parser.parse(line).get(e)) continue;  // a torn last line
    rounds->push_back(RoundOf(e));
  }
  return Status::OK();
}

Status LoadJournal(const LoopPaths& p, std::optional<Journal>* j) {
  j->reset();
  simdjson::dom::parser parser;
  element e;
  bool missing = false;
  Status s = ParseFile(p.journal(), parser, &e, &missing);
  if (missing) return Status::OK();
  INLOOP_RETURN_IF_ERROR(s);
  Journal jr;
  jr.round = Int(e, "round");
  jr.phase = Str(e, "phase");
  jr.base = Str(e, "base");
  jr.branch = Str(e, "branch");
  jr.started_at = Num(e, "started_at");
  element rec;
  if (!e["record"].get(rec)) jr.record = RoundOf(rec);
  *j = std::move(jr);
  return Status::OK();
}

Status SaveConfig(const LoopPaths& p, const LoopConfig& c) {
  return WriteFileAtomically(p.config(), ConfigJson(c));
}
Status SaveState(const LoopPaths& p, const LoopState& s) {
  return WriteFileAtomically(p.state(), StateJson(s));
}
Status SaveJournal(const LoopPaths& p, const Journal& j) {
  return WriteFileAtomically(p.journal(), JournalJson(j));
}
Status ClearJournal(const LoopPaths& p) {
  if (::unlink(p.journal().c_str()) != 0 && errno != ENOENT) {
    return Status::Io(fmt::format("{}: cannot remove: {}", p.journal(), strerror(errno)));
  }
  return Status::OK();
}

Status AppendRound(const LoopPaths& p, const RoundRecord& r) {
  JsonWriter w;
  WriteRoundJson(r, &w);
  std::string line = w.Take() + "\n";
  int fd = ::open(p.rounds().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", p.rounds(), strerror(errno)));
  Status s = WriteAll(fd, line, p.rounds());
  if (s.ok() && ::fsync(fd) != 0) s = Status::Io(fmt::format("{}: fsync failed", p.rounds()));
  ::close(fd);
  return s;
}

}  // namespace inloop::loop
