// W&B requests as inloop records (http/wandb_translate.h): upsertBucket's input from the JS SDK
// and the Python client (its {"value","desc"} config), file stream bodies shaped as both clients
// send them, resends skipped by offset, and what is refused.
#include "http/wandb_translate.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include <map>

#include <gtest/gtest.h>

namespace inloop::http::wandb {
namespace {

using graphql::Value;

Value Json(const std::string& text) {
  Value v;
  Status s = graphql::ValueOfJson(text, &v);
  EXPECT_TRUE(s.ok()) << s.message();
  return v;
}

std::map<std::string, std::string> MapOf(const std::vector<store::Param>& params) {
  std::map<std::string, std::string> m;
  for (const auto& p : params) {
    EXPECT_EQ(p.source, "wandb");
    m[p.key] = p.value;
  }
  return m;
}

TEST(WandbTranslate, UpsertFromTheJsSdk) {
  RunUpsert up;
  Status s = ParseUpsert(Json(R"({"name":"k3j2h1g0","modelName":"vision","entityName":"inloop",
      "displayName":"baseline","config":"{\"lr\":0.01,\"model\":{\"depth\":4,\"act\":\"relu\"}}"})"),
                         &up);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(up.run_name, "k3j2h1g0");
  EXPECT_EQ(up.project, "vision");
  EXPECT_EQ(up.entity, "inloop");
  EXPECT_EQ(up.display_name.value_or(""), "baseline");
  ASSERT_TRUE(up.config.has_value());
  EXPECT_EQ(MapOf(*up.config), (std::map<std::string, std::string>{
                                   {"lr", "0.01"}, {"model.act", "relu"}, {"model.depth", "4"}}));
  EXPECT_FALSE(up.summary.has_value());
  EXPECT_FALSE(up.tags.has_value());
}

TEST(WandbTranslate, UpsertFromThePythonClient) {
  RunUpsert up;
  Status s = ParseUpsert(Json(R"({"name":"run1","modelName":null,"groupName":"sweep-a",
      "jobType":"train","host":"gpu-07","tags":["baseline","fp16"],
      "config":"{\"lr\": {\"desc\": null, \"value\": 0.001}, \"layers\": {\"value\": [64, 64]}, \"_wandb\": {\"desc\": null, \"value\": {\"cli_version\": \"0.17.0\"}}, \"plain\": {\"value\": 1, \"other\": 2}}",
      "summaryMetrics":"{\"acc\": 0.9, \"_runtime\": 12, \"img\": {\"_type\": \"image-file\"}}"})"),
                         &up);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(up.project, "uncategorized");
  EXPECT_EQ(up.entity, "inloop");
  ASSERT_TRUE(up.tags.has_value());
  EXPECT_EQ(*up.tags, (std::vector<std::string>{"baseline", "fp16"}));
  EXPECT_EQ(MapOf(up.meta), (std::map<std::string, std::string>{{"wandb/group", "sweep-a"},
                                                                {"wandb/host", "gpu-07"},
                                                                {"wandb/job_type", "train"}}));
  // {"value","desc"} wrappers off; _wandb left out; an object with other members kept as is.
  EXPECT_EQ(MapOf(*up.config),
            (std::map<std::string, std::string>{
                {"layers", "[64,64]"}, {"lr", "0.001"}, {"plain.other", "2"}, {"plain.value", "1"}}));
  EXPECT_EQ(MapOf(*up.summary), (std::map<std::string, std::string>{{"summary/acc", "0.9"}}));
}

