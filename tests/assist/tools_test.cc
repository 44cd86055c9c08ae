// The assistant's tools: strict schema JSON, argument validation, the registry's error results,
// result capping, and the handlers over a real store (propose_action only records a pending
// action).
#include "assist/tools.h"

#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "support/temp_store.h"

namespace inloop::assist {
namespace {

std::string Check(const Schema& s, const std::string& json) {
  simdjson::dom::parser p;
  simdjson::padded_string padded(json);
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(padded).get(e), simdjson::SUCCESS) << json;
  return Validate(s, e);
}

Schema Sample() {
  return ObjectArg("", {{"run", true, StringArg("the run")},
                        {"mode", false, StringArg("how", {"a", "b"})},
                        {"n", false, IntegerArg("count", 1, 10)},
                        {"items", false,
                         ArrayArg("pairs", ObjectArg("", {{"key", true, StringArg("k")}}), 2)}});
}

TEST(SchemaTest, StrictJsonListsEveryPropertyAndNullsTheOptionalOnes) {
  EXPECT_EQ(SchemaJson(Sample()),
            R"({"type":"object","properties":{)"
            R"("run":{"type":"string","description":"the run"},)"
            R"("mode":{"type":["string","null"],"description":"how","enum":["a","b",null]},)"
            R"("n":{"type":["integer","null"],"description":"count","minimum":1,"maximum":10},)"
            R"("items":{"type":["array","null"],"description":"pairs","maxItems":2,"items":)"
            R"({"type":"object","properties":{"key":{"type":"string","description":"k"}},)"
            R"("required":["key"],"additionalProperties":false}}},)"
            R"("required":["run","mode","n","items"],"additionalProperties":false})");
}

TEST(SchemaTest, ValidationNamesTheArgument) {
  Schema s = Sample();
  EXPECT_EQ(Check(s, R"({"run":"x"})"), "");
  EXPECT_EQ(Check(s, R"({"run":"x","mode":null,"n":null,"items":null})"), "");
  EXPECT_EQ(Check(s, R"({"run":"x","n":3.0})"), "");  // an integer written as a double
  EXPECT_EQ(Check(s, R"({})"), "run: missing required argument");
  EXPECT_EQ(Check(s, R"({"run":null})"), "run: missing required argument");
  EXPECT_EQ(Check(s, R"({"run":7})"), "run: expected a string, got an integer");
  EXPECT_EQ(Check(s, R"({"run":"x","extra":1})"),
            "arguments: unexpected argument 'extra' (allowed: run, mode, n, items)");
  EXPECT_EQ(Check(s, R"({"run":"x","mode":"c"})"), "mode: 'c' is not one of a, b");
  EXPECT_EQ(Check(s, R"({"run":"x","n":3.5})"), "n: expected an integer, got 3.5");
  EXPECT_EQ(Check(s, R"({"run":"x","n":"3"})"), "n: expected an integer, got a string");
  EXPECT_EQ(Check(s, R"({"run":"x","n":0})"), "n: 0 is below the minimum 1");
  EXPECT_EQ(Check(s, R"({"run":"x","n":11})"), "n: 11 is above the maximum 10");
  EXPECT_EQ(Check(s, R"({"run":"x","items":[{"key":"a"},{"key":1}]})"),
            "items[1].key: expected a string, got an integer");
  EXPECT_EQ(Check(s, R"({"run":"x","items":[{},{},{}]})"), "items: at most 2 items, got 3");
  EXPECT_EQ(Check(s, R"([1])"), "arguments: expected an object, got an array");
}

class ToolsTest : public store::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    st_ = Open();
    base_ = NewRun(st_.get(), "base");
    other_ = NewRun(st_.get(), "other");
    std::unique_ptr<store::RunWriter> w;
    ASSERT_TRUE(st_->OpenWriter(base_, &w).ok());
    for (int s = 0; s < 100; ++s) ASSERT_TRUE(w->Append("loss", s, 1000 + s, 10.0 - s * 0.05).ok());
    ASSERT_TRUE(w->Close().ok());
    RegisterInloopTools(&reg_);
    ctx_.store = st_.get();
    ctx_.model = "m";
    ctx_.question = "q";
  }
  std::unique_ptr<store::Store> st_;
  std::string base_, other_;
  ToolRegistry reg_;
  ToolContext ctx_;
};

TEST_F(ToolsTest, RegistryHasTheReadToolsAndTheProposal) {
  std::vector<std::string> names;
  for (auto& t : reg_.tools()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"list_runs", "show_run", "query_series", "events",
                                             "compare", "report", "insights",
                                             "propose_action"}));
  EXPECT_EQ(ProposableActions(),
            (std::vector<std::string>{"resume", "rollback_skip", "lr_cut", "shrink_batch", "stop",
                                      "config_change"}));
}

