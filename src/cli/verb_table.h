// VerbTable: verbs that register themselves from their own file (`AddXxxVerbs(app, &table)`)
// instead of growing cli.cc. Each entry is a subcommand and the handler to call when the
// command line selected it; Main dispatches through Run after parsing.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace inloop::cli {

class VerbTable {
 public:
  using Handler = std::function<int()>;
  void Add(CLI::App* cmd, Handler handler) { verbs_.emplace_back(cmd, std::move(handler)); }
  // The exit code of the selected verb's handler, or nullopt when none of these was selected.
  std::optional<int> Run() const {
    for (const auto& [cmd, handler] : verbs_) {
      if (cmd->parsed()) return handler();
    }
    return std::nullopt;
  }

 private:
  std::vector<std::pair<CLI::App*, Handler>> verbs_;
};

}  // namespace inloop::cli
