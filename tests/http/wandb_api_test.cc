// W&B's wire protocol (http/wandb_api.h) through Api::Handle over a real store: the requests the
// JS SDK and the Python client send at init (viewer, upsertBucket, resume state, capability
// probes), the file stream (history, summary, console, resends, the end), what inloop's store
// then holds, unsupported operations answered by name, and the auth W&B clients use.
#include "http/wandb_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>

#include "common/json_writer.h"
#include "http/api.h"
#include "http/auth.h"
#include "support/api_fixture.h"

namespace inloop::http {
namespace {

class WandbApiTest : public ApiFixture {
 protected:
  HttpResponse Post(const std::string& target, const std::string& body) {
    return Call("POST", target, body);
  }
  // A GraphQL request: {"query": DOC, "variables": VARS}.
  HttpResponse Gql(const std::string& doc, const std::string& vars = "{}") {
    std::string body = "{\"query\":";
    inloop::AppendJsonString(&body, doc);
    body += ",\"variables\":" + vars + "}";
    return Post("/graphql", body);
  }
  std::string Str(simdjson::dom::element e) {
    std::string_view s;
    if (e.get_string().get(s)) return "not a string";
    return std::string(s);
  }
  // upsertBucket as the JS SDK sends it; the inloop run id.
  std::string Upsert(const std::string& vars) {
    HttpResponse r = Gql(kUpsert, vars);
    EXPECT_EQ(r.status, 200) << r.body;
    return Str(Json(r)["data"]["upsertBucket"]["bucket"]["id"]);
  }
  std::map<std::string, std::string> Params(const std::string& run) {
    std::vector<store::Param> params;
    EXPECT_TRUE(st_->GetParams(run, &params).ok());
    std::map<std::string, std::string> m;
    for (auto& p : params) m[p.key] = p.value;
    return m;
  }
  std::vector<Point> Points(const std::string& run, const std::string& key) {
    std::vector<store::SegmentData> segs;
    EXPECT_TRUE(st_->ReadSegments(run, key, &segs).ok());
    std::vector<Point> out;
    for (auto& s : segs) {
      for (auto& c : s.chunks) {
        std::vector<Point> pts;
        EXPECT_TRUE(st_->ReadChunkPoints(run, c, &pts).ok());
        out.insert(out.end(), pts.begin(), pts.end());
      }
      out.insert(out.end(), s.tail.begin(), s.tail.end());
    }
    return out;
  }

  static constexpr const char* kUpsert = R"(
    mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
        $displayName: String, $config: JSONString, $tags: [String!], $summaryMetrics: JSONString) {
      upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity,
          displayName: $displayName, config: $config, tags: $tags,
          summaryMetrics: $summaryMetrics}) {
        bucket { id name displayName config historyLineCount
                 project { id name entity { id name } } }
        inserted
      }
    })";

};

