// The run report on stores built by hand: the paragraph's numbers (duration, attempts, first,
// final and best values), a remedy's recovery measured on a curve whose answer is derived by hand
// in the test, the baseline picked among earlier runs of the same command, the recommendation
// rules firing on facts that show their pattern and staying silent on facts that do not, and the
// Markdown and HTML renderings (tables intact, text escaped, tags balanced, no network reference).
#include "report/run_report.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <regex>
#include <sstream>
#include <set>

#include "report/recommendations.h"
#include "report/render_html.h"
#include "report/render_markdown.h"
#include "report/sentences.h"
#include "support/temp_store.h"

namespace inloop::report {
namespace {

using store::ActionRecord;
using store::AttemptRecord;
using store::EventRecord;
using store::RunRecord;
using store::Store;

class RunReportTest : public store::TempStoreTest {
 protected:
  // A run of `cmd`, started at `t0`; its points come from `fill` through one writer.
  std::string MakeRun(Store* st, const std::string& name, double t0, double t1,
                      const std::vector<std::string>& cmd, const char* status, int attempts,
                      const std::function<void(store::RunWriter*)>& fill) {
    RunRecord r;
    r.name = name;
    r.command = cmd;
    r.started_at = t0;
    EXPECT_TRUE(st->CreateRun(&r).ok());
    std::unique_ptr<store::RunWriter> w;
    EXPECT_TRUE(st->OpenWriter(r.id, &w).ok());
    fill(w.get());
    EXPECT_TRUE(w->Close().ok());
    r.status = status;
    r.ended_at = t1;
    r.attempts = attempts;
    r.exit_code = std::string(status) == store::kFinished ? 0 : 1;
    EXPECT_TRUE(st->UpdateRun(r).ok());
    return r.id;
  }
  void Event(Store* st, const std::string& run, double t, const std::string& kind,
             std::optional<int64_t> lo, std::optional<int64_t> hi, const std::string& msg,
             const std::string& data, const char* sev = "warning") {
    EventRecord e;
    e.run_id = run;
    e.time = t;
    e.kind = kind;
    e.severity = sev;
    e.step_lo = lo;
    e.step_hi = hi;
    e.message = msg;
    e.data_json = data;
    ASSERT_TRUE(st->AddEvent(&e).ok());
  }
  void Attempt(Store* st, const std::string& run, int n, double t0, double t1, int code,
               const std::string& crash = "") {
    AttemptRecord a;
    a.run_id = run;
    a.number = n;
    a.reason = n == 1 ? "start" : "rollback_skip";
    a.started_at = t0;
    a.ended_at = t1;
    a.exit_code = code;
    a.crash_class = crash;
    ASSERT_TRUE(st->PutAttempt(a).ok());
  }
};

// Attempt 1 logs steps 1..60 at wall time 2000 + s, loss 3 - 0.01 s with a spike of 30 at step
// 50; a rollback_skip restarts from the step-40 checkpoint; attempt 2 logs steps 41..100 at wall
// time 3000 + s with loss after(s).
class RemedyRunTest : public RunReportTest {
 protected:
  std::string Build(Store* st, const std::function<double(int)>& after,
                    const std::function<void(const std::string&)>& before_restart = nullptr) {
    std::string id = MakeRun(
        st, "spiky", 1000, 3200, {"python3", "train.py", "--lr", "0.001"}, store::kFinished, 2,
        [&](store::RunWriter* w) {
          for (int s = 1; s <= 60; ++s)
            ASSERT_TRUE(w->Append("train/loss", s, 2000 + s, s == 50 ? 30 : 3 - 0.01 * s).ok());
          for (int s = 41; s <= 100; ++s)
            ASSERT_TRUE(w->Append("train/loss", s, 3000 + s, after(s)).ok());
        });
    Attempt(st, id, 1, 1000, 2061, 143);
    Attempt(st, id, 2, 3000, 3200, 0);
    Event(st, id, 2050.2, "loss_spike", 50, 50, "loss spike on train/loss at step 50",
          R"({"series":"train/loss","update":false,"evidence":{"value":30,"median":2.6,"robust_z":80}})");
    ActionRecord a;
    a.run_id = id;
    a.created_at = 2050.1;
    a.action = "rollback_skip";
    a.trigger = "loss_spike";
    a.step = 50;
    a.reason = "loss spike at step 50";
    a.state = store::kActionApplied;
    a.decided_by = "policy";
    a.data_json =
        R"({"action":"rollback_skip","checkpoint":{"path":"ck/step-40.pt","step":40,"source":"sdk"},)"
        R"("resume_step":40,"start_step":41,"skip":[41,51],"lr_scale":1,"micro_batch":null})";
    EXPECT_TRUE(st->AddAction(&a).ok());
    Event(st, id, 2062, "action_applied", 50, 50, "rollback_skip: attempt 2 starts from step 41",
          fmt::format(R"({{"action_id":{},"action":"rollback_skip","start_step":41}})", a.id));
    if (before_restart) before_restart(id);
    Event(st, id, 3000, "attempt_start", std::nullopt, std::nullopt, "attempt 2 started",
          R"({"attempt":2,"pid":7,"start_step":41,"argv":["python3","train.py","--lr","0.001"]})",
          "info");
    return id;
  }
};

TEST_F(RunReportTest, ParagraphNumbers) {
  auto st = Open();
  // Loss 5 - 0.03 s for s = 0..99 (best at 99: 2.03), then 2.5 at step 100 (the final value).
  std::string id = MakeRun(st.get(), "para", 1000, 1187, {"python3", "a.py"}, store::kFinished, 2,
                           [](store::RunWriter* w) {
                             for (int s = 0; s <= 100; ++s)
                               ASSERT_TRUE(w->Append("loss", s, 1000 + s, s < 100 ? 5 - 0.03 * s : 2.5).ok());
                           });
  Attempt(st.get(), id, 1, 1000, 1100, 139, "segfault");
  Attempt(st.get(), id, 2, 1101, 1187, 0);
  ReportOptions o;
  o.run = "para";
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  ASSERT_TRUE(r.metric.has_value());
  EXPECT_EQ(r.metric->key, "loss");
  EXPECT_DOUBLE_EQ(r.duration, 187);
  EXPECT_EQ(r.metric->last->step, 100);
  EXPECT_DOUBLE_EQ(r.metric->last->value, 2.5);
  EXPECT_EQ(r.metric->best->step, 99);
  EXPECT_NEAR(r.metric->best->value, 5 - 0.03 * 99, 1e-12);
  std::string p = SummaryParagraph(r);
  EXPECT_NE(p.find("finished after 3m07s in 2 attempts"), std::string::npos) << p;
  EXPECT_NE(p.find("loss went from 5 at step 0 to 2.5 at step 100 (best 2.03 at step 99)"),
            std::string::npos) << p;
  EXPECT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].crash_class, "segfault");
  // Steps per second from wall times: one step per second exactly.
  ASSERT_TRUE(r.throughput.has_value());
  EXPECT_EQ(r.throughput->kind, "derived");
  EXPECT_DOUBLE_EQ(r.throughput->median, 1.0);
  EXPECT_TRUE(r.throughput->regressions.empty());
}

