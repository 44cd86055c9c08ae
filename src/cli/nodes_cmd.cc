// `inloop nodes [--json]`: the lemon-node ledger, Slurm nodes with the hardware faults runs saw
// on them (node_fault events across every run of the store), most faults first.
#include <fmt/format.h>

#include <memory>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/slurm_verbs.h"
#include "common/display_text.h"
#include "store/store.h"

namespace inloop::cli {
namespace {

struct NodesArgs {
  std::string store_dir;
  bool json = false;
  int exclude_after = 2;
};

int CmdNodes(const NodesArgs& a) {
  std::vector<slurm::NodeFaults> ledger;
  Status s = ReadNodeLedger(ResolveStore(a.store_dir), &ledger);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    fmt::print("{}\n", slurm::LedgerJson(ledger));
    return kExitOk;
  }
  if (ledger.empty()) {
    fmt::print("no node faults recorded (hardware faults of runs inside Slurm jobs land here)\n");
    return kExitOk;
  }
  fmt::print("{:<24} {:>6} {:>5}  {:<20} {}\n", "NODE", "FAULTS", "RUNS", "LAST", "CLASSES");
  for (const auto& n : ledger) {
    std::string classes;
    for (const auto& [cls, count] : n.classes) {
      classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", count, cls);
    }
    fmt::print("{:<24} {:>6} {:>5}  {:<20} {}{}\n", n.node, n.faults, n.runs,
               LocalTimeText(n.last_time), classes,
               n.faults >= a.exclude_after ? "  (excluded by inloop submit)" : "");
  }
  return kExitOk;
}

}  // namespace

Status ReadNodeLedger(const std::string& store_dir, std::vector<slurm::NodeFaults>* ledger) {
  ledger->clear();
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(store_dir, &st);
  if (s.code() == Status::Code::kNotFound) return Status::OK();
  INLOOP_RETURN_IF_ERROR(s);
  std::vector<store::EventRecord> events;
  INLOOP_RETURN_IF_ERROR(st->ListEventsOfKind(slurm::event_kind::kNodeFault, &events));
  *ledger = slurm::CountNodeFaults(events);
  return Status::OK();
}

void AddNodesVerb(CLI::App& app, VerbTable* verbs) {
  auto args = std::make_shared<NodesArgs>();
  auto* cmd = app.add_subcommand(
      "nodes", "the lemon-node ledger: Slurm nodes with the hardware faults runs saw on them");
  cmd->add_option("--store", args->store_dir, "store directory");
  cmd->add_flag("--json", args->json, "JSON output");
  cmd->add_option("--exclude-after", args->exclude_after,
                  "mark nodes with at least this many faults as excluded (default 2)")
      ->check(CLI::Range(1, 1000000));
  verbs->Add(cmd, [args] { return CmdNodes(*args); });
}

}  // namespace inloop::cli