TEST_F(WandbApiTest, InitLogFinishLandsInTheStore) {
  // The JS SDK's init: viewer for the default entity, then upsertBucket.
  HttpResponse r = Gql("query Viewer { viewer { id entity flags teams { edges { node { name } } } } }");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r)["data"]["viewer"]["entity"]), "inloop");
  EXPECT_EQ(r.body.find("username"), std::string::npos) << "only what was selected: " << r.body;

  r = Gql(kUpsert, R"({"name":"abc123","project":"vision","entity":"inloop",
      "displayName":"baseline","config":"{\"lr\":0.01,\"opt\":{\"name\":\"adam\"}}"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto bucket = Json(r)["data"]["upsertBucket"]["bucket"];
  std::string run = Str(bucket["id"]);
  EXPECT_EQ(Str(bucket["name"]), "abc123");
  EXPECT_EQ(Str(bucket["displayName"]), "baseline");
  EXPECT_EQ(Str(bucket["project"]["entity"]["name"]), "inloop");
  EXPECT_TRUE(bool(Json(r)["data"]["upsertBucket"]["inserted"].get_bool()));

  store::RunRecord rec;
  ASSERT_TRUE(st_->FindRun(run, &rec).ok());
  EXPECT_EQ(rec.name, "baseline");
  EXPECT_EQ(rec.status, "running");
  auto params = Params(run);
  EXPECT_EQ(params["lr"], "0.01");
  EXPECT_EQ(params["opt.name"], "adam");
  EXPECT_EQ(params["wandb/run_id"], "abc123");
  EXPECT_EQ(params["wandb/project"], "vision");
  store::RunExperiment link;
  ASSERT_TRUE(st_->GetRunExperiment(run, &link).ok());
  store::ExperimentRecord exp;
  ASSERT_TRUE(st_->GetExperiment(link.experiment_id, &exp).ok());
  EXPECT_EQ(exp.name, "vision");

  // The file stream: 3 rows, then the same request again (a retry), then the end.
  std::string rows = R"({"files":{"wandb-history.jsonl":{"offset":0,"content":[
      "{\"loss\":3,\"_step\":0,\"_runtime\":0.1,\"_timestamp\":1700000000}",
      "{\"loss\":2,\"acc\":0.5,\"_step\":1,\"_runtime\":0.2,\"_timestamp\":1700000001}",
      "{\"loss\":1,\"_step\":2,\"_runtime\":0.3,\"_timestamp\":1700000002}"]},
    "wandb-summary.json":{"offset":0,"content":["{\"loss\":1,\"acc\":0.5,\"_step\":2}"]},
    "output.log":{"offset":0,"content":["step 0 done","step 2 done"]}}})";
  r = Post("/files/inloop/vision/abc123/file_stream", rows);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(int64_t(Json(r)["inloop"]["points"].get_int64()), 4);
  r = Post("/files/inloop/vision/abc123/file_stream", rows);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(int64_t(Json(r)["inloop"]["points"].get_int64()), 0);
  EXPECT_EQ(int64_t(Json(r)["inloop"]["resent_lines_skipped"].get_int64()), 3);
  r = Post("/files/inloop/vision/abc123/file_stream", R"({"complete":true,"exitcode":0})");
  ASSERT_EQ(r.status, 200) << r.body;

  api_->CloseWriters();
  auto loss = Points(run, "loss");
  ASSERT_EQ(loss.size(), 3u);
  EXPECT_EQ(loss[2].step, 2);
  EXPECT_EQ(loss[2].value, 1);
  EXPECT_EQ(loss[1].wall_time, 1700000001);
  EXPECT_EQ(Points(run, "acc").size(), 1u);
  EXPECT_TRUE(Points(run, "_step").empty());
  ASSERT_TRUE(st_->FindRun(run, &rec).ok());
  EXPECT_EQ(rec.status, "finished");
  EXPECT_EQ(rec.exit_code.value_or(-1), 0);
  params = Params(run);
  EXPECT_EQ(params["summary/loss"], "1");
  EXPECT_EQ(params["wandb/history_lines"], "3");
  store::LogLinesQuery q;
  q.run_id = run;
  store::LogLines lines;
  ASSERT_TRUE(st_->ReadAttemptLog(q, &lines).ok());
  ASSERT_EQ(lines.lines.size(), 2u);
  EXPECT_EQ(lines.lines[1], "step 2 done");
}

TEST_F(WandbApiTest, EachRequestsSummaryIsStoredWhetherOrNotItsValuesChanged) {
  std::string run = Upsert(R"({"name":"s1","project":"p"})");
  std::string first = R"({"files":{"wandb-history.jsonl":{"offset":0,"content":[
      "{\"loss\":1,\"acc\":0.5,\"_step\":0}"]},
    "wandb-summary.json":{"offset":0,"content":["{\"loss\":1,\"acc\":0.5,\"_step\":0}"]}}})";
  ASSERT_EQ(Post("/files/inloop/p/s1/file_stream", first).status, 200);
  // The next request: loss changed, acc the same, a new key.
  std::string second = R"({"files":{"wandb-history.jsonl":{"offset":1,"content":[
      "{\"loss\":0.25,\"eval/task_7\":0.75,\"_step\":1}"]},
    "wandb-summary.json":{"offset":0,"content":[
      "{\"loss\":0.25,\"acc\":0.5,\"eval/task_7\":0.75,\"_step\":1}"]}}})";
  HttpResponse r = Post("/files/inloop/p/s1/file_stream", second);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(int64_t(Json(r)["inloop"]["points"].get_int64()), 2);
  auto params = Params(run);
  EXPECT_EQ(params["summary/loss"], "0.25");
  EXPECT_EQ(params["summary/acc"], "0.5");
  EXPECT_EQ(params["summary/eval/task_7"], "0.75");
  EXPECT_EQ(params["wandb/history_lines"], "2");
  // The same summary again, nothing new: still the same values.
  std::string third = R"({"files":{"wandb-summary.json":{"offset":0,"content":[
      "{\"loss\":0.25,\"acc\":0.5,\"eval/task_7\":0.75,\"_step\":1}"]}}})";
  ASSERT_EQ(Post("/files/inloop/p/s1/file_stream", third).status, 200);
  params = Params(run);
  EXPECT_EQ(params["summary/loss"], "0.25");
  EXPECT_EQ(params["summary/eval/task_7"], "0.75");
  EXPECT_EQ(params["wandb/history_lines"], "2");
}

