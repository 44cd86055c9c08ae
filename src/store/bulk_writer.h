// Bulk loading into a run (imports): the series-handle side of a run's writer. Every backend's
// RunWriter (Store::OpenWriter) has it; BulkOf gives it. Resolve a series key to a handle once,
// then append runs of points by handle, with no key lookup or string work per point.
//
// A handle stays valid for the writer's life and follows its key into new segments (a step
// going back starts one, as with RunWriter::Append); resolving creates nothing: the series
// appears with its first point. AppendPoints and Append may be mixed, for the same key too.
// Points appended this way are not logged one by one: they become durable as they are sealed
// into chunks, which the writer commits as they fill. The embedded store's writer drops its WAL
// at the first AppendPoints (sealing what the WAL held first), and from then on its Flush seals
// every open chunk, so RunWriter's contract holds (acknowledged after Flush) at the price of
// short chunks: a bulk loader calls Flush rarely, or only Close.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/point.h"
#include "common/status.h"
#include "store/store.h"

namespace inloop::store {

class BulkAppender {
 public:
  virtual ~BulkAppender() = default;
  virtual Status ResolveSeries(std::string_view key, int32_t* handle) = 0;
  // Invalid for a handle this writer did not give.
  virtual Status AppendPoints(int32_t handle, std::span<const Point> points) = 0;
};

// The bulk side of `w`, or null for a writer that has none.
inline BulkAppender* BulkOf(RunWriter* w) { return dynamic_cast<BulkAppender*>(w); }

}  // namespace inloop::store
