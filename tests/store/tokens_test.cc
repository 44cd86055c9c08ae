// Store tokens: the named API tokens of `inloop serve`: add, find by digest, list by name, a name
// taken twice, revoke (then unknown), seen by a second Store on the same directory (a running
// server while `inloop token` changes them), and an old store gaining the table.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include "common/secrets.h"
#include "store/store.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

using TokenStoreTest = BackendStoreTest;

TokenRecord Token(const std::string& name, const std::string& scope, const std::string& secret) {
  return TokenRecord{name, scope, Sha256Hex(secret), 1700000000.5};
}

TEST_P(TokenStoreTest, AddFindListRevoke) {
  auto st = Open();
  auto server = Open();  // another process's Store, as `inloop serve` holds one
  ASSERT_TRUE(st->AddToken(Token("zed", "read", "inl_1")).ok());
  ASSERT_TRUE(st->AddToken(Token("alice", "approve", "inl_2")).ok());
  TokenRecord got;
  ASSERT_TRUE(server->FindToken(Sha256Hex("inl_2"), &got).ok());
  EXPECT_EQ(got.name, "alice");
  EXPECT_EQ(got.scope, "approve");
  EXPECT_EQ(got.sha256_hex, Sha256Hex("inl_2"));
  EXPECT_DOUBLE_EQ(got.created_at, 1700000000.5);
  EXPECT_EQ(server->FindToken(Sha256Hex("inl_3"), &got).code(), Status::Code::kNotFound);
  EXPECT_EQ(server->FindToken("inl_2", &got).code(), Status::Code::kNotFound);  // never by secret

  Status dup = st->AddToken(Token("alice", "read", "inl_4"));
  EXPECT_EQ(dup.code(), Status::Code::kInvalid);
  EXPECT_NE(dup.message().find("revoke"), std::string::npos) << dup.message();

  std::vector<TokenRecord> all;
  ASSERT_TRUE(st->ListTokens(&all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alice");
  EXPECT_EQ(all[1].name, "zed");

  ASSERT_TRUE(st->RevokeToken("alice").ok());
  EXPECT_EQ(server->FindToken(Sha256Hex("inl_2"), &got).code(), Status::Code::kNotFound);
  EXPECT_EQ(st->RevokeToken("alice").code(), Status::Code::kNotFound);
  ASSERT_TRUE(st->AddToken(Token("alice", "read", "inl_5")).ok());  // the name is free again
}

TEST_P(TokenStoreTest, OldStoreGainsTheTable) {
  if (pg()) GTEST_SKIP() << "the PostgreSQL store has every table since its first format";
  {
    auto st = Open();
    NewRun(st.get());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/inloop.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE tokens", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto st = Open();
  std::vector<TokenRecord> all;
  ASSERT_TRUE(st->ListTokens(&all).ok());
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(st->AddToken(Token("a", "read", "s")).ok());
}

INLOOP_ON_EVERY_STORE_BACKEND(TokenStoreTest);

}  // namespace
}  // namespace inloop::store
