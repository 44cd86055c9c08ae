// The MLflow translation rules without a store (http/mlflow_translate.h): status and tag mapping,
// key validation, the write bodies and MLflow's batch limits, the run JSON, and runs/search's
// filter, LIKE, order_by and sort.
#include "http/mlflow_translate.h"

#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

namespace inloop::http::mlflow {
namespace {

std::string ErrorCode(const HttpResponse& r) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(r.body).get(e)) return "unparsable: " + r.body;
  std::string_view code;
  if (e["error_code"].get_string().get(code)) return "no error_code: " + r.body;
  return std::string(code);
}

TEST(MlflowTranslate, StatusesMapBothWays) {
  std::string s;
  for (auto [ml, in] : std::vector<std::pair<std::string, std::string>>{{"RUNNING", "running"},
                                                                        {"FINISHED", "finished"},
                                                                        {"FAILED", "failed"},
                                                                        {"KILLED", "stopped"}}) {
    ASSERT_TRUE(InloopStatus(ml, &s)) << ml;
    EXPECT_EQ(s, in);
    EXPECT_EQ(MlflowStatus(in), ml);
  }
  EXPECT_TRUE(InloopStatus("SCHEDULED", &s));
  EXPECT_EQ(s, "running");
  EXPECT_STREQ(MlflowStatus("interrupted"), "KILLED");
  EXPECT_FALSE(InloopStatus("running", &s));  // MLflow's names only
  EXPECT_FALSE(InloopStatus("DONE", &s));
}

TEST(MlflowTranslate, TagsAreKeyEqualsValue) {
  EXPECT_EQ(TagOf("mlflow.runName", "a=b"), "mlflow.runName=a=b");
  auto [k, v] = SplitTag("mlflow.runName=a=b");
  EXPECT_EQ(k, "mlflow.runName");
  EXPECT_EQ(v, "a=b");
  auto [k2, v2] = SplitTag("baseline");  // an inloop tag without '='
  EXPECT_EQ(k2, "baseline");
  EXPECT_EQ(v2, "");
}

TEST(MlflowTranslate, KeysFollowMlflowRule) {
  std::string why;
  for (const char* ok : {"loss", "train/loss", "val acc", "a.b-c_d:e", "épreuve"}) {
    EXPECT_TRUE(ValidKey(ok, "key", &why)) << ok << ": " << why;
  }
  for (const char* bad : {"", "a=b", "a\nb", "/abs", "../up", "a/../b", "..", "x\"y"}) {
    EXPECT_FALSE(ValidKey(bad, "key", &why)) << bad;
  }
  EXPECT_FALSE(ValidKey(std::string(251, 'a'), "key", &why));
  EXPECT_TRUE(ValidKey(std::string(250, 'a'), "key", &why));
}

TEST(MlflowTranslate, LogBatchParsesTheDocumentedShape) {
  // The body MlflowClient.log_batch sends (protobuf JSON: int64 as strings or numbers).
  std::string body = R"({"run_id":"r1","metrics":[
      {"key":"loss","value":0.5,"timestamp":1700000000123,"step":3},
      {"key":"loss","value":"NaN","timestamp":"1700000000124","step":"4"},
      {"key":"acc","value":1}],
    "params":[{"key":"lr","value":"0.01"}],
    "tags":[{"key":"mlflow.runName","value":"fancy"},{"key":"note"}]})";
  Batch b;
  auto bad = ParseLogBatch(body, 42, &b);
  ASSERT_FALSE(bad) << bad->body;
  EXPECT_EQ(b.run_id, "r1");
  ASSERT_EQ(b.metrics.size(), 3u);
  EXPECT_EQ(b.metrics[0].timestamp_ms, 1700000000123);
  EXPECT_EQ(b.metrics[0].step, 3);
  EXPECT_TRUE(std::isnan(b.metrics[1].value));
  EXPECT_EQ(b.metrics[1].step, 4);
  EXPECT_EQ(b.metrics[1].timestamp_ms, 1700000000124);
  EXPECT_EQ(b.metrics[2].timestamp_ms, 42);  // absent: now
  EXPECT_EQ(b.metrics[2].step, 0);
  ASSERT_EQ(b.params.size(), 1u);
  EXPECT_EQ(b.params[0].second, "0.01");
  ASSERT_EQ(b.tags.size(), 2u);
  EXPECT_EQ(b.tags[1].second, "");
}

