// HttpClient: one HTTP(S) POST (or GET) over libcurl with a JSON body, extra headers, connect and idle
// timeouts, and the body of a successful response handed to a callback piece by piece as it
// arrives (for server-sent events). Error bodies are collected (capped) instead, for their message.
// Only http:// and https:// are allowed; redirects are not followed (a bearer token never travels
// to another host). Thread-compatible: one request per Post() call, no shared state but curl's
// global init, done once.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::assist {

struct HttpRequest {
  std::string url;
  bool get = false;  // a GET (body unused) instead of the POST
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  double connect_timeout_s = 10;
  // The transfer fails when no byte arrives for this long (a stalled stream), however long the
  // whole answer takes. 0: no idle limit.
  double idle_timeout_s = 120;
  double total_timeout_s = 0;  // 0: none
};

// The response head, filled before the first body byte reaches the sink.
struct HttpResponse {
  long status = 0;
  std::string content_type;  // lower-cased, parameters dropped: "text/event-stream"
  std::string retry_after;   // the Retry-After header as sent, empty when absent
  std::string error_body;    // the body of a non-2xx response, at most 64 KiB
  int64_t body_bytes = 0;    // bytes of body received (any status)
};

enum class HttpFailure {
  kNone,
  kConnect,    // refused, unreachable, DNS, TLS handshake or certificate
  kTimeout,    // connect timeout, idle timeout or total timeout
  kCutOff,     // the connection closed in the middle of the response
  kAborted,    // the sink returned false
  kBadUrl,     // not an http(s) URL, or one curl cannot parse
  kOther,
};

struct HttpResult {
  HttpFailure failure = HttpFailure::kNone;
  std::string message;  // one line, when failure != kNone
};

// Called with each piece of a 2xx response's body; return false to stop the transfer.
using BodySink = std::function<bool(const HttpResponse& head, std::string_view piece)>;

HttpResult HttpPost(const HttpRequest& req, const BodySink& sink, HttpResponse* resp);

// "host[:port]" of a URL without any user:password@ part; the URL itself when it has no "://".
std::string UrlHost(std::string_view url);

}  // namespace inloop::assist
