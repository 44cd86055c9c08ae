// The JSON endpoints (http/api.h) over a real store: filters, sorts and pages of the runs list,
// last values, series M4 against the reference implementation, aligned series, 400s that name
// the parameter, actions and decisions, ingest read back, and method/route errors.
#include "http/api.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "query/m4.h"
#include "support/api_fixture.h"

namespace inloop::http {
namespace {

class ApiTest : public ApiFixture {
 protected:

  // A finished run with params, tags and a loss curve of n points ending at `final_loss`.
  std::string AddRun(const std::string& name, const std::string& lr, double started,
                     double final_loss, int n = 50, const std::string& tag = "") {
    store::RunRecord r;
    r.name = name;
    r.command = {"python3", "train.py", "--lr", lr};
    r.started_at = started;
    r.ended_at = started + n;
    r.status = store::kFinished;
    EXPECT_TRUE(st_->CreateRun(&r).ok());
    EXPECT_TRUE(st_->UpdateRun(r).ok());
    EXPECT_TRUE(st_->SetParams(r.id, {{"lr", lr, "argv"}}).ok());
    if (!tag.empty()) {
      EXPECT_TRUE(st_->AddTags(r.id, {tag}).ok());
    }
    std::unique_ptr<store::RunWriter> w;
    EXPECT_TRUE(st_->OpenWriter(r.id, &w).ok());
    for (int i = 1; i <= n; ++i) {
      double v = i == n ? final_loss : final_loss + 1.0 / i;
      EXPECT_TRUE(w->Append("loss", i, started + i, v).ok());
    }
    EXPECT_TRUE(w->Close().ok());
    return r.id;
  }