TEST_F(WandbApiTest, ResumeRenameTagsAndFailedExit) {
  std::string run = Upsert(R"({"name":"r1","project":"p","tags":["a"]})");
  // The Python client's resume check: the run's state, by project and name.
  std::string rows = R"({"files":{"wandb-history.jsonl":{"offset":0,"content":[
      "{\"x\":1,\"_step\":40}"]}}})";
  ASSERT_EQ(Post("/files/inloop/p/r1/file_stream", rows).status, 200);
  HttpResponse r = Gql(R"(query RunResumeStatus($project: String, $entity: String, $name: String!) {
      model(name: $project, entityName: $entity) { id name entity { id name }
        bucket(name: $name, missingOk: true) { id name historyLineCount historyTail config } } })",
                       R"({"project":"p","entity":"inloop","name":"r1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto b = Json(r)["data"]["model"]["bucket"];
  EXPECT_EQ(Str(b["id"]), run);
  EXPECT_EQ(int64_t(b["historyLineCount"].get_int64()), 1);
  EXPECT_EQ(Str(b["historyTail"]), R"(["{\"_step\": 40}"])");
  // A run inloop does not have: bucket null (a new run).
  r = Gql(R"(query { model(name: "p") { bucket(name: "nope") { id } } })");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json(r)["data"]["model"]["bucket"].is_null()) << r.body;

  // Upsert again: the same run, renamed, a tag added, nothing duplicated.
  EXPECT_EQ(Upsert(R"({"name":"r1","project":"p","displayName":"better","tags":["a","b"]})"), run);
  store::RunRecord rec;
  ASSERT_TRUE(st_->FindRun(run, &rec).ok());
  EXPECT_EQ(rec.name, "better");
  std::vector<std::string> tags;
  ASSERT_TRUE(st_->GetTags(run, &tags).ok());
  EXPECT_EQ(tags, (std::vector<std::string>{"a", "b"}));
  // The same run id in another project is another run.
  EXPECT_NE(Upsert(R"({"name":"r1","project":"q"})"), run);
  // A server that restarted finds the run through the store (not its memory).
  api_ = std::make_unique<Api>(pool_.get(), &metrics_);
  ASSERT_EQ(Post("/files/inloop/p/r1/file_stream", R"({"complete":true,"exitcode":137})").status,
            200);
  ASSERT_TRUE(st_->FindRun(run, &rec).ok());
  EXPECT_EQ(rec.status, "failed");
  EXPECT_EQ(rec.exit_code.value_or(-1), 137);
}

TEST_F(WandbApiTest, UnsupportedAndMalformedRequestsSaySo) {
  HttpResponse r = Gql(R"(mutation CreateRunFiles($entity: String!, $project: String!,
      $run: String!, $files: [String!]!) {
      createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                             files: $files}) { runID uploadHeaders files { name uploadUrl } } })",
                       R"({"entity":"e","project":"p","run":"r","files":["config.yaml"]})");
  EXPECT_EQ(r.status, 200);
  std::string msg = Str(Json(r)["errors"].at(0)["message"]);
  EXPECT_NE(msg.find("'CreateRunFiles'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'createRunFiles'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not supported by inloop"), std::string::npos) << msg;
  EXPECT_EQ(Str(Json(r)["errors"].at(0)["extensions"]["code"]), "NOT_SUPPORTED_BY_INLOOP");
  // A supported field beside an unsupported one: nothing of the operation is run.
  r = Gql(R"(mutation M { upsertBucket(input: {name: "zz"}) { inserted } deleteRun(id: "x") })");
  EXPECT_NE(Str(Json(r)["errors"].at(0)["message"]).find("'deleteRun'"), std::string::npos);
  std::vector<store::RunRecord> runs;
  ASSERT_TRUE(st_->ListRuns(&runs).ok());
  EXPECT_TRUE(runs.empty());

  EXPECT_EQ(Post("/graphql", "not json").status, 400);
  EXPECT_EQ(Post("/graphql", R"({"variables":{}})").status, 400);
  EXPECT_EQ(Gql("{ viewer { id }").status, 400);
  r = Gql(kUpsert, R"({"project":"p"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Str(Json(r)["errors"].at(0)["message"]).find("name"), std::string::npos) << r.body;

  r = Post("/files/inloop/p/never/file_stream", R"({"complete":true})");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("upsertBucket"), std::string::npos) << r.body;
  Upsert(R"({"name":"r","project":"p"})");
  r = Post("/files/inloop/p/r/file_stream", R"({"files":{"wandb-history.jsonl":{"content":[5]}}})");
  EXPECT_EQ(r.status, 400) << r.body;

  HttpRequest get;
  get.method = "GET";
  ASSERT_TRUE(ParseTarget("/graphql", &get).ok());
  EXPECT_EQ(api_->Handle(get).status, 405);
}