TEST_F(RemedyRunTest, RecoveryStepsMatchTheHandDerivedAnswer) {
  auto st = Open();
  // After the restart: 2.9 - 0.01 (s - 41). The level before the spike is the median of the 20
  // points before step 50 (steps 30..49: 3 - 0.01 s, from 2.70 down to 2.51): (2.61 + 2.60) / 2 =
  // 2.605. 2.9 - 0.01 k <= 2.605 first at k = 30, i.e. step 71: the 31st step of attempt 2.
  std::string id = Build(st.get(), [](int s) { return 2.9 - 0.01 * (s - 41); });
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  ASSERT_EQ(r.remedies.size(), 1u);
  const RemedyFacts& f = r.remedies[0];
  ASSERT_TRUE(f.measured);
  EXPECT_EQ(f.onset, 50);
  EXPECT_EQ(f.pre_points, 20);
  EXPECT_NEAR(f.pre_level, (2.61 + 2.60) / 2, 1e-12);
  EXPECT_EQ(f.restart_step, 41);
  ASSERT_TRUE(f.recovered_step.has_value());
  EXPECT_EQ(*f.recovered_step, 71);
  EXPECT_EQ(f.steps_to_recover, 31);
  EXPECT_EQ(f.steps_observed, 60);
  EXPECT_EQ(f.next_attempt, 2);
  EXPECT_FALSE(f.recurred_step.has_value());
  ASSERT_TRUE(f.skip.has_value());
  EXPECT_EQ(f.skip->first, 41);
  EXPECT_EQ(f.checkpoint_step, 40);
  std::string text = RemedyOutcomeText(r, f);
  EXPECT_NE(text.find("back under the pre-loss_spike level 2.605"), std::string::npos) << text;
  EXPECT_NE(text.find("within 31 steps"), std::string::npos) << text;
  // The effective curve hides the abandoned tail: 40 points of attempt 1 and 60 of attempt 2.
  EXPECT_EQ(r.metric->points, 100);
  EXPECT_EQ(r.metric->last->step, 100);
  std::string md = RenderMarkdown(r);
  EXPECT_NE(md.find("within 31 steps"), std::string::npos);
  EXPECT_NE(md.find("loss\\_spike"), std::string::npos);  // in the timeline, escaped
}