  std::vector<std::string> Names(const HttpResponse& r) {
    std::vector<std::string> out;
    for (auto run : Json(r)["runs"].get_array()) {
      out.emplace_back(std::string_view(run["name"].get_string()));
    }
    return out;
  }

};

TEST_F(ApiTest, RunsFilterSortPaginate) {
  AddRun("lr-a", "0.1", 1000, 3.0, 50, "sweep");
  AddRun("lr-b", "0.01", 2000, 1.0, 50, "sweep");
  AddRun("lr-c", "0.001", 3000, 2.0);
  AddRun("other", "1e-4", 4000, 0.5);
  HttpResponse all = Get("/api/v1/runs");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.route, "/api/v1/runs");
  EXPECT_EQ(Names(all), (std::vector<std::string>{"other", "lr-c", "lr-b", "lr-a"}));
  EXPECT_EQ(int64_t(Json(all)["total"]), 4);
  EXPECT_EQ(Names(Get("/api/v1/runs?name=lr-*&order=asc")),
            (std::vector<std::string>{"lr-a", "lr-b", "lr-c"}));
  EXPECT_EQ(Names(Get("/api/v1/runs?tag=sweep&sort=name&order=asc")),
            (std::vector<std::string>{"lr-a", "lr-b"}));
  EXPECT_EQ(Names(Get("/api/v1/runs?param.lr=0.01")), (std::vector<std::string>{"lr-b"}));
  EXPECT_EQ(Names(Get("/api/v1/runs?status=running")), std::vector<std::string>{});
  // Params sort numerically (1e-4 < 0.001 < 0.01 < 0.1), not as text.
  EXPECT_EQ(Names(Get("/api/v1/runs?sort=param.lr&order=asc")),
            (std::vector<std::string>{"other", "lr-c", "lr-b", "lr-a"}));
  HttpResponse by_last = Get("/api/v1/runs?sort=last.loss&order=asc&limit=2&offset=1");
  ASSERT_EQ(by_last.status, 200) << by_last.body;
  EXPECT_EQ(Names(by_last), (std::vector<std::string>{"lr-b", "lr-c"}));
  EXPECT_EQ(int64_t(Json(by_last)["total"]), 4);
  EXPECT_EQ(double(Json(by_last)["runs"].at(0)["last"]["loss"]), 1.0);
  HttpResponse page = Get("/api/v1/runs?limit=1&offset=3&last=loss,nope");
  auto run = Json(page)["runs"].at(0);
  EXPECT_EQ(std::string_view(run["name"]), "lr-a");
  EXPECT_EQ(double(run["last"]["loss"]), 3.0);
  EXPECT_TRUE(run["last"]["nope"].is_null());
  EXPECT_EQ(std::string_view(run["params"]["lr"]), "0.1");
  EXPECT_EQ(double(run["duration_s"]), 50.0);
}

TEST_F(ApiTest, BadParametersAre400sNamingTheParameter) {
  std::string id = AddRun("r", "0.1", 1000, 1.0);
  struct Case {
    std::string target, starts;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/v1/runs?limit=0", "limit:"},
           {"/api/v1/runs?limit=x", "limit:"},
           {"/api/v1/runs?offset=-1", "offset:"},
           {"/api/v1/runs?sort=color", "sort:"},
           {"/api/v1/runs?order=up", "order:"},
           {"/api/v1/runs?status=done", "status:"},
           {"/api/v1/runs/r/series", "key:"},
           {"/api/v1/runs/r/series?key=loss&width=0", "width:"},
           {"/api/v1/runs/r/series?key=loss&width=10001", "width:"},
           {"/api/v1/runs/r/series?key=loss&width=abc", "width:"},
           {"/api/v1/runs/r/series?key=loss&from=9&to=1", "from:"},
           {"/api/v1/runs/r/series?key=loss&from=1.5", "from:"},
           {"/api/v1/series?key=loss", "runs:"},
           {"/api/v1/series?runs=r", "key:"},
           {"/api/v1/series?runs=r&key=loss&x=tokens", "x:"},
           {"/api/v1/series?runs=r&key=loss&from=abc", "from:"},
           {"/api/v1/actions?state=waiting", "state:"},
       }) {
    HttpResponse r = Get(c.target);
    EXPECT_EQ(r.status, 400) << c.target << " " << r.body;
    std::string_view err = Json(r)["error"].get_string();
    EXPECT_EQ(err.substr(0, c.starts.size()), c.starts) << c.target;
  }
  EXPECT_EQ(Get("/api/v1/runs/nope").status, 404);
  EXPECT_EQ(Get("/api/v1/runs/nope/series?key=loss").status, 404);
  EXPECT_EQ(Get("/api/v1/runs/r/series?key=nope").status, 404);
  EXPECT_EQ(Get("/api/v1/series?runs=r,nope&key=loss").status, 404);
  EXPECT_EQ(Get("/api/v1/nothing").status, 404);
  EXPECT_EQ(Call("DELETE", "/api/v1/runs", "").status, 405);
  EXPECT_EQ(Call("POST", "/api/v1/runs/r/series?key=loss", "").status, 405);
  EXPECT_EQ(Call("POST", "/", "").status, 405);
  EXPECT_EQ(Get("/api/v1/runs/" + id).status, 200);
}

TEST_F(ApiTest, RunDetailCountsTheDataIndexInsteadOfListingIt) {
  std::string id = AddRun("r", "0.1", 1000, 0.5);
  for (const char* kind : {"data_batches", "loss_spike", "data_batches"}) {
    store::EventRecord e;
    e.run_id = id;
    e.time = 1001;
    e.kind = kind;
    e.severity = "info";
    e.data_json = "{}";
    ASSERT_TRUE(st_->AddEvent(&e).ok());
  }
  auto run = Json(Get("/api/v1/runs/r"));
  std::vector<std::string> kinds;
  for (auto e : run["events"].get_array()) kinds.emplace_back(std::string_view(e["kind"]));
  EXPECT_EQ(kinds, std::vector<std::string>{"loss_spike"});
  EXPECT_EQ(int64_t(run["hidden_events"]["data_batches"]), 2);
  // The events endpoint is the complete record.
  EXPECT_EQ(Json(Get("/api/v1/runs/r/events"))["events"].get_array().size(), 3u);
}

