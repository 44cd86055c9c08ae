// The header rules of admission.h: Host, Origin / Sec-Fetch-Site, Content-Type. Pure.
#include "http/admission.h"

#include <charconv>

#include <fmt/format.h>

#include "common/text_trim.h"

namespace inloop::http {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) { return TrimOws(s); }

// A header value for a message: at most 80 bytes, anything outside printable ASCII as '?'.
std::string Shown(std::string_view v) {
  std::string out;
  for (char c : v.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (v.size() > 80) out += "...";
  return out;
}

bool ParsePort(std::string_view digits, int* port) {
  if (digits.empty() || digits.size() > 5) return false;
  int v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || v < 1 || v > 65535) {
    return false;
  }
  *port = v;
  return true;
}

bool HostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool Ipv6Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

// The bind address as a Host name compares: lower case, IPv6 without brackets.
std::string BindName(std::string_view bind) {
  if (bind.size() >= 2 && bind.front() == '[' && bind.back() == ']') {
    bind = bind.substr(1, bind.size() - 2);
  }
  return LowerCopy(bind);
}

bool HostAllowed(const AdmissionPolicy& p, const std::string& name, std::optional<int> port,
                 std::string_view local_address) {
  int effective = port.value_or(80);
  if (effective == p.port) {
    if (name == "localhost" || name == "127.0.0.1" || name == "::1") return true;
    if (name == BindName(p.bind)) return true;
    if (!local_address.empty() && name == LowerCopy(local_address)) return true;
  }
  for (const std::string& entry : p.allow_hosts) {
    std::string allowed;
    std::optional<int> allowed_port;
    if (!ParseHostHeader(entry, &allowed, &allowed_port)) continue;
    if (allowed != name) continue;
    if (!allowed_port || *allowed_port == effective) return true;
  }
  return false;
}

// "http://name[:port]" / "https://..." -> scheme, name, port. False for anything else ("null",
// a path, another scheme).
bool ParseOrigin(std::string_view origin, std::string* scheme, std::string* name,
                 std::optional<int>* port) {
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return false;
  *scheme = LowerCopy(origin.substr(0, sep));
  if (*scheme != "http" && *scheme != "https") return false;
  return ParseHostHeader(origin.substr(sep + 3), name, port);
}

bool JsonContentType(std::string_view value) {
  size_t semi = value.find(';');
  if (!EqualsNoCase(Trim(value.substr(0, semi)), "application/json")) return false;
  std::string_view params = semi == std::string_view::npos ? std::string_view()
                                                           : value.substr(semi + 1);
  while (!params.empty()) {
    size_t next = params.find(';');
    std::string_view param = Trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    if (param.empty()) continue;
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    if (!EqualsNoCase(Trim(param.substr(0, eq)), "charset")) return false;
    std::string_view v = Trim(param.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (!EqualsNoCase(v, "utf-8") && !EqualsNoCase(v, "utf8")) return false;
  }
  return true;
}

AdmissionResult Refuse(int status, std::string reason) { return {status, std::move(reason)}; }

}  // namespace

bool IsStateChanging(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool ParseHostHeader(std::string_view host, std::string* name, std::optional<int>* port) {
  name->clear();
  port->reset();
  std::string_view rest;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view inner = host.substr(1, close - 1);
    for (char c : inner) {
      if (!Ipv6Char(c)) return false;
    }
    if (inner.find(':') == std::string_view::npos) return false;
    *name = LowerCopy(inner);
    rest = host.substr(close + 1);
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos && host.find(':', colon + 1) != std::string_view::npos) {
      return false;  // an IPv6 address without brackets: its port cannot be told apart
    }
    std::string_view n = host.substr(0, colon);
    if (n.empty()) return false;
    for (char c : n) {
      if (!HostNameChar(c)) return false;
    }
    *name = LowerCopy(n);
    rest = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
  }
  if (rest.empty()) return true;
  if (rest.front() != ':') return false;
  int p = 0;
  if (!ParsePort(rest.substr(1), &p)) return false;
  *port = p;
  return true;
}

bool ValidAllowHost(std::string_view entry, std::string* why) {
  std::string name;
  std::optional<int> port;
  if (!ParseHostHeader(entry, &name, &port)) {
    *why = fmt::format(
        "--allow-host '{}': not a host name (give NAME or NAME:PORT, an IPv6 address in "
        "brackets)",
        Shown(entry));
    return false;
  }
  return true;
}

AdmissionResult Admit(const AdmissionPolicy& policy, const RequestHeaders& h) {
  // 1. Host.
  if (!h.host) {
    return Refuse(403,
                  "Host header: missing (send the Host of the URL `inloop serve` printed)");
  }
  std::string name;
  std::optional<int> port;
  if (!ParseHostHeader(*h.host, &name, &port)) {
    return Refuse(403, fmt::format("Host '{}': malformed (give NAME[:PORT] or [IPv6]:PORT)",
                                   Shown(*h.host)));
  }
  if (!HostAllowed(policy, name, port, h.local_address)) {
    return Refuse(
        403, fmt::format("Host '{}': not a name of this server, refused (a foreign name that "
                         "resolves here is DNS rebinding); use http://127.0.0.1:{}/ or start "
                         "`inloop serve` with --allow-host NAME",
                         Shown(*h.host), policy.port));
  }
  if (!IsStateChanging(h.method)) return {};
  // 2. Origin and Sec-Fetch-Site of a state-changing request.
  if (h.origin) {
    std::string scheme, origin_name;
    std::optional<int> origin_port;
    bool own = false;
    if (ParseOrigin(*h.origin, &scheme, &origin_name, &origin_port)) {
      int scheme_default = scheme == "https" ? 443 : 80;
      own = origin_name == name &&
            origin_port.value_or(scheme_default) == port.value_or(scheme_default);
    }
    if (!own) {
      return Refuse(403, fmt::format(
                             "Origin '{}': a {} from another origin is refused (cross-site "
                             "request forgery); send it from this server's own pages, or from a "
                             "client that sends no Origin",
                             Shown(*h.origin), Shown(h.method)));
    }
  }
  if (h.sec_fetch_site &&
      (EqualsNoCase(*h.sec_fetch_site, "cross-site") || EqualsNoCase(*h.sec_fetch_site, "same-site"))) {
    return Refuse(403, fmt::format("Sec-Fetch-Site '{}': a {} started by another site's page is "
                                   "refused (cross-site request forgery)",
                                   Shown(*h.sec_fetch_site), Shown(h.method)));
  }
  // 3. Content-Type.
  if (!h.content_type || !JsonContentType(*h.content_type)) {
    return Refuse(415, fmt::format("Content-Type '{}': a {} needs `Content-Type: "
                                   "application/json` (even with an empty body)",
                                   h.content_type ? Shown(*h.content_type) : "", Shown(h.method)));
  }
  return {};
}

}  // namespace inloop::http
