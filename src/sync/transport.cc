// HttpTransport over the project's one HTTP client (assist/http_client.h).
#include "sync/transport.h"

#include "assist/http_client.h"

namespace inloop::sync {

HttpTransport::HttpTransport(std::string base_url, std::string token, double timeout_s)
    : base_(std::move(base_url)), token_(std::move(token)), timeout_s_(timeout_s) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

PostResult HttpTransport::Post(const std::string& path, const std::string& body) {
  assist::HttpRequest req;
  req.url = base_ + path;
  req.headers.push_back("Content-Type: application/json");
  if (!token_.empty()) req.headers.push_back("Authorization: Bearer " + token_);
  req.body = body;
  req.connect_timeout_s = 5;
  req.idle_timeout_s = timeout_s_;
  req.total_timeout_s = timeout_s_ * 2;
  PostResult out;
  std::string ok_body;
  assist::HttpResponse resp;
  assist::HttpResult r = assist::HttpPost(
      req,
      [&ok_body](const assist::HttpResponse&, std::string_view piece) {
        ok_body.append(piece);
        return true;
      },
      &resp);
  if (r.failure != assist::HttpFailure::kNone) {
    out.error = r.message;
    return out;
  }
  out.reached = true;
  out.status = resp.status;
  out.body = resp.status >= 200 && resp.status < 300 ? std::move(ok_body) : resp.error_body;
  return out;
}

}  // namespace inloop::sync