TEST_F(ApiTest, SeriesM4MatchesTheReference) {
  store::RunRecord r;
  r.name = "big";
  ASSERT_TRUE(st_->CreateRun(&r).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st_->OpenWriter(r.id, &w).ok());
  std::vector<Point> pts;
  for (int64_t i = 0; i < 100000; ++i) {
    double v = std::sin(i * 0.001) + (i == 54321 ? 50.0 : 0.0);
    if (i == 77777) v = std::nan("");
    pts.push_back({i, 1e9 + i * 0.1, v});
    ASSERT_TRUE(w->Append("loss", i, pts.back().wall_time, v).ok());
  }
  ASSERT_TRUE(w->Close().ok());
  HttpResponse resp = Get("/api/v1/runs/big/series?key=loss&width=300&from=1000&to=90000");
  ASSERT_EQ(resp.status, 200) << resp.body.substr(0, 300);
  auto doc = Json(resp);
  EXPECT_TRUE(bool(doc["downsampled"]));
  EXPECT_EQ(int64_t(doc["total_points"]), 89001);
  std::vector<Point> want = query::M4Points(pts, 1000, 90000, 300);
  std::vector<Point> got;
  for (auto p : doc["points"].get_array()) {
    auto a = p.get_array();
    double v = 0;
    if (a.at(2).is_string()) {
      v = std::nan("");
    } else {
      v = double(a.at(2));
    }
    got.push_back({int64_t(a.at(0)), double(a.at(1)), v});
  }
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
  bool spike = false, nan = false;
  for (auto& p : got) {
    spike |= p.step == 54321;
    nan |= p.step == 77777;
  }
  EXPECT_TRUE(spike);
  EXPECT_TRUE(nan);
}

// Over 128 chunks the series is downsampled in parallel parts cut at column edges; with a span
// that the width divides, the parts' grids are the whole grid and the answer is exact M4.
TEST_F(ApiTest, LargeSeriesInParallelPartsIsStillM4) {
  store::RunRecord r;
  r.name = "huge";
  ASSERT_TRUE(st_->CreateRun(&r).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st_->OpenWriter(r.id, &w).ok());
  std::vector<Point> pts;
  for (int64_t i = 0; i < 1000000; ++i) {
    double v = std::cos(i * 0.0001) + (i % 99991 == 5 ? 30.0 : 0.0);
    pts.push_back({i, 2e9 + i, v});
    ASSERT_TRUE(w->Append("loss", i, pts.back().wall_time, v).ok());
  }
  ASSERT_TRUE(w->Close().ok());
  HttpResponse resp = Get("/api/v1/runs/huge/series?key=loss&width=1000");
  ASSERT_EQ(resp.status, 200);
  auto doc = Json(resp);
  EXPECT_EQ(int64_t(doc["total_points"]), 1000000);
  std::vector<Point> want = query::M4Points(pts, 0, 999999, 1000);
  std::vector<Point> got;
  for (auto p : doc["points"].get_array()) {
    auto a = p.get_array();
    got.push_back({int64_t(a.at(0)), double(a.at(1)), double(a.at(2))});
  }
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
}

