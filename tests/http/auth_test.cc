// Credentials and scopes of http/auth.h with an in-memory token table: Bearer / ?token= / cookie
// (and their order), the server token, named tokens by SHA-256, --no-token, the scope each
// endpoint needs, the Set-Cookie of a ?token= request, token names and --token values.
#include "http/auth.h"

#include <gtest/gtest.h>

#include <map>

#include "common/secrets.h"

namespace inloop::http {
namespace {

constexpr int kPort = 8642;

class AuthTest : public ::testing::Test {
 protected:
  // Named tokens by the SHA-256 of their secret, as the store keeps them.
  std::map<std::string, store::TokenRecord> table_;
  int lookups_ = 0;

  void AddNamed(const std::string& secret, const std::string& name, const std::string& scope) {
    table_[Sha256Hex(secret)] = store::TokenRecord{name, scope, Sha256Hex(secret), 1.0};
  }

  Authenticator Make(std::string server_token, bool no_token = false) {
    AuthOptions o;
    o.server_token = std::move(server_token);
    o.no_token = no_token;
    o.port = kPort;
    return Authenticator(o, [this](const std::string& hex, store::TokenRecord* rec) {
      ++lookups_;
      auto it = table_.find(hex);
      if (it == table_.end()) return Status::NotFound("no such token");
      *rec = it->second;
      return Status::OK();
    });
  }

  static HttpRequest Req(std::string method, std::string target) {
    HttpRequest r;
    r.method = std::move(method);
    EXPECT_TRUE(ParseTarget(target, &r).ok()) << target;
    return r;
  }

  // The status Check answers (0 when admitted), filling who / cookie.
  int Status_(const Authenticator& a, const HttpRequest& r, Principal* who = nullptr,
              std::string* cookie = nullptr) {
    Principal p;
    std::string c;
    auto refusal = a.Check(r, &p, &c);
    if (who) *who = p;
    if (cookie) *cookie = c;
    return refusal ? refusal->status : 0;
  }
};

TEST_F(AuthTest, ServerTokenAsBearerQueryOrCookie) {
  Authenticator a = Make("s3cret");
  HttpRequest r = Req("GET", "/api/v1/runs");
  EXPECT_EQ(Status_(a, r), 401);
  r.authorization = "Bearer s3cret";
  Principal who;
  EXPECT_EQ(Status_(a, r, &who), 0);
  EXPECT_EQ(who.name, "server-token");
  EXPECT_EQ(who.scopes, kAllScopes);
  EXPECT_EQ(who.Audit(), "http:server-token");
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cretx", "Bearer ", "Basic s3cret", "s3cret"}) {
    r.authorization = wrong;
    EXPECT_EQ(Status_(a, r), 401) << wrong;
  }
  HttpRequest q = Req("GET", "/api/v1/stream?token=s3cret");
  EXPECT_EQ(Status_(a, q), 0);
  EXPECT_EQ(Status_(a, Req("GET", "/api/v1/stream?token=s3cretx")), 401);
  HttpRequest c = Req("GET", "/");
  c.cookie = "theme=dark; inloop_token_8642=s3cret; other=1";
  EXPECT_EQ(Status_(a, c), 0);
  c.cookie = "inloop_token_9999=s3cret";  // another port's server
  EXPECT_EQ(Status_(a, c), 401);
}

TEST_F(AuthTest, FirstPresentedCredentialIsJudged) {
  Authenticator a = Make("s3cret");
  HttpRequest r = Req("GET", "/api/v1/runs?token=s3cret");
  r.authorization = "Bearer wrong";
  EXPECT_EQ(Status_(a, r), 401);  // a wrong Bearer is not rescued by the query
  HttpRequest q = Req("GET", "/api/v1/runs?token=s3cret");
  q.cookie = "inloop_token_8642=old";
  EXPECT_EQ(Status_(a, q), 0);  // a fresh ?token= wins over an old cookie
  HttpRequest stale = Req("GET", "/");
  stale.cookie = "inloop_token_8642=old";
  Principal who;
  std::string cookie;
  auto refusal = a.Check(stale, &who, &cookie);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 401);
  EXPECT_NE(refusal->body.find("cookie"), std::string::npos) << refusal->body;
}

