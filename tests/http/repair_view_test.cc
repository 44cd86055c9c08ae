// The repair view on a store built by hand: attempt 1 logs steps 1..55 (NaN from step 50), a
// rollback_skip restarts from the step-40 checkpoint skipping data 41-55, attempt 2 logs 41..100.
// Expected by hand: steps 41..55 of attempt 1 abandoned (redone by attempt 2), one skip window
// 41-55, the checkpoints 20, 40, 60 (40 announced twice), three throughput findings in a row as
// one episode, the summary with the report's cost (15 steps, 3041 - 2041 s), and the hidden
// points that GET /api/v1/series?abandoned=1 draws faded. A clean run has none of these.
#include "report/repair_view.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fmt/format.h>

#include <cmath>

#include "http/api.h"
#include "http/repair_view.h"
#include "http/server_metrics.h"
#include "http/store_pool.h"
#include "report/sentences.h"
#include "support/temp_store.h"

namespace inloop::report {
namespace {

using store::Store;

class RepairViewTest : public store::TempStoreTest {
 protected:
  void Event(Store* st, const std::string& run, double t, const std::string& kind,
             std::optional<int64_t> lo, const std::string& data, const char* sev = "warning") {
    store::EventRecord e;
    e.run_id = run;
    e.time = t;
    e.kind = kind;
    e.severity = sev;
    e.step_lo = lo;
    e.step_hi = lo;
    e.message = kind + " event";
    e.data_json = data;
    ASSERT_TRUE(st->AddEvent(&e).ok());
  }
  void Attempt(Store* st, const std::string& run, int n, double t0, double t1, int code) {
    store::AttemptRecord a;
    a.run_id = run;
    a.number = n;
    a.reason = n == 1 ? "start" : "rollback_skip";
    a.started_at = t0;
    a.ended_at = t1;
    a.exit_code = code;
    ASSERT_TRUE(st->PutAttempt(a).ok());
  }
  std::string MakeRun(Store* st, const std::string& name, bool repaired) {
    store::RunRecord r;
    r.name = name;
    r.command = {"python3", "train.py"};
    r.started_at = 2000;
    EXPECT_TRUE(st->CreateRun(&r).ok());
    std::unique_ptr<store::RunWriter> w;
    EXPECT_TRUE(st->OpenWriter(r.id, &w).ok());
    const int last1 = repaired ? 55 : 100;
    for (int s = 1; s <= last1; ++s) {
      double v = repaired && s >= 50 ? NAN : 3 - 0.01 * s;
      EXPECT_TRUE(w->Append("train/loss", s, 2000 + s, v).ok());
    }
    if (repaired) {
      for (int s = 41; s <= 100; ++s) EXPECT_TRUE(w->Append("train/loss", s, 3000 + s, 2.5).ok());
    }
    EXPECT_TRUE(w->Close().ok());
    r.status = store::kFinished;
    r.ended_at = repaired ? 3100 : 2100;
    r.attempts = repaired ? 2 : 1;
    r.exit_code = 0;
    EXPECT_TRUE(st->UpdateRun(r).ok());
    return r.id;
  }
  // The repaired run of the file comment; returns its id, the action's id in *action_id.
  std::string MakeRepairedRun(Store* st, int64_t* action_id) {
    std::string id = MakeRun(st, "fixed", true);
    Attempt(st, id, 1, 2000, 2055.5, 143);
    Attempt(st, id, 2, 3000, 3100, 0);
    Event(st, id, 2000, "attempt_start", std::nullopt, R"({"attempt":1})", "info");
    for (int s : {10, 12, 14})  // one slowdown reported three times in a row: one episode
      Event(st, id, 2000 + s, "throughput_regression", s,
            R"({"series":"steps_per_s","update":false,"evidence":{"drop":0.5}})");
    Event(st, id, 2020, "checkpoint", 20, R"({"path":"ck/20","step":20,"attempt":1})", "info");
    Event(st, id, 2040, "checkpoint", 40, R"({"path":"ck/40","step":40,"attempt":1})", "info");
    Event(st, id, 2040.5, "checkpoint", 40, R"({"path":"ck/40b","step":40})", "info");
    Event(st, id, 2050.5, "nonfinite", 50,
          R"({"series":"train/loss","update":false,"evidence":{"nan":1,"inf":0}})", "error");
    store::ActionRecord a;
    a.run_id = id;
    a.created_at = 2055.1;
    a.action = "rollback_skip";
    a.trigger = "nonfinite";
    a.step = 55;
    a.reason = "loss is nan";
    a.state = store::kActionApplied;
    a.decided_by = "policy";
    a.data_json = R"({"checkpoint":{"path":"ck/40","step":40},"start_step":41,"skip":[41,56]})";
    EXPECT_TRUE(st->AddAction(&a).ok());
    Event(st, id, 2055.5, "attempt_exit", 55, R"({"attempt":1,"last_step":55})", "info");
    Event(st, id, 2055.6, "action_applied", 55,
          fmt::format(R"({{"action_id":{},"action":"rollback_skip","start_step":41}})", a.id));
    Event(st, id, 3000, "attempt_start", std::nullopt,
          R"({"attempt":2,"start_step":41,"skip_windows":[[41,56]]})", "info");
    Event(st, id, 3060, "checkpoint", 60, R"({"path":"ck/60","step":60,"attempt":2})", "info");
    Event(st, id, 3100, "attempt_exit", 100, R"({"attempt":2,"last_step":100})", "info");
    *action_id = a.id;
    return id;
  }
};

TEST_F(RepairViewTest, RollbackSkipIsDrawnFromTheReportsFacts) {
  auto st = Open();
  int64_t action_id = 0;
  std::string id = MakeRepairedRun(st.get(), &action_id);
  RepairView v;
  ASSERT_TRUE(BuildRepairView(st.get(), "fixed", &v).ok());
  EXPECT_EQ(v.run_id, id);
  EXPECT_EQ(v.metric, "train/loss");
  ASSERT_EQ(v.attempts.size(), 2u);
  EXPECT_EQ(v.attempts[0].first_step, 1);
  EXPECT_EQ(v.attempts[0].last_step, 55);
  EXPECT_EQ(v.attempts[1].first_step, 41);
  EXPECT_EQ(v.attempts[1].last_step, 100);
  EXPECT_DOUBLE_EQ(v.attempts[1].started_at, 3000);
  ASSERT_EQ(v.abandoned.size(), 1u);
  EXPECT_EQ(v.abandoned[0].attempt, 1);
  EXPECT_EQ(v.abandoned[0].redone_by, 2);
  EXPECT_EQ(v.abandoned[0].lo, 41);
  EXPECT_EQ(v.abandoned[0].hi, 55);
  ASSERT_EQ(v.skipped.size(), 1u);
  EXPECT_EQ(v.skipped[0].lo, 41);
  EXPECT_EQ(v.skipped[0].hi, 55);
  EXPECT_EQ(v.skipped[0].action_id, action_id);
  ASSERT_EQ(v.checkpoints.size(), 3u);
  EXPECT_EQ(v.checkpoints[0].step, 20);
  EXPECT_EQ(v.checkpoints[1].step, 40);
  EXPECT_EQ(v.checkpoints[2].step, 60);
  EXPECT_EQ(v.checkpoints[2].attempt, 2);
  ASSERT_EQ(v.episodes.size(), 2u);
  EXPECT_EQ(v.episodes[0].kind, "throughput_regression");
  EXPECT_EQ(v.episodes[0].count, 3);
  EXPECT_EQ(v.episodes[0].step_lo, 10);
  EXPECT_EQ(v.episodes[0].step_hi, 14);
  EXPECT_EQ(v.episodes[0].key, "steps_per_s");
  EXPECT_EQ(v.episodes[1].kind, "nonfinite");
  EXPECT_EQ(v.episodes[1].count, 1);
  EXPECT_EQ(v.episodes[1].step_lo, 50);
  EXPECT_EQ(v.episodes[1].severity, "error");
  // Lost: steps 41..55 of attempt 1, from step 41's point (2041) to attempt 2's first (3041).
  EXPECT_EQ(v.summary, "NaN at 50 → rolled back to 40, skipped 41-55, cost 15 steps / 16m40s");
  ASSERT_TRUE(v.goodput.has_value());
  EXPECT_EQ(v.goodput->lost_steps, 15);
  EXPECT_EQ(v.goodput->faults.size(), 1u);

  // The same numbers as `inloop report` says them.
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_NE(r.headline.find("cost 15 steps run again and 16m40s of wall time"), std::string::npos)
      << r.headline;
  ASSERT_TRUE(r.goodput.has_value());
  EXPECT_DOUBLE_EQ(v.goodput->ettr, r.goodput->ettr);

  // One JSON form.
  JsonWriter w;
  WriteRepairViewJson(v, &w);
  std::string json = w.Take();
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(json).get(doc)) << json;
  int64_t lo = 0, hi = 0;
  ASSERT_FALSE(doc["abandoned"].at(0)["step_lo"].get(lo));
  ASSERT_FALSE(doc["abandoned"].at(0)["step_hi"].get(hi));
  EXPECT_EQ(lo, 41);
  EXPECT_EQ(hi, 55);
  std::string_view summary;
  ASSERT_FALSE(doc["summary"].get(summary));
  EXPECT_EQ(summary, v.summary);
  int64_t lost = 0;
  ASSERT_FALSE(doc["goodput"]["lost_steps"].get(lost));
  EXPECT_EQ(lost, 15);
  simdjson::dom::array episodes;
  ASSERT_FALSE(doc["episodes"].get(episodes));
  EXPECT_EQ(episodes.size(), 2u);