TEST_F(WandbApiTest, CapabilityProbesAndServerInfo) {
  HttpResponse r = Gql(R"(query Probe {
      QueryType: __type(name: "Query") { ...F }
      MutationType: __type(name: "Mutation") { ...F }
      Other: __type(name: "CreateArtifactInput") { inputFields { name } }
      serverInfo { cliVersionInfo latestLocalVersionInfo { latestVersionString } features { name isEnabled } }
      __typename }
    fragment F on __Type { fields { name } })");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = Json(r)["data"];
  EXPECT_EQ(Str(d["MutationType"]["fields"].at(0)["name"]), "upsertBucket");
  EXPECT_EQ(d["QueryType"]["fields"].get_array().size(), 4u);
  EXPECT_EQ(d["Other"]["inputFields"].get_array().size(), 0u);
  EXPECT_TRUE(d["serverInfo"]["cliVersionInfo"].is_null());
  EXPECT_EQ(Str(d["__typename"]), "Query");
}

TEST(WandbAuth, BasicAuthCarriesTheTokenAndWritesNeedIngest) {
  // "api:secret-token" in base64, as W&B's clients send WANDB_API_KEY.
  EXPECT_EQ(BasicAuthPassword("Basic YXBpOnNlY3JldC10b2tlbg==").value_or("none"), "secret-token");
  EXPECT_EQ(BasicAuthPassword("Basic YXBpOg==").value_or("none"), "");
  EXPECT_FALSE(BasicAuthPassword("Bearer abc").has_value());
  EXPECT_FALSE(BasicAuthPassword("Basic !!!").has_value());
  EXPECT_FALSE(BasicAuthPassword("Basic bm9jb2xvbg==").has_value());  // "nocolon"

  auto scopes = [](const std::string& method, const std::string& target) {
    HttpRequest r;
    r.method = method;
    EXPECT_TRUE(ParseTarget(target, &r).ok());
    return RequiredScopes(r);
  };
  EXPECT_EQ(scopes("POST", "/graphql"), unsigned(kScopeRead | kScopeIngest));
  EXPECT_EQ(scopes("POST", "/files/e/p/r/file_stream"), unsigned(kScopeRead | kScopeIngest));
  EXPECT_EQ(scopes("POST", "/files/e/p/r/other"), unsigned(kAllScopes));

  Authenticator auth(AuthOptions{"server-secret", false, 8642},
                     [](const std::string&, store::TokenRecord*) {
                       return Status::NotFound("none");
                     });
  HttpRequest r;
  r.method = "POST";
  ASSERT_TRUE(ParseTarget("/graphql", &r).ok());
  r.authorization = "Basic YXBpOnNlcnZlci1zZWNyZXQ=";  // api:server-secret
  Principal who;
  std::string cookie;
  EXPECT_FALSE(auth.Check(r, &who, &cookie).has_value());
  EXPECT_EQ(who.name, "server-token");
  EXPECT_TRUE(cookie.empty());
  r.authorization = "Basic YXBpOndyb25n";  // api:wrong
  auto refused = auth.Check(r, &who, &cookie);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
  // With --no-token, the key W&B's clients always send is no credential unless it is a token.
  Authenticator open(AuthOptions{"", true, 8642}, [](const std::string&, store::TokenRecord*) {
    return Status::NotFound("none");
  });
  EXPECT_FALSE(open.Check(r, &who, &cookie).has_value());
  EXPECT_EQ(who.name, "no-token");
  r.authorization = "Bearer wrong";  // other credentials are still checked
  refused = open.Check(r, &who, &cookie);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
}

}  // namespace
}  // namespace inloop::http
