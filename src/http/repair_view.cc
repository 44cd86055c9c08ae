// The repair view's endpoint and the abandoned points of a series (repair_view.h).
#include "http/repair_view.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/json_writer.h"
#include "query/series_query.h"
#include "report/repair_view.h"

namespace inloop::http {

HttpResponse RunRepair(store::Store* st, const std::string& ref) {
  report::RepairView v;
  Status s = report::BuildRepairView(st, ref, &v);
  if (!s.ok()) return ErrorFor(s);
  JsonWriter w;
  report::WriteRepairViewJson(v, &w);
  return JsonResponse(w.Take());
}

Status ReadAbandonedPoints(store::Store* st, const std::string& run_id, const std::string& key,
                           std::string_view x, std::optional<double> from,
                           std::optional<double> to, int width, std::vector<AbandonedPart>* out) {
  out->clear();
  std::vector<store::SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(st->ReadSegments(run_id, key, &segs));
  if (segs.size() < 2) return Status::OK();
  // The points query::QuerySeries's stitching hides: each segment's steps from its cutoff on.
  std::vector<int64_t> cutoff = query::SegmentCutoffs(segs);
  const bool by_step = x == "step";
  double zero = 0;
  if (x == "relative") {  // the stitched curve's first point, as the aligned view's zero
    query::SeriesQuery first;
    first.max_points = 4;
    query::SeriesResult res;
    INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run_id, key, first, &res));
    if (!res.points.empty()) zero = res.points.front().wall_time;
  }
  const double xlo = from ? *from : -std::numeric_limits<double>::infinity();
  const double xhi = to ? *to : std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < segs.size(); ++i) {
    if (cutoff[i] == query::kNoCutoff) continue;
    query::SeriesQuery q;
    q.segment = segs[i].segment;
    q.lo = cutoff[i];
    if (by_step) {
      if (from) q.lo = std::max(q.lo, static_cast<int64_t>(std::ceil(*from)));
      if (to) q.hi = static_cast<int64_t>(std::floor(*to));
      if (q.hi < q.lo) continue;
    }
    q.max_points = 4 * std::max(1, width);
    query::SeriesResult res;
    INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run_id, key, q, &res));
    AbandonedPart part;
    part.segment = segs[i].segment;
    for (const Point& p : res.points) {
      double xv = by_step ? static_cast<double>(p.step) : p.wall_time - zero;
      if (xv < xlo || xv > xhi) continue;
      part.points.emplace_back(xv, p.value);
    }
    if (!part.points.empty()) out->push_back(std::move(part));
  }
  return Status::OK();
}

}  // namespace inloop::http
