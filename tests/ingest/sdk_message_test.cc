// The SDK's `tags` message (docs/sdk_protocol.md): string entries are tags, anything else in the
// list is skipped, a message without a list is not a message.
#include "ingest/sdk_message.h"

#include <gtest/gtest.h>

namespace inloop::ingest {
namespace {

TEST(SdkMessageTest, TagsKeepStringsAndSkipTheRest) {
  SdkMessage m;
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"tags","tags":["baseline","team=nlp","",3,null,"x"]})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kTags);
  EXPECT_EQ(m.tags, (std::vector<std::string>{"baseline", "team=nlp", "x"}));
}

TEST(SdkMessageTest, TagsWithoutAListAreRejected) {
  SdkMessage m;
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"tags","tags":"baseline"})", &m));
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"tags"})", &m));
}

}  // namespace
}  // namespace inloop::ingest

namespace inloop::ingest {
namespace {

TEST(SdkMessageLiveTest, LiveAndRemedyAppliedParseStrictly) {
  SdkMessage m;
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"live"})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kLive);
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"remedy_applied","seq":3})", &m));
  EXPECT_EQ(m.type, SdkMessage::Type::kRemedyApplied);
  EXPECT_EQ(m.seq, 3);
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"remedy_applied"})", &m));
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"remedy_applied","seq":0})", &m));
  EXPECT_FALSE(ParseSdkMessage(R"({"t":"remedy_applied","seq":"1"})", &m));
}

}  // namespace
}  // namespace inloop::ingest
