// Credentials, scopes and the dashboard's cookie (auth.h). No sockets, no disk.
#include "http/auth.h"

#include <fmt/format.h>

#include "common/secrets.h"
#include "common/text_trim.h"
#include "http/admission.h"
#include "http/mlflow_api.h"
#include "http/wandb_api.h"

namespace inloop::http {
namespace {

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool TokenChar(char c) {
  return NameChar(c) || c == '~' || c == '+' || c == '/' || c == '=';
}

std::string_view TrimSpaces(std::string_view s) { return TrimOws(s); }

const char* ScopeNames(unsigned scopes) {
  switch (scopes) {
    case kScopeRead: return "read";
    case kScopeRead | kScopeIngest: return "ingest";
    case kScopeRead | kScopeApprove: return "approve";
    case kAllScopes: return "every scope (the server's own token)";
    default: return "none";
  }
}

HttpResponse Unauthorized(std::string_view what) {
  HttpResponse resp = JsonError(
      401, fmt::format("token: {} (send `Authorization: Bearer TOKEN` or open the URL `inloop "
                       "serve` printed, which carries ?token=)",
                       what));
  resp.route = "unauthorized";
  return resp;
}

enum class Source { kNone, kBearer, kBasic, kQuery, kCookie };

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> BasicAuthPassword(std::string_view authorization) {
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() <= kBasic.size() || authorization.substr(0, kBasic.size()) != kBasic) {
    return std::nullopt;
  }
  std::string_view b64 = TrimSpaces(authorization.substr(kBasic.size()));
  std::string decoded;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=') break;
    int d = Base64Digit(c);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return decoded.substr(colon + 1);
}

namespace {

}  // namespace

bool ScopesOf(std::string_view scope_name, unsigned* scopes) {
  if (scope_name == "read") *scopes = kScopeRead;
  else if (scope_name == "ingest") *scopes = kScopeRead | kScopeIngest;
  else if (scope_name == "approve") *scopes = kScopeRead | kScopeApprove;
  else return false;
  return true;
}

unsigned RequiredScopes(const HttpRequest& r) {
  if (!IsStateChanging(r.method)) return kScopeRead;
  const auto& seg = r.segments;
  // MLflow's tracking API: its searches are POSTs that only read; every other POST writes runs.
  if (r.method == "POST" && mlflow::IsMlflowPath(seg)) {
    return mlflow::IsReadOnlyPost(seg) ? kScopeRead : kScopeRead | kScopeIngest;
  }
  // W&B's GraphQL and file stream: a training script's client, which writes runs.
  if (r.method == "POST" && wandb::IsWandbPath(seg)) return kScopeRead | kScopeIngest;
  if (r.method == "POST" && seg.size() >= 3 && seg[0] == "api" && seg[1] == "v1") {
    if (seg.size() == 3 && seg[2] == "runs") return kScopeRead | kScopeIngest;
    if (seg.size() == 4 && seg[2] == "sync" && seg[3] == "runs") return kScopeRead | kScopeIngest;
    if (seg.size() == 5 && seg[2] == "runs" && (seg[4] == "points" || seg[4] == "finish")) {
      return kScopeRead | kScopeIngest;
    }
    if (seg.size() == 5 && seg[2] == "actions" && (seg[4] == "approve" || seg[4] == "deny")) {
      return kScopeRead | kScopeApprove;
    }
  }
  return kAllScopes;
}

bool ValidTokenName(std::string_view name, std::string* why) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && NameChar(c);
  if (!ok) {
    *why = fmt::format("token name '{}': use 1 to 64 letters, digits, '.', '_' or '-'",
                       name.substr(0, 80));
  }
  return ok;
}

bool ValidServerToken(std::string_view token, std::string* why) {
  bool ok = !token.empty() && token.size() <= 256;
  for (char c : token) ok = ok && TokenChar(c);
  if (!ok) {
    *why = "--token / INLOOP_TOKEN: use 1 to 256 letters, digits or . _ - ~ + / = (it travels in "
           "a URL and a cookie)";
  }
  return ok;
}

