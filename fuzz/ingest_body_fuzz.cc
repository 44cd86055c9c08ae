// The JSON body of POST /api/v1/runs/{id}/points (http/ingest_body.h).
// Contract: either a 400 naming the problem and nothing appended, or every point with a
// non-empty key and a finite wall time.
#include <cmath>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "http/ingest_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::http;
  std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<IngestPoint> pts;
  auto bad = ParsePointsBody(body, 1.7e9, &pts);
  if (bad) {
    FUZZ_CHECK(bad->status == 400, "a refused body is not a 400");
    FUZZ_CHECK(pts.empty(), "a refused body appended points");
    FUZZ_CHECK(!bad->body.empty(), "a 400 without a message");
  } else {
    for (auto& p : pts) {
      FUZZ_CHECK(!p.key.empty(), "accepted a point with an empty key");
      FUZZ_CHECK(std::isfinite(p.wall_time), "accepted a non-finite wall time");
    }
  }
  return 0;
}