TEST_F(ToolsTest, BadCallsComeBackAsErrorResults) {
  ToolOutcome o = reg_.Call(ctx_, "rm_rf", "{}");
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.result.find("unknown tool 'rm_rf'"), std::string::npos) << o.result;
  o = reg_.Call(ctx_, "query_series", "{\"run\": \"base\", \"key\": ");
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.error.find("not valid JSON"), std::string::npos) << o.error;
  o = reg_.Call(ctx_, "query_series", R"({"run":"base","key":"loss","max_points":"lots"})");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.error, "query_series: max_points: expected an integer, got a string");
  EXPECT_EQ(o.result, R"({"error":"query_series: max_points: expected an integer, got a string"})");
  o = reg_.Call(ctx_, "query_series", R"({"run":"nope","key":"loss"})");
  EXPECT_FALSE(o.ok);  // the store's NotFound, for the model to read
  o = reg_.Call(ctx_, "show_run", "");  // no arguments and no run in focus
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.error.find("give 'run'"), std::string::npos) << o.error;
  ctx_.focus_run_id = base_;
  o = reg_.Call(ctx_, "show_run", "");
  EXPECT_TRUE(o.ok) << o.error;
  EXPECT_NE(o.result.find("\"id\":\"" + base_ + "\""), std::string::npos);
}

TEST_F(ToolsTest, QuerySeriesDownsamplesWithM4) {
  ToolOutcome o = reg_.Call(ctx_, "query_series", R"({"run":"base","key":"loss","max_points":8})");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::dom::parser p;
  simdjson::padded_string padded(o.result);
  simdjson::dom::element e = p.parse(padded);
  EXPECT_EQ(int64_t(e["total_points"]), 100);
  EXPECT_TRUE(bool(e["downsampled"]));
  // Two columns over steps 0..99 ([0,49], [50,99]) of a falling line: first (= max) and last
  // (= min) of each.
  std::vector<int64_t> steps;
  for (auto pt : e["points"].get_array()) steps.push_back(int64_t(pt.at(0)));
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 49, 50, 99}));
}

// The events tool reads the timeline as `inloop events` shows it: the data index's per-step
// data_batches events are counted, not listed (they would be the newest 50 of any run that
// reports its batches), and are there when asked for by kind.
TEST_F(ToolsTest, EventsHideTheDataIndexUnlessAskedFor) {
  auto add = [&](const std::string& kind, int64_t step) {
    store::EventRecord e;
    e.run_id = base_;
    e.kind = kind;
    e.severity = "info";
    e.step_lo = step;
    e.message = kind;
    ASSERT_TRUE(st_->AddEvent(&e).ok());
  };
  add("loss_spike", 40);
  for (int s = 0; s < 60; ++s) add("data_batches", s);
  ToolOutcome o = reg_.Call(ctx_, "events", R"({"run":"base"})");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::dom::parser p;
  simdjson::padded_string padded(o.result);
  simdjson::dom::element e = p.parse(padded);
  EXPECT_EQ(int64_t(e["matching"]), 1);
  EXPECT_EQ(std::string_view(e["events"].at(0)["kind"]), "loss_spike");
  EXPECT_EQ(int64_t(e["hidden"]["data_batches"]), 60);
  o = reg_.Call(ctx_, "events", R"({"run":"base","kind":"data_batches","limit":5})");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::padded_string padded2(o.result);
  e = p.parse(padded2);
  EXPECT_EQ(int64_t(e["matching"]), 60);
  EXPECT_EQ(int64_t(e["shown"]), 5);
}

// report and insights are the verbs' own library calls: the model reads what `inloop report` and
// `inloop insights` print.
TEST_F(ToolsTest, ReportAndInsightsToolsReturnTheVerbsText) {
  ctx_.focus_run_id = base_;
  ToolOutcome o = reg_.Call(ctx_, "report", "{}");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::dom::parser p;
  simdjson::padded_string padded(o.result);
  simdjson::dom::element e = p.parse(padded);
  std::string md{std::string_view(e["markdown"])};
  EXPECT_EQ(std::string_view(e["run"]), base_);
  EXPECT_NE(md.find("5.05"), std::string::npos) << md;  // final loss 10 - 99 x 0.05
  o = reg_.Call(ctx_, "report", R"({"run":"base","key":"no/such/key"})");
  EXPECT_FALSE(o.ok);
  o = reg_.Call(ctx_, "insights", R"({"key":"loss"})");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::padded_string padded2(o.result);
  std::string text{std::string_view(p.parse(padded2)["text"])};
  EXPECT_FALSE(text.empty());
  o = reg_.Call(ctx_, "insights", R"({"runs":"nothing-matches-*"})");
  EXPECT_FALSE(o.ok);
  o = reg_.Call(ctx_, "insights", R"({"goal":"sideways"})");
  EXPECT_FALSE(o.ok);
}

