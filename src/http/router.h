// The HTTP layer without sockets: request and response values, request-target parsing
// (percent-decoding, query pairs), query-parameter validation with 400 messages
// that name the parameter, and the embedded dashboard files. Never touches the disk or a socket,
// so every rule here is unit-testable; src/http/server.cc does the I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace inloop::http {

struct HttpRequest {
  std::string method;                 // "GET", "POST", ...
  std::string path;                   // percent-decoded, without the query
  std::vector<std::string> segments;  // the path split at '/', each segment decoded on its own
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string authorization;                               // the Authorization header, verbatim
  std::string cookie;                                      // the Cookie header, verbatim
  std::string audit_name;  // who sent it, for the audit trail ("http:NAME"; auth.h), or empty
  std::string body;

  // The first value of query parameter `name`, or null.
  const std::string* Param(std::string_view name) const;
  // Every value of `name`, in order (repeated parameters, e.g. run=A&run=B).
  std::vector<std::string> Params(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string route;  // the route pattern that answered ("/api/v1/runs/{id}"), for /metrics
  std::string set_cookie;  // a Set-Cookie header value (auth.h), or empty
};

// 200 with a JSON body.
HttpResponse JsonResponse(std::string body);
// {"error": message} with `status`.
HttpResponse JsonError(int status, std::string_view message);
// An Invalid status becomes 400, NotFound 404, anything else 500, with the status's message.
HttpResponse ErrorFor(const Status& s);

// Decodes %XX escapes (and '+' as a space when plus_is_space). False on a malformed escape or a
// decoded NUL byte.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// Splits an origin-form request target ("/a/b?x=1&y=%20") into its decoded path, its decoded
// segments ("%2F" inside a segment stays inside it) and query pairs.
// Invalid (-> 400) for a target that does not start with '/', malformed escapes, NUL bytes, or a
// path with "." / ".." segments or backslashes after decoding.
// Fills r->path, r->segments and r->query.
Status ParseTarget(std::string_view target, HttpRequest* r);

// Splits "/api/v1/runs/ID/series" into {"api","v1","runs","ID","series"}.
std::vector<std::string_view> PathSegments(std::string_view path);

// Whether `host` is a loopback address inloop may bind without a token: 127.0.0.1 (any
// 127.x.y.z), ::1, localhost.
bool IsLoopbackBind(std::string_view host);

// Query-parameter readers: absent -> *out untouched and OK; present but malformed or out of
// [lo, hi] -> Invalid("NAME: ...what is wrong and what is accepted").
Status IntParam(const HttpRequest& r, std::string_view name, int64_t lo, int64_t hi,
                std::optional<int64_t>* out);
Status DoubleParam(const HttpRequest& r, std::string_view name, std::optional<double>* out);
// Comma-separated list, empty items dropped; repeated parameters are concatenated.
std::vector<std::string> ListParam(const HttpRequest& r, std::string_view name);

// Parses `target` into *r: nullopt, or the 400 refusal (route "rejected").
std::optional<HttpResponse> ParseOrRefuse(std::string_view target, HttpRequest* r);

// The embedded dashboard file for a GET of `path` ("/" -> "/index.html"), from the table only.
// 404 when there is no such file.
HttpResponse ServeAsset(std::string_view path);

}  // namespace inloop::http
