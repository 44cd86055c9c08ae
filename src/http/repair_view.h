// The dashboard's view of a run's repair (issue 15): GET /api/v1/runs/{id}/repair (the report's
// RepairView as JSON), and the abandoned points of a series (the steps a rollback or resume ran
// again, hidden from the stitched curve) that GET /api/v1/series adds with abandoned=1. Read only;
// no sockets, no SQL (the Store's public API and query::QuerySeries).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/router.h"
#include "store/store.h"

namespace inloop::http {

// GET /api/v1/runs/{id}/repair: report::WriteRepairViewJson of the run; 404 for an unknown run.
HttpResponse RunRepair(store::Store* st, const std::string& ref);

// The points of one segment that a later segment hides (steps at or past the later segment's
// first step), as [x, value] in the units of the aligned view's x.
struct AbandonedPart {
  int segment = 0;
  std::vector<std::pair<double, double>> points;
};

// The abandoned parts of run_id's series `key`, x one of "step", "time", "relative" (seconds since
// the stitched curve's first point, as the aligned view counts), restricted to [from, to] in the
// units of x and M4-downsampled to `width` columns each. A missing series has none (OK).
Status ReadAbandonedPoints(store::Store* st, const std::string& run_id, const std::string& key,
                           std::string_view x, std::optional<double> from,
                           std::optional<double> to, int width, std::vector<AbandonedPart>* out);

}  // namespace inloop::http
