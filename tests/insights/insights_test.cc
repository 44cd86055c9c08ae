// ComputeInsights over a real store: run filters, the default key, the best finished run,
// each section or its reason, the flag on a running run that cannot catch up, and the JSON.
#include "insights/insights.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>
#include <vector>

#include "insights/reference.h"
#include "support/temp_store.h"

namespace inloop::insights {
namespace {

using testing::Gaussian;

class InsightsTest : public store::TempStoreTest {
 protected:
  // A run with params and a val/loss curve c + a*(step/10)^-0.5 (+ noise) at steps 10..last.
  std::string AddRun(store::Store* st, const std::string& name, const std::string& status,
                     std::vector<store::Param> params, double a, double c, int last,
                     double noise, uint64_t seed, bool train_loss = false,
                     std::vector<std::string> tags = {}) {
    store::RunRecord r;
    r.name = name;
    r.started_at = 1000;
    EXPECT_TRUE(st->CreateRun(&r).ok());
    r.status = status;
    if (status != store::kRunning) r.ended_at = 2000;
    EXPECT_TRUE(st->UpdateRun(r).ok());
    EXPECT_TRUE(st->SetParams(r.id, params).ok());
    if (!tags.empty()) {
      EXPECT_TRUE(st->AddTags(r.id, tags).ok());
    }
    std::unique_ptr<store::RunWriter> w;
    EXPECT_TRUE(st->OpenWriter(r.id, &w).ok());
    stats::Rng rng(seed);
    for (int s = 10; s <= last; s += 10) {
      double v = c + a * std::pow(s / 10.0, -0.5) + noise * Gaussian(rng);
      EXPECT_TRUE(w->Append("val/loss", s, 1000 + s, v).ok());
      if (train_loss) {
        EXPECT_TRUE(w->Append("train/loss", s, 1000 + s, v - 0.1).ok());
      }
    }
    EXPECT_TRUE(w->Close().ok());
    return r.id;
  }

  static store::Param P(const std::string& k, const std::string& v) { return {k, v, "argv"}; }

