// The hidden `loop-slot` verb: runs one slot's task and exits; its progress lines go to stderr
// like the loop's own.
#include "cli/loop_slot_cmd.h"

#include <memory>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "loop/parallel_slot.h"

namespace inloop::cli {

void AddLoopSlotVerb(CLI::App& app, VerbTable* verbs) {
  auto request = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("loop-slot", "internal: one slot of `inloop loop run --parallel`");
  cmd->group("");  // hidden from --help
  cmd->add_option("request", *request, "the slot's request file")->required();
  verbs->Add(cmd, [request]() {
    Status s = loop::RunSlotTask(*request, [](const std::string& line) {
      fmt::print(stderr, "inloop loop: {}\n", line);
    });
    if (!s.ok()) {
      fmt::print(stderr, "inloop: error: loop slot: {}\n", s.message());
      return kExitUsage;
    }
    return kExitOk;
  });
}

}  // namespace inloop::cli
