// `inloop data run|status|lineage` (data_cmd.cc): data pipelines declared as [[data.step]] in
// inloop.toml (src/data/, docs/data.md). Registered through the VerbTable.
#pragma once

namespace CLI {
class App;
}

namespace inloop::cli {

class VerbTable;
void AddDataVerbs(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli
