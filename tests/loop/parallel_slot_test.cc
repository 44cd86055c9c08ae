// The slot files of parallel rounds (loop/parallel_slot.h) survive a round trip, and
// CUDA_VISIBLE_DEVICES is split into one device per slot (loop/parallel_driver.h).
#include "loop/parallel_slot.h"

#include <gtest/gtest.h>

#include "loop/parallel_driver.h"

namespace inloop::loop {
namespace {

TEST(ParallelSlot, RequestRoundTrip) {
  SlotRequest r;
  r.loop_dir = "/repo/.git/inloop-loop";
  r.slot = 1;
  r.round = 7;
  r.task = kSlotCandidate;
  r.tree = "/repo/.git/inloop-loop/slots/slot-1";
  r.workdir = r.tree + "/sub";
  r.base = "abc";
  r.proposer = "submitted";
  r.patch = "/tmp/x.diff";
  r.agent = "agent --round {round}";
  r.agent_timeout_s = 90;
  r.params = {{"lr", "0.1"}, {"x", "a \"quoted\" value"}};
  r.champion = {1.5, 2.25};
  r.seed = 4;
  r.device = "3";
  r.result = "/tmp/result.json";
  SlotRequest back;
  ASSERT_TRUE(ParseSlotRequest(SlotRequestJson(r), &back).ok());
  EXPECT_EQ(back.loop_dir, r.loop_dir);
  EXPECT_EQ(back.slot, 1);
  EXPECT_EQ(back.round, 7);
  EXPECT_EQ(back.task, kSlotCandidate);
  EXPECT_EQ(back.workdir, r.workdir);
  EXPECT_EQ(back.proposer, "submitted");
  EXPECT_EQ(back.patch, r.patch);
  EXPECT_EQ(back.agent, r.agent);
  EXPECT_EQ(back.agent_timeout_s, 90);
  EXPECT_EQ(back.params, r.params);
  EXPECT_EQ(back.champion, r.champion);
  EXPECT_EQ(back.seed, 4);
  EXPECT_EQ(back.device, "3");
  EXPECT_EQ(back.result, r.result);
  SlotRequest bad;
  EXPECT_FALSE(ParseSlotRequest("{\"slot\": 1}", &bad).ok());
  EXPECT_FALSE(ParseSlotRequest("not json", &bad).ok());
}

TEST(ParallelSlot, ResultAndJournalRoundTrip) {
  SlotResult res;
  res.candidate = "def";
  res.record.round = 3;
  res.record.verdict = kKept;
  res.record.samples = {{0, 0.5, "run-1"}};
  res.record.p_value = 0.01;
  res.record.cpu_s = 12.5;
  res.record.device = "1";
  SlotResult back;
  ASSERT_TRUE(ParseSlotResult(SlotResultJson(res), &back).ok());
  EXPECT_EQ(back.candidate, "def");
  EXPECT_FALSE(back.interrupted);
  EXPECT_EQ(back.record.verdict, kKept);
  ASSERT_EQ(back.record.samples.size(), 1u);
  EXPECT_EQ(back.record.samples[0].run_id, "run-1");
  EXPECT_EQ(back.record.p_value, 0.01);
  EXPECT_EQ(back.record.cpu_s, 12.5);
  EXPECT_EQ(back.record.device, "1");

  SlotJournal j;
  j.slot = 1;
  j.round = 3;
  j.task = kSlotRemeasure;
  j.phase = "decided";
  j.base = "abc";
  j.tree = "/t";
  j.candidate = "def";
  j.rebases = 2;
  j.record = res.record;
  SlotJournal jb;
  ASSERT_TRUE(ParseSlotJournal(SlotJournalJson(j), &jb).ok());
  EXPECT_EQ(jb.slot, 1);
  EXPECT_EQ(jb.round, 3);
  EXPECT_EQ(jb.task, kSlotRemeasure);
  EXPECT_EQ(jb.phase, "decided");
  EXPECT_EQ(jb.candidate, "def");
  EXPECT_EQ(jb.rebases, 2);
  EXPECT_EQ(jb.record.verdict, kKept);
}

TEST(ParallelSlot, VisibleDevicesOnePerSlot) {
  EXPECT_TRUE(VisibleDevices(nullptr).empty());
  EXPECT_TRUE(VisibleDevices("").empty());
  EXPECT_EQ(VisibleDevices("0"), (std::vector<std::string>{"0"}));
  EXPECT_EQ(VisibleDevices("0,1, 3 ,"), (std::vector<std::string>{"0", "1", "3"}));
  EXPECT_EQ(VisibleDevices("GPU-5e1f,GPU-77aa"), (std::vector<std::string>{"GPU-5e1f", "GPU-77aa"}));
}

}  // namespace
}  // namespace inloop::loop