TEST(MlflowTranslate, LogBatchRefusesBadInputWhole) {
  Batch b;
  b.run_id = "untouched";
  for (const char* body : {"", "[]", "not json", R"({"metrics":[]})",    // no run_id
                           R"({"run_id":"r","metrics":[{"key":"a"}]})",  // no value
                           R"({"run_id":"r","metrics":[{"key":"a","value":"x"}]})",
                           R"({"run_id":"r","metrics":[{"key":"a=b","value":1}]})",
                           R"({"run_id":"r","metrics":[{"key":"a","value":1,"step":1.5}]})",
                           R"({"run_id":"r","metrics":[{"key":"a","value":1,"timestamp":"soon"}]})",
                           R"({"run_id":"r","params":[{"key":"lr"}]})",  // a param needs a value
                           R"({"run_id":"r","params":{"lr":"1"}})", R"({"run_id":"r","tags":[7]})",
                           R"({"run_id":7})"}) {
    auto bad = ParseLogBatch(body, 0, &b);
    ASSERT_TRUE(bad) << body;
    EXPECT_EQ(bad->status, 400) << body;
    EXPECT_EQ(ErrorCode(*bad), "INVALID_PARAMETER_VALUE") << body;
    EXPECT_EQ(b.run_id, "untouched");
  }
}

std::string BatchOf(size_t metrics, size_t params, size_t tags) {
  std::string body = R"({"run_id":"r","metrics":[)";
  for (size_t i = 0; i < metrics; ++i) {
    body += fmt::format(R"({}{{"key":"m{}","value":{},"timestamp":1,"step":{}}})", i ? "," : "",
                        i % 7, i, i);
  }
  body += R"(],"params":[)";
  for (size_t i = 0; i < params; ++i) {
    body += fmt::format(R"({}{{"key":"p{}","value":"v"}})", i ? "," : "", i);
  }
  body += R"(],"tags":[)";
  for (size_t i = 0; i < tags; ++i) {
    body += fmt::format(R"({}{{"key":"t{}","value":"v"}})", i ? "," : "", i);
  }
  return body + "]}";
}

TEST(MlflowTranslate, LogBatchEnforcesMlflowLimits) {
  Batch b;
  EXPECT_FALSE(ParseLogBatch(BatchOf(1000, 0, 0), 0, &b));
  EXPECT_EQ(b.metrics.size(), 1000u);
  EXPECT_FALSE(ParseLogBatch(BatchOf(0, 100, 100), 0, &b));
  EXPECT_FALSE(ParseLogBatch(BatchOf(800, 100, 100), 0, &b));
  for (auto [m, p, t] : std::vector<std::tuple<size_t, size_t, size_t>>{
           {1001, 0, 0}, {0, 101, 0}, {0, 0, 101}, {900, 100, 1}}) {
    auto bad = ParseLogBatch(BatchOf(m, p, t), 0, &b);
    ASSERT_TRUE(bad) << m << " " << p << " " << t;
    EXPECT_EQ(ErrorCode(*bad), "INVALID_PARAMETER_VALUE");
    EXPECT_NE(bad->body.find("at most 1000 metrics"), std::string::npos) << bad->body;
  }
  std::string long_param = fmt::format(R"({{"run_id":"r","key":"k","value":"{}"}})",
                                       std::string(kMaxParamValueLength + 1, 'x'));
  EXPECT_TRUE(ParseLogParam(long_param, &b));
}