TEST(WandbTranslate, UpsertRefusals) {
  RunUpsert up;
  EXPECT_FALSE(ParseUpsert(Value::Null(), &up).ok());
  EXPECT_NE(ParseUpsert(Json(R"({"modelName":"p"})"), &up).message().find("name"),
            std::string::npos);
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":"a/b"})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":"a","modelName":"x\ny"})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":"a","config":"[1,2]"})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":"a","config":"{nope"})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":"a","tags":"x"})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":5})"), &up).ok());
  EXPECT_FALSE(ParseUpsert(Json(R"({"name":")" + std::string(300, 'x') + R"("})"), &up).ok());
  // Python writes NaN bare: still a config.
  RunUpsert nan;
  ASSERT_TRUE(ParseUpsert(Json(R"({"name":"a","config":"{\"lr\": NaN}"})"), &nan).ok());
  EXPECT_EQ(MapOf(*nan.config).at("lr"), "NaN");
}

TEST(WandbTranslate, FileStreamHistorySummaryOutputAndEnd) {
  // The JS SDK's body: history lines with _step/_runtime/_timestamp, the whole summary.
  std::string body = R"({"files":{
      "wandb-history.jsonl":{"offset":0,"content":[
        "{\"loss\":2.5,\"acc\":0.1,\"_step\":0,\"_runtime\":0.5,\"_timestamp\":1700000000.5}",
        "{\"loss\":NaN,\"phase\":\"warmup\",\"nested\":{\"a\":1},\"_step\":7,\"_runtime\":1}"]},
      "wandb-summary.json":{"offset":0,"content":["{\"loss\":1.0,\"_step\":7}"]},
      "output.log":{"offset":0,"content":["epoch 1","epoch 2"]},
      "wandb-events.jsonl":{"offset":0,"content":["{\"system.cpu\":3}"]}},
    "complete":true,"exitcode":3,"preempting":false,"uploaded":[]})";
  FileStreamUpdate u;
  Status s = ParseFileStream(body, FileStreamState{}, 1700000000.0, 1800000000.0, &u);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(u.points.size(), 4u);
  EXPECT_EQ(u.keys[u.points[0].key], "loss");
  EXPECT_EQ(u.points[0].step, 0);
  EXPECT_EQ(u.points[0].wall_time, 1700000000.5);
  EXPECT_EQ(u.keys[u.points[1].key], "acc");
  EXPECT_EQ(u.keys[u.points[2].key], "loss");
  EXPECT_EQ(u.points[2].step, 7);
  EXPECT_TRUE(std::isnan(u.points[2].value));
  EXPECT_EQ(u.points[2].wall_time, 1700000001.0);  // start + _runtime
  EXPECT_EQ(u.keys[u.points[3].key], "nested.a");
  EXPECT_EQ(u.non_numeric, 1);
  EXPECT_EQ(u.history_lines, 2);
  ASSERT_TRUE(u.summary.has_value());
  EXPECT_EQ(MapOf(*u.summary), (std::map<std::string, std::string>{{"summary/loss", "1.0"}}));
  EXPECT_EQ(u.output, "epoch 1\nepoch 2\n");
  EXPECT_EQ(u.output_lines, 2);
  EXPECT_EQ(u.ignored_files, std::vector<std::string>{"wandb-events.jsonl"});
  EXPECT_TRUE(u.complete);
  EXPECT_EQ(u.exit_code.value_or(-1), 3);
  EXPECT_STREQ(StatusOfExit(u.exit_code), "failed");
  EXPECT_STREQ(StatusOfExit(0), "finished");
  EXPECT_STREQ(StatusOfExit(std::nullopt), "finished");
}

// A file stream body with these history lines (each written as a JSON string).
std::string HistoryBody(const std::vector<std::string>& lines) {
  std::string body = R"({"files":{"wandb-history.jsonl":{"offset":0,"content":[)";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) body += ',';
    body += '"';
    for (char c : lines[i]) {
      if (c == '"' || c == '\\') body += '\\';
      body += c;
    }
    body += '"';
  }
  return body + "]}}}";
}