TEST_F(ApiTest, AlignedSeriesOnStepAndTime) {
  std::string a = AddRun("a", "0.1", 1000, 1.0, 100);
  std::string b = AddRun("b", "0.2", 5000, 2.0, 40);
  HttpResponse step = Get("/api/v1/series?runs=a,b,nope-less&key=loss");
  EXPECT_EQ(step.status, 404);
  step = Get("/api/v1/series?runs=a,b&key=loss&from=10&to=60");
  ASSERT_EQ(step.status, 200) << step.body;
  auto doc = Json(step);
  EXPECT_EQ(std::string_view(doc["x"]), "step");
  auto sa = doc["series"].at(0);
  EXPECT_EQ(std::string_view(sa["run"]), a);
  EXPECT_EQ(int64_t(sa["total_points"]), 51);
  EXPECT_EQ(double(sa["points"].at(0).at(0)), 10.0);
  EXPECT_EQ(int64_t(doc["series"].at(1)["total_points"]), 31);
  HttpResponse rel = Get("/api/v1/series?runs=a,b&key=loss&x=relative&from=0&to=9");
  ASSERT_EQ(rel.status, 200) << rel.body;
  doc = Json(rel);
  for (size_t i = 0; i < 2; ++i) {
    auto ptsj = doc["series"].at(i)["points"].get_array();
    ASSERT_EQ(ptsj.size(), 10u) << rel.body;  // relative 0..9 s: steps 1..10 of both runs
    EXPECT_EQ(double(ptsj.at(0).at(0)), 0.0);
    EXPECT_EQ(double(ptsj.at(9).at(0)), 9.0);
  }
  HttpResponse time = Get("/api/v1/series?runs=b&key=loss&x=time&from=5010&to=5020&width=1");
  doc = Json(time);
  auto tp = doc["series"].at(0)["points"].get_array();
  // One column over steps 10..20 of a falling curve: first (= max) and last (= min).
  ASSERT_EQ(tp.size(), 2u) << time.body;
  EXPECT_EQ(double(tp.at(0).at(0)), 5010.0);
  EXPECT_EQ(double(tp.at(1).at(0)), 5020.0);
  EXPECT_EQ(int64_t(doc["series"].at(0)["total_points"]), 11);
  HttpResponse missing = Get("/api/v1/series?runs=a&key=acc");
  ASSERT_EQ(missing.status, 200);
  EXPECT_EQ(Json(missing)["series"].at(0)["points"].get_array().size(), 0u);
}