TEST(MlflowTranslate, SingleWritesBecomeBatches) {
  Batch b;
  ASSERT_FALSE(ParseLogMetric(
      R"({"run_id":"r","run_uuid":"r","key":"loss","value":2.5,"timestamp":5,"step":-1})", 0, &b));
  ASSERT_EQ(b.metrics.size(), 1u);
  EXPECT_EQ(b.metrics[0].step, -1);
  EXPECT_EQ(b.metrics[0].value, 2.5);
  ASSERT_FALSE(ParseLogParam(R"({"run_uuid":"r2","key":"lr","value":"0.1"})", &b));
  EXPECT_EQ(b.run_id, "r2");
  ASSERT_EQ(b.params.size(), 1u);
  ASSERT_FALSE(ParseSetTag(R"({"run_id":"r","key":"k","value":"v"})", &b));
  ASSERT_EQ(b.tags.size(), 1u);
  EXPECT_TRUE(ParseLogMetric(R"({"run_id":"r","key":"loss"})", 0, &b));
}

TEST(MlflowTranslate, RunJsonHasMlflowShape) {
  RunView v;
  v.run_id = "20260101-000000-abcd";
  v.run_name = "n";
  v.experiment_id = 3;
  v.status = "stopped";
  v.start_time_ms = 1000;
  v.end_time_ms = 2000;
  v.metrics.push_back({"loss", std::nan(""), 5, 7});
  v.params["lr"] = "0.1";
  v.tags["t"] = "x";
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(RunJson(v)).get(e));
  EXPECT_EQ(std::string_view(e["info"]["run_id"].get_string()), v.run_id);
  EXPECT_EQ(std::string_view(e["info"]["run_uuid"].get_string()), v.run_id);
  EXPECT_EQ(std::string_view(e["info"]["experiment_id"].get_string()), "3");
  EXPECT_EQ(std::string_view(e["info"]["status"].get_string()), "KILLED");
  EXPECT_EQ(int64_t(e["info"]["end_time"].get_int64()), 2000);
  EXPECT_EQ(std::string_view(e["data"]["metrics"].at(0)["value"].get_string()), "NaN");
  EXPECT_EQ(int64_t(e["data"]["metrics"].at(0)["step"].get_int64()), 7);
  EXPECT_EQ(std::string_view(e["data"]["params"].at(0)["key"].get_string()), "lr");
  EXPECT_EQ(std::string_view(e["data"]["tags"].at(0)["value"].get_string()), "x");
}

RunView MakeRun(const std::string& id, int64_t start, double loss, const std::string& lr) {
  RunView v;
  v.run_id = id;
  v.run_name = "run-" + id;
  v.status = "finished";
  v.start_time_ms = start;
  if (loss >= 0) v.metrics.push_back({"val loss", loss, start, 10});
  if (!lr.empty()) v.params["lr"] = lr;
  v.tags["mlflow.user"] = "ada";
  return v;
}

TEST(MlflowTranslate, FilterParsesCommonForms) {
  std::vector<Clause> c;
  ASSERT_TRUE(ParseFilter("", &c).ok());
  EXPECT_TRUE(c.empty());
  ASSERT_TRUE(ParseFilter("metrics.`val loss` < 0.5 and params.lr = '0.01' AND "
                          "tags.\"mlflow.user\" LIKE 'a%' and attributes.status = 'FINISHED'",
                          &c)
                  .ok());
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].entity, Clause::Entity::kMetric);
  EXPECT_EQ(c[0].key, "val loss");
  EXPECT_EQ(c[0].op, "<");
  EXPECT_EQ(c[0].number, 0.5);
  EXPECT_EQ(c[1].key, "lr");
  EXPECT_EQ(c[1].text, "0.01");
  EXPECT_EQ(c[2].key, "mlflow.user");
  EXPECT_EQ(c[2].op, "LIKE");
  EXPECT_EQ(c[3].key, "status");
  ASSERT_TRUE(ParseFilter("tags.mlflow.runName = 'x' and run_name != \"y\"", &c).ok());
  EXPECT_EQ(c[0].key, "mlflow.runName");
  EXPECT_EQ(c[1].key, "run_name");
  ASSERT_TRUE(ParseFilter("attributes.run_id IN ('a', \"b\")", &c).ok());
  ASSERT_EQ(c[0].list.size(), 2u);
  EXPECT_EQ(c[0].list[1], "b");
  ASSERT_TRUE(ParseFilter("params.opt IS NULL", &c).ok());
  EXPECT_EQ(c[0].op, "IS NULL");
}

