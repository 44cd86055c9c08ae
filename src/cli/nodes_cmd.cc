// `inloop nodes [--json]`: the lemon-node ledger, Slurm nodes with the hardware faults runs saw
// on them (node_fault events across every run of the store), most faults first.
#include <fmt/format.h>

#include <memory>

#include "assist/http_client.h"
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

Status ReadServerNodeLedger(const std::string& url, const std::string& token,
                            std::vector<slurm::NodeFaults>* ledger) {
  ledger->clear();
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  assist::HttpRequest req;
  req.url = base + "/api/v1/nodes";
  req.get = true;
  if (!token.empty()) req.headers.push_back("Authorization: Bearer " + token);
  req.connect_timeout_s = 5;
  req.idle_timeout_s = 30;
  req.total_timeout_s = 60;
  std::string body;
  assist::HttpResponse resp;
  assist::HttpResult r = assist::HttpPost(
      req,
      [&body](const assist::HttpResponse&, std::string_view piece) {
        body.append(piece);
        return body.size() < (64u << 20);
      },
      &resp);
  if (r.failure == assist::HttpFailure::kBadUrl) {
    return Status::Invalid(fmt::format("--server {}: {}", url, r.message));
  }
  if (r.failure != assist::HttpFailure::kNone) {
    return Status::Io(fmt::format("cannot reach {} for the lemon-node ledger: {}", req.url,
                                  r.message));
  }
  if (resp.status < 200 || resp.status >= 300) {
    std::string err = resp.error_body.substr(0, 300);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    return Status::Invalid(fmt::format(
        "{} answered HTTP {} instead of the lemon-node ledger{}{}; check --server and --token",
        req.url, resp.status, err.empty() ? "" : ": ", err));
  }
  if (!slurm::LedgerFromJson(body, ledger)) {
    return Status::Invalid(fmt::format(
        "{} did not answer with a lemon-node ledger ({{\"nodes\": [...]}}); is --server an "
        "`inloop serve`?",
        req.url));
  }
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
