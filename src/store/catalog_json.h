// JSON of catalog records that several views print the same way (`inloop show --json`, the
// assistant's show_run tool), so their fields and null handling cannot drift apart.
#pragma once

#include "common/json_writer.h"
#include "store/catalog.h"

namespace inloop::store {

// {"key","points","first_step","last_step","last","min","max","nonfinite","segments"}; min and
// max are null when the series has no finite value.
void WriteSeriesStatsJson(const SeriesStats& s, JsonWriter* w);

}  // namespace inloop::store
