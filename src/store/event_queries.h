// Event reads beyond Store::ListEvents: across runs (the dashboard's loop view reads every
// `loop_round` event) and the events of a run after an id (the live stream's poll). All of them,
// Store::ListEvents included, read rows with ReadEventRows. Read only.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/catalog.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace inloop::store {

// The columns ReadEventRows expects, in its order, for a SELECT over the events table.
inline constexpr const char* kEventColumns =
    "id, run_id, time, kind, severity, step_lo, step_hi, message, data";
// Appends every row of a statement that selects kEventColumns to *out.
Status ReadEventRows(Stmt* s, std::vector<EventRecord>* out);

// Every event of `kind`, of any run (and of none), oldest first (by time, then id).
Status ListEventsOfKind(Store* st, std::string_view kind, std::vector<EventRecord>* out);
// The events of run_id with an id above after_id, in id order (what a poller has not seen).
Status ListEventsAfter(Store* st, const std::string& run_id, int64_t after_id,
                       std::vector<EventRecord>* out);

}  // namespace inloop::store
