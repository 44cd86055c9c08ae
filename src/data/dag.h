// Dag: the order of a pipeline's steps. A step depends on the step that produces each of its
// inputs; an input no step produces is a source file that must exist. Building fails with one
// line naming the problem: a cycle (with its steps), two producers of one output, an unknown
// target step. Pure: no files are read.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "data/step_spec.h"

namespace inloop::data {

struct Dag {
  std::vector<int> order;                    // topological, ties by declaration order
  std::vector<std::vector<int>> deps;        // deps[i]: the steps producing step i's inputs
  std::vector<std::vector<int>> dependents;  // the reverse
  std::map<std::string, int> producer;       // output path -> step index
};

Status BuildDag(const PipelineSpec& spec, Dag* out);

// The steps to consider for `targets` (step names; empty = all): the targets and every step they
// depend on, in topological order. NotFound names an unknown step.
Status SelectSteps(const PipelineSpec& spec, const Dag& dag, const std::vector<std::string>& targets,
                   std::vector<int>* out);

// Expands the argv template: an element that is exactly "{inputs}" / "{outputs}" becomes every
// input / output as its own element; "{inputs[N]}" / "{outputs[N]}" one of them. Never a shell:
// a template inside a larger element ("--in={inputs}") is Invalid, as is an index out of range.
Status ExpandCommand(const StepSpec& step, std::vector<std::string>* argv);

}  // namespace inloop::data
