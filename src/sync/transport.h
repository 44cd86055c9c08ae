// Transport: how a replicator reaches a server — one POST of a JSON body to a path, answered by a
// status and a body. HttpTransport goes over HTTP(S) with assist/http_client.h (libcurl, bearer
// token, timeouts); tests put a fake in its place. A connection failure (refused, timed out, cut
// off) is reported as such, distinct from an answer the server gave.
#pragma once

#include <string>

namespace inloop::sync {

struct PostResult {
  bool reached = false;  // false: no answer (connection refused, timeout, cut off)
  long status = 0;       // the HTTP status when reached
  std::string body;      // the answer (an error answer's body too, capped)
  std::string error;     // one line when !reached
};

class Transport {
 public:
  virtual ~Transport() = default;
  // POSTs `body` (JSON) to `path` ("/api/v1/sync/runs") of the server. Thread-safe.
  virtual PostResult Post(const std::string& path, const std::string& body) = 0;
};

class HttpTransport : public Transport {
 public:
  // `base_url`: "http://host:port" (a trailing '/' is dropped); `token` may be empty.
  HttpTransport(std::string base_url, std::string token, double timeout_s = 60);
  PostResult Post(const std::string& path, const std::string& body) override;

 private:
  std::string base_;
  std::string token_;
  double timeout_s_;
};

}  // namespace inloop::sync
