// Which of a run's events a human timeline shows (`inloop events`, the dashboard's run panel).
// Some events are bookkeeping, not things that happened: `data_batches` (the data index,
// docs/data.md) arrives before every logged step and would bury the findings and remedies, so it
// is hidden by default and counted instead. A filter naming kinds shows just those; `all` shows
// everything. Pure: no store, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "store/catalog.h"

namespace inloop::report {

// True for the kinds a timeline hides unless asked for (data_batches).
bool IsBookkeepingEvent(std::string_view kind);

struct TimelineFilter {
  std::vector<std::string> kinds;  // show only these kinds (empty: every kind but bookkeeping)
  bool all = false;                // show every event, bookkeeping included
};

struct FilteredTimeline {
  std::vector<store::EventRecord> shown;  // in the original order
  std::map<std::string, int64_t> hidden;  // bookkeeping kind -> events hidden by default
};

FilteredTimeline FilterTimeline(std::vector<store::EventRecord> events, const TimelineFilter& f);

// "(1,234 data_batches events hidden; --kind data_batches or --all to show)", or "" when
// nothing was hidden. Several kinds are listed in kind order, joined by ", ".
std::string HiddenEventsLine(const std::map<std::string, int64_t>& hidden);

}  // namespace inloop::report
