// M4 downsampling (Jugel et al., VLDB 2014): for each of N pixel columns over a step range keep
// the first, last, min and max point, which draws exactly the same line as all the points.
// Works over chunks: a chunk that falls entirely inside one column contributes its summary and
// is never decoded. Non-finite values are never hidden: the first non-finite point of each column
// is kept too. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/point.h"
#include "common/status.h"
#include "store/chunk_codec.h"

namespace inloop::query {

// A chunk as M4 sees it: its summary, and a way to load its points when needed.
struct ChunkView {
  store::ChunkSummary summary;
  std::function<Status(std::vector<Point>*)> load;  // appends the chunk's points
};

struct M4Stats {
  int64_t chunks_summarized = 0;  // answered from the summary alone
  int64_t chunks_decoded = 0;
};

// Downsamples the points with lo <= step <= hi from `chunks` (in step order, possibly followed
// by a tail of loose points given as one more ChunkView) into at most 4*width points, returned in
// step order without duplicates. width >= 1. When the range holds <= 4*width points, returns
// them all.
Status M4(const std::vector<ChunkView>& chunks, int64_t lo, int64_t hi, int width,
          std::vector<Point>* out, M4Stats* stats = nullptr);

// The same over an in-memory vector (reference implementation, used by tests).
std::vector<Point> M4Points(const std::vector<Point>& pts, int64_t lo, int64_t hi, int width);

}  // namespace inloop::query
