// PickLeastOutstanding (see the header). Pure.
#include "gateway/balancer.h"

namespace inloop::gateway {

int PickLeastOutstanding(const std::vector<BackendLoad>& backends, uint64_t* cursor) {
  const size_t n = backends.size();
  if (n == 0) return -1;
  int best = -1;
  size_t start = static_cast<size_t>(*cursor % n);
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    const BackendLoad& b = backends[i];
    if (!b.routable || b.excluded) continue;
    if (best < 0 || b.outstanding < backends[best].outstanding) best = static_cast<int>(i);
  }
  if (best >= 0) *cursor = static_cast<uint64_t>(best) + 1;
  return best;
}

}  // namespace inloop::gateway
