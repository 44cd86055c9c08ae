// The header rules of http/admission.h, one test per rule: Host (DNS rebinding, port mismatch,
// IPv6, --allow-host), Origin and Sec-Fetch-Site on state-changing requests (`null`, another
// port, another scheme), Content-Type (text/plain, forms, charset).
#include "http/admission.h"

#include <gtest/gtest.h>

namespace inloop::http {
namespace {

constexpr int kPort = 8642;

AdmissionPolicy Policy(std::string bind = "127.0.0.1", std::vector<std::string> allow = {}) {
  AdmissionPolicy p;
  p.bind = std::move(bind);
  p.port = kPort;
  p.allow_hosts = std::move(allow);
  return p;
}

RequestHeaders Get(std::string_view host) {
  RequestHeaders h;
  h.method = "GET";
  h.host = host;
  h.local_address = "127.0.0.1";
  return h;
}

// A POST as the dashboard sends it: own Origin, same-origin, JSON.
RequestHeaders Post(std::string_view host = "127.0.0.1:8642",
                    std::string_view origin = "http://127.0.0.1:8642") {
  RequestHeaders h = Get(host);
  h.method = "POST";
  h.origin = origin;
  h.sec_fetch_site = "same-origin";
  h.content_type = "application/json";
  return h;
}

TEST(AdmissionTest, HostNamesOfThisServerAreAdmitted) {
  for (const char* host : {"127.0.0.1:8642", "localhost:8642", "LocalHost:8642", "[::1]:8642"}) {
    EXPECT_TRUE(Admit(Policy(), Get(host)).ok()) << host;
  }
}

TEST(AdmissionTest, DnsRebindingHostIsRefused) {
  for (const char* host : {"evil.example:8642", "evil.example", "127.0.0.1.evil.example:8642",
                           "localhost.evil.example:8642", "localhost.:8642"}) {
    AdmissionResult r = Admit(Policy(), Get(host));
    EXPECT_EQ(r.status, 403) << host;
    EXPECT_NE(r.reason.find("Host"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find("--allow-host"), std::string::npos) << r.reason;
  }
  // A state-changing request with every other header right is refused for its Host alone.
  EXPECT_EQ(Admit(Policy(), Post("evil.example:8642", "http://evil.example:8642")).status, 403);
}

TEST(AdmissionTest, PortMismatchIsRefused) {
  EXPECT_EQ(Admit(Policy(), Get("127.0.0.1:9999")).status, 403);
  EXPECT_EQ(Admit(Policy(), Get("localhost:8643")).status, 403);
  EXPECT_EQ(Admit(Policy(), Get("localhost")).status, 403);  // no port: 80
  AdmissionPolicy on80 = Policy();
  on80.port = 80;
  EXPECT_TRUE(Admit(on80, Get("localhost")).ok());
  EXPECT_TRUE(Admit(on80, Get("localhost:80")).ok());
}

TEST(AdmissionTest, MissingOrMalformedHostIsRefused) {
  RequestHeaders h = Get("x");
  h.host.reset();
  EXPECT_EQ(Admit(Policy(), h).status, 403);
  for (const char* host : {"", ":8642", "::1:8642", "[::1", "[]:8642", "[::1]8642",
                           "localhost:0", "localhost:65536", "localhost:86a2", "local host:8642",
                           "localhost:8642/x", "user@localhost:8642", "[zz::1]:8642"}) {
    EXPECT_EQ(Admit(Policy(), Get(host)).status, 403) << host;
  }
}

TEST(AdmissionTest, Ipv6Binds) {
  AdmissionPolicy v6 = Policy("::1");
  EXPECT_TRUE(Admit(v6, Get("[::1]:8642")).ok());
  EXPECT_TRUE(Admit(v6, Get("localhost:8642")).ok());
  EXPECT_TRUE(Admit(Policy("[::1]"), Get("[::1]:8642")).ok());
  EXPECT_EQ(Admit(v6, Get("[::2]:8642")).status, 403);
  EXPECT_EQ(Admit(v6, Get("[::1]:8643")).status, 403);
  // A wildcard bind admits the IP literal the connection came in on (no DNS, no rebinding).
  AdmissionPolicy any = Policy("::");
  RequestHeaders h = Get("[fd00::5]:8642");
  h.local_address = "fd00::5";
  EXPECT_TRUE(Admit(any, h).ok());
  h.host = "[FD00::5]:8642";
  EXPECT_TRUE(Admit(any, h).ok());
  h.host = "[fd00::6]:8642";
  EXPECT_EQ(Admit(any, h).status, 403);
}

TEST(AdmissionTest, BoundAddressAndConnectionAddress) {
  AdmissionPolicy lan = Policy("10.0.0.5");
  RequestHeaders h = Get("10.0.0.5:8642");
  h.local_address = "10.0.0.5";
  EXPECT_TRUE(Admit(lan, h).ok());
  AdmissionPolicy any = Policy("0.0.0.0");
  EXPECT_TRUE(Admit(any, h).ok());  // the connection came in on 10.0.0.5
  h.host = "myhost:8642";
  EXPECT_EQ(Admit(any, h).status, 403);  // a name needs --allow-host
  h.local_address = "";
  h.host = "10.0.0.5:8642";
  EXPECT_EQ(Admit(any, h).status, 403);
}

TEST(AdmissionTest, AllowHost) {
  AdmissionPolicy p = Policy("0.0.0.0", {"inloop.example", "Tunnel.Example:9000", "[fd00::7]"});
  EXPECT_TRUE(Admit(p, Get("inloop.example")).ok());
  EXPECT_TRUE(Admit(p, Get("INLOOP.example:443")).ok());  // NAME: any port
  EXPECT_TRUE(Admit(p, Get("tunnel.example:9000")).ok());
  EXPECT_EQ(Admit(p, Get("tunnel.example:9001")).status, 403);  // NAME:PORT: that port only
  EXPECT_EQ(Admit(p, Get("tunnel.example")).status, 403);
  EXPECT_TRUE(Admit(p, Get("[fd00::7]:1234")).ok());
  EXPECT_EQ(Admit(p, Get("sub.inloop.example")).status, 403);  // no implicit subdomains
  std::string why;
  EXPECT_TRUE(ValidAllowHost("inloop.example", &why));
  EXPECT_TRUE(ValidAllowHost("localhost:9000", &why));
  EXPECT_TRUE(ValidAllowHost("[::1]:9000", &why));
  for (const char* bad : {"", "http://x", "x:y", "a b", "::1", "*.example"}) {
    EXPECT_FALSE(ValidAllowHost(bad, &why)) << bad;
    EXPECT_NE(why.find("--allow-host"), std::string::npos) << why;
  }
}

TEST(AdmissionTest, OwnOriginIsAdmitted) {
  EXPECT_TRUE(Admit(Policy(), Post()).ok());
  EXPECT_TRUE(Admit(Policy(), Post("localhost:8642", "http://localhost:8642")).ok());
  EXPECT_TRUE(Admit(Policy(), Post("localhost:8642", "http://LOCALHOST:8642")).ok());
  EXPECT_TRUE(Admit(Policy(), Post("[::1]:8642", "http://[::1]:8642")).ok());
  // Behind a TLS reverse proxy that passes Host on.
  AdmissionPolicy proxied = Policy("127.0.0.1", {"inloop.example"});
  EXPECT_TRUE(Admit(proxied, Post("inloop.example", "https://inloop.example")).ok());
  EXPECT_TRUE(Admit(proxied, Post("inloop.example:8443", "https://inloop.example:8443")).ok());
  EXPECT_EQ(Admit(proxied, Post("inloop.example", "https://inloop.example:8443")).status, 403);
  // No Origin (curl, scripts, the SDK): the Host and Content-Type rules still apply.
  RequestHeaders h = Post();
  h.origin.reset();
  h.sec_fetch_site.reset();
  EXPECT_TRUE(Admit(Policy(), h).ok());
}

TEST(AdmissionTest, ForeignOriginIsRefusedOnStateChangingRequests) {
  for (const char* origin : {"http://evil.example", "http://localhost:9999",
                             "http://127.0.0.1:9999", "null", "", "http://localhost:8642/x",
                             "file://", "chrome-extension://abc", "http://127.0.0.1",
                             "https://127.0.0.1:8642x"}) {
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "PROPFIND"}) {
      RequestHeaders h = Post("127.0.0.1:8642", origin);
      h.method = method;
      h.sec_fetch_site.reset();
      AdmissionResult r = Admit(Policy(), h);
      EXPECT_EQ(r.status, 403) << method << " " << origin;
      EXPECT_NE(r.reason.find("Origin"), std::string::npos) << r.reason;
    }
  }
  // A host of this server in Origin but another one in Host (both allowed names) is foreign.
  EXPECT_EQ(Admit(Policy(), Post("127.0.0.1:8642", "http://localhost:8642")).status, 403);
  // Reads are not state-changing: a foreign Origin on a GET is answered (CORS keeps the body
  // from the foreign page: no Access-Control-Allow-Origin is ever sent).
  RequestHeaders g = Get("127.0.0.1:8642");
  g.origin = "http://evil.example";
  g.sec_fetch_site = "cross-site";
  EXPECT_TRUE(Admit(Policy(), g).ok());
  g.method = "OPTIONS";
  EXPECT_TRUE(Admit(Policy(), g).ok());
}

TEST(AdmissionTest, SecFetchSiteCrossAndSameSiteAreRefused) {
  for (const char* site : {"cross-site", "same-site", "Cross-Site"}) {
    RequestHeaders h = Post();
    h.origin.reset();  // even without an Origin
    h.sec_fetch_site = site;
    AdmissionResult r = Admit(Policy(), h);
    EXPECT_EQ(r.status, 403) << site;
    EXPECT_NE(r.reason.find("Sec-Fetch-Site"), std::string::npos) << r.reason;
  }
  for (const char* site : {"same-origin", "none"}) {
    RequestHeaders h = Post();
    h.sec_fetch_site = site;
    EXPECT_TRUE(Admit(Policy(), h).ok()) << site;
  }
}

TEST(AdmissionTest, StateChangingRequestsNeedJsonContentType) {
  for (const char* ct : {"application/json", "Application/JSON", "application/json; charset=utf-8",
                         "application/json;charset=\"UTF-8\"", "application/json ; charset=utf8"}) {
    RequestHeaders h = Post();
    h.content_type = ct;
    EXPECT_TRUE(Admit(Policy(), h).ok()) << ct;
  }
  for (const char* ct : {"text/plain", "text/plain;charset=UTF-8",
                         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "", "application/jsonx", "application/json; charset=latin1",
                         "application/json; boundary=x", "application/json; charset",
                         "application/csp-report"}) {
    RequestHeaders h = Post();
    h.content_type = ct;
    AdmissionResult r = Admit(Policy(), h);
    EXPECT_EQ(r.status, 415) << ct;
    EXPECT_NE(r.reason.find("application/json"), std::string::npos) << r.reason;
  }
  RequestHeaders none = Post();
  none.content_type.reset();  // an empty-bodied no-cors fetch sends none
  EXPECT_EQ(Admit(Policy(), none).status, 415);
  RequestHeaders get = Get("127.0.0.1:8642");
  get.content_type = "text/plain";
  EXPECT_TRUE(Admit(Policy(), get).ok());  // reads carry no body to check
}

TEST(AdmissionTest, RulesApplyInOrder) {
  // Host before Origin before Content-Type: the first failing rule answers.
  RequestHeaders h = Post("evil.example:8642", "http://evil.example:8642");
  h.content_type = "text/plain";
  EXPECT_EQ(Admit(Policy(), h).status, 403);
  h.host = "127.0.0.1:8642";
  AdmissionResult r = Admit(Policy(), h);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.reason.find("Origin"), std::string::npos);
  h.origin = "http://127.0.0.1:8642";
  EXPECT_EQ(Admit(Policy(), h).status, 415);
}

TEST(AdmissionTest, ReasonsAreOneShortLine) {
  const std::string host = std::string(5000, 'a') + "\n:8642";  // outlives the views in h
  RequestHeaders h = Get(host);
  AdmissionResult r = Admit(Policy(), h);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.reason.find('\n'), std::string::npos);
  EXPECT_LT(r.reason.size(), 300u);
}

TEST(AdmissionTest, ParseHostHeader) {
  std::string name;
  std::optional<int> port;
  ASSERT_TRUE(ParseHostHeader("Example.COM:80", &name, &port));
  EXPECT_EQ(name, "example.com");
  EXPECT_EQ(port, 80);
  ASSERT_TRUE(ParseHostHeader("[::FFFF:127.0.0.1]", &name, &port));
  EXPECT_EQ(name, "::ffff:127.0.0.1");
  EXPECT_FALSE(port.has_value());
  EXPECT_TRUE(IsStateChanging("POST"));
  EXPECT_TRUE(IsStateChanging("DELETE"));
  EXPECT_FALSE(IsStateChanging("GET"));
  EXPECT_FALSE(IsStateChanging("HEAD"));
}

}  // namespace
}  // namespace inloop::http
