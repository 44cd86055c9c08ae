// Lineage from the manifest (what built what) and the store's data_read events (who read it).
#include "data/lineage.h"

#include <set>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "data/dag.h"
#include "data/data_read.h"
#include "data/manifest.h"
#include "store/store.h"

namespace inloop::data {

Status BuildLineage(const PipelineSpec& spec, const std::string& project_dir,
                    const std::string& store_dir, const std::string& output, Lineage* out) {
  *out = Lineage{};
  Dag dag;
  INLOOP_RETURN_IF_ERROR(BuildDag(spec, &dag));
  std::string abs = AbsolutePath(output, ".");
  std::string path;
  for (auto& [p, i] : dag.producer) {
    if (p == output || AbsolutePath(p, project_dir) == abs) path = p;
  }
  if (path.empty()) {
    return Status::NotFound(fmt::format("no data step produces '{}': give an output path as "
                                        "[[data.step]] outputs name it", output));
  }
  out->output = path;
  Manifest m;
  INLOOP_RETURN_IF_ERROR(LoadManifest(DataDir(project_dir), &m));
  std::vector<std::pair<std::string, int>> todo = {{path, 0}};
  std::set<std::string> seen_steps, seen_sources;
  while (!todo.empty()) {
    auto [p, depth] = todo.front();
    todo.erase(todo.begin());
    auto it = dag.producer.find(p);
    if (it == dag.producer.end()) {
      if (seen_sources.insert(p).second) out->source_files.push_back(p);
      continue;
    }
    const StepSpec& s = spec.steps[it->second];
    if (!seen_steps.insert(s.name).second) continue;
    LineageStep ls;
    ls.step = s.name;
    ls.depth = depth;
    auto rec = m.steps.find(s.name);
    if (rec != m.steps.end()) {
      ls.run_id = rec->second.run_id;
      ls.status = rec->second.status;
      ls.inputs = rec->second.inputs;
      for (auto& o : rec->second.outputs) ls.outputs.emplace_back(o.path, o.sha256);
    } else {
      ls.status = "never built";
      for (auto& in : s.inputs) ls.inputs.emplace_back(in, "");
    }
    for (auto& in : s.inputs) todo.emplace_back(in, depth + 1);
    out->chain.push_back(std::move(ls));
  }
  if (!out->chain.empty()) {
    for (auto& [p, h] : out->chain[0].outputs) {
      if (p == path) out->sha256 = h;
    }
  }
  for (int d : dag.dependents[dag.producer[path]]) {
    for (auto& in : spec.steps[d].inputs) {
      if (in == path) out->consuming_steps.push_back(spec.steps[d].name);
    }
  }
  std::unique_ptr<store::Store> st;
  if (!store::Store::Open(store_dir, false, &st).ok()) return Status::OK();  // no runs yet
  std::vector<store::EventRecord> reads;
  INLOOP_RETURN_IF_ERROR(st->ListEventsOfKind(kDataReadEvent, &reads));
  std::string target = AbsolutePath(path, project_dir);
  std::set<std::string> runs;
  for (auto& e : reads) {
    DataRead r;
    if (!ParseDataRead(e.data_json, &r) || r.path != target || !runs.insert(e.run_id).second) continue;
    LineageConsumer c;
    c.run_id = e.run_id;
    c.source = r.source;
    c.sha256 = r.sha256;
    c.current = !r.sha256.empty() && r.sha256 == out->sha256;
    store::RunRecord run;
    if (st->FindRun(e.run_id, &run).ok()) {
      c.run_name = run.name;
      c.run_status = run.status;
    }
    if (c.run_name.rfind("data.", 0) == 0) continue;  // a step's run: consuming_steps has it
    out->consumers.push_back(std::move(c));
  }
  return Status::OK();
}

std::string LineageJson(const Lineage& l) {
  JsonWriter w;
  auto files = [&](const std::vector<std::pair<std::string, std::string>>& v) {
    w.BeginArray();
    for (auto& [p, h] : v) w.BeginObject().Key("path").String(p).Key("sha256").String(h).EndObject();
    w.EndArray();
  };
  w.BeginObject().Key("output").String(l.output).Key("sha256").String(l.sha256).Key("chain").BeginArray();
  for (auto& s : l.chain) {
    w.BeginObject().Key("step").String(s.step).Key("depth").Int(s.depth).Key("run_id").String(s.run_id);
    w.Key("status").String(s.status).Key("inputs");
    files(s.inputs);
    w.Key("outputs");
    files(s.outputs);
    w.EndObject();
  }
  w.EndArray().Key("source_files").BeginArray();
  for (auto& s : l.source_files) w.String(s);
  w.EndArray().Key("consuming_steps").BeginArray();
  for (auto& s : l.consuming_steps) w.String(s);
  w.EndArray().Key("consumers").BeginArray();
  for (auto& c : l.consumers) {
    w.BeginObject().Key("run_id").String(c.run_id).Key("run_name").String(c.run_name);
    w.Key("run_status").String(c.run_status).Key("source").String(c.source);
    w.Key("sha256").String(c.sha256).Key("current").Bool(c.current).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace inloop::data
