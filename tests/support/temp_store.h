// A GoogleTest fixture with a fresh store directory per test, removed afterwards, and helpers to
// open a Store on it and create a run. Shared by the store unit tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"

namespace inloop::store {

class TempStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

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

  std::string dir_;
};

}  // namespace inloop::store
