// The MLflow tracking API (http/mlflow_api.h) through Api::Handle over a real store: experiments,
// a run's life (create, log-batch, log-metric with a step going back, params, tags, update), what
// inloop's own store then holds, search, deletes, MLflow's error codes, and the scopes it needs.
#include "http/mlflow_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "http/api.h"
#include "http/auth.h"
#include "support/api_fixture.h"

namespace inloop::http {
namespace {

class MlflowApiTest : public ApiFixture {
 protected:
  HttpResponse Post(const std::string& endpoint, const std::string& body) {
    return Call("POST", "/api/2.0/mlflow/" + endpoint, body);
  }
  std::string Code(const HttpResponse& r) {
    std::string_view c;
    if (Json(r)["error_code"].get_string().get(c)) return "none: " + r.body;
    return std::string(c);
  }
  std::string NewMlflowRun(const std::string& exp, const std::string& name) {
    HttpResponse r = Post("runs/create", R"({"experiment_id":")" + exp + R"(","run_name":")" +
                                             name + R"(","start_time":1700000000000,"user_id":"ada",
        "tags":[{"key":"mlflow.source.name","value":"train.py"}]})");
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(std::string_view(Json(r)["run"]["info"]["run_id"].get_string()));
  }

};

TEST_F(MlflowApiTest, ExperimentsCreateGetSearchRenameDelete) {
  // set_experiment's sequence: get-by-name (404), then create.
  HttpResponse r = Call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=vision");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");
  r = Post("experiments/create", R"({"name":"vision"})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id(std::string_view(Json(r)["experiment_id"].get_string()));
  EXPECT_NE(id, "0");
  r = Post("experiments/create", R"({"name":"vision"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "RESOURCE_ALREADY_EXISTS");
  r = Call("GET", "/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=vision");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Json(r)["experiment"]["experiment_id"].get_string()), id);
  r = Call("GET", "/api/2.0/mlflow/experiments/get?experiment_id=0");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Json(r)["experiment"]["name"].get_string()), "Default");
  r = Post("experiments/search", R"({"max_results":10,"filter":"name LIKE 'vis%'"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["experiments"].get_array().size(), 1u);
  r = Call("GET", "/api/2.0/mlflow/experiments/search?max_results=10");
  EXPECT_EQ(Json(r)["experiments"].get_array().size(), 2u) << r.body;  // Default + vision
  r = Post("experiments/update", R"({"experiment_id":")" + id + R"(","new_name":"vision2"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Post("experiments/delete", R"({"experiment_id":")" + id + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/api/2.0/mlflow/experiments/search?max_results=10&view_type=DELETED_ONLY");
  ASSERT_EQ(Json(r)["experiments"].get_array().size(), 1u) << r.body;
  EXPECT_EQ(std::string_view(Json(r)["experiments"].at(0)["name"].get_string()), "vision2");
  r = Post("runs/create", R"({"experiment_id":")" + id + R"("})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE") << r.body;  // a deleted experiment
  r = Post("experiments/delete", R"({"experiment_id":"0"})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
  r = Call("GET", "/api/2.0/mlflow/experiments/get?experiment_id=999");
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");
  r = Call("GET", "/api/2.0/mlflow/experiments/get?experiment_id=abc");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowApiTest, RunLifeLandsInInloopStore) {
  std::string id = NewMlflowRun("0", "baseline");
  HttpResponse r = Post("runs/log-batch", R"({"run_id":")" + id + R"(",
      "metrics":[{"key":"loss","value":2.0,"timestamp":1700000001000,"step":1},
                 {"key":"loss","value":1.5,"timestamp":1700000002000,"step":2},
                 {"key":"loss","value":1.0,"timestamp":1700000003000,"step":3}],
      "params":[{"key":"lr","value":"0.01"},{"key":"epochs","value":"3"}],
      "tags":[{"key":"model","value":"mlp"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  // A step going back (a resumed loop): kept, in a new segment, nothing overwritten.
  r = Post(
      "runs/log-metric",
      R"({"run_id":")" + id + R"(","key":"loss","value":1.7,"timestamp":1700000004000,"step":2})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Post("runs/log-parameter", R"({"run_id":")" + id + R"(","key":"lr","value":"0.01"})");
  EXPECT_EQ(r.status, 200) << r.body;  // the same value again: fine
  r = Post("runs/log-parameter", R"({"run_id":")" + id + R"(","key":"lr","value":"0.1"})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");  // params are immutable in MLflow
  r = Post("runs/set-tag", R"({"run_id":")" + id + R"(","key":"model","value":"cnn"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Post("runs/set-tag", R"({"run_id":")" + id + R"(","key":"mlflow.runName","value":"better"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Post("runs/delete-tag", R"({"run_id":")" + id + R"(","key":"mlflow.source.name"})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = Post("runs/delete-tag", R"({"run_id":")" + id + R"(","key":"never-set"})");
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");

  r = Call("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=loss");
  ASSERT_EQ(r.status, 200) << r.body;
  auto hist = Json(r)["metrics"].get_array();
  ASSERT_EQ(hist.size(), 4u) << r.body;
  EXPECT_EQ(int64_t(hist.at(3)["step"].get_int64()), 2);
  EXPECT_EQ(double(hist.at(3)["value"].get_double()), 1.7);
  EXPECT_EQ(int64_t(hist.at(0)["timestamp"].get_int64()), 1700000001000);
  r = Call("GET",
           "/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=loss&max_results=3");
  EXPECT_EQ(Json(r)["metrics"].get_array().size(), 3u);
  EXPECT_EQ(std::string_view(Json(r)["next_page_token"].get_string()), "3");

  r = Post("runs/update",
           R"({"run_id":")" + id + R"(","status":"FINISHED","end_time":1700000009000})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Json(r)["run_info"]["status"].get_string()), "FINISHED");

  // inloop's own view of the run.
  store::RunRecord run;
  ASSERT_TRUE(st_->FindRun(id, &run).ok());
  EXPECT_EQ(run.name, "better");
  EXPECT_EQ(run.status, store::kFinished);
  EXPECT_DOUBLE_EQ(run.started_at, 1700000000.0);
  EXPECT_DOUBLE_EQ(run.ended_at, 1700000009.0);
  std::vector<store::Param> params;
  ASSERT_TRUE(st_->GetParams(id, &params).ok());
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].source, "mlflow");
  std::vector<std::string> tags;
  ASSERT_TRUE(st_->GetTags(id, &tags).ok());
  EXPECT_EQ(tags,
            (std::vector<std::string>{"mlflow.runName=better", "mlflow.user=ada", "model=cnn"}));
  std::vector<store::SegmentData> segs;
  ASSERT_TRUE(st_->ReadSegments(id, "loss", &segs).ok());
  ASSERT_EQ(segs.size(), 2u);  // the step going back started a segment
  std::vector<store::SeriesStats> stats;
  ASSERT_TRUE(st_->SeriesStatsFor(id, &stats).ok());
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].points, 4);

  // The MLflow view of the same run.
  r = Call("GET", "/api/2.0/mlflow/runs/get?run_id=" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  auto data = Json(r)["run"]["data"];
  EXPECT_EQ(double(data["metrics"].at(0)["value"].get_double()), 1.7);
  EXPECT_EQ(std::string_view(Json(r)["run"]["info"]["user_id"].get_string()), "ada");
  EXPECT_EQ(std::string_view(Json(r)["run"]["info"]["run_name"].get_string()), "better");
  // A finished run still takes metrics (as MLflow does); they are sealed at once.
  r = Post("runs/log-metric", R"({"run_id":")" + id + R"(","key":"late","value":1,"step":9})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::unique_ptr<store::RunWriter> w;
  EXPECT_TRUE(st_->OpenWriter(id, &w).ok());  // no writer left open by the server
}

TEST_F(MlflowApiTest, SearchRunsFiltersOrdersAndHidesDeleted) {
  std::string a = NewMlflowRun("0", "a"), b = NewMlflowRun("0", "b"), c = NewMlflowRun("0", "c");
  auto log = [&](const std::string& id, double loss, const std::string& lr) {
    HttpResponse r =
        Post("runs/log-batch",
             R"({"run_id":")" + id + R"(","metrics":[{"key":"val_loss","value":)" +
                 std::to_string(loss) +
                 R"(,"timestamp":1,"step":1}],"params":[{"key":"lr","value":")" + lr + R"("}]})");
    ASSERT_EQ(r.status, 200) << r.body;
  };
  log(a, 0.3, "0.1");
  log(b, 0.2, "0.01");
  log(c, 0.9, "0.1");
  HttpResponse r = Post("runs/search", R"({"experiment_ids":["0"],
      "filter":"params.lr = '0.1' and metrics.val_loss < 1","order_by":["metrics.val_loss DESC"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto runs = Json(r)["runs"].get_array();
  ASSERT_EQ(runs.size(), 2u) << r.body;
  EXPECT_EQ(std::string_view(runs.at(0)["info"]["run_id"].get_string()), c);
  EXPECT_EQ(std::string_view(runs.at(1)["info"]["run_id"].get_string()), a);
  r = Post("runs/search", R"({"experiment_ids":["0"],"max_results":2})");
  EXPECT_EQ(Json(r)["runs"].get_array().size(), 2u);
  EXPECT_EQ(std::string_view(Json(r)["next_page_token"].get_string()), "2");
  ASSERT_EQ(Post("runs/delete", R"({"run_id":")" + b + R"("})").status, 200);
  r = Post("runs/search", R"({"experiment_ids":["0"]})");
  EXPECT_EQ(Json(r)["runs"].get_array().size(), 2u);
  r = Post("runs/search", R"({"experiment_ids":["0"],"run_view_type":"DELETED_ONLY"})");
  ASSERT_EQ(Json(r)["runs"].get_array().size(), 1u);
  r = Post("runs/log-metric", R"({"run_id":")" + b + R"(","key":"x","value":1})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");  // a deleted run takes nothing
  ASSERT_EQ(Post("runs/restore", R"({"run_id":")" + b + R"("})").status, 200);
  r = Post("runs/search", R"({"experiment_ids":["0"],"filter":"metrics.val_loss < 1 OR x = 1"})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
  r = Post("runs/search", R"({"experiment_ids":["0"],"order_by":["metrics.val_loss sideways"]})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
}

TEST_F(MlflowApiTest, ErrorsAreMlflowShaped) {
  HttpResponse r = Call("GET", "/api/2.0/mlflow/runs/get?run_id=nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");
  std::string id = NewMlflowRun("0", "x");
  // A run's name is not its id.
  r = Call("GET", "/api/2.0/mlflow/runs/get?run_id=x");
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");
  r = Post("runs/log-batch", R"({"run_id":"nope","metrics":[]})");
  EXPECT_EQ(Code(r), "RESOURCE_DOES_NOT_EXIST");
  r = Post("runs/log-batch", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
  r = Post("runs/update", R"({"run_id":")" + id + R"(","status":"DONE"})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
  r = Call("GET", "/api/2.0/mlflow/runs/frobnicate");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Code(r), "ENDPOINT_NOT_FOUND");
  r = Call("GET", "/api/2.0/mlflow/runs/log-batch");
  EXPECT_EQ(r.status, 405);
  r = Post("runs/log-inputs", R"({"run_id":")" + id + R"("})");
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(Code(r), "NOT_IMPLEMENTED");
  // A batch with one bad metric stores none of it.
  r = Post(
      "runs/log-batch",
      R"({"run_id":")" + id + R"(","metrics":[{"key":"ok","value":1},{"key":"bad","value":"x"}]})");
  EXPECT_EQ(Code(r), "INVALID_PARAMETER_VALUE");
  std::vector<store::SeriesStats> stats;
  ASSERT_TRUE(st_->SeriesStatsFor(id, &stats).ok());
  EXPECT_TRUE(stats.empty());
}

TEST_F(MlflowApiTest, SteplessMetricsAndOlderClients) {
  // mlflow.log_metric without a step logs step 0 each time: every value is kept, in order.
  std::string id = NewMlflowRun("0", "stepless");
  for (const char* v : {"3", "2", "1"}) {
    HttpResponse r =
        Post("runs/log-metric", R"({"run_id":")" + id + R"(","key":"loss","value":)" + v + "}");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  HttpResponse r = Call(
      "GET", "/api/2.0/preview/mlflow/metrics/get-history?run_uuid=" + id + "&metric_key=loss");
  ASSERT_EQ(r.status, 200) << r.body;  // MLflow 1.x's prefix and run_uuid
  auto hist = Json(r)["metrics"].get_array();
  ASSERT_EQ(hist.size(), 3u);
  EXPECT_EQ(double(hist.at(2)["value"].get_double()), 1.0);
  EXPECT_EQ(int64_t(hist.at(2)["step"].get_int64()), 0);
  // ViewType as its protobuf number; int64 fields as strings (protobuf JSON).
  r = Post("runs/search", R"({"experiment_ids":["0"],"run_view_type":1,"max_results":"5"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["runs"].get_array().size(), 1u);
  // A metric never logged: an empty history, as MLflow answers.
  r = Call("GET", "/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=nothing");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["metrics"].get_array().size(), 0u);
}

TEST_F(MlflowApiTest, InloopRunsReadAsDefaultExperiment) {
  // A run of `inloop run` (no MLflow link) is in experiment 0, readable by MLflow's clients.
  std::string own = NewRun(st_.get(), "supervised");
  ASSERT_TRUE(st_->SetParams(own, {{"lr", "3e-4", "argv"}}).ok());
  HttpResponse r = Post("runs/search", R"({"experiment_ids":["0"],"filter":"params.lr = '3e-4'"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto runs = Json(r)["runs"].get_array();
  ASSERT_EQ(runs.size(), 1u) << r.body;
  EXPECT_EQ(std::string_view(runs.at(0)["info"]["run_id"].get_string()), own);
  EXPECT_EQ(std::string_view(runs.at(0)["info"]["experiment_id"].get_string()), "0");
  EXPECT_EQ(std::string_view(runs.at(0)["info"]["status"].get_string()), "RUNNING");
  r = Post("runs/search", R"({"experiment_ids":["1"]})");
  EXPECT_EQ(Json(r)["runs"].get_array().size(), 0u);
  // A name with a space, as Python's requests encodes it in a query ('+').
  ASSERT_EQ(Post("experiments/create", R"({"name":"my exp"})").status, 200);
  r = Call("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=my+exp");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(std::string_view(Json(r)["experiment"]["name"].get_string()), "my exp");
}

TEST(MlflowScopes, SearchesReadEverythingElseIngests) {
  auto scopes = [](const std::string& method, const std::string& target) {
    HttpRequest r;
    r.method = method;
    EXPECT_TRUE(ParseTarget(target, &r).ok());
    return RequiredScopes(r);
  };
  EXPECT_EQ(scopes("GET", "/api/2.0/mlflow/runs/get"), unsigned(kScopeRead));
  EXPECT_EQ(scopes("POST", "/api/2.0/mlflow/runs/search"), unsigned(kScopeRead));
  EXPECT_EQ(scopes("POST", "/ajax-api/2.0/mlflow/experiments/search"), unsigned(kScopeRead));
  EXPECT_EQ(scopes("POST", "/api/2.0/mlflow/runs/log-batch"), unsigned(kScopeRead | kScopeIngest));
  EXPECT_EQ(scopes("POST", "/api/2.0/mlflow/experiments/create"),
            unsigned(kScopeRead | kScopeIngest));
  EXPECT_EQ(scopes("POST", "/api/2.0/preview/mlflow/runs/search"), unsigned(kScopeRead));
  EXPECT_EQ(scopes("POST", "/api/2.0/preview/mlflow/runs/log-batch"),
            unsigned(kScopeRead | kScopeIngest));
  EXPECT_EQ(scopes("POST", "/api/2.1/mlflow/runs/log-batch"), unsigned(kAllScopes));
  EXPECT_EQ(scopes("POST", "/api/2.0/mlflow/runs/search/x"), unsigned(kScopeRead | kScopeIngest));
}

}  // namespace
}  // namespace inloop::http
