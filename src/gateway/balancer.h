// Least-outstanding-requests choice among a pool's replicas. Pure: the caller passes each
// replica's load; ties rotate so equal replicas share the traffic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace inloop::gateway {

struct BackendLoad {
  int outstanding = 0;   // requests sent and not yet answered
  bool routable = false; // ready and not draining
  bool excluded = false; // already tried for this request
};

// Index of the routable, not excluded backend with the fewest outstanding requests, ties broken
// round-robin from *cursor (advanced past the choice); -1 when there is none.
int PickLeastOutstanding(const std::vector<BackendLoad>& backends, uint64_t* cursor);

}  // namespace inloop::gateway