TEST(MlflowTranslate, FilterRefusesWhatItDoesNotParse) {
  std::vector<Clause> c;
  for (const char* bad :
       {"metrics.loss < 1 OR metrics.loss > 2", "metrics.loss < 'a'", "params.lr > '1'",
        "params.lr = 0.1", "nonsense", "foo.bar = 'x'", "attributes.color = 'red'",
        "metrics.loss LIKE '1%'", "metrics.loss <", "params.lr = 'unterminated",
        "metrics.loss < 1 and", "params.lr IN ('a')", "attributes.run_id IN ('a' 'b')"}) {
    Status s = ParseFilter(bad, &c);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << bad;
  }
}

TEST(MlflowTranslate, FilterMatchesLikeMlflow) {
  std::vector<Clause> c;
  RunView a = MakeRun("a", 1, 0.3, "0.01"), b = MakeRun("b", 2, 0.7, "0.1"),
          none = MakeRun("n", 3, -1, "");
  auto match = [&](const std::string& f, const RunView& r) {
    EXPECT_TRUE(ParseFilter(f, &c).ok()) << f;
    return Matches(c, r);
  };
  EXPECT_TRUE(match("metrics.`val loss` < 0.5", a));
  EXPECT_FALSE(match("metrics.`val loss` < 0.5", b));
  EXPECT_FALSE(match("metrics.`val loss` < 0.5", none));  // no metric: no match
  EXPECT_FALSE(match("metrics.`val loss` != 0.5", none));
  EXPECT_TRUE(match("params.lr = '0.1'", b));
  EXPECT_TRUE(match("params.lr != '0.1'", a));
  EXPECT_FALSE(match("params.lr != '0.1'", none));
  EXPECT_TRUE(match("params.lr IS NULL", none));
  EXPECT_TRUE(match("tags.`mlflow.user` ILIKE 'AD_'", a));
  EXPECT_FALSE(match("tags.`mlflow.user` LIKE 'AD_'", a));
  EXPECT_TRUE(match("attributes.status = 'FINISHED' and attributes.start_time >= 2", b));
  EXPECT_FALSE(match("attributes.status = 'FINISHED' and attributes.start_time >= 2", a));
  EXPECT_TRUE(match("attributes.run_id IN ('x', 'a')", a));
  EXPECT_TRUE(match("run_name LIKE 'run-%'", a));
}

TEST(MlflowTranslate, LikePatterns) {
  EXPECT_TRUE(Like("abc", "abc", false));
  EXPECT_TRUE(Like("abc", "%", false));
  EXPECT_TRUE(Like("abc", "a%c", false));
  EXPECT_TRUE(Like("abc", "_b_", false));
  EXPECT_TRUE(Like("aXbXc", "a%b%c", false));
  EXPECT_FALSE(Like("abc", "a_", false));
  EXPECT_FALSE(Like("abc", "ABC", false));
  EXPECT_TRUE(Like("abc", "ABC", true));
  EXPECT_TRUE(Like("", "%%", false));
  EXPECT_FALSE(Like("", "_", false));
}