TEST(WandbTranslate, HistoryRowsOfEveryShapeGiveTheirValuesKeysAndSteps) {
  // Flat rows of numbers take a fast path; escaped keys, nested objects and strings the general
  // reader. Both must give the same points.
  std::vector<std::string> lines = {
      R"({"a": 1, "b": -2.5e3, "_step": 4, "_timestamp": 1700000000})",
      R"({ "b" : NaN , "a":Infinity,"c":-Infinity, "_step": 5 })",  // another order, a new key
      R"({"a\u0062": 7, "a": 1e999, "d": -1e-999, "_step": 6})",    // escaped key
      R"({"a": 1, "a": 2, "e": {"f": 3}, "_step": 7})",             // a key twice, nested
      R"({})",
      R"({"x": 1.0, "_runtime": 2})",  // no _step: the line's place; start + _runtime
  };
  FileStreamUpdate u;
  Status s = ParseFileStream(HistoryBody(lines), FileStreamState{}, 1000, 2000, &u);
  ASSERT_TRUE(s.ok()) << s.message();
  struct Want {
    const char* key;
    int64_t step;
    double wall;
    double value;
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Want> want = {
      {"a", 4, 1700000000, 1},   {"b", 4, 1700000000, -2500}, {"b", 5, 2000, NAN},
      {"a", 5, 2000, inf},       {"c", 5, 2000, -inf},        {"ab", 6, 2000, 7},
      {"a", 6, 2000, inf},       {"d", 6, 2000, -0.0},        {"a", 7, 2000, 1},
      {"a", 7, 2000, 2},         {"e.f", 7, 2000, 3},         {"x", 5, 1002, 1},
  };
  ASSERT_EQ(u.points.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_LT(u.points[i].key, u.keys.size());
    EXPECT_EQ(u.keys[u.points[i].key], want[i].key);
    EXPECT_EQ(u.points[i].step, want[i].step);
    EXPECT_EQ(u.points[i].wall_time, want[i].wall);
    if (std::isnan(want[i].value)) {
      EXPECT_TRUE(std::isnan(u.points[i].value));
    } else {
      EXPECT_EQ(u.points[i].value, want[i].value);
      EXPECT_EQ(std::signbit(u.points[i].value), std::signbit(want[i].value));
    }
  }
  EXPECT_EQ(u.keys, (std::vector<std::string>{"a", "b", "c", "ab", "d", "e.f", "x"}));
  EXPECT_EQ(u.history_lines, 6);

  // A line that is not JSON stops the request, fast path or not.
  FileStreamUpdate bad;
  EXPECT_FALSE(ParseFileStream(HistoryBody({R"({"a": 1, "b": 2x})"}), FileStreamState{}, 0, 1,
                               &bad).ok());
  EXPECT_FALSE(
      ParseFileStream(HistoryBody({R"({"a": 1,})"}), FileStreamState{}, 0, 1, &bad).ok());
}

TEST(WandbTranslate, WideRowsKeepEveryKeyInAnyOrder) {
  constexpr int kKeys = 1500;
  std::vector<std::string> lines(3);
  for (int row = 0; row < 3; ++row) {
    lines[row] = "{\"_step\": " + std::to_string(row);
    for (int k = 0; k < kKeys; ++k) {
      int key = row == 2 ? kKeys - 1 - k : k;  // the last row lists them backwards
      lines[row] += ", \"eval/task_" + std::to_string(key) + "/acc\": " + std::to_string(key);
    }
    lines[row] += "}";
  }
  FileStreamUpdate u;
  Status s = ParseFileStream(HistoryBody(lines), FileStreamState{}, 0, 1, &u);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(u.keys.size(), static_cast<size_t>(kKeys));
  ASSERT_EQ(u.points.size(), static_cast<size_t>(3 * kKeys));
  for (const KeyedPoint& p : u.points) {
    ASSERT_EQ(u.keys[p.key], "eval/task_" + std::to_string(static_cast<int>(p.value)) + "/acc");
  }
  EXPECT_EQ(u.points[2 * kKeys].value, kKeys - 1);
  EXPECT_EQ(u.points[2 * kKeys].step, 2);
}

TEST(WandbTranslate, ResentLinesAreSkippedByOffset) {
  std::string body = R"({"files":{"wandb-history.jsonl":{"offset":2,"content":[
      "{\"x\":2}","{\"x\":3}","{\"x\":4}"]},
      "output.log":{"offset":1,"content":["b","c"]}}})";
  FileStreamUpdate u;
  ASSERT_TRUE(ParseFileStream(body, FileStreamState{3, 2}, 0, 100, &u).ok());
  // Line 2 was stored already; lines 3 and 4 are new; without _step the step is the line.
  ASSERT_EQ(u.points.size(), 2u);
  EXPECT_EQ(u.points[0].step, 3);
  EXPECT_EQ(u.points[0].value, 3);
  EXPECT_EQ(u.points[1].step, 4);
  EXPECT_EQ(u.points[0].wall_time, 100);  // no _timestamp, no start: now
  EXPECT_EQ(u.resent_lines, 1);
  EXPECT_EQ(u.history_lines, 5);
  EXPECT_EQ(u.output, "c\n");
  EXPECT_EQ(u.output_lines, 3);
  // All of it again: nothing new.
  FileStreamUpdate again;
  ASSERT_TRUE(ParseFileStream(body, FileStreamState{5, 3}, 0, 100, &again).ok());
  EXPECT_TRUE(again.points.empty());
  EXPECT_EQ(again.resent_lines, 3);
  EXPECT_EQ(again.history_lines, 5);
  EXPECT_EQ(again.output, "");
  // Only the end of the run.
  FileStreamUpdate end;
  ASSERT_TRUE(ParseFileStream(R"({"complete":true,"exitcode":0})", FileStreamState{5, 3}, 0, 100,
                              &end)
                  .ok());
  EXPECT_TRUE(end.complete);
  EXPECT_EQ(end.history_lines, 5);
}

TEST(WandbTranslate, FileStreamRefusals) {
  FileStreamUpdate u;
  for (const char* bad :
       {"", "[]", "{\"files\":[]}", "{\"files\":{\"wandb-history.jsonl\":5}}",
        "{\"files\":{\"wandb-history.jsonl\":{\"offset\":-1,\"content\":[]}}}",
        "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[1]}}}",
        "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"[1]\"]}}}",
        "{\"files\":{\"wandb-history.jsonl\":{\"offset\":0,\"content\":[\"{bad\"]}}}",
        "{\"files\":{\"wandb-summary.json\":{\"offset\":0,\"content\":[\"7\"]}}}",
        "{\"files\":{\"output.log\":{\"offset\":9223372036854775807,\"content\":[\"x\"]}}}",
        "{\"complete\":\"yes\"}", "{\"exitcode\":1.5}"}) {
    Status s = ParseFileStream(bad, FileStreamState{}, 0, 0, &u);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << bad;
  }
}

TEST(WandbTranslate, ConfigJsonBack) {
  std::vector<store::Param> params = {{"lr", "0.01", "wandb"},
                                      {"wandb/run_id", "x", "wandb"},
                                      {"summary/acc", "1", "wandb"},
                                      {"argv0", "a", "argv"}};
  EXPECT_EQ(ConfigJsonOf(params), R"({"lr":{"value":"0.01"}})");
}

}  // namespace
}  // namespace inloop::http::wandb