TEST_F(AuthTest, QueryTokenSetsAStrictHttpOnlyCookiePerPort) {
  Authenticator a = Make("s3cret");
  std::string cookie;
  EXPECT_EQ(Status_(a, Req("GET", "/?token=s3cret"), nullptr, &cookie), 0);
  EXPECT_EQ(cookie, "inloop_token_8642=s3cret; Path=/; HttpOnly; SameSite=Strict");
  HttpRequest bearer = Req("GET", "/");
  bearer.authorization = "Bearer s3cret";
  EXPECT_EQ(Status_(a, bearer, nullptr, &cookie), 0);
  EXPECT_EQ(cookie, "");  // API clients get no cookie
  EXPECT_EQ(Status_(a, Req("GET", "/?token=bad"), nullptr, &cookie), 401);
  EXPECT_EQ(cookie, "");
}

TEST_F(AuthTest, NamedTokensByDigestWithScopes) {
  AddNamed("inl_reader", "alice-read", "read");
  AddNamed("inl_ingester", "ci", "ingest");
  AddNamed("inl_approver", "bob", "approve");
  Authenticator a = Make("s3cret");
  auto with = [](HttpRequest r, const char* secret) {
    r.authorization = std::string("Bearer ") + secret;
    return r;
  };
  HttpRequest runs = Req("GET", "/api/v1/runs");
  HttpRequest approve = Req("POST", "/api/v1/actions/3/approve");
  HttpRequest deny = Req("POST", "/api/v1/actions/3/deny");
  HttpRequest create = Req("POST", "/api/v1/runs");
  HttpRequest points = Req("POST", "/api/v1/runs/r1/points");
  HttpRequest finish = Req("POST", "/api/v1/runs/r1/finish");
  HttpRequest other = Req("POST", "/api/v1/params");
  Principal who;
  // read: GET only.
  EXPECT_EQ(Status_(a, with(runs, "inl_reader"), &who), 0);
  EXPECT_EQ(who.Audit(), "http:alice-read");
  for (auto* r : {&approve, &deny, &create, &points, &finish, &other}) {
    EXPECT_EQ(Status_(a, with(*r, "inl_reader")), 403) << r->path;
  }
  // ingest: read + runs, points, finish; never a decision.
  for (auto* r : {&runs, &create, &points, &finish}) {
    EXPECT_EQ(Status_(a, with(*r, "inl_ingester")), 0) << r->path;
  }
  EXPECT_EQ(Status_(a, with(approve, "inl_ingester")), 403);
  EXPECT_EQ(Status_(a, with(deny, "inl_ingester")), 403);
  // approve: read + approve/deny; not ingest.
  for (auto* r : {&runs, &approve, &deny}) {
    EXPECT_EQ(Status_(a, with(*r, "inl_approver"), &who), 0) << r->path;
    EXPECT_EQ(who.name, "bob");
  }
  EXPECT_EQ(Status_(a, with(create, "inl_approver")), 403);
  EXPECT_EQ(Status_(a, with(points, "inl_approver")), 403);
  // Any other state-changing request: the server token only (it then gets its 404/405).
  EXPECT_EQ(Status_(a, with(other, "inl_approver")), 403);
  EXPECT_EQ(Status_(a, with(other, "s3cret")), 0);
  // The refusal names the token, its scope and the scope needed.
  std::string cookie;
  auto refusal = a.Check(with(approve, "inl_reader"), &who, &cookie);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_NE(refusal->body.find("alice-read"), std::string::npos) << refusal->body;
  EXPECT_NE(refusal->body.find("--scope approve"), std::string::npos) << refusal->body;
  // Unknown and revoked secrets: 401.
  EXPECT_EQ(Status_(a, with(runs, "inl_nobody")), 401);
  table_.clear();
  EXPECT_EQ(Status_(a, with(runs, "inl_reader")), 401);
  // The server token never costs a lookup.
  int before = lookups_;
  EXPECT_EQ(Status_(a, with(runs, "s3cret")), 0);
  EXPECT_EQ(lookups_, before);
}

TEST_F(AuthTest, NamedTokenInQuerySetsItsCookie) {
  AddNamed("inl_reader", "alice-read", "read");
  Authenticator a = Make("s3cret");
  std::string cookie;
  EXPECT_EQ(Status_(a, Req("GET", "/?token=inl_reader"), nullptr, &cookie), 0);
  EXPECT_EQ(cookie, "inloop_token_8642=inl_reader; Path=/; HttpOnly; SameSite=Strict");
  HttpRequest c = Req("POST", "/api/v1/actions/1/approve");
  c.cookie = "inloop_token_8642=inl_reader";
  EXPECT_EQ(Status_(a, c), 403);  // the cookie carries the read scope only
}

