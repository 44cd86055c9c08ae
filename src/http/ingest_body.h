// The JSON body of POST /api/v1/runs/{id}/points, parsed and checked whole, without the store:
// split out of ingest.cc so that a fuzz target (fuzz/ingest_body_fuzz.cc) reaches it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/router.h"

namespace inloop::http {

struct IngestPoint {
  std::string key;  // non-empty
  int64_t step = 0;
  double wall_time = 0;  // finite
  double value = 0;      // NaN / +-Inf allowed ("NaN", "Infinity", "-Infinity" in the body)
};

// A point of a batch that lists its series keys once: `key` indexes that list.
struct KeyedPoint {
  uint32_t key = 0;
  int64_t step = 0;
  double wall_time = 0;
  double value = 0;
};

// Body {"points":[{"key","step","wall_time","value"},...]}. Appends every point to *out, or
// returns the 400 naming the first bad field (then *out holds nothing of this body). A point
// without wall_time (or with null) gets `now`.
std::optional<HttpResponse> ParsePointsBody(const std::string& body, double now,
                                            std::vector<IngestPoint>* out);

}  // namespace inloop::http
