// `inloop model register|list|show|promote` (model_cmd.cc): the model registry
// (registry/registry.h, docs/model_registry.md). Registered through the VerbTable.
#pragma once

namespace CLI {
class App;
}

namespace inloop::cli {

class VerbTable;
void AddModelVerbs(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli
