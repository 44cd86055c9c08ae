// HttpClient over libcurl's easy interface: one handle per request, headers parsed as they come
// so the sink knows the status and content type before the first body byte.
#include "assist/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include <fmt/format.h>

#include "common/text_trim.h"

namespace inloop::assist {
namespace {

constexpr size_t kErrorBodyCap = 64 * 1024;

struct Transfer {
  CURL* curl = nullptr;
  const BodySink* sink = nullptr;
  HttpResponse* resp = nullptr;
  bool head_done = false;
  bool aborted = false;
};

std::string Trim(std::string_view s) { return std::string(TrimAsciiSpace(s)); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response head (after 100 Continue, say)
    t->resp->content_type.clear();
    t->resp->retry_after.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = Lower(Trim(line.substr(0, colon)));
  std::string value = Trim(line.substr(colon + 1));
  if (name == "content-type") {
    std::string v = Lower(value);
    t->resp->content_type = Trim(v.substr(0, v.find(';')));
  } else if (name == "retry-after") {
    t->resp->retry_after = value;
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (!t->head_done) {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->resp->status);
    t->head_done = true;
  }
  t->resp->body_bytes += static_cast<int64_t>(len);
  if (t->resp->status < 200 || t->resp->status >= 300) {
    size_t room = kErrorBodyCap - std::min(kErrorBodyCap, t->resp->error_body.size());
    t->resp->error_body.append(data, std::min(room, len));
    return len;
  }
  if (t->sink && *t->sink && !(*t->sink)(*t->resp, std::string_view(data, len))) {
    t->aborted = true;
    return 0;  // curl fails the transfer with CURLE_WRITE_ERROR
  }
  return len;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string UrlHost(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  return std::string(rest);
}

HttpResult HttpPost(const HttpRequest& req, const BodySink& sink, HttpResponse* resp) {
  *resp = HttpResponse{};
  HttpResult result;
  if (!req.url.starts_with("http://") && !req.url.starts_with("https://")) {
    result.failure = HttpFailure::kBadUrl;
    result.message = "the URL must start with http:// or https://";
    return result;
  }
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.failure = HttpFailure::kOther;
    result.message = "libcurl could not make a handle";
    return result;
  }
  Transfer t;
  t.curl = curl;
  t.sink = &sink;
  t.resp = resp;
  curl_slist* headers = nullptr;
  for (auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (req.get) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max(1.0, req.connect_timeout_s * 1000)));
  if (req.total_timeout_s > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(req.total_timeout_s * 1000));
  }
  if (req.idle_timeout_s > 0) {
    // Fewer than 1 byte/s for idle_timeout_s seconds: the stream stalled.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(req.idle_timeout_s + 0.5)));
  }
  CURLcode rc = curl_easy_perform(curl);
  if (!t.head_done) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
  std::string detail = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc == CURLE_OK) return result;
  result.message = detail;
  switch (rc) {
    case CURLE_WRITE_ERROR:
      result.failure = t.aborted ? HttpFailure::kAborted : HttpFailure::kOther;
      break;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      result.failure = HttpFailure::kConnect;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      result.failure = HttpFailure::kTimeout;
      break;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      result.failure = HttpFailure::kCutOff;
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      result.failure = HttpFailure::kBadUrl;
      break;
    default:
      result.failure = HttpFailure::kOther;
      break;
  }
  return result;
}

}  // namespace inloop::assist
