// `inloop events RUN [--kind K]... [--all] [--json]` (events_cmd.cc): the run's timeline, with
// bookkeeping events (data_batches) hidden and counted unless asked for
// (report/timeline_filter.h). Registered through the VerbTable.
#pragma once

namespace CLI {
class App;
}

namespace inloop::cli {

class VerbTable;
void AddEventsVerbs(CLI::App& app, VerbTable* verbs);

}  // namespace inloop::cli