TEST_F(ApiTest, ActionsApproveDeny) {
  std::string id = AddRun("r", "0.1", 1000, 1.0);
  store::ActionRecord a;
  a.run_id = id;
  a.action = "rollback_skip";
  a.trigger = "loss_spike";
  a.step = 40;
  a.reason = "spike";
  a.data_json = R"({"checkpoint":"ckpt/step-30.pt"})";
  ASSERT_TRUE(st_->AddAction(&a).ok());
  store::ActionRecord b = a;
  ASSERT_TRUE(st_->AddAction(&b).ok());
  auto pending = Json(Get("/api/v1/actions?state=pending&run=r"))["actions"].get_array();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(std::string_view(pending.at(0)["kind"]), "rollback_skip");
  EXPECT_EQ(std::string_view(pending.at(0)["data"]["checkpoint"]), "ckpt/step-30.pt");
  std::string path = "/api/v1/actions/" + std::to_string(a.id);
  HttpResponse ok = Call("POST", path + "/approve", R"({"note":"looks fine"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(std::string_view(Json(ok)["state"]), "approved");
  EXPECT_EQ(std::string_view(Json(ok)["note"]), "looks fine");
  EXPECT_EQ(Call("POST", path + "/deny", "").status, 409);
  HttpResponse denied = Call("POST", "/api/v1/actions/" + std::to_string(b.id) + "/deny", "");
  EXPECT_EQ(std::string_view(Json(denied)["state"]), "denied");
  EXPECT_EQ(Call("POST", "/api/v1/actions/999/approve", "").status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/actions/abc/approve", "").status, 400);
  EXPECT_EQ(Call("POST", path + "/approve", "{not json").status, 400);
  EXPECT_EQ(Call("GET", path + "/approve", "").status, 405);
  EXPECT_EQ(Json(Get("/api/v1/actions?state=pending"))["actions"].get_array().size(), 0u);
  std::vector<store::EventRecord> events;
  ASSERT_TRUE(st_->ListEvents(id, &events).ok());
  std::set<std::string> kinds;
  for (auto& e : events) kinds.insert(e.kind);
  EXPECT_TRUE(kinds.count("action_approved"));
  EXPECT_TRUE(kinds.count("action_denied"));
  auto run = Json(Get("/api/v1/runs/r"));
  EXPECT_EQ(run["actions"].get_array().size(), 2u);
}

TEST_F(ApiTest, IngestRoundTrip) {
  HttpResponse created = Call("POST", "/api/v1/runs",
                              R"({"name":"remote","command":["train.py","--lr","3"],
                                  "params":{"lr":0.5,"opt":"adam"},"tags":["far"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id(std::string_view(Json(created)["id"]));
  std::string pts = "/api/v1/runs/" + id + "/points";
  EXPECT_EQ(Call("POST", pts, R"({"points":[{"key":"loss","step":1,"value":"Infinity"},
                                            {"key":"loss","step":2,"value":1.5,"wall_time":7}]})")
                .body,
            R"({"accepted":2})");
  // A batch with one bad point is refused whole.
  HttpResponse bad = Call("POST", pts, R"({"points":[{"key":"loss","step":3,"value":1},
                                                      {"key":"loss","step":4,"value":"big"}]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(std::string_view(Json(bad)["error"]).substr(0, 16), "points[1].value:");
  EXPECT_EQ(Call("POST", pts, R"({"points":[{"step":1,"value":1}]})").status, 400);
  EXPECT_EQ(Call("POST", pts, "[]").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/runs", R"({"name":5})").status, 400);
  auto series = Json(Get("/api/v1/runs/" + id + "/series?key=loss"));
  ASSERT_EQ(series["points"].get_array().size(), 2u);
  EXPECT_EQ(std::string_view(series["points"].at(0).at(2)), "Infinity");
  EXPECT_EQ(double(series["points"].at(1).at(1)), 7.0);
  HttpResponse fin =
      Call("POST", "/api/v1/runs/" + id + "/finish", R"({"status":"failed","exit_code":3})");
  ASSERT_EQ(fin.status, 200) << fin.body;
  auto run = Json(Get("/api/v1/runs/" + id))["run"];
  EXPECT_EQ(std::string_view(run["status"]), "failed");
  EXPECT_EQ(int64_t(run["exit_code"]), 3);
  EXPECT_EQ(std::string_view(run["params"]["opt"]), "adam");
  EXPECT_EQ(std::string_view(run["tags"].at(0)), "far");
  EXPECT_EQ(Call("POST", pts, R"({"points":[{"key":"loss","step":5,"value":1}]})").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/runs/" + id + "/finish", "").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/runs/nope/points", R"({"points":[]})").status, 404);
  EXPECT_NE(metrics_.Text().find("inloop_points_ingested_total 2"), std::string::npos);
}

TEST_F(ApiTest, HealthMetricsKeysParamsAndStatic) {
  std::string id = AddRun("r", "0.1", 1000, 1.0);
  EXPECT_EQ(Get("/api/v1/health").body.find(R"({"ok":true)"), 0u);
  EXPECT_EQ(Get("/api/v1/params").body, R"({"keys":["lr"]})");
  EXPECT_EQ(Get("/api/v1/keys?runs=" + id).body, R"({"keys":["loss"]})");
  EXPECT_EQ(Get("/api/v1/keys?runs=nope").status, 404);
  HttpResponse index = Get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Get("/nope.js").status, 404);
  metrics_.RecordRequest("/api/v1/runs", 200, 0.003);
  HttpResponse m = Get("/metrics");
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find(R"(inloop_http_requests_total{route="/api/v1/runs",code="200"} 1)"),
            std::string::npos);
  EXPECT_NE(m.body.find("inloop_http_request_duration_seconds_count 1"), std::string::npos);
}

}  // namespace
}  // namespace inloop::http