TEST_F(RemedyRunTest, NoRecoveryIsSaidWithTheStepsObserved) {
  auto st = Open();
  std::string id = Build(st.get(), [](int) { return 2.7; });
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  ASSERT_EQ(r.remedies.size(), 1u);
  EXPECT_FALSE(r.remedies[0].recovered_step.has_value());
  std::string text = RemedyOutcomeText(r, r.remedies[0]);
  EXPECT_NE(text.find("did not get back under"), std::string::npos) << text;
  EXPECT_NE(text.find("within the remaining 60 steps (steps 41-100)"), std::string::npos) << text;
}

TEST_F(RunReportTest, BaselineIsTheBestEarlierFinishedRunOfTheSameCommand) {
  auto st = Open();
  std::vector<std::string> cmd = {"python3", "train.py", "--lr", "0.001"};
  auto flat = [](double v) {
    return [v](store::RunWriter* w) {
      for (int s = 0; s < 100; ++s) ASSERT_TRUE(w->Append("train/loss", s, 0, v).ok());
    };
  };
  MakeRun(st.get(), "b20", 100, 200, cmd, store::kFinished, 1, flat(2.0));
  std::string best = MakeRun(st.get(), "b15", 200, 300, cmd, store::kFinished, 1, flat(1.5));
  MakeRun(st.get(), "b18", 300, 400, cmd, store::kFinished, 1, flat(1.8));
  MakeRun(st.get(), "other", 400, 500, {"python3", "other.py"}, store::kFinished, 1, flat(1.0));
  MakeRun(st.get(), "broken", 500, 600, cmd, store::kFailed, 1, flat(0.5));
  std::string id = MakeRun(st.get(), "me", 1000, 1100, cmd, store::kFinished, 1, flat(1.7));
  MakeRun(st.get(), "later", 2000, 2100, cmd, store::kFinished, 1, flat(0.1));
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  ASSERT_TRUE(r.baseline.has_value());
  EXPECT_EQ(r.baseline->run_id, best);
  EXPECT_EQ(r.baseline->how, "auto");
  EXPECT_EQ(r.baseline->candidates, 3);
  EXPECT_TRUE(r.baseline->error.empty());
  EXPECT_NEAR(r.baseline->final_diff, 0.2, 1e-12);  // this run (B) - baseline (A)
  EXPECT_NEAR(r.baseline->area, 0.2 * 99, 1e-9);   // constant gap over steps 0..99
  EXPECT_EQ(r.baseline->leader, "a");
  EXPECT_NE(BaselineText(r).find("worse"), std::string::npos);

  o.baseline = "b20";
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_EQ(r.baseline->name, "b20");
  EXPECT_EQ(r.baseline->how, "given");
  EXPECT_NEAR(r.baseline->final_diff, -0.3, 1e-12);
  EXPECT_EQ(r.baseline->leader, "b");

  o.baseline = "nosuchrun";
  EXPECT_EQ(BuildRunReport(st.get(), o, &r).code(), Status::Code::kNotFound);
  o.baseline.clear();
  o.auto_baseline = false;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_FALSE(r.baseline.has_value());
  // The first run of a command has nothing to compare with.
  o.auto_baseline = true;
  o.run = "b20";
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_FALSE(r.baseline.has_value());
}

TEST_F(RunReportTest, UnknownRunAndKeyAreNotFound) {
  auto st = Open();
  MakeRun(st.get(), "x", 1, 2, {"a"}, store::kFinished, 1,
          [](store::RunWriter* w) { ASSERT_TRUE(w->Append("loss", 1, 1, 1).ok()); });
  ReportOptions o;
  RunReport r;
  o.run = "nope";
  EXPECT_EQ(BuildRunReport(st.get(), o, &r).code(), Status::Code::kNotFound);
  o.run = "x";
  o.key = "acc";
  EXPECT_EQ(BuildRunReport(st.get(), o, &r).code(), Status::Code::kNotFound);
}

// ---- recommendation rules on hand-built facts ----

RunReport WithSpikes(std::vector<int64_t> steps) {
  RunReport r;
  r.run.name = "r";
  r.metric = MetricFacts{};
  r.metric->key = "train/loss";
  r.metric->goal = "min";
  for (int64_t s : steps) {
    FindingFacts f;
    f.kind = "loss_spike";
    f.series = "train/loss";
    f.step_lo = f.step_hi = s;
    r.findings.push_back(f);
  }
  return r;
}

