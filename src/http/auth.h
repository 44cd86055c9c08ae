// Auth: who a request of `inloop serve` comes from and what it may do (docs/security.md).
//
// Credentials, looked for in this order (the first one present is the one judged):
//   `Authorization: Bearer T`; `Authorization: Basic base64(USER:T)` (W&B's clients send
//   `api:KEY`: an inloop token as WANDB_API_KEY); `?token=T`; the cookie `inloop_token_<PORT>` that the server sets
//   (HttpOnly, SameSite=Strict, Path=/) when a request presents a valid `?token=`, so that the
//   dashboard opened from the printed URL keeps working without the token in every request.
// Tokens:
//   - the per-server token (random by default, or --token / INLOOP_TOKEN): every scope, audit name
//     `server-token`; compared in constant time;
//   - named tokens (`inloop token create NAME --scope S`), found by the SHA-256 of the presented
//     secret through an injected lookup (the store); audit name NAME;
//   - with --no-token (loopback only) a request without credentials is `no-token` with every scope;
//     a presented token is still checked, except a basic-auth key that is not a named token (W&B's
//     clients always send one): that counts as no credential.
// Scopes: read = every GET/HEAD/OPTIONS; ingest = read + POST /api/v1/runs, /runs/{id}/points,
// /runs/{id}/finish, /sync/runs, the MLflow tracking API's writes (mlflow_api.h; its POSTed
// searches need only read) and W&B's POST /graphql and file stream (wandb_api.h); approve = read + POST /api/v1/actions/{id}/approve|deny (not ingest: a
// reviewer's token cannot write data). Any other state-changing request needs every scope (only
// the server token): a new state-changing endpoint must be added to RequiredScopes.
// Missing or unknown credentials: 401; a known token without the scope: 403. No sockets, no disk
// (the lookup is injected), so every rule is unit-testable.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/router.h"
#include "store/catalog.h"

namespace inloop::http {

enum Scope : unsigned {
  kScopeRead = 1,
  kScopeIngest = 2,
  kScopeApprove = 4,
};
inline constexpr unsigned kAllScopes = kScopeRead | kScopeIngest | kScopeApprove;

// "read" -> read; "ingest" -> read|ingest; "approve" -> read|approve. False for any other name.
bool ScopesOf(std::string_view scope_name, unsigned* scopes);

// The password of `Authorization: Basic base64(USER:PASSWORD)`, or nullopt for any other header.
std::optional<std::string> BasicAuthPassword(std::string_view authorization);

// The scopes a request needs (method and decoded path segments).
unsigned RequiredScopes(const HttpRequest& r);

// A token name for `inloop token create`: 1 to 64 of [A-Za-z0-9._-]. False with `why`.
bool ValidTokenName(std::string_view name, std::string* why);
// A --token value: 1 to 256 of [A-Za-z0-9._~+/=-] (it travels in a cookie and a URL). False
// with `why`.
bool ValidServerToken(std::string_view token, std::string* why);

// The cookie that carries the token of the server on `port` (cookies ignore ports, so two servers
// on one host must not share a name).
std::string CookieName(int port);
// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt.
std::optional<std::string_view> CookieValue(std::string_view cookie_header, std::string_view name);

struct Principal {
  std::string name;     // "server-token", "no-token", or a named token's name
  unsigned scopes = 0;  // Scope bits
  std::string Audit() const { return "http:" + name; }  // decided_by of an approval
};

// Finds a named token by the SHA-256 hex of its secret; NotFound when there is none.
using TokenLookup = std::function<Status(const std::string& sha256_hex, store::TokenRecord*)>;

struct AuthOptions {
  std::string server_token;  // empty only with no_token
  bool no_token = false;
  int port = 0;
};

class Authenticator {
 public:
  Authenticator(AuthOptions options, TokenLookup lookup);

  // nullopt when `r` (its authorization, cookie, query, method and segments) may go on (*who
  // filled); else the 401/403 answer (or 500 when the lookup fails). When the request presented
  // a valid ?token=, *set_cookie receives a Set-Cookie header value that stores it.
  std::optional<HttpResponse> Check(const HttpRequest& r, Principal* who,
                                    std::string* set_cookie) const;

 private:
  AuthOptions options_;
  TokenLookup lookup_;
  std::string cookie_name_;
};

}  // namespace inloop::http
