// A GoogleTest fixture with a fresh store directory per test, removed afterwards, and helpers to
// open a Store on it and create a run. Shared by the store unit tests. BackendStoreTest runs a
// test on each backend: the embedded store, and PostgreSQL in a fresh database per test on the
// server named by INLOOP_TEST_PG_URL (a URL without a database; tests/pg/with_postgres.sh
// starts one and sets it), skipped when that is unset.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/pg_conn.h"
#include "store/store.h"

namespace inloop::store {

class TempStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-store-XXXXXX";
    dir_ = root_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<Store> Open() {
    std::unique_ptr<Store> st;
    Status s = Store::Open(dir_, true, &st);
    EXPECT_TRUE(s.ok()) << s.message();
    return st;
  }
  // A run named `name` of "python3 train.py --lr 3e-4", started at t=1000; returns its id.
  std::string NewRun(Store* st, const std::string& name = "r") {
    RunRecord r;
    r.name = name;
    r.command = {"python3", "train.py", "--lr", "3e-4"};
    r.started_at = 1000;
    EXPECT_TRUE(st->CreateRun(&r).ok());
    return r.id;
  }

  std::string dir_;   // the store's location (a directory, or a URL for PostgreSQL)
  std::string root_;  // the temporary directory
};

enum class Backend { kEmbedded, kPostgres };

class BackendStoreTest : public TempStoreTest, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    if (GetParam() != Backend::kPostgres) return;
    const char* base = getenv("INLOOP_TEST_PG_URL");
    if (!base || !*base) {
      GTEST_SKIP() << "INLOOP_TEST_PG_URL is unset (tests/pg/with_postgres.sh sets it)";
    }
    static std::atomic<int> counter{0};
    server_ = base;
    db_ = "inloop_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    Status s = pg::CreateDatabase(server_, db_, &dir_);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override {
    if (!db_.empty()) {
      Status s = pg::DropDatabase(server_, db_);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    TempStoreTest::TearDown();
  }
  bool pg() const { return GetParam() == Backend::kPostgres; }
  // Opens the store after a writer of `run_id` died, once its recovery happened: PostgreSQL
  // lets a dead session's lock go when the server notices the closed connection, so a store
  // opened before that leaves the run alone (polled, at most 60 s).
  std::unique_ptr<Store> OpenAfterDeadWriter(const std::string& run_id) {
    for (int i = 0;; ++i) {
      auto st = Open();
      RunRecord r;
      if (!st || !st->FindRun(run_id, &r).ok() || r.status != kRunning || i >= 600) return st;
      usleep(100 * 1000);
    }
  }

  std::string server_, db_;
};

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kEmbedded ? "Embedded" : "Postgres";
}

#define INLOOP_ON_EVERY_STORE_BACKEND(Suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                \
                           ::testing::Values(Backend::kEmbedded, Backend::kPostgres), \
                           BackendName)

}  // namespace inloop::store
