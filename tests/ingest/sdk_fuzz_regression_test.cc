// SDK message inputs that crashed fuzz/sdk_message_fuzz.cc (UBSan: float-cast-overflow).
#include <gtest/gtest.h>

#include "ingest/sdk_message.h"
#include "support/fuzz_regression.h"

namespace inloop::ingest {
namespace {

// A step written as a double outside int64's range was cast to int64_t: undefined behaviour
// (UBSan stops the sanitizer build there). Such a step is no step; the metrics still count.
TEST(SdkFuzzRegressionTest, StepOutsideInt64IsNoStep) {
  for (const char* name : {"sdk_step_1e30.txt", "sdk_step_below_int64.txt"}) {
    std::string line = testing::ReadFuzzRegression(name);
    ASSERT_FALSE(line.empty()) << name;
    SdkMessage m;
    ASSERT_TRUE(ParseSdkMessage(line, &m)) << name;
    EXPECT_EQ(m.type, SdkMessage::Type::kLog);
    EXPECT_FALSE(m.step.has_value()) << name;
    ASSERT_EQ(m.metrics.size(), 1u);
    EXPECT_EQ(m.metrics[0].first, "loss");
  }
  SdkMessage m;  // the largest doubles inside the range still are steps
  ASSERT_TRUE(ParseSdkMessage(R"({"t":"log","step":-9.2e18,"metrics":{}})", &m));
  EXPECT_EQ(m.step, static_cast<int64_t>(-9.2e18));
}

}  // namespace
}  // namespace inloop::ingest