  // The points the stitched curve hides are exactly the abandoned steps.
  std::vector<http::AbandonedPart> parts;
  ASSERT_TRUE(http::ReadAbandonedPoints(st.get(), id, "train/loss", "step", std::nullopt,
                                        std::nullopt, 1000, &parts).ok());
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].segment, 0);
  ASSERT_EQ(parts[0].points.size(), 15u);
  EXPECT_EQ(parts[0].points.front().first, 41);
  EXPECT_EQ(parts[0].points.back().first, 55);
  EXPECT_TRUE(std::isnan(parts[0].points.back().second));
  // Relative time counts from the stitched curve's first point (step 1 at 2001); a range cuts.
  ASSERT_TRUE(http::ReadAbandonedPoints(st.get(), id, "train/loss", "relative", 45.0, 47.0, 1000,
                                        &parts).ok());
  ASSERT_EQ(parts.size(), 1u);
  ASSERT_EQ(parts[0].points.size(), 3u);
  EXPECT_DOUBLE_EQ(parts[0].points.front().first, 2046 - 2001);
  ASSERT_TRUE(http::ReadAbandonedPoints(st.get(), id, "train/loss", "step", 90.0, 95.0, 1000,
                                        &parts).ok());
  EXPECT_TRUE(parts.empty());
}