TEST_F(ToolsTest, ProposeActionOnlyRecordsAPendingAction) {
  std::string args = R"({"run":"base","action":"lr_cut","reason":"spikes after step 40",
      "plan":{"checkpoint_step":40,"skip_from":null,"skip_to":null,"lr_scale":0.5,
              "micro_batch":null,"params":null}})";
  ToolOutcome o = reg_.Call(ctx_, "propose_action", args);
  ASSERT_TRUE(o.ok) << o.error;
  ASSERT_EQ(ctx_.proposed_action_ids.size(), 1u);
  store::ActionRecord a;
  ASSERT_TRUE(st_->GetAction(ctx_.proposed_action_ids[0], &a).ok());
  EXPECT_EQ(a.run_id, base_);
  EXPECT_EQ(a.action, "lr_cut");
  EXPECT_EQ(a.trigger, "assistant");
  EXPECT_EQ(a.state, store::kActionPending);
  EXPECT_EQ(a.decided_by, "");
  EXPECT_EQ(a.step, 40);
  EXPECT_NE(a.data_json.find("\"lr_scale\":0.5"), std::string::npos) << a.data_json;
  std::vector<store::EventRecord> events;
  ASSERT_TRUE(st_->ListEvents(base_, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "action_proposed");

  // An lr_cut that cuts nothing, and a config_change without parameters, are refused.
  o = reg_.Call(ctx_, "propose_action", R"({"run":"base","action":"lr_cut","reason":"r",
      "plan":{"lr_scale":1}})");
  EXPECT_FALSE(o.ok);
  o = reg_.Call(ctx_, "propose_action", R"({"run":"base","action":"config_change","reason":"r",
      "plan":{}})");
  EXPECT_FALSE(o.ok);
  o = reg_.Call(ctx_, "propose_action", R"({"run":"base","action":"rm -rf /","reason":"r",
      "plan":{}})");
  EXPECT_FALSE(o.ok);
  std::vector<store::ActionRecord> all;
  ASSERT_TRUE(st_->ListActions("", "", &all).ok());
  EXPECT_EQ(all.size(), 1u);
}

TEST_F(ToolsTest, OneCallRegistersAToolAndLongResultsAreCut) {
  reg_.Register(Tool{"big", "a large result", ObjectArg("", {}),
                     [](ToolContext&, const ToolArgs&, std::string* out) {
                       *out = std::string(100, 'a') + "\xC3\xA9" + std::string(100, 'b');
                       return Status::OK();
                     }});
  reg_.result_cap = 101;  // inside the two-byte character: the cut moves before it
  ToolOutcome o = reg_.Call(ctx_, "big", "{}");
  ASSERT_TRUE(o.ok);
  EXPECT_TRUE(o.truncated);
  EXPECT_EQ(o.result_bytes, 202);
  EXPECT_EQ(o.result.substr(0, 101), std::string(100, 'a') + "\n");
  EXPECT_NE(o.result.find("cut to 100 of 202 bytes"), std::string::npos) << o.result;
  EXPECT_EQ(reg_.Specs().back().name, "big");
}

TEST_F(ToolsTest, ListRunsFiltersByPatternAndLimit) {
  ToolOutcome o = reg_.Call(ctx_, "list_runs", R"({"name_pattern":"b*","status":null,"limit":5})");
  ASSERT_TRUE(o.ok) << o.error;
  simdjson::dom::parser p;
  simdjson::padded_string padded(o.result);
  simdjson::dom::element e = p.parse(padded);
  EXPECT_EQ(int64_t(e["matching"]), 1);
  EXPECT_EQ(int64_t(e["total_runs"]), 2);
  EXPECT_EQ(std::string_view(e["runs"].at(0)["name"]), "base");
  o = reg_.Call(ctx_, "list_runs", R"({"limit":1})");
  ASSERT_TRUE(o.ok);
  simdjson::padded_string padded2(o.result);
  e = p.parse(padded2);
  EXPECT_EQ(int64_t(e["matching"]), 2);
  EXPECT_EQ(int64_t(e["shown"]), 1);
}

}  // namespace
}  // namespace inloop::assist