bool Has(const RunReport& r, const std::string& rule, std::string* text = nullptr) {
  for (auto& x : Recommend(r))
    if (x.rule == rule) {
      if (text) *text = x.text;
      return true;
    }
  return false;
}

TEST(Recommendations, SpikesRightAfterWarmupAtPeakLr) {
  RunReport r = WithSpikes({110, 130, 900});
  r.lr = LrFacts{"lr", 1e-4, 0, 1e-3, 100, 1e-5, 1000, {{110, 9.9e-4}, {130, 9.5e-4}, {900, 2e-5}}};
  std::string text;
  ASSERT_TRUE(Has(r, "spikes_after_warmup", &text));
  // Window: max(2 x 100-step warm-up, 1000 / 20) = 200 steps after the peak: 110 and 130.
  EXPECT_NE(text.find("2 of 3 loss anomalies began within 30 steps after the learning rate peaked "
                      "at 0.001 (step 100, the end of a 100-step warm-up from 0.0001), at 95% or "
                      "more of the peak rate"),
            std::string::npos) << text;
  EXPECT_FALSE(Has(WithSpikes({600, 800}), "spikes_after_warmup"));
  RunReport late = WithSpikes({600, 800});
  late.lr = r.lr;
  EXPECT_FALSE(Has(late, "spikes_after_warmup"));   // far from the warm-up
  RunReport flat = WithSpikes({110});
  flat.lr = LrFacts{"lr", 1e-3, 0, 1e-3, 0, 1e-3, 1000, {}};
  EXPECT_FALSE(Has(flat, "spikes_after_warmup"));   // no warm-up at all
  EXPECT_FALSE(Has(WithSpikes({}), "spikes_after_warmup"));
}

AttemptFacts Att(int n, const std::string& crash, int code, std::map<std::string, std::string> p,
                 std::optional<int64_t> last) {
  AttemptFacts a;
  a.number = n;
  a.crash_class = crash;
  a.exit_code = code;
  a.params = std::move(p);
  a.last_step = last;
  return a;
}

TEST(Recommendations, OomAtTheSameParamValue) {
  RunReport r;
  r.attempts = {Att(1, "cuda_oom", 1, {{"micro_batch", "32"}, {"lr", "0.001"}}, 98),
                Att(2, "none", 0, {{"micro_batch", "16"}, {"lr", "0.001"}}, 160)};
  std::string text;
  ASSERT_TRUE(Has(r, "oom_same_param", &text));
  EXPECT_NE(text.find("ran with micro_batch = 32; attempt 2 with micro_batch = 16 reached step 160"),
            std::string::npos) << text;
  // Two OOMs at one sequence length and nothing else to contrast with.
  RunReport seq;
  seq.attempts = {Att(1, "cuda_oom", 1, {{"seq_len", "4096"}, {"lr", "0.001"}}, 10),
                  Att(2, "cuda_oom", 1, {{"seq_len", "4096"}, {"lr", "0.001"}}, 10)};
  ASSERT_TRUE(Has(seq, "oom_same_param", &text));
  EXPECT_NE(text.find("All 2 out-of-memory crashes (attempts 1 and 2, after steps 10 and 10) ran "
                      "with seq_len = 4096"),
            std::string::npos) << text;
  // One OOM, no contrast: nothing to say.
  RunReport one;
  one.attempts = {Att(1, "cuda_oom", 1, {{"seq_len", "4096"}}, 10)};
  EXPECT_FALSE(Has(one, "oom_same_param"));
  RunReport none;
  none.attempts = {Att(1, "segfault", 139, {{"seq_len", "4096"}}, 10), Att(2, "", 0, {}, 20)};
  EXPECT_FALSE(Has(none, "oom_same_param"));
}

TEST(Recommendations, RepeatedCrashClass) {
  RunReport r;
  r.run.name = "job";
  r.attempts = {Att(1, "segfault", 139, {}, 98), Att(2, "segfault", 139, {}, 120),
                Att(3, "none", 0, {}, 200)};
  std::string text;
  ASSERT_TRUE(Has(r, "repeated_crash", &text));
  EXPECT_NE(text.find("segfault ended 2 of 3 attempts (attempts 1 and 2, after steps 98 and 120)"),
            std::string::npos) << text;
  r.attempts[1].crash_class = "none";
  EXPECT_FALSE(Has(r, "repeated_crash"));
}

