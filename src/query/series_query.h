// Series queries over the store: the effective curve of a series (segments stitched the way a
// resumed run reads: a later segment that rewinds to step s hides the earlier points at >= s,
// which stay stored and listed as segments), optionally M4-downsampled.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/point.h"
#include "common/status.h"
#include "query/m4.h"
#include "store/store.h"

namespace inloop::query {

struct SegmentInfo {
  int segment = 0;
  int64_t points = 0;
  int64_t first_step = 0;
  int64_t last_step = 0;
};

// The stitching rule of a series restarted in later segments (attempts): segment i keeps only
// its steps below cutoff[i], the smallest first step of the segments after it (kNoCutoff for
// the last). Segments in store order (oldest first).
inline constexpr int64_t kNoCutoff = std::numeric_limits<int64_t>::max();
std::vector<int64_t> SegmentCutoffs(const std::vector<store::SegmentData>& segs);

struct SeriesQuery {
  int64_t lo = std::numeric_limits<int64_t>::min();
  int64_t hi = std::numeric_limits<int64_t>::max();
  int max_points = 0;  // 0: all points; else at most this many (M4 over max_points/4 columns)
  int segment = -1;    // >= 0: only this segment, whole (no stitching)
};

struct SeriesResult {
  std::vector<Point> points;
  std::vector<SegmentInfo> segments;
  int64_t total_points = 0;  // effective points in range before downsampling
  bool downsampled = false;
  M4Stats m4;
};

// NotFound when the run has no series `key`.
Status QuerySeries(store::Store* st, const std::string& run_id, const std::string& key,
                   const SeriesQuery& q, SeriesResult* out);

}  // namespace inloop::query
