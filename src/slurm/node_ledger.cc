// The lemon-node ledger and the Slurm event payloads (node_ledger.h).
#include "slurm/node_ledger.h"

#include <algorithm>
#include <map>
#include <set>

#include <simdjson.h>

#include "common/json_writer.h"

namespace inloop::slurm {
namespace {

// Lenient reads of a JSON object's fields: a missing or mistyped one keeps its default.
class Fields {
 public:
  explicit Fields(std::string_view json) {
    if (json.empty()) return;
    simdjson::dom::element doc;
    if (parser_.parse(json.data(), json.size()).get(doc)) return;
    ok_ = !doc.get(obj_);
  }
  bool ok() const { return ok_; }
  void Text(std::string_view key, std::string* out) const {
    std::string_view s;
    if (ok_ && !obj_.at_key(key).get(s)) *out = std::string(s);
  }
  void Int(std::string_view key, int* out) const {
    int64_t i = 0;
    if (ok_ && !obj_.at_key(key).get(i)) *out = static_cast<int>(i);
  }
  void Bool(std::string_view key, bool* out) const {
    bool b = false;
    if (ok_ && !obj_.at_key(key).get(b)) *out = b;
  }
  void Texts(std::string_view key, std::vector<std::string>* out) const {
    simdjson::dom::array a;
    if (!ok_ || obj_.at_key(key).get(a)) return;
    for (auto e : a) {
      std::string_view s;
      if (!e.get(s)) out->emplace_back(s);
    }
  }

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::object obj_;
  bool ok_ = false;
};

}  // namespace

std::string ToJson(const NodeFaultData& d) {
  JsonWriter w;
  w.BeginObject().Key("node").String(d.node).Key("job_id").String(d.job_id);
  w.Key("class").String(d.crash_class).Key("attempt").Int(d.attempt).EndObject();
  return w.Take();
}

std::string ToJson(const SchedulerSignalData& d) {
  JsonWriter w;
  w.BeginObject().Key("signal").String(d.signal).Key("job_id").String(d.job_id);
  w.Key("node").String(d.node).Key("attempt").Int(d.attempt).EndObject();
  return w.Take();
}

std::string ToJson(const JobRequeuedData& d) {
  JsonWriter w;
  w.BeginObject().Key("job_id").String(d.job_id).Key("why").String(d.why);
  w.Key("exclude").BeginArray();
  for (const auto& n : d.exclude) w.String(n);
  w.EndArray().Key("ok").Bool(d.ok);
  if (!d.error.empty()) w.Key("error").String(d.error);
  w.EndObject();
  return w.Take();
}

bool FromJson(std::string_view json, NodeFaultData* d) {
  Fields f(json);
  f.Text("node", &d->node);
  f.Text("job_id", &d->job_id);
  f.Text("class", &d->crash_class);
  f.Int("attempt", &d->attempt);
  return f.ok();
}

bool FromJson(std::string_view json, SchedulerSignalData* d) {
  Fields f(json);
  f.Text("signal", &d->signal);
  f.Text("job_id", &d->job_id);
  f.Text("node", &d->node);
  f.Int("attempt", &d->attempt);
  return f.ok();
}

bool FromJson(std::string_view json, JobRequeuedData* d) {
  Fields f(json);
  f.Text("job_id", &d->job_id);
  f.Text("why", &d->why);
  f.Texts("exclude", &d->exclude);
  f.Bool("ok", &d->ok);
  f.Text("error", &d->error);
  return f.ok();
}

std::vector<NodeFaults> CountNodeFaults(const std::vector<store::EventRecord>& events) {
  struct Acc {
    int faults = 0;
    double last = 0;
    std::set<std::string> runs;
    std::map<std::string, int> classes;
  };
  std::map<std::string, Acc> by_node;
  for (const auto& e : events) {
    if (e.kind != event_kind::kNodeFault) continue;
    NodeFaultData d;
    if (!FromJson(e.data_json, &d) || d.node.empty()) continue;
    Acc& a = by_node[d.node];
    ++a.faults;
    a.last = std::max(a.last, e.time);
    a.runs.insert(e.run_id);
    ++a.classes[d.crash_class.empty() ? "unknown" : d.crash_class];
  }
  std::vector<NodeFaults> out;
  for (auto& [node, a] : by_node) {
    NodeFaults n;
    n.node = node;
    n.faults = a.faults;
    n.runs = static_cast<int>(a.runs.size());
    n.last_time = a.last;
    n.classes.assign(a.classes.begin(), a.classes.end());
    out.push_back(std::move(n));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const NodeFaults& x, const NodeFaults& y) { return x.faults > y.faults; });
  return out;
}

int FaultsOf(const std::vector<NodeFaults>& ledger, std::string_view node) {
  for (const auto& n : ledger) {
    if (n.node == node) return n.faults;
  }
  return 0;
}

std::vector<std::string> LemonNodes(const std::vector<NodeFaults>& ledger, int threshold) {
  std::vector<std::string> out;
  for (const auto& n : ledger) {
    if (n.faults >= std::max(1, threshold)) out.push_back(n.node);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string LedgerJson(const std::vector<NodeFaults>& ledger) {
  JsonWriter w;
  w.BeginArray();
  for (const auto& n : ledger) {
    w.BeginObject().Key("node").String(n.node).Key("faults").Int(n.faults);
    w.Key("runs").Int(n.runs).Key("last_time").Number(n.last_time).Key("classes").BeginObject();
    for (const auto& [cls, count] : n.classes) w.Key(cls).Int(count);
    w.EndObject().EndObject();
  }
  w.EndArray();
  return w.Take();
}

bool LedgerFromJson(std::string_view json, std::vector<NodeFaults>* ledger) {
  ledger->clear();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) return false;
  simdjson::dom::array nodes;
  simdjson::dom::object top;
  if (!doc.get(top)) {
    if (top["nodes"].get(nodes)) return false;
  } else if (doc.get(nodes)) {
    return false;
  }
  for (simdjson::dom::element e : nodes) {
    simdjson::dom::object o;
    std::string_view name;
    if (e.get(o) || o["node"].get(name) || name.empty()) continue;
    NodeFaults n;
    n.node = std::string(name);
    int64_t i = 0;
    if (!o["faults"].get(i)) n.faults = static_cast<int>(i);
    if (!o["runs"].get(i)) n.runs = static_cast<int>(i);
    double t = 0;
    if (!o["last_time"].get(t)) n.last_time = t;
    simdjson::dom::object classes;
    if (!o["classes"].get(classes)) {
      for (auto field : classes) {
        if (!field.value.get(i)) n.classes.emplace_back(std::string(field.key), static_cast<int>(i));
      }
    }
    ledger->push_back(std::move(n));
  }
  return true;
}

}  // namespace inloop::slurm
