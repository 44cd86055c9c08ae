// Lineage of a pipeline output (`inloop data lineage OUTPUT`): the chain of steps that built it,
// back to the source files, each input and output with its content hash and the run that built
// it; the steps that read it; and the runs that consumed it ("data_read" events: the SDK's
// inloop.dataset and commands naming the file), with whether they read the current version.
// The pipeline's own step runs (named "data.STEP") are left out of the consumers: they are the
// consuming steps.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "data/step_spec.h"

namespace inloop::data {

struct LineageStep {
  std::string step;
  std::string run_id;
  std::string status;
  int depth = 0;  // 0: the step that built OUTPUT
  std::vector<std::pair<std::string, std::string>> inputs;   // path, sha256
  std::vector<std::pair<std::string, std::string>> outputs;  // path, sha256
};

struct LineageConsumer {
  std::string run_id, run_name, run_status;
  std::string source;  // "command" | "sdk"
  std::string sha256;  // the version it read, "" when unknown
  bool current = false;
};

struct Lineage {
  std::string output;
  std::string sha256;  // current version
  std::vector<LineageStep> chain;
  std::vector<std::string> source_files;
  std::vector<std::string> consuming_steps;
  std::vector<LineageConsumer> consumers;
};

// NotFound when no step produces `output` (a path as the config names it, or one that resolves
// to the same file).
Status BuildLineage(const PipelineSpec& spec, const std::string& project_dir,
                    const std::string& store_dir, const std::string& output, Lineage* out);

std::string LineageJson(const Lineage& l);

}  // namespace inloop::data