TEST(Recommendations, GradientExplosionsBeforeSpikes) {
  RunReport r = WithSpikes({100});
  FindingFacts g;
  g.kind = "grad_explosion";
  g.series = "grad_norm";
  g.step_lo = g.step_hi = 97;
  g.evidence = {{"ratio", 12.5}};
  r.findings.push_back(g);
  std::string text;
  ASSERT_TRUE(Has(r, "grad_before_spikes", &text));
  EXPECT_NE(text.find("1 of 1 loss anomalies came at most 3 steps after a gradient-norm explosion "
                      "(at step 97, up to 12.5x the median norm)"),
            std::string::npos) << text;
  r.findings.back().step_lo = 50;  // long before: unrelated
  EXPECT_FALSE(Has(r, "grad_before_spikes"));
}

RemedyFacts Cut(bool recovered, std::optional<int64_t> recurred) {
  RemedyFacts f;
  f.action = "lr_cut";
  f.trigger = "loss_spike";
  f.state = "applied";
  f.measured = true;
  f.metric = "train/loss";
  f.onset = 300;
  f.pre_level = 2.5;
  f.restart_step = 251;
  f.steps_observed = 250;
  f.lr_scale = 0.5;
  if (recovered) {
    f.recovered_step = 280;
    f.steps_to_recover = 30;
  }
  f.recurred_step = recurred;
  return f;
}

TEST(Recommendations, LrCutWorkedOrNot) {
  RunReport r = WithSpikes({300});
  r.params = {{"lr", "0.003", "argv"}};
  r.remedies = {Cut(true, std::nullopt)};
  std::string text;
  ASSERT_TRUE(Has(r, "lr_cut_worked", &text));
  EXPECT_NE(text.find("back under 2.5 within 30 steps and no loss_spike came back in the 250 steps "
                      "observed; start the next run at lr 0.0015 (0.003 x 0.5)"),
            std::string::npos) << text;
  EXPECT_FALSE(Has(r, "lr_cut_failed"));
  r.remedies = {Cut(true, 420)};
  ASSERT_TRUE(Has(r, "lr_cut_failed", &text));
  EXPECT_NE(text.find("the loss_spike came back at step 420"), std::string::npos) << text;
  r.remedies = {Cut(false, std::nullopt)};
  ASSERT_TRUE(Has(r, "lr_cut_failed", &text));
  EXPECT_NE(text.find("train/loss stayed above 2.5 for the 250 steps observed"), std::string::npos);
  r.remedies[0].action = "rollback_skip";
  EXPECT_FALSE(Has(r, "lr_cut_failed"));
}

TEST(Recommendations, PlateauOnlyAfterProgress) {
  RunReport r = WithSpikes({});
  r.metric->first = Point{0, 0, 4.0};
  r.metric->late_mean_a = 2.001;
  r.metric->late_mean_b = 2.0;
  r.metric->late_lo = 800;
  r.metric->late_mid = 900;
  r.metric->late_hi = 1000;
  std::string text;
  ASSERT_TRUE(Has(r, "plateau", &text));
  // (2.0 - 2.001) / 2.001 = -0.05%; whole run (4 - 2) / 4 = 50%.
  EXPECT_NE(text.find("moved -0.05% from steps 800-899 (2.001) to 900-1000 (2), against a 50% "
                      "improvement"),
            std::string::npos) << text;
  r.metric->late_mean_b = 1.9;  // still improving 5%
  EXPECT_FALSE(Has(r, "plateau"));
  r.metric->late_mean_b = 2.0;
  r.metric->first = Point{0, 0, 2.05};  // never improved much: flat from the start, not a plateau
  EXPECT_FALSE(Has(r, "plateau"));
}

TEST(Recommendations, OnlyMaterialThroughputRegressions) {
  ThroughputFacts t;
  t.key = "tokens_per_s";
  t.chart = {{0, 0, 1000}, {500, 0, 1000}};
  t.regressions = {{"tokens_per_s", 100, 120, 1000, 550, 0.45, "detector", {}},
                   {"tokens_per_s", 300, 310, 1000, 950, 0.05, "detector", {}},
                   {"tokens_per_s", 450, 500, 1000, 700, 0.3, "report", {}}};
  RunReport r;
  r.throughput = std::move(t);
  std::vector<std::string> texts;
  for (auto& x : Recommend(r))
    if (x.rule == "throughput_regression") texts.push_back(x.text);
  ASSERT_EQ(texts.size(), 2u);  // the 5% one is below the 20% that is worth advice
  EXPECT_NE(texts[0].find("fell 45% during steps 100-120 (550 against 1000 before), then "
                          "recovered after step 120"),
            std::string::npos) << texts[0];
  EXPECT_NE(texts[1].find("fell 30% during steps 450-500 (700 against 1000 before) and had not "
                          "recovered when the run ended"),
            std::string::npos) << texts[1];
}

