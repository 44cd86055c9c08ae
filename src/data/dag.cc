// Kahn's algorithm over the producer relation, and the argv templating.
#include "data/dag.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace inloop::data {

const char* SeverityName(Severity s) { return s == Severity::kError ? "error" : "warn"; }

Status BuildDag(const PipelineSpec& spec, Dag* out) {
  *out = Dag{};
  const int n = static_cast<int>(spec.steps.size());
  for (int i = 0; i < n; ++i) {
    for (auto& o : spec.steps[i].outputs) {
      auto [it, fresh] = out->producer.emplace(o, i);
      if (!fresh) {
        return Status::Invalid(fmt::format(
            "data output '{}' is produced by two steps ('{}' and '{}'): give each output one producer",
            o, spec.steps[it->second].name, spec.steps[i].name));
      }
    }
  }
  out->deps.assign(n, {});
  out->dependents.assign(n, {});
  for (int i = 0; i < n; ++i) {
    std::set<int> seen;
    for (auto& in : spec.steps[i].inputs) {
      auto it = out->producer.find(in);
      if (it == out->producer.end()) continue;
      if (it->second == i) {
        return Status::Invalid(fmt::format("data step '{}' reads its own output '{}': a step cannot "
                                           "depend on itself", spec.steps[i].name, in));
      }
      if (seen.insert(it->second).second) {
        out->deps[i].push_back(it->second);
        out->dependents[it->second].push_back(i);
      }
    }
  }
  std::vector<int> indeg(n);
  for (int i = 0; i < n; ++i) indeg[i] = static_cast<int>(out->deps[i].size());
  std::set<int> ready;
  for (int i = 0; i < n; ++i) {
    if (indeg[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    int i = *ready.begin();
    ready.erase(ready.begin());
    out->order.push_back(i);
    for (int d : out->dependents[i]) {
      if (--indeg[d] == 0) ready.insert(d);
    }
  }
  if (static_cast<int>(out->order.size()) != n) {
    std::string names;
    for (int i = 0; i < n; ++i) {
      if (indeg[i] > 0) names += (names.empty() ? "" : ", ") + spec.steps[i].name;
    }
    return Status::Invalid(fmt::format(
        "the data steps form a cycle through {}: an output cannot feed back into its own inputs",
        names));
  }
  return Status::OK();
}

Status SelectSteps(const PipelineSpec& spec, const Dag& dag, const std::vector<std::string>& targets,
                   std::vector<int>* out) {
  out->clear();
  std::vector<bool> want(spec.steps.size(), targets.empty());
  std::vector<int> stack;
  for (auto& t : targets) {
    auto it = std::find_if(spec.steps.begin(), spec.steps.end(),
                           [&](const StepSpec& s) { return s.name == t; });
    if (it == spec.steps.end()) {
      std::string names;
      for (auto& s : spec.steps) names += (names.empty() ? "" : ", ") + s.name;
      return Status::NotFound(fmt::format("no data step named '{}' (steps: {})", t,
                                          names.empty() ? "none declared" : names));
    }
    stack.push_back(static_cast<int>(it - spec.steps.begin()));
  }
  while (!stack.empty()) {
    int i = stack.back();
    stack.pop_back();
    if (want[i]) continue;
    want[i] = true;
    for (int d : dag.deps[i]) stack.push_back(d);
  }
  for (int i : dag.order) {
    if (want[i]) out->push_back(i);
  }
  return Status::OK();
}

namespace {

// "{inputs[3]}" -> ("inputs", 3); "{inputs}" -> ("inputs", -1). False when not a template.
bool ParseTemplate(const std::string& a, std::string* list, int* index) {
  for (const char* name : {"inputs", "outputs"}) {
    std::string whole = fmt::format("{{{}}}", name);
    if (a == whole) {
      *list = name;
      *index = -1;
      return true;
    }
    std::string prefix = fmt::format("{{{}[", name);
    if (a.size() > prefix.size() + 2 && a.compare(0, prefix.size(), prefix) == 0 &&
        a.compare(a.size() - 2, 2, "]}") == 0) {
      std::string digits = a.substr(prefix.size(), a.size() - prefix.size() - 2);
      if (digits.empty() || digits.size() > 6 ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        return false;
      }
      *list = name;
      *index = std::stoi(digits);
      return true;
    }
  }
  return false;
}

}  // namespace

Status ExpandCommand(const StepSpec& step, std::vector<std::string>* argv) {
  argv->clear();
  for (auto& a : step.command) {
    std::string list;
    int index = 0;
    if (!ParseTemplate(a, &list, &index)) {
      if (a.find("{inputs") != std::string::npos || a.find("{outputs") != std::string::npos) {
        return Status::Invalid(fmt::format(
            "data step '{}': '{}' puts a template inside a larger argument; templates are whole "
            "arguments (\"{{inputs}}\", \"{{outputs[0]}}\") so no shell is ever involved",
            step.name, a));
      }
      argv->push_back(a);
      continue;
    }
    const auto& paths = list == "inputs" ? step.inputs : step.outputs;
    if (index < 0) {
      argv->insert(argv->end(), paths.begin(), paths.end());
    } else if (index < static_cast<int>(paths.size())) {
      argv->push_back(paths[index]);
    } else {
      return Status::Invalid(fmt::format("data step '{}': '{}' is out of range ({} {})", step.name,
                                         a, paths.size(), list));
    }
  }
  if (argv->empty()) return Status::Invalid(fmt::format("data step '{}': the command expands to nothing", step.name));
  return Status::OK();
}

}  // namespace inloop::data
