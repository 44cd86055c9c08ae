// Store-wide event reads that cut across runs (the dashboard's loop view reads every
// `loop_round` event). Read only; the per-run reads stay in Store::ListEvents.
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/catalog.h"
#include "store/store.h"

namespace inloop::store {

// Every event of `kind`, of any run (and of none), oldest first (by time, then id).
Status ListEventsOfKind(Store* st, std::string_view kind, std::vector<EventRecord>* out);

}  // namespace inloop::store