TEST(Recommendations, NothingToSayOnACleanRun) {
  RunReport r = WithSpikes({});
  r.attempts = {Att(1, "none", 0, {{"lr", "0.001"}}, 100)};
  EXPECT_TRUE(Recommend(r).empty());
}

TEST(Regressions, ASustainedDropIsFoundAndNoiseIsNot) {
  std::vector<Point> pts;
  for (int s = 0; s < 300; ++s)
    pts.push_back({s, 0, (s >= 150 && s < 180 ? 500.0 : 1000.0) + (s % 7) - 3});
  auto g = FindRegressions(pts, true, 0.2);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_GE(g[0].step_lo, 147);  // blocks of 3 points: the boundary is within one block
  EXPECT_LE(g[0].step_lo, 150);
  EXPECT_GE(g[0].step_hi, 179);
  EXPECT_LE(g[0].step_hi, 182);
  EXPECT_NEAR(g[0].drop, 0.5, 0.01);
  EXPECT_NEAR(g[0].before, 1000, 3);
  // The same as step times (seconds per step): twice as slow is a 50% throughput drop.
  std::vector<Point> times;
  for (auto& p : pts) times.push_back({p.step, 0, 1000.0 / p.value});
  auto gt = FindRegressions(times, false, 0.2);
  ASSERT_EQ(gt.size(), 1u);
  EXPECT_NEAR(gt[0].drop, 0.5, 0.01);
  EXPECT_NEAR(gt[0].during, 2.0, 0.02);  // reported in the series' own units
  std::vector<Point> noise;
  for (int s = 0; s < 300; ++s) noise.push_back({s, 0, 1000.0 + 100 * ((s * 37) % 11) / 10.0});
  EXPECT_TRUE(FindRegressions(noise, true, 0.2).empty());
}

TEST(PrimaryKey, TrainLossFirst) {
  EXPECT_EQ(ChoosePrimaryKey({"val/loss", "lr", "train/loss"}), "train/loss");
  EXPECT_EQ(ChoosePrimaryKey({"eval/loss", "lr"}), "eval/loss");
  EXPECT_EQ(ChoosePrimaryKey({"my_loss_total", "acc"}), "my_loss_total");
  EXPECT_EQ(ChoosePrimaryKey({"acc", "lr"}), "");
}

// ---- rendering ----

// Checks that every non-void element is closed in order.
void ExpectBalanced(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link", "!doctype"};
  std::regex tag(R"(<(/?)([!a-zA-Z][a-zA-Z0-9]*)([^>]*)>)");
  std::vector<std::string> stack;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator();
       ++it) {
    std::string name = (*it)[2];
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string rest = (*it)[3];
    if (kVoid.count(name) || (!rest.empty() && rest.back() == '/')) continue;
    if ((*it)[1] == "/") {
      ASSERT_FALSE(stack.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(stack.back(), name) << "</" << name << "> closes <" << stack.back() << ">";
      stack.pop_back();
    } else if (name == "style") {
      stack.push_back(name);
    } else {
      stack.push_back(name);
    }
  }
  EXPECT_TRUE(stack.empty()) << "unclosed <" << (stack.empty() ? "" : stack.back()) << ">";
}

TEST_F(RemedyRunTest, HtmlIsSelfContainedEscapedAndBalanced) {
  auto st = Open();
  std::string id = Build(st.get(), [](int s) { return 2.9 - 0.01 * (s - 41); });
  Event(st.get(), id, 3100, "throughput_regression", 70, 80,
        "odd <b>message</b> & 'quotes' | pipes",
        R"({"series":"tokens_per_s","update":false,"evidence":{"short_median":5,"long_median":10,"drop":0.5}})");
  RunRecord run;
  ASSERT_TRUE(st->FindRun(id, &run).ok());
  run.name = "<script>alert('x')</script>";
  ASSERT_TRUE(st->UpdateRun(run).ok());
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  std::string html = RenderHtml(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("odd &lt;b&gt;message&lt;/b&gt; &amp; &#39;quotes&#39;"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find(" href="), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<polyline class=\"series\""), std::string::npos);
  EXPECT_NE(html.find("prefers-color-scheme: dark"), std::string::npos);
  EXPECT_NE(html.find("within 31 steps"), std::string::npos);
  ExpectBalanced(html);

  // Markdown: every table row has its header's number of cells; text with '|' is escaped.
  std::string md = RenderMarkdown(r);
  EXPECT_NE(md.find("odd \\<b\\>message\\</b\\> & 'quotes' \\| pipes"), std::string::npos) << md;
  size_t cols = 0;
  bool in_table = false;
  size_t tables = 0;
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    size_t n = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
        continue;
      }
      if (line[i] == '|') ++n;
    }
    if (!in_table) {
      cols = n;
      in_table = true;
      ++tables;
    }
    EXPECT_EQ(n, cols) << line;
  }
  EXPECT_GE(tables, 5u);  // timeline, remedies, attempts, throughput regressions, series
  EXPECT_NE(md.find("## Timeline"), std::string::npos);
  EXPECT_NE(md.find("## Remedies"), std::string::npos);

  // JSON parses and carries the measured outcome.
  JsonWriter w;
  WriteReportJson(r, &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc));
  int64_t steps = 0;
  ASSERT_FALSE(doc["remedies"].at(0)["outcome"]["steps_to_recover"].get(steps));
  EXPECT_EQ(steps, 31);
}