std::string CookieName(int port) { return fmt::format("inloop_token_{}", port); }

std::optional<std::string_view> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = TrimSpaces(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimSpaces(pair.substr(0, eq)) != name) continue;
    std::string_view v = TrimSpaces(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return std::nullopt;
}

Authenticator::Authenticator(AuthOptions options, TokenLookup lookup)
    : options_(std::move(options)),
      lookup_(std::move(lookup)),
      cookie_name_(CookieName(options_.port)) {}

std::optional<HttpResponse> Authenticator::Check(const HttpRequest& r, Principal* who,
                                                 std::string* set_cookie) const {
  set_cookie->clear();
  // The first credential present is the one judged: Bearer, then ?token=, then the cookie.
  std::string_view presented;
  Source source = Source::kNone;
  constexpr std::string_view kBearer = "Bearer ";
  std::string_view auth = r.authorization;
  std::optional<std::string> basic = BasicAuthPassword(auth);
  if (auth.size() > kBearer.size() && auth.substr(0, kBearer.size()) == kBearer) {
    presented = TrimSpaces(auth.substr(kBearer.size()));
    source = Source::kBearer;
  } else if (basic) {  // W&B's clients: `api:KEY`; the key is the token
    presented = *basic;
    source = Source::kBasic;
  } else if (const std::string* q = r.Param("token")) {
    presented = *q;
    source = Source::kQuery;
  } else if (auto c = CookieValue(r.cookie, cookie_name_)) {
    presented = *c;
    source = Source::kCookie;
  }
  // Without a token, a cookie left by an earlier server on this port must not lock the page out.
  if (options_.no_token && source == Source::kCookie) source = Source::kNone;
  if (source == Source::kNone) {
    if (!options_.no_token) return Unauthorized("missing");
    *who = Principal{"no-token", kAllScopes};
  } else if (!options_.server_token.empty() &&
             ConstantTimeEqual(presented, options_.server_token)) {
    *who = Principal{"server-token", kAllScopes};
  } else {
    store::TokenRecord rec;
    Status s = presented.empty() || !lookup_
                   ? Status::NotFound("empty")
                   : lookup_(Sha256Hex(presented), &rec);
    // W&B's clients always send a key: with --no-token, one that is not a named token counts as
    // no credential (as the cookie of an earlier server does).
    bool no_token_basic =
        s.code() == Status::Code::kNotFound && options_.no_token && source == Source::kBasic;
    if (s.code() == Status::Code::kNotFound && !no_token_basic) {
      return Unauthorized(source == Source::kCookie
                              ? "the dashboard's cookie holds an old or revoked token"
                              : "wrong, revoked, or not a token of this server");
    }
    if (no_token_basic) {
      *who = Principal{"no-token", kAllScopes};
    } else if (!s.ok()) {
      HttpResponse resp = JsonError(500, fmt::format("token lookup failed: {}", s.message()));
      resp.route = "unauthorized";
      return resp;
    } else {
      unsigned scopes = 0;
      (void)ScopesOf(rec.scope, &scopes);  // an unknown scope in the store grants nothing
      *who = Principal{rec.name, scopes};
    }
  }
  unsigned need = RequiredScopes(r);
  if ((who->scopes & need) != need) {
    std::string fix = need == kAllScopes
                          ? std::string("the server's own token")
                          : fmt::format("scope {} (`inloop token create NAME --scope {}`)",
                                        ScopeNames(need), ScopeNames(need));
    HttpResponse resp =
        JsonError(403, fmt::format("token '{}' has scope {}: {} {} needs {}", who->name,
                                   ScopeNames(who->scopes), r.method.substr(0, 10),
                                   r.path.substr(0, 100), fix));
    resp.route = "forbidden";
    return resp;
  }
  bool cookie_safe = true;
  for (char c : presented) cookie_safe = cookie_safe && TokenChar(c);
  if (source == Source::kQuery && cookie_safe) {
    *set_cookie = fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict", cookie_name_, presented);
  }
  return std::nullopt;
}

}  // namespace inloop::http