TEST_F(AuthTest, NoToken) {
  Authenticator a = Make("", true);
  Principal who;
  EXPECT_EQ(Status_(a, Req("POST", "/api/v1/actions/1/approve"), &who), 0);
  EXPECT_EQ(who.Audit(), "http:no-token");
  EXPECT_EQ(who.scopes, kAllScopes);
  HttpRequest stale = Req("GET", "/");
  stale.cookie = "inloop_token_8642=left-by-an-earlier-server";
  EXPECT_EQ(Status_(a, stale), 0);  // an old cookie does not lock the page out
  HttpRequest wrong = Req("GET", "/api/v1/runs");
  wrong.authorization = "Bearer wrong";
  EXPECT_EQ(Status_(a, wrong), 401);  // a presented token is still checked
  AddNamed("inl_reader", "alice-read", "read");
  wrong.authorization = "Bearer inl_reader";
  HttpRequest post = Req("POST", "/api/v1/runs");
  post.authorization = "Bearer inl_reader";
  EXPECT_EQ(Status_(a, wrong), 0);
  EXPECT_EQ(Status_(a, post), 403);
}

TEST_F(AuthTest, RequiredScopes) {
  EXPECT_EQ(RequiredScopes(Req("GET", "/api/v1/actions")), kScopeRead);
  EXPECT_EQ(RequiredScopes(Req("GET", "/")), kScopeRead);
  EXPECT_EQ(RequiredScopes(Req("HEAD", "/")), kScopeRead);
  EXPECT_EQ(RequiredScopes(Req("POST", "/api/v1/runs")), kScopeRead | kScopeIngest);
  EXPECT_EQ(RequiredScopes(Req("POST", "/api/v1/actions/2/deny")), kScopeRead | kScopeApprove);
  EXPECT_EQ(RequiredScopes(Req("PUT", "/api/v1/actions/2/approve")), kAllScopes);
  EXPECT_EQ(RequiredScopes(Req("DELETE", "/api/v1/runs")), kAllScopes);
  EXPECT_EQ(RequiredScopes(Req("POST", "/api/v1/runs/x/series")), kAllScopes);
  unsigned s = 0;
  EXPECT_TRUE(ScopesOf("ingest", &s));
  EXPECT_EQ(s, kScopeRead | kScopeIngest);
  EXPECT_FALSE(ScopesOf("admin", &s));
  EXPECT_FALSE(ScopesOf("", &s));
}

TEST_F(AuthTest, NamesValuesAndCookies) {
  std::string why;
  EXPECT_TRUE(ValidTokenName("ci-runner_2.prod", &why));
  for (const char* bad : {"", "a b", "ünï", "x;y", "a/b"}) {
    EXPECT_FALSE(ValidTokenName(bad, &why)) << bad;
  }
  EXPECT_FALSE(ValidTokenName(std::string(65, 'a'), &why));
  EXPECT_TRUE(ValidServerToken("s3cret-token", &why));
  EXPECT_TRUE(ValidServerToken("abc+/=~._-", &why));
  for (const char* bad : {"", "a b", "a;b", "a\"b", "a,b", "a\nb"}) {
    EXPECT_FALSE(ValidServerToken(bad, &why)) << bad;
    EXPECT_NE(why.find("--token"), std::string::npos);
  }
  EXPECT_EQ(CookieName(8642), "inloop_token_8642");
  EXPECT_EQ(CookieValue("a=1; inloop_token_1=x ;b=2", "inloop_token_1"), "x");
  EXPECT_EQ(CookieValue("a=1;inloop_token_1=\"q\"", "inloop_token_1"), "q");
  EXPECT_FALSE(CookieValue("xinloop_token_1=x", "inloop_token_1").has_value());
  EXPECT_FALSE(CookieValue("", "inloop_token_1").has_value());
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
}

TEST(SecretsTest, RandomHexAndSha256) {
  std::string a, b;
  ASSERT_TRUE(RandomHex(32, &a).ok());
  ASSERT_TRUE(RandomHex(32, &b).ok());
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace inloop::http