TEST(MlflowTranslate, OrderByAndDefaultOrder) {
  std::vector<OrderKey> keys;
  ASSERT_TRUE(ParseOrderBy({"metrics.`val loss` ASC"}, &keys).ok());
  std::vector<RunView> runs = {MakeRun("a", 1, 0.3, "0.01"), MakeRun("b", 2, 0.7, "0.1"),
                               MakeRun("n", 3, -1, ""), MakeRun("c", 4, 0.1, "1")};
  SortRuns(keys, &runs);
  EXPECT_EQ(runs[0].run_id, "c");
  EXPECT_EQ(runs[1].run_id, "a");
  EXPECT_EQ(runs[2].run_id, "b");
  EXPECT_EQ(runs[3].run_id, "n");  // without the metric: last
  ASSERT_TRUE(ParseOrderBy({"metrics.`val loss` DESC"}, &keys).ok());
  SortRuns(keys, &runs);
  EXPECT_EQ(runs[0].run_id, "b");
  EXPECT_EQ(runs[3].run_id, "n");
  ASSERT_TRUE(ParseOrderBy({"params.lr desc", "attributes.start_time"}, &keys).ok());
  EXPECT_FALSE(keys[0].ascending);
  EXPECT_TRUE(keys[1].ascending);
  SortRuns({}, &runs);  // default: newest start first
  EXPECT_EQ(runs[0].run_id, "c");
  EXPECT_EQ(runs[3].run_id, "a");
  EXPECT_FALSE(ParseOrderBy({"metrics.loss sideways"}, &keys).ok());
  EXPECT_FALSE(ParseOrderBy({"attributes.color"}, &keys).ok());
  EXPECT_FALSE(ParseOrderBy({""}, &keys).ok());
}

TEST(MlflowTranslate, ViewTypesByNameOrNumber) {
  std::string v;
  ASSERT_TRUE(ViewTypeOf(std::nullopt, &v));
  EXPECT_EQ(v, "ACTIVE_ONLY");
  ASSERT_TRUE(ViewTypeOf(std::string("2"), &v));
  EXPECT_EQ(v, "DELETED_ONLY");
  ASSERT_TRUE(ViewTypeOf(std::string("ALL"), &v));
  EXPECT_FALSE(ViewTypeOf(std::string("4"), &v));
  EXPECT_FALSE(ViewTypeOf(std::string("active_only"), &v));
  EXPECT_TRUE(InView("ACTIVE_ONLY", "active"));
  EXPECT_FALSE(InView("ACTIVE_ONLY", "deleted"));
  EXPECT_TRUE(InView("DELETED_ONLY", "deleted"));
  EXPECT_TRUE(InView("ALL", "deleted"));
}

TEST(MlflowTranslate, PageTokens) {
  int64_t off = -1;
  EXPECT_TRUE(OffsetOfToken(std::nullopt, &off).ok());
  EXPECT_EQ(off, 0);
  EXPECT_TRUE(OffsetOfToken(std::string("25"), &off).ok());
  EXPECT_EQ(off, 25);
  EXPECT_FALSE(OffsetOfToken(std::string("-1"), &off).ok());
  EXPECT_FALSE(OffsetOfToken(std::string("abc"), &off).ok());
}

TEST(MlflowTranslate, FieldsFromQueryOrBody) {
  HttpRequest get;
  get.method = "GET";
  ASSERT_TRUE(
      ParseTarget("/api/2.0/mlflow/runs/get?run_id=abc&experiment_ids=1&experiment_ids=2", &get)
          .ok());
  Fields f;
  ASSERT_FALSE(Fields::Of(get, &f));
  EXPECT_EQ(f.String("run_id").value_or(""), "abc");
  std::vector<std::string> ids;
  ASSERT_FALSE(f.Strings("experiment_ids", &ids));
  EXPECT_EQ(ids.size(), 2u);
  HttpRequest post;
  post.method = "POST";
  post.body = R"({"experiment_ids":["0", 3],"max_results":"10","start_time":17,"name":null})";
  ASSERT_FALSE(Fields::Of(post, &f));
  ASSERT_FALSE(f.Strings("experiment_ids", &ids));
  EXPECT_EQ(ids, (std::vector<std::string>{"0", "3"}));
  std::optional<int64_t> n;
  ASSERT_FALSE(f.Int("max_results", &n));
  EXPECT_EQ(n.value_or(0), 10);
  ASSERT_FALSE(f.Int("start_time", &n));
  EXPECT_EQ(n.value_or(0), 17);
  EXPECT_FALSE(f.String("name").has_value());
  std::string req;
  EXPECT_TRUE(f.Required("name", &req));
  post.body = "[1]";
  EXPECT_TRUE(Fields::Of(post, &f));
}

}  // namespace
}  // namespace inloop::http::mlflow
