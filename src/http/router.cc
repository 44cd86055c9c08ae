// Request-target parsing, parameter validation and the embedded files (router.h).
// Pure: no sockets, no disk. Static files come from http::UiAssets() only, never from a path.
#include "http/router.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "http/ui_assets.h"

namespace inloop::http {

const std::string* HttpRequest::Param(std::string_view name) const {
  for (auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::vector<std::string> HttpRequest::Params(std::string_view name) const {
  std::vector<std::string> out;
  for (auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

HttpResponse JsonResponse(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

HttpResponse JsonError(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  JsonWriter w;
  w.BeginObject().Key("error").String(message).EndObject();
  r.body = w.Take();
  return r;
}

HttpResponse ErrorFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalid:
      return JsonError(400, s.message());
    case Status::Code::kNotFound:
      return JsonError(404, s.message());
    default:
      return JsonError(500, s.message());
  }
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexDigit(in[i + 1]);
      int lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

Status ParseTarget(std::string_view target, HttpRequest* r) {
  r->query.clear();
  r->segments.clear();
  if (target.empty() || target[0] != '/') {
    return Status::Invalid("request target: must be a path starting with '/'");
  }
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (!PercentDecode(raw_path, false, &r->path)) {
    return Status::Invalid("request path: malformed percent escape or NUL byte");
  }
  if (r->path.find('\\') != std::string::npos) {
    return Status::Invalid("request path: backslashes are not allowed");
  }
  if (raw_path.find("//") != std::string_view::npos || r->path.find("//") != std::string::npos) {
    return Status::Invalid("request path: empty segments ('//') are not allowed");
  }
  // Both views of the path are checked: "..%2F.." is one raw segment but two decoded ones.
  for (std::string_view seg : PathSegments(r->path)) {
    if (seg == "." || seg == "..") {
      return Status::Invalid("request path: '.' and '..' segments are not allowed");
    }
  }
  for (std::string_view raw : PathSegments(raw_path)) {
    std::string seg;
    PercentDecode(raw, false, &seg);  // cannot fail: the whole path decoded above
    if (seg == "." || seg == "..") {
      return Status::Invalid("request path: '.' and '..' segments are not allowed");
    }
    r->segments.push_back(std::move(seg));
  }
  if (q == std::string_view::npos) return Status::OK();
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string k, v;
    if (!PercentDecode(pair.substr(0, eq), true, &k) ||
        (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &v))) {
      return Status::Invalid(fmt::format(
          "query parameter '{}': malformed percent escape or NUL byte", pair.substr(0, eq)));
    }
    r->query.emplace_back(std::move(k), std::move(v));
  }
  return Status::OK();
}

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsLoopbackBind(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (host.substr(0, 4) != "127.") return false;
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = host.find('.', i);
    if (j == std::string_view::npos) j = host.size();
    std::string_view p = host.substr(i, j - i);
    int v = -1;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v < 0 || v > 255) {
      return false;
    }
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

Status IntParam(const HttpRequest& r, std::string_view name, int64_t lo, int64_t hi,
                std::optional<int64_t>* out) {
  const std::string* v = r.Param(name);
  if (!v) return Status::OK();
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size()) {
    return Status::Invalid(
        fmt::format("{}: '{}' is not an integer (give a whole number from {} to {})", name,
                    v->substr(0, 40), lo, hi));
  }
  if (x < lo || x > hi) {
    return Status::Invalid(
        fmt::format("{}: {} is out of range (give a whole number from {} to {})", name, x, lo, hi));
  }
  *out = x;
  return Status::OK();
}

Status DoubleParam(const HttpRequest& r, std::string_view name, std::optional<double>* out) {
  const std::string* v = r.Param(name);
  if (!v) return Status::OK();
  char* end = nullptr;
  errno = 0;
  double x = v->empty() ? 0 : std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !std::isfinite(x)) {
    return Status::Invalid(fmt::format("{}: '{}' is not a finite number", name, v->substr(0, 40)));
  }
  *out = x;
  return Status::OK();
}

std::vector<std::string> ListParam(const HttpRequest& r, std::string_view name) {
  std::vector<std::string> out;
  for (const std::string& v : r.Params(name)) {
    size_t i = 0;
    while (i <= v.size()) {
      size_t j = v.find(',', i);
      if (j == std::string::npos) j = v.size();
      if (j > i) out.push_back(v.substr(i, j - i));
      i = j + 1;
    }
  }
  return out;
}

std::optional<HttpResponse> ParseOrRefuse(std::string_view target, HttpRequest* r) {
  Status s = ParseTarget(target, r);
  if (s.ok()) return std::nullopt;
  HttpResponse resp = JsonError(400, s.message());
  resp.route = "rejected";
  return resp;
}

HttpResponse ServeAsset(std::string_view path) {
  if (path == "/" || path.empty()) path = "/index.html";
  const auto& assets = UiAssets();
  auto it = std::lower_bound(assets.begin(), assets.end(), path,
                             [](const UiAsset& a, std::string_view p) { return a.path < p; });
  if (it == assets.end() || it->path != path) {
    HttpResponse r = JsonError(404, fmt::format("no such file: {}", path.substr(0, 200)));
    r.route = "static";
    return r;
  }
  HttpResponse r;
  r.content_type = std::string(it->content_type);
  r.body = std::string(it->body);
  r.route = "static";
  return r;
}

}  // namespace inloop::http
