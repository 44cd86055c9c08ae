// A GoogleTest fixture for the JSON API's endpoint tests (http/api.h): a fresh store open for
// writing, the StorePool and Api that `inloop serve` builds on it, and requests made from a
// method, a target and a body, answered as the server would answer them. Shared by the API's
// run, log, model, MLflow and W&B endpoint tests.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "http/api.h"
#include "support/temp_store.h"

namespace inloop::http {

class ApiFixture : public store::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    st_ = Open();
    pool_ = std::make_unique<StorePool>(dir_);
    api_ = std::make_unique<Api>(pool_.get(), &metrics_);
  }
  void TearDown() override {
    api_.reset();
    pool_.reset();
    st_.reset();
    TempStoreTest::TearDown();
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.body = body;
    Status s = ParseTarget(target, &r);
    EXPECT_TRUE(s.ok()) << s.message();
    return api_->Handle(r);
  }
  HttpResponse Get(const std::string& target) { return Call("GET", target); }
  // The response body as JSON (a test failure when it is not).
  simdjson::dom::element Json(const HttpResponse& r) {
    simdjson::dom::element e;
    EXPECT_FALSE(parser_.parse(r.body).get(e)) << r.body;
    return e;
  }

  std::unique_ptr<store::Store> st_;
  ServerMetrics metrics_;
  std::unique_ptr<StorePool> pool_;
  std::unique_ptr<Api> api_;
  simdjson::dom::parser parser_;
};

}  // namespace inloop::http
