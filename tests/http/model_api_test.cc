// GET /api/v1/models and /api/v1/models/{name} (http/model_view.h) over a real store: the list
// by name with each model's champion, one model's versions and stage changes, 404s and 405s.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "http/api.h"
#include "support/api_fixture.h"

namespace inloop::http {
namespace {

class ModelApiTest : public ApiFixture {
 protected:
  void AddVersion(const std::string& name, const std::string& run) {
    store::ModelVersionRecord v;
    v.name = name;
    v.run_id = run;
    v.metrics = {{"val/acc", 0.75}};
    ASSERT_TRUE(st_->AddModelVersion(&v).ok());
  }
};

TEST_F(ModelApiTest, ListsModelsAndShowsOne) {
  HttpResponse empty = Call("GET", "/api/v1/models");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, R"({"models":[]})");

  std::string run = NewRun(st_.get());
  AddVersion("clf", run);
  AddVersion("clf", run);
  AddVersion("big", run);
  store::ModelStageChange c;
  c.name = "clf";
  c.version = 2;
  c.from_stage = store::kStageCandidate;
  c.to_stage = store::kStageChampion;
  c.by = "cli:me@host";
  c.reason = "the gate passed";
  c.gate_json = R"({"passed":true})";
  ASSERT_TRUE(st_->ChangeModelStage(&c).ok());

  HttpResponse list = Call("GET", "/api/v1/models");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.route, "/api/v1/models");
  EXPECT_EQ(list.body,
            R"({"models":[{"name":"big","champion":null,"versions":1,"latest":1},)"
            R"({"name":"clf","champion":2,"versions":2,"latest":2}]})");

  HttpResponse one = Call("GET", "/api/v1/models/clf");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.route, "/api/v1/models/{name}");
  simdjson::dom::element d;
  ASSERT_FALSE(parser_.parse(one.body).get(d)) << one.body;
  EXPECT_EQ(int64_t(d["champion"]), 2);
  EXPECT_EQ(simdjson::dom::array(d["versions"]).size(), 2u);
  EXPECT_EQ(std::string_view(d["versions"].at(1)["stage"]), "champion");
  EXPECT_DOUBLE_EQ(double(d["versions"].at(0)["metrics"]["val/acc"]), 0.75);
  EXPECT_EQ(std::string_view(d["changes"].at(0)["by"]), "cli:me@host");
  EXPECT_TRUE(bool(d["changes"].at(0)["gate"]["passed"]));

  EXPECT_EQ(Call("GET", "/api/v1/models/nothing").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/models/bad%20name").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/models").status, 405);
  EXPECT_EQ(Call("DELETE", "/api/v1/models/clf").status, 405);
}

}  // namespace
}  // namespace inloop::http