TEST_F(RepairViewTest, CleanRunHasNothingToDraw) {
  auto st = Open();
  std::string id = MakeRun(st.get(), "clean", false);
  Attempt(st.get(), id, 1, 2000, 2100, 0);
  Event(st.get(), id, 2100, "attempt_exit", 100, R"({"attempt":1,"last_step":100})", "info");
  RepairView v;
  ASSERT_TRUE(BuildRepairView(st.get(), id, &v).ok());
  ASSERT_EQ(v.attempts.size(), 1u);
  EXPECT_EQ(v.attempts[0].first_step, 1);
  EXPECT_EQ(v.attempts[0].last_step, 100);
  EXPECT_TRUE(v.abandoned.empty());
  EXPECT_TRUE(v.skipped.empty());
  EXPECT_TRUE(v.checkpoints.empty());
  EXPECT_TRUE(v.episodes.empty());
  EXPECT_EQ(v.summary, "");
  ASSERT_TRUE(v.goodput.has_value());
  EXPECT_TRUE(v.goodput->faults.empty());
  std::vector<http::AbandonedPart> parts;
  ASSERT_TRUE(http::ReadAbandonedPoints(st.get(), id, "train/loss", "step", std::nullopt,
                                        std::nullopt, 1000, &parts).ok());
  EXPECT_TRUE(parts.empty());
  ASSERT_TRUE(http::ReadAbandonedPoints(st.get(), id, "no/such", "time", std::nullopt,
                                        std::nullopt, 1000, &parts).ok());
  EXPECT_TRUE(parts.empty());
  EXPECT_EQ(BuildRepairView(st.get(), "nope", &v).code(), Status::Code::kNotFound);
}

// Through the HTTP API: the route, its errors, and the series' abandoned parts on request only.
TEST_F(RepairViewTest, ApiServesTheRepairAndTheAbandonedPoints) {
  std::string id;
  {
    auto st = Open();
    int64_t action_id = 0;
    id = MakeRepairedRun(st.get(), &action_id);
  }
  http::StorePool pool(dir_);
  http::ServerMetrics metrics;
  http::Api api(&pool, &metrics);
  auto call = [&](const std::string& method, const std::string& target) {
    http::HttpRequest r;
    r.method = method;
    EXPECT_TRUE(http::ParseTarget(target, &r).ok()) << target;
    return api.Handle(r);
  };
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  http::HttpResponse res = call("GET", "/api/v1/runs/fixed/repair");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.route, "/api/v1/runs/{id}/repair");
  ASSERT_FALSE(p.parse(res.body).get(doc)) << res.body;
  std::string_view summary, run;
  ASSERT_FALSE(doc["summary"].get(summary));
  ASSERT_FALSE(doc["run"].get(run));
  EXPECT_EQ(summary, "NaN at 50 → rolled back to 40, skipped 41-55, cost 15 steps / 16m40s");
  EXPECT_EQ(run, id);
  EXPECT_EQ(call("POST", "/api/v1/runs/fixed/repair").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/runs/nope/repair").status, 404);

  res = call("GET", "/api/v1/series?runs=" + id + "&key=train/loss&abandoned=1");
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_FALSE(p.parse(res.body).get(doc)) << res.body;
  simdjson::dom::array parts, points;
  ASSERT_FALSE(doc["series"].at(0)["abandoned"].get(parts)) << res.body;
  ASSERT_EQ(parts.size(), 1u);
  ASSERT_FALSE(parts.at(0)["points"].get(points));
  EXPECT_EQ(points.size(), 15u);
  ASSERT_FALSE(doc["series"].at(0)["points"].get(points));
  EXPECT_EQ(points.size(), 100u);  // the stitched curve: 1..40 of attempt 1, 41..100 of attempt 2
  res = call("GET", "/api/v1/series?runs=" + id + "&key=train/loss");
  ASSERT_FALSE(p.parse(res.body).get(doc)) << res.body;
  EXPECT_EQ(doc["series"].at(0)["abandoned"].error(), simdjson::NO_SUCH_FIELD);
}

}  // namespace
}  // namespace inloop::report
