// Multi-rank jobs (docs/sdk_protocol.md "Ranks"): the rank and step time fields of SDK messages,
// the "rank" hello, and the launchers' rank labels on printed lines.
#include <gtest/gtest.h>

#include "ingest/rank_prefix.h"
#include "ingest/sdk_message.h"

namespace inloop::ingest {
namespace {

TEST(RankMessageTest, LogCarriesRankAndStepTime) {
  SdkMessage m;
  ASSERT_TRUE(ParseSdkMessage(
      R"({"t":"log","step":7,"rank":3,"step_time":0.125,"metrics":{"train/loss":"NaN"}})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kLog);
  ASSERT_TRUE(m.rank);
  EXPECT_EQ(*m.rank, 3);
  ASSERT_TRUE(m.step_time);
  EXPECT_DOUBLE_EQ(*m.step_time, 0.125);
  ASSERT_EQ(m.metrics.size(), 1u);
  EXPECT_EQ(m.metrics[0].first, "train/loss");
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"log","step":7,"step_time":2,"metrics":{}})", &m));
  EXPECT_FALSE(m.rank);  // a single process: no rank
  ASSERT_TRUE(m.step_time);
  EXPECT_DOUBLE_EQ(*m.step_time, 2);
}

TEST(RankMessageTest, BadRankAndStepTimeAreDropped) {
  SdkMessage m;
  for (const char* line :
       {R"({"t":"log","rank":-1,"step_time":-0.5,"metrics":{"a":1}})",
        R"({"t":"log","rank":"2","step_time":"fast","metrics":{"a":1}})",
        R"({"t":"log","rank":1.5,"step_time":0,"metrics":{"a":1}})"}) {
    ASSERT_TRUE(ParseSdkMessage(line, &m)) << line;
    EXPECT_FALSE(m.rank) << line;
    EXPECT_FALSE(m.step_time) << line;
    EXPECT_EQ(m.metrics.size(), 1u) << line;
  }
}

TEST(RankMessageTest, RankHello) {
  SdkMessage m;
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"rank","rank":2,"world_size":4,"host":"node-07"})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kRank);
  EXPECT_EQ(*m.rank, 2);
  EXPECT_EQ(m.world_size, 4);
  EXPECT_EQ(m.host, "node-07");
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"rank","rank":0})", &m));
  EXPECT_EQ(m.world_size, 0);
  EXPECT_EQ(m.host, "");
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"rank","world_size":4})", &m));  // which rank?
}

TEST(RankMessageTest, OtherMessagesCarryTheRankToo) {
  SdkMessage m;
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"checkpoint","rank":1,"step":5,"path":"/c.pt"})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kCheckpoint);
  EXPECT_EQ(*m.rank, 1);
}

TEST(RankPrefixTest, TorchrunLabels) {
  RankedLine r = SplitRankPrefix("[rank3]: step 10 loss 2.5", false);
  ASSERT_TRUE(r.rank);
  EXPECT_EQ(*r.rank, 3);
  EXPECT_EQ(r.text, "step 10 loss 2.5");
  r = SplitRankPrefix("[default12]:step=4 loss=1.0", false);
  EXPECT_EQ(*r.rank, 12);
  EXPECT_EQ(r.text, "step=4 loss=1.0");
  r = SplitRankPrefix("[rank0]:", false);
  EXPECT_EQ(*r.rank, 0);
  EXPECT_EQ(r.text, "");
}

TEST(RankPrefixTest, OrdinaryLinesKeepTheirText) {
  for (const char* line : {"[3]: not a label", "[rank]: no number", "[rank3] no colon",
                           "[rank3x]: letters after", "step 10: loss 2.5", "10: loss 2.5",
                           "[INFO]: something", "", "[", "[rank12345678]: too long"}) {
    RankedLine r = SplitRankPrefix(line, false);
    EXPECT_FALSE(r.rank) << line;
    EXPECT_EQ(r.text, line);
  }
}

TEST(RankPrefixTest, SrunLabelsOnlyWhenAsked) {
  RankedLine r = SplitRankPrefix("  2: step 10 loss 2.5", true);
  ASSERT_TRUE(r.rank);
  EXPECT_EQ(*r.rank, 2);
  EXPECT_EQ(r.text, "step 10 loss 2.5");
  EXPECT_FALSE(SplitRankPrefix("2: step 10 loss 2.5", false).rank);
  EXPECT_FALSE(SplitRankPrefix("step 2: loss", true).rank);
  EXPECT_EQ(*SplitRankPrefix("[rank1]: x", true).rank, 1);  // torchrun's labels still count
}

}  // namespace
}  // namespace inloop::ingest
