// The HTTP request target and headers: ParseOrRefuse (the target's path and query), the query
// parameter readers every API handler uses, and the admission rules over fuzzed Host / Origin /
// Sec-Fetch-Site / Content-Type values.
// Contract: an admitted target has a path starting with '/', no "." / ".." segment, no NUL; a
// refused one is a 400; Admit answers 0, 403 or 415 and never admits a state-changing request
// without a JSON content type.
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "http/admission.h"
#include "http/router.h"

namespace {

// The input's first four lines are header values (an empty line: the header is absent); the
// rest is the request target.
void FuzzAdmission(std::string_view in) {
  using namespace inloop::http;
  std::optional<std::string_view> fields[4];
  for (auto& f : fields) {
    size_t nl = in.find('\n');
    if (nl == std::string_view::npos) return;
    if (nl > 0) f = in.substr(0, nl);
    in.remove_prefix(nl + 1);
  }
  AdmissionPolicy policy;
  policy.port = 8642;
  policy.allow_hosts = {"inloop.internal", "box:9000"};
  for (std::string_view method : {"GET", "POST"}) {
    RequestHeaders h;
    h.method = method;
    h.host = fields[0];
    h.origin = fields[1];
    h.sec_fetch_site = fields[2];
    h.content_type = fields[3];
    h.local_address = "127.0.0.1";
    AdmissionResult r = Admit(policy, h);
    FUZZ_CHECK(r.status == 0 || r.status == 403 || r.status == 415, "unexpected admission status");
    if (r.ok() && IsStateChanging(method)) {
      FUZZ_CHECK(h.content_type.has_value(), "a POST without a content type was admitted");
    }
    if (!r.ok()) FUZZ_CHECK(!r.reason.empty(), "a refusal without a reason");
  }
  std::string name;
  std::optional<int> port;
  if (fields[0] && ParseHostHeader(*fields[0], &name, &port) && port) {
    FUZZ_CHECK(*port >= 0 && *port <= 65535, "a host header port out of range");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::http;
  std::string_view target(reinterpret_cast<const char*>(data), size);
  FuzzAdmission(target);
  HttpRequest r;
  r.method = "GET";
  auto refusal = ParseOrRefuse(target, &r);
  if (refusal) {
    FUZZ_CHECK(refusal->status == 400, "a malformed target is not a 400");
    return 0;
  }
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