// The remedy is judged on the attempt that followed it: a spike the dying attempt still logged
// after the action (it was on its way) is not a recurrence; one in attempt 2 is.
TEST_F(RemedyRunTest, OutcomeIsJudgedOnTheAttemptThatFollowed) {
  auto st = Open();
  std::string id = Build(
      st.get(), [](int s) { return 2.9 - 0.01 * (s - 41); },
      [&](const std::string& run) {
        Event(st.get(), run, 2060.5, "loss_spike", 60, 60, "loss spike on train/loss at step 60",
              R"({"series":"train/loss","update":false,"evidence":{"value":31,"median":2.6}})");
      });
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  ASSERT_EQ(r.remedies.size(), 1u);
  const RemedyFacts& f = r.remedies[0];
  EXPECT_FALSE(f.recurred_step.has_value()) << *f.recurred_step;
  EXPECT_EQ(RemedyOutcomeText(r, f).find("came back"), std::string::npos) << RemedyOutcomeText(r, f);
  // The cost: attempt 1 logged steps 41..60 (wall 2041..2060) past the restart step 41, run again;
  // from step 41's first time (2041) to attempt 2's first point (3041).
  ASSERT_TRUE(f.cost_known);
  EXPECT_EQ(f.lost_steps, 20);
  EXPECT_DOUBLE_EQ(f.lost_seconds, 1000);
  // The headline: what happened, what inloop did and whether it worked, what it cost.
  EXPECT_EQ(r.headline.rfind("Run finished after", 0), 0u) << r.headline;
  EXPECT_NE(r.headline.find("2 loss spikes over steps 50-60"), std::string::npos) << r.headline;
  EXPECT_NE(r.headline.find("inloop rolled back to step 40 and skipped data 41-50 and train/loss "
                            "was back to its level 31 steps later"),
            std::string::npos)
      << r.headline;
  EXPECT_NE(r.headline.find("cost 20 steps run again"), std::string::npos) << r.headline;
  EXPECT_NE(RenderMarkdown(r).find("**Run finished after"), std::string::npos);

  // The same spike in attempt 2 is a recurrence.
  auto st2 = Open();
  std::string id2 = Build(st2.get(), [](int s) { return 2.9 - 0.01 * (s - 41); });
  Event(st2.get(), id2, 3090, "loss_spike", 90, 90, "loss spike on train/loss at step 90",
        R"({"series":"train/loss","update":false,"evidence":{"value":31,"median":2.6}})");
  RunReport r2;
  o.run = id2;
  ASSERT_TRUE(BuildRunReport(st2.get(), o, &r2).ok());
  ASSERT_EQ(r2.remedies.size(), 1u);
  ASSERT_TRUE(r2.remedies[0].recurred_step.has_value());
  EXPECT_EQ(*r2.remedies[0].recurred_step, 90);
  EXPECT_NE(r2.headline.find("but the loss_spike came back at step 90"), std::string::npos)
      << r2.headline;
}

