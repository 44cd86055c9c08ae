// The HTTP request path and query: AdmitRequest (ParseTarget + the token check) and the query
// parameter readers every API handler uses.
// Contract: an admitted target has a path starting with '/', no "." / ".." segment, no NUL.
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "http/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::http;
  std::string_view target(reinterpret_cast<const char*>(data), size);
  HttpRequest r;
  r.method = "GET";
  auto refusal = AdmitRequest("", target, &r);  // no token: every well-formed target passes
  if (refusal) {
    FUZZ_CHECK(refusal->status == 400, "a malformed target is not a 400");
    return 0;
  }
  (void)TokenAccepted("s3cret", r);
  FUZZ_CHECK(!r.path.empty() && r.path[0] == '/', "admitted path does not start with '/'");
  FUZZ_CHECK(r.path.find('\0') == std::string::npos, "admitted path holds a NUL");
  for (auto& s : r.segments) FUZZ_CHECK(s != "." && s != "..", "admitted a dot segment");
  std::optional<int64_t> i;
  (void)IntParam(r, "limit", -1000, 1000000, &i);
  if (i) FUZZ_CHECK(*i >= -1000 && *i <= 1000000, "IntParam out of its range");
  std::optional<double> d;
  (void)DoubleParam(r, "from", &d);
  (void)ListParam(r, "run");
  (void)PathSegments(r.path);
  (void)ServeAsset(r.path);
  return 0;
}
