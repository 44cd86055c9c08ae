// remedy/timeline: each payload's one JSON form round-trips, and the JSON runs have always stored
// (written by hand before these types existed) still reads.
#include "remedy/timeline.h"

#include <gtest/gtest.h>

namespace inloop::remedy {
namespace {

template <typename T>
T RoundTrip(const T& in, std::string* json) {
  *json = ToJson(in);
  T out;
  EXPECT_TRUE(FromJson(*json, &out)) << *json;
  EXPECT_EQ(ToJson(out), *json);
  return out;
}

TEST(TimelineTest, FindingRoundTrips) {
  FindingData d{"train/loss", true, {{"value", 9.5}, {"median", 2.25}}, {"loss"}, -1, ""};
  std::string json;
  FindingData out = RoundTrip(d, &json);
  EXPECT_EQ(json,
            R"({"series":"train/loss","update":true,"evidence":{"value":9.5,"median":2.25},)"
            R"("related":["loss"]})");
  EXPECT_EQ(out.series, "train/loss");
  EXPECT_TRUE(out.update);
  ASSERT_EQ(out.evidence.size(), 2u);
  EXPECT_EQ(out.evidence[1].first, "median");
  EXPECT_EQ(out.related, std::vector<std::string>{"loss"});
  // No related series: the key is left out.
  EXPECT_EQ(ToJson(FindingData{"loss", false, {}, {}, -1, ""}),
            R"({"series":"loss","update":false,"evidence":{}})");
  // A multi-rank job's finding names its rank and host.
  FindingData ranked{"rank/3/train/loss", false, {}, {}, 3, "node-07"};
  FindingData back = RoundTrip(ranked, &json);
  EXPECT_EQ(json, R"({"series":"rank/3/train/loss","update":false,"evidence":{},"rank":3,)"
                  R"("host":"node-07"})");
  EXPECT_EQ(back.rank, 3);
  EXPECT_EQ(back.host, "node-07");
  EXPECT_EQ(Parse<FindingData>(R"({"series":"loss"})").rank, -1);
}

TEST(TimelineTest, ActionRoundTripsWithAndWithoutRestart) {
  ActionData a;
  a.action_id = 7;
  a.action = "rollback_skip";
  a.mode = "auto";
  a.trigger = "nonfinite";
  a.family = "loss";
  a.step = 150;
  a.restarts = true;
  a.checkpoint = CheckpointRef{"ckpt-100.pt", 100, "sdk"};
  a.resume_step = 100;
  a.start_step = 101;
  a.skip = std::pair<int64_t, int64_t>{101, 151};
  a.skip_deliverable = false;
  a.lr_scale = 0.5;
  a.micro_batch = 8;
  a.delay_seconds = 2;
  a.reason = "why";
  std::string json;
  ActionData out = RoundTrip(a, &json);
  EXPECT_EQ(json,
            R"({"action_id":7,"action":"rollback_skip","mode":"auto","trigger":"nonfinite",)"
            R"("family":"loss","step":150,"checkpoint":{"path":"ckpt-100.pt","step":100,)"
            R"("source":"sdk"},"resume_step":100,"start_step":101,"skip":[101,151],)"
            R"("skip_deliverable":false,"lr_scale":0.5,"micro_batch":8,"delay_seconds":2,)"
            R"("reason":"why"})");
  EXPECT_TRUE(out.restarts);
  ASSERT_TRUE(out.checkpoint);
  EXPECT_EQ(out.checkpoint->step, 100);
  EXPECT_EQ(out.skip, a.skip);

  ActionData stop;
  stop.action = "stop";
  stop.mode = "ask";
  stop.trigger = "disk_full";
  stop.family = "fatal";
  stop.reason = "no space";
  out = RoundTrip(stop, &json);
  EXPECT_EQ(json, R"({"action":"stop","mode":"ask","trigger":"disk_full","family":"fatal",)"
                  R"("step":null,"reason":"no space"})");
  EXPECT_FALSE(out.restarts);
  EXPECT_FALSE(out.step);
}

TEST(TimelineTest, AttemptsRoundTrip) {
  AttemptStartData s;
  s.attempt = 2;
  s.pid = 4242;
  s.reason = "lr_cut";
  s.restarted = true;
  s.resume_step = 100;
  s.start_step = 101;
  s.skip_windows = {{101, 151}, {201, 211}};
  s.lr_scale = 0.25;
  s.argv = {"python", "train.py", "--lr", "0.1"};
  std::string json;
  AttemptStartData out = RoundTrip(s, &json);
  EXPECT_EQ(out.skip_windows, s.skip_windows);
  EXPECT_EQ(out.argv, s.argv);
  EXPECT_FALSE(out.checkpoint);
  EXPECT_FALSE(out.micro_batch);

  AttemptStartData first;
  first.attempt = 1;
  first.pid = 10;
  first.reason = "start";
  first.argv = {"true"};
  out = RoundTrip(first, &json);
  EXPECT_EQ(json, R"({"attempt":1,"pid":10,"reason":"start","argv":["true"]})");
  EXPECT_FALSE(out.restarted);

  AttemptExitData e{3, 137, 9, std::nullopt, 120, 1};
  AttemptExitData eo = RoundTrip(e, &json);
  EXPECT_EQ(json, R"({"attempt":3,"exit_code":137,"signal":9,"last_step":null,"lines":120,)"
                  R"("truncated_lines":1})");
  EXPECT_EQ(eo.signal, 9);
  EXPECT_FALSE(eo.last_step);
}

TEST(TimelineTest, TheRestRoundTrips) {
  std::string json;
  CrashData c{1, "cuda_oom", true, "with_smaller_batch", "CUDA out of memory", "torch.OOM",
              "tried to allocate"};
  EXPECT_EQ(RoundTrip(c, &json).crash_class, "cuda_oom");
  EXPECT_NE(json.find(R"("class":"cuda_oom")"), std::string::npos);
  EXPECT_EQ(RoundTrip(CheckpointData{"c-5.pt", 5, 1}, &json).step, std::optional<int64_t>(5));
  EXPECT_EQ(RoundTrip(CheckpointData{"c.pt", std::nullopt, 1}, &json).step, std::nullopt);
  EXPECT_EQ(json, R"({"path":"c.pt","attempt":1})");
  SpikeData sp{"loss", 11, 12, 1, 3, 2.0, 0.01, 2.1, 9.0};
  EXPECT_EQ(RoundTrip(sp, &json).peak, 9.0);
  EXPECT_EQ(RoundTrip(WithheldData{"loss_spike", 40, "none"}, &json).step,
            std::optional<int64_t>(40));
  EXPECT_EQ(RoundTrip(OutcomeData{4, "lr_cut", 3, "passed"}, &json).result, "passed");
  EXPECT_EQ(RoundTrip(DecisionData{4, "resume", "cli:ann", "go"}, &json).by, "cli:ann");
  EXPECT_EQ(RoundTrip(SourceData{"loss", "loss", "train_loss", "sdk", 0}, &json).printed_key,
            "train_loss");
}

TEST(TimelineTest, ReadsWhatOldRunsStoredAndToleratesJunk) {
  // An attempt_start and an action as the supervisor wrote them by hand.
  AttemptStartData s = Parse<AttemptStartData>(
      R"({"attempt":2,"pid":99,"reason":"rollback_skip","checkpoint":{"path":"/c/ckpt-200.pt",)"
      R"("step":200,"source":"glob"},"resume_step":200,"start_step":201,"skip_windows":[[201,260]],)"
      R"("lr_scale":1,"micro_batch":null,"argv":["python","t.py"]})");
  EXPECT_TRUE(s.restarted);
  EXPECT_EQ(s.start_step, 201);
  ASSERT_TRUE(s.checkpoint);
  EXPECT_EQ(s.checkpoint->source, "glob");
  EXPECT_FALSE(s.micro_batch);
  // An action the assistant proposed has its own fields: what is known is read, the rest skipped.
  ActionData a = Parse<ActionData>(
      R"({"action":"rollback_skip","checkpoint_step":100,"skip":[101,120],"reason":"r"})");
  EXPECT_EQ(a.skip, (std::optional<std::pair<int64_t, int64_t>>{{101, 120}}));
  EXPECT_FALSE(a.checkpoint);
  EXPECT_FALSE(a.restarts);
  // Junk: false, defaults.
  AttemptExitData e;
  EXPECT_FALSE(FromJson("not json", &e));
  EXPECT_FALSE(FromJson("[1,2]", &e));
  EXPECT_FALSE(FromJson("", &e));
  EXPECT_EQ(e.attempt, 0);
  // A mistyped field keeps its default.
  EXPECT_TRUE(FromJson(R"({"attempt":"two","exit_code":1.0})", &e));
  EXPECT_EQ(e.attempt, 0);
  EXPECT_EQ(e.exit_code, 1);
}

TEST(TimelineTest, AssistantProposalRoundTrips) {
  ProposalData p;
  p.action = "config_change";
  p.model = "m";
  p.question = "why?";
  p.checkpoint_step = 100;
  p.skip = std::pair<int64_t, int64_t>{101, 120};
  p.lr_scale = 0.5;
  p.params = {{"lr", "1e-4"}, {"warmup", "200"}};
  p.reason = "r";
  std::string json;
  ProposalData out = RoundTrip(p, &json);
  EXPECT_EQ(json, R"({"source":"assistant","action":"config_change","model":"m",)"
                  R"("question":"why?","plan":{"checkpoint_step":100,"skip":[101,120],)"
                  R"("lr_scale":0.5,"params":{"lr":"1e-4","warmup":"200"}},"reason":"r"})");
  EXPECT_EQ(out.params, p.params);
  EXPECT_FALSE(out.micro_batch);
  // The remedy fields of ActionData are not the proposal's: they stay unset when read as one.
  ActionData a = Parse<ActionData>(json);
  EXPECT_FALSE(a.skip);
  EXPECT_FALSE(a.checkpoint);
}

TEST(TimelineTest, EventsCarryTheirDataAsJson) {
  TimelineEvent e = MakeEvent(event_kind::kSignalSent, "warning", "sent", {}, 5);
  EXPECT_EQ(e.DataJson(), "{}");
  EXPECT_EQ(e.step_lo, std::optional<int64_t>(5));
  EXPECT_EQ(e.step_hi, std::optional<int64_t>(5));
  e = MakeEvent(event_kind::kActionOutcome, "info", "ok", OutcomeData{1, "resume", 2, "passed"});
  EXPECT_EQ(e.DataJson(), R"({"action_id":1,"action":"resume","attempt":2,"result":"passed"})");
  EXPECT_FALSE(e.step_lo);
}

}  // namespace
}  // namespace inloop::remedy
