// Admission: the header rules every request to `inloop serve` passes before its target is parsed
// or its token is looked at (docs/security.md). They stop what a web page the user merely visits
// can make the browser send to a server on this machine:
//
//   1. Host (403): the Host header must name this server, so that DNS rebinding (a foreign name
//      that resolves to 127.0.0.1) is refused. Accepted: the bound address, `localhost`,
//      `127.0.0.1`, `[::1]`, or the IP literal the connection came in on, each with the server's
//      port (no port: 80); or a name given with --allow-host (`NAME`: any port, `NAME:PORT`: that
//      port). Names compare case-insensitively. A missing or malformed Host is refused.
//   2. Origin (403): a state-changing request (any method but GET, HEAD, OPTIONS) whose Origin
//      header is present and is not this server's own origin (http:// or https:// with the
//      request's own, already admitted, Host) is refused; `Origin: null` included. So is one whose
//      Sec-Fetch-Site is `cross-site` or `same-site` (another port on localhost is same-site).
//   3. Content-Type (415): a state-changing request must say `Content-Type: application/json`
//      (a `charset=utf-8` parameter is allowed), even with an empty body. A browser can send that
//      type to another origin only after a CORS preflight, which this server never grants, so
//      forms and `fetch(..., {mode: "no-cors"})` cannot reach a handler.
//
// Pure: no I/O, no clock; the caller passes the headers and the address the connection came in
// on. Rules apply in the order above; the first that fails answers, with a one-line reason that
// names the header and what to do.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::http {

struct AdmissionPolicy {
  std::string bind = "127.0.0.1";  // --bind as given ("127.0.0.1", "::1", "[::1]", "0.0.0.0")
  int port = 0;                    // the port listened on (after --port 0 picked one)
  std::vector<std::string> allow_hosts;  // --allow-host: "NAME" or "NAME:PORT"
};

// The parts of a request the rules read. Absent headers are nullopt (an empty header is present).
struct RequestHeaders {
  std::string_view method;  // "GET", "POST", ...
  std::optional<std::string_view> host;
  std::optional<std::string_view> origin;
  std::optional<std::string_view> sec_fetch_site;
  std::optional<std::string_view> content_type;
  // The IP literal the connection was accepted on ("127.0.0.1", "::1"; no brackets), or empty.
  std::string_view local_address;
};

struct AdmissionResult {
  int status = 0;      // 0: admitted; else 403 or 415
  std::string reason;  // one line, for the {"error": ...} body
  bool ok() const { return status == 0; }
};

AdmissionResult Admit(const AdmissionPolicy& policy, const RequestHeaders& headers);

// Any method but GET, HEAD and OPTIONS (case-sensitive, as HTTP methods are).
bool IsStateChanging(std::string_view method);

// "name[:port]" or "[v6]:port" -> lower-cased name (IPv6 without brackets) and port (nullopt when
// absent). False when malformed (empty name, bad port, an unbracketed IPv6 address, characters
// outside a host name).
bool ParseHostHeader(std::string_view host, std::string* name, std::optional<int>* port);

// Whether an --allow-host entry is well-formed ("NAME" or "NAME:PORT"); `why` gets the reason.
bool ValidAllowHost(std::string_view entry, std::string* why);

}  // namespace inloop::http
