// `inloop events`: the run's timeline (events_cmd.h).
#include "cli/events_cmd.h"

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verb_table.h"
#include "common/display_text.h"
#include "common/json_writer.h"
#include "report/timeline_filter.h"
#include "store/store.h"

namespace inloop::cli {
namespace {

struct EventsArgs {
  std::string store_dir, run_ref;
  report::TimelineFilter filter;
  bool json = false;
};

void PrintJson(const std::vector<store::EventRecord>& events) {
  JsonWriter w;
  w.BeginArray();
  for (auto& e : events) {
    w.BeginObject().Key("id").Int(e.id).Key("time").Number(e.time).Key("kind").String(e.kind);
    w.Key("severity").String(e.severity);
    w.Key("step_lo");
    if (e.step_lo) w.Int(*e.step_lo); else w.Null();
    w.Key("step_hi");
    if (e.step_hi) w.Int(*e.step_hi); else w.Null();
    w.Key("message").String(e.message).Key("data").Raw(e.data_json.empty() ? "{}" : e.data_json);
    w.EndObject();
  }
  w.EndArray();
  fmt::print("{}\n", w.str());
}

int CmdEvents(const EventsArgs& a) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  store::RunRecord r;
  std::vector<store::EventRecord> events;
  if (s.ok()) s = st->FindRun(a.run_ref, &r);
  if (s.ok()) s = st->ListEvents(r.id, &events);
  if (!s.ok()) return Fail(s);
  report::FilteredTimeline t = report::FilterTimeline(std::move(events), a.filter);
  if (a.json) {  // the same events; the hidden count goes to stderr so stdout stays one array
    PrintJson(t.shown);
    std::string hidden = report::HiddenEventsLine(t.hidden);
    if (!hidden.empty()) fmt::print(stderr, "{}\n", hidden);
    return kExitOk;
  }
  for (auto& e : t.shown) {
    std::string steps;
    if (e.step_lo) steps = e.step_hi && *e.step_hi != *e.step_lo
                               ? fmt::format(" steps {}-{}", *e.step_lo, *e.step_hi)
                               : fmt::format(" step {}", *e.step_lo);
    fmt::print("{}  {:<7} {:<18}{} {}\n", LocalTimeText(e.time), e.severity, e.kind, steps, e.message);
  }
  std::string hidden = report::HiddenEventsLine(t.hidden);
  if (!hidden.empty()) fmt::print("{}\n", hidden);
  if (t.shown.empty() && hidden.empty()) {
    if (a.filter.kinds.empty())
      fmt::print("no events for run {}\n", r.id);
    else
      fmt::print("no {} events for run {}\n", fmt::join(a.filter.kinds, " or "), r.id);
  }
  return kExitOk;
}

}  // namespace

void AddEventsVerbs(CLI::App& app, VerbTable* verbs) {
  auto args = std::make_shared<EventsArgs>();
  auto* cmd = app.add_subcommand(
      "events", "the run's timeline (data_batches, the data index, hidden unless asked for)");
  cmd->add_option("--store", args->store_dir, "store directory");
  cmd->add_flag("--json", args->json, "JSON output (an array; the hidden count goes to stderr)");
  cmd->add_option("--kind", args->filter.kinds,
                  "only events of this kind (repeatable), e.g. loss_spike or data_batches")
      ->allow_extra_args(false);
  cmd->add_flag("--all", args->filter.all, "every event, data_batches included");
  cmd->add_option("run", args->run_ref, "run id or name")->required();
  verbs->Add(cmd, [args] { return CmdEvents(*args); });
}

}  // namespace inloop::cli