  // 12 finished lr sweep runs (final loss depends on lr only), 6 finished runs at growing token
  // counts on a power law, and two running runs: one on course to beat the best, one not.
  void Fill(store::Store* st) {
    for (int i = 0; i < 12; ++i) {
      double log_lr = -4 + 2 * i / 11.0;
      double c = 2 + 0.5 * (log_lr + 3) * (log_lr + 3);
      AddRun(st, fmt::format("lr-{}", i), store::kFinished,
             {P("lr", fmt::format("{:.6g}", std::pow(10, log_lr))), P("seed", std::to_string((i * 7) % 12)),
              P("max_steps", "1000")},
             1.0, c, 1000, 0.002, 100 + i, i % 2 == 0);
    }
    for (int i = 0; i < 6; ++i) {
      double tokens = 1e8 * std::pow(10, i * 0.6);
      double final = 1.8 + 50 * std::pow(tokens, -0.2);
      // The curve ends exactly at the law's value: a at the last step is a * 100^-0.5 = a / 10.
      AddRun(st, fmt::format("scale-{}", i), store::kFinished,
             {P("tokens", fmt::format("{:.17g}", tokens)), P("lr", "0.001")}, 1.0, final - 0.1,
             1000, 0, 0, false, {"scale"});
    }
    AddRun(st, "live-good", store::kRunning, {P("lr", "0.001"), P("max_steps", "2000")}, 1.0, 1.2,
           400, 0.003, 7);
    AddRun(st, "live-bad", store::kRunning, {P("lr", "0.1"), P("max_steps", "2000")}, 1.0, 6.0,
           400, 0.003, 8);
  }
};

TEST_F(InsightsTest, SweepImportanceAndDefaultKey) {
  auto st = Open();
  Fill(st.get());
  InsightsOptions o;
  o.runs = "lr-*";
  Insights in;
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_EQ(in.runs_matched, 12);
  EXPECT_EQ(in.key, "val/loss");  // in every run; train/loss only in half
  EXPECT_TRUE(in.key_chosen);
  EXPECT_EQ(in.goal, compare::Goal::kMin);
  EXPECT_EQ(in.finished, 12);
  ASSERT_TRUE(in.best.has_value());
  // The best lr is 1e-3 (c = 2): lr-i with log_lr closest to -3 are i = 5 and 6.
  EXPECT_TRUE(in.best->name == "lr-5" || in.best->name == "lr-6") << in.best->name;
  ASSERT_TRUE(in.importance.ok) << in.importance.reason;
  EXPECT_EQ(in.importance.run_ids.size(), 12u);
  EXPECT_EQ(in.importance.result.params[0].key, "lr");
  bool skipped_max_steps = false;
  for (auto& s : in.importance.skipped) skipped_max_steps |= s.key == "max_steps";
  EXPECT_TRUE(skipped_max_steps);
  EXPECT_FALSE(in.extrapolation.ok);
  EXPECT_NE(in.extrapolation.reason.find("no running run"), std::string::npos);
  EXPECT_FALSE(in.scaling.ok);
  EXPECT_NE(in.scaling.reason.find("compute or tokens"), std::string::npos);
}

TEST_F(InsightsTest, ScalingOverTaggedRuns) {
  auto st = Open();
  Fill(st.get());
  InsightsOptions o;
  o.runs = "tag:scale";
  Insights in;
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_EQ(in.runs_matched, 6);
  ASSERT_TRUE(in.scaling.ok) << in.scaling.reason;
  EXPECT_EQ(in.scaling.x_key, "tokens");
  EXPECT_EQ(in.scaling.x_source, "param");
  EXPECT_NEAR(in.scaling.fit.fit.b, 0.2, 1e-4);
  EXPECT_NEAR(in.scaling.fit.fit.c, 1.8, 1e-3);
  EXPECT_NEAR(in.scaling.fit.predicted, 1.8 + 50 * std::pow(10 * 1e8 * std::pow(10, 3.0), -0.2), 1e-4);
  EXPECT_FALSE(in.importance.ok);
  EXPECT_NE(in.importance.reason.find("needs >= 10 finished runs"), std::string::npos);

  // Too few runs for a fit: the reason names the count.
  o.runs = "scale-[0-2]";
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_FALSE(in.scaling.ok);
  EXPECT_EQ(in.scaling.reason, "scaling: needs >= 4 runs with a tokens value; found 3");
}

TEST_F(InsightsTest, RunningRunsAreExtrapolatedAndFlagged) {
  auto st = Open();
  Fill(st.get());
  Insights in;
  ASSERT_TRUE(ComputeInsights(st.get(), InsightsOptions(), &in).ok());
  EXPECT_EQ(in.running, 2);
  ASSERT_TRUE(in.extrapolation.ok);
  ASSERT_EQ(in.extrapolation.runs.size(), 2u);
  for (auto& r : in.extrapolation.runs) {
    ASSERT_TRUE(r.ok) << r.name << ": " << r.reason;
    EXPECT_EQ(r.horizon_source, "param max_steps");
    EXPECT_EQ(r.ex.horizon, 2000);
    double c = r.name == "live-good" ? 1.2 : 6.0;
    double truth = c + std::pow(200.0, -0.5);
    EXPECT_NEAR(r.ex.predicted, truth, 0.05) << r.name;
    EXPECT_EQ(r.cannot_beat_best, r.name == "live-bad") << r.name;
  }
  // The same run with no max_steps: --horizon, else the longest finished run.
  InsightsOptions o;
  o.runs = "status:running";
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_FALSE(in.best.has_value());
  for (auto& r : in.extrapolation.runs) EXPECT_FALSE(r.cannot_beat_best);
}

TEST_F(InsightsTest, HorizonFallbacks) {
  auto st = Open();
  AddRun(st.get(), "done", store::kFinished, {}, 1.0, 2.0, 1500, 0.002, 1);
  AddRun(st.get(), "live", store::kRunning, {}, 1.0, 2.0, 300, 0.002, 2);
  Insights in;
  ASSERT_TRUE(ComputeInsights(st.get(), InsightsOptions(), &in).ok());
  ASSERT_EQ(in.extrapolation.runs.size(), 1u);
  EXPECT_EQ(in.extrapolation.runs[0].horizon_source, "longest finished run done");
  EXPECT_EQ(in.extrapolation.runs[0].ex.horizon, 1500);
  InsightsOptions o;
  o.horizon = 900;
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_EQ(in.extrapolation.runs[0].horizon_source, "--horizon");
  o.horizon = 200;  // behind the run
  ASSERT_TRUE(ComputeInsights(st.get(), o, &in).ok());
  EXPECT_FALSE(in.extrapolation.runs[0].ok);
  EXPECT_NE(in.extrapolation.runs[0].reason.find("not beyond its last step 300"), std::string::npos);
}

TEST_F(InsightsTest, ErrorsNameWhatIsMissing) {
  auto st = Open();
  Insights in;
  EXPECT_EQ(ComputeInsights(st.get(), InsightsOptions(), &in).code(), Status::Code::kNotFound);
  Fill(st.get());
  InsightsOptions o;
  o.runs = "nothing-*";
  Status s = ComputeInsights(st.get(), o, &in);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("nothing-*"), std::string::npos);
  o.runs = "";
  o.key = "accuracy";
  s = ComputeInsights(st.get(), o, &in);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("accuracy"), std::string::npos);
}

TEST_F(InsightsTest, JsonAndTextCarryTheNumbers) {
  auto st = Open();
  Fill(st.get());
  Insights in;
  ASSERT_TRUE(ComputeInsights(st.get(), InsightsOptions(), &in).ok());
  JsonWriter w;
  WriteInsightsJson(in, &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc)) << w.str();
  EXPECT_EQ(std::string_view(doc["key"]), "val/loss");
  EXPECT_EQ(int64_t(doc["runs"]["matched"]), 20);
  EXPECT_TRUE(bool(doc["importance"]["ok"]));
  EXPECT_EQ(int64_t(doc["importance"]["n"]), 18);
  // seed and max_steps are missing in the 6 scale runs (filled with the median), tokens in 12.
  simdjson::dom::array params = doc["importance"]["params"];
  EXPECT_EQ(params.size(), 2u);
  EXPECT_EQ(std::string_view(doc["importance"]["skipped"].at(0)["key"]), "max_steps");
  simdjson::dom::array runs = doc["extrapolation"]["runs"];
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_TRUE(bool(doc["scaling"]["ok"]));  // over the 6 finished runs that have tokens
  EXPECT_EQ(int64_t(doc["scaling"]["n"]), 6);
  std::string text = RenderInsightsText(in);
  EXPECT_NE(text.find("Hyper-parameter importance"), std::string::npos);
  EXPECT_NE(text.find("cannot beat the best finished run"), std::string::npos);
  EXPECT_NE(text.find("live-good"), std::string::npos);
  EXPECT_EQ(text.find("\x1b["), std::string::npos);  // no colour unless asked
}

}  // namespace
}  // namespace inloop::insights