// Repeated findings of one kind are one row: in the findings table (count and step range) and in
// the timeline (a run of consecutive ones, their closing updates included).
TEST_F(RunReportTest, RepeatedFindingsCollapseIntoOneRow) {
  auto st = Open();
  std::string id = MakeRun(st.get(), "noisy", 1000, 1400, {"python3", "n.py"}, store::kFinished, 1,
                           [](store::RunWriter* w) {
                             for (int s = 0; s <= 400; ++s)
                               ASSERT_TRUE(w->Append("loss", s, 1000 + s, 3 - 0.001 * s).ok());
                           });
  Attempt(st.get(), id, 1, 1000, 1400, 0);
  for (int k = 0; k < 5; ++k) {
    int lo = 50 + 60 * k;
    Event(st.get(), id, 1000 + lo + 5, "throughput_regression", lo, lo + 5,
          fmt::format("throughput regression on tokens_per_s since step {}", lo),
          R"({"series":"tokens_per_s","update":false,"evidence":{"drop":0.3}})");
    Event(st.get(), id, 1000 + lo + 20, "throughput_regression", lo, lo + 12,
          fmt::format("throughput regression on tokens_per_s ended: steps {}-{}", lo, lo + 12),
          R"({"series":"tokens_per_s","update":true,"evidence":{"worst_drop":0.3,"steps":13},"related":["step_time_ms"]})");
  }
  Event(st.get(), id, 1390, "plateau", 200, 390, "plateau on loss",
        R"({"series":"loss","update":false,"evidence":{}})", "info");
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_EQ(r.findings.size(), 6u);
  ASSERT_EQ(r.finding_groups.size(), 2u);
  const FindingGroup& g = r.finding_groups[0];  // the warning before the info
  EXPECT_EQ(g.kind, "throughput_regression");
  EXPECT_EQ(g.count, 5);
  EXPECT_EQ(g.closed, 5);
  EXPECT_EQ(g.step_lo, 50);
  EXPECT_EQ(g.step_hi, 302);
  EXPECT_EQ(g.series, std::vector<std::string>{"tokens_per_s"});
  EXPECT_EQ(g.related, std::vector<std::string>{"step_time_ms"});
  EXPECT_EQ(r.finding_groups[1].kind, "plateau");
  // Timeline: ten events (5 findings, 5 ends) and the plateau become two rows.
  EXPECT_EQ(r.timeline.size(), 11u);
  ASSERT_EQ(r.timeline_collapsed.size(), 2u);
  EXPECT_EQ(r.timeline_collapsed[0].count, 5);
  EXPECT_EQ(r.timeline_collapsed[0].kind, "throughput_regression");
  EXPECT_EQ(r.timeline_collapsed[0].step_lo, 50);
  EXPECT_EQ(r.timeline_collapsed[0].step_hi, 302);
  EXPECT_EQ(r.timeline_collapsed[1].count, 1);
  std::string md = RenderMarkdown(r);
  EXPECT_NE(md.find("## Findings"), std::string::npos) << md;
  EXPECT_NE(md.find("| throughput\\_regression | 5 | steps 50-302 |"), std::string::npos) << md;
  EXPECT_NE(md.find("throughput\\_regression x5"), std::string::npos) << md;
  EXPECT_NE(md.find("5 throughput slowdowns in a row over steps 50-302"), std::string::npos) << md;
  // Leads with one line; no remedy: inloop took no action and nothing was lost.
  EXPECT_NE(r.headline.find("5 throughput slowdowns over steps 50-302"), std::string::npos)
      << r.headline;
  EXPECT_EQ(r.headline.find("plateau"), std::string::npos) << r.headline;  // info, not alone
  EXPECT_NE(r.headline.find("inloop took no action"), std::string::npos) << r.headline;
  EXPECT_EQ(r.headline.find("cost"), std::string::npos) << r.headline;
  EXPECT_LT(md.find(r.headline.substr(0, 20)), md.find("## Findings"));

  JsonWriter w;
  WriteReportJson(r, &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc));
  int64_t count = 0;
  ASSERT_FALSE(doc["finding_groups"].at(0)["count"].get(count));
  EXPECT_EQ(count, 5);
  std::string_view headline;
  ASSERT_FALSE(doc["headline"].get(headline));
  EXPECT_EQ(headline, r.headline);
}

TEST_F(RunReportTest, CleanRunHeadline) {
  auto st = Open();
  std::string id = MakeRun(st.get(), "clean", 1000, 1100, {"python3", "c.py"}, store::kFinished, 1,
                           [](store::RunWriter* w) {
                             for (int s = 0; s <= 100; ++s)
                               ASSERT_TRUE(w->Append("loss", s, 1000 + s, 3 - 0.01 * s).ok());
                           });
  Attempt(st.get(), id, 1, 1000, 1100, 0);
  ReportOptions o;
  o.run = id;
  RunReport r;
  ASSERT_TRUE(BuildRunReport(st.get(), o, &r).ok());
  EXPECT_EQ(r.headline, "Run finished after 1m40s in 1 attempt: nothing went wrong; inloop had nothing to do.");
  EXPECT_TRUE(r.finding_groups.empty());
}

}  // namespace
}  // namespace inloop::report
