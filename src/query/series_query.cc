// Effective-curve assembly: chunks wholly before a segment's cutoff are passed to M4 as summaries
// (decoded only when needed); a chunk cut by the cutoff or the range is decoded and filtered.
#include "query/series_query.h"

#include <algorithm>

#include <fmt/format.h>

namespace inloop::query {

std::vector<int64_t> SegmentCutoffs(const std::vector<store::SegmentData>& segs) {
  // Walking from the newest segment back, each segment hides steps >= its first step.
  std::vector<int64_t> cutoff(segs.size(), kNoCutoff);
  int64_t cut = kNoCutoff;
  for (size_t i = segs.size(); i-- > 0;) {
    cutoff[i] = cut;
    const auto& s = segs[i];
    int64_t first = !s.chunks.empty() ? s.chunks.front().first_step
                                      : (!s.tail.empty() ? s.tail.front().step : cut);
    cut = std::min(cut, first);
  }
  return cutoff;
}

Status QuerySeries(store::Store* st, const std::string& run_id, const std::string& key,
                   const SeriesQuery& q, SeriesResult* out) {
  *out = SeriesResult{};
  std::vector<store::SegmentData> segs;
  INLOOP_RETURN_IF_ERROR(st->ReadSegments(run_id, key, &segs));
  if (segs.empty()) {
    return Status::NotFound(fmt::format(
        "run {} has no series '{}' (see the series with `inloop show {}`)", run_id, key, run_id));
  }
  std::vector<int64_t> cutoff = SegmentCutoffs(segs);
  std::vector<ChunkView> views;
  int64_t hi = q.hi;
  if (q.segment >= 0) {
    std::erase_if(segs, [&](const store::SegmentData& s) { return s.segment != q.segment; });
    if (segs.empty()) {
      return Status::NotFound(fmt::format("series '{}' of run {} has no segment {}", key, run_id,
                                          q.segment));
    }
    cutoff.assign(1, std::numeric_limits<int64_t>::max());
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    auto& s = segs[i];
    SegmentInfo info;
    info.segment = s.segment;
    bool any = false;
    int64_t seg_hi = cutoff[i] == std::numeric_limits<int64_t>::max() ? hi
                                                                       : std::min(hi, cutoff[i] - 1);
    auto add_loose = [&](std::vector<Point> pts) {
      std::vector<Point> kept;
      for (auto& p : pts) {
        if (p.step >= q.lo && p.step <= seg_hi) kept.push_back(p);
      }
      if (kept.empty()) return;
      ChunkView v;
      v.summary = store::Summarize(kept);
      out->total_points += static_cast<int64_t>(kept.size());
      v.load = [pts = std::move(kept)](std::vector<Point>* o) {
        o->insert(o->end(), pts.begin(), pts.end());
        return Status::OK();
      };
      views.push_back(std::move(v));
    };
    for (auto& c : s.chunks) {
      info.points += c.count;
      if (!any) info.first_step = c.first_step;
      any = true;
      info.last_step = c.last_step;
      if (c.last_step < q.lo || c.first_step > seg_hi) continue;
      if (c.first_step >= q.lo && c.last_step <= seg_hi) {
        ChunkView v;
        INLOOP_RETURN_IF_ERROR(st->ReadChunkSummary(run_id, c, &v.summary));
        out->total_points += c.count;
        v.load = [st, run_id, c](std::vector<Point>* o) { return st->ReadChunkPoints(run_id, c, o); };
        views.push_back(std::move(v));
      } else {
        std::vector<Point> pts;
        INLOOP_RETURN_IF_ERROR(st->ReadChunkPoints(run_id, c, &pts));
        add_loose(std::move(pts));
      }
    }
    if (!s.tail.empty()) {
      info.points += static_cast<int64_t>(s.tail.size());
      if (!any) info.first_step = s.tail.front().step;
      any = true;
      info.last_step = s.tail.back().step;
      add_loose(s.tail);
    }
    if (any) out->segments.push_back(info);
  }
  if (q.max_points > 0 && out->total_points > q.max_points) {
    int64_t lo = q.lo, top = q.hi;
    if (!views.empty()) {
      lo = std::max(lo, views.front().summary.first.step);
      top = std::min(top, views.back().summary.last.step);
    }
    out->downsampled = true;
    return M4(views, lo, top, std::max(1, q.max_points / 4), &out->points, &out->m4);
  }
  // Whole chunks are taken only when inside the range; cut ones were filtered as loose points.
  out->points.reserve(static_cast<size_t>(out->total_points));
  for (auto& v : views) INLOOP_RETURN_IF_ERROR(v.load(&out->points));
  return Status::OK();
}

}  // namespace inloop::query
