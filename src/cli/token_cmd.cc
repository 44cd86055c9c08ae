// `inloop token create NAME --scope read|ingest|approve | list | revoke NAME`: named API tokens of
// `inloop serve` (http/auth.h). The secret is drawn here (getrandom), printed once, and only its
// SHA-256 goes into the store; a running server sees a new or revoked token at its next request.
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "cli/cli_util.h"
#include "cli/exit_codes.h"
#include "cli/verbs.h"
#include "common/display_text.h"
#include "common/json_writer.h"
#include "common/secrets.h"
#include "http/auth.h"
#include "store/store.h"

namespace inloop::cli {
namespace {

double Now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

int Create(const TokenArgs& a) {
  std::string why;
  if (!http::ValidTokenName(a.name, &why)) {
    fmt::print(stderr, "inloop: error: {}\n", why);
    return kExitUsage;
  }
  unsigned scopes = 0;
  if (!http::ScopesOf(a.scope, &scopes)) {
    fmt::print(stderr, "inloop: error: --scope '{}': give read, ingest or approve\n", a.scope);
    return kExitUsage;
  }
  std::string hex;
  Status s = RandomHex(32, &hex);
  if (!s.ok()) return Fail(s);
  std::string secret = "inl_" + hex;
  // A token may be made before any run (a central server's first client): the store is made too.
  std::unique_ptr<store::Store> st;
  s = store::Store::Open(ResolveStore(a.store_dir), true, &st);
  store::TokenRecord rec{a.name, a.scope, Sha256Hex(secret), Now()};
  if (s.ok()) s = st->AddToken(rec);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginObject().Key("name").String(rec.name).Key("scope").String(rec.scope);
    w.Key("token").String(secret).Key("created_at").Number(rec.created_at).EndObject();
    fmt::print("{}\n", w.Take());
  } else {
    fmt::print("{}\n", secret);
  }
  std::fflush(stdout);
  fmt::print(stderr,
             "inloop token: '{}' (scope {}) is shown once; the store keeps only its SHA-256. "
             "Send it as `Authorization: Bearer TOKEN`, or open the server's URL with "
             "?token=TOKEN\n",
             rec.name, rec.scope);
  return kExitOk;
}

int List(const TokenArgs& a) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  std::vector<store::TokenRecord> tokens;
  if (s.ok()) s = st->ListTokens(&tokens);
  if (!s.ok()) return Fail(s);
  if (a.json) {
    JsonWriter w;
    w.BeginArray();
    for (auto& t : tokens) {
      w.BeginObject().Key("name").String(t.name).Key("scope").String(t.scope);
      w.Key("created_at").Number(t.created_at).EndObject();
    }
    w.EndArray();
    fmt::print("{}\n", w.Take());
    return kExitOk;
  }
  if (tokens.empty()) {
    fmt::print("no tokens (inloop token create NAME --scope read|ingest|approve)\n");
    return kExitOk;
  }
  fmt::print("{:<24} {:<8} {}\n", "NAME", "SCOPE", "CREATED");
  for (auto& t : tokens) {
    fmt::print("{:<24} {:<8} {}\n", t.name, t.scope, LocalTimeText(t.created_at));
  }
  return kExitOk;
}

int Revoke(const TokenArgs& a) {
  std::unique_ptr<store::Store> st;
  Status s = OpenStore(ResolveStore(a.store_dir), &st);
  if (s.ok()) s = st->RevokeToken(a.name);
  if (!s.ok()) return Fail(s);
  fmt::print("revoked token '{}': servers on this store refuse it from their next request\n",
             a.name);
  return kExitOk;
}

}  // namespace

int CmdToken(const TokenArgs& a) {
  if (a.verb == "create") return Create(a);
  if (a.verb == "list") return List(a);
  if (a.verb == "revoke") return Revoke(a);
  return kExitUsage;
}

}  // namespace inloop::cli
