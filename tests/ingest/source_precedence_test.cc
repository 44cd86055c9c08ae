// Per-key precedence of SDK values over printed values: canonical names, printed keys the SDK
// never logs, the SDK going quiet on a key and taking it back, reads batched per pipe.
#include "ingest/source_precedence.h"

#include <gtest/gtest.h>

namespace inloop::ingest {
namespace {

constexpr std::optional<int64_t> kNoStep = std::nullopt;

TEST(CanonicalMetricKeyTest, PrintedAndSdkNamesMeet) {
  EXPECT_EQ(CanonicalMetricKey("train/loss"), "loss");
  EXPECT_EQ(CanonicalMetricKey("loss"), "loss");
  EXPECT_EQ(CanonicalMetricKey("train_loss"), "loss");
  EXPECT_EQ(CanonicalMetricKey("Train Loss"), "loss");
  EXPECT_EQ(CanonicalMetricKey("training/loss"), "loss");
  EXPECT_EQ(CanonicalMetricKey("val/loss"), "val_loss");
  EXPECT_EQ(CanonicalMetricKey("val_loss"), "val_loss");
  EXPECT_EQ(CanonicalMetricKey("learning_rate"), "lr");
  EXPECT_EQ(CanonicalMetricKey("train/grad-norm"), "grad_norm");
  EXPECT_EQ(CanonicalMetricKey("train"), "train");  // nothing left after the prefix: kept
  EXPECT_NE(CanonicalMetricKey("val/loss"), CanonicalMetricKey("loss"));
}

TEST(SourcePrecedenceTest, PrintedKeysAreRecordedWithoutSdkMetrics) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(p.OnPrinted("loss", i, &changes));
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(p.SourceOf("loss"), MetricSource::kPrinted);
}

TEST(SourcePrecedenceTest, SdkKeyWinsOtherPrintedKeysStay) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int step = 0; step < 50; ++step) {
    p.OnSdk("train/loss", step, &changes);
    EXPECT_FALSE(p.OnPrinted("loss", step, &changes)) << step;      // the same number, for people
    EXPECT_TRUE(p.OnPrinted("grad_norm", step, &changes)) << step;  // only printed: recorded
  }
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(p.SourceOf("loss"), MetricSource::kSdk);
  EXPECT_EQ(p.SourceOf("train/loss"), MetricSource::kSdk);
  EXPECT_EQ(p.SourceOf("grad_norm"), MetricSource::kPrinted);
}

TEST(SourcePrecedenceTest, TakeOverFromPrintedIsReported) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  EXPECT_TRUE(p.OnPrinted("loss", 1, &changes));  // before the SDK's first value of the key
  p.OnSdk("train/loss", 2, &changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].now, MetricSource::kSdk);
  EXPECT_EQ(changes[0].canonical, "loss");
  EXPECT_EQ(changes[0].sdk_key, "train/loss");
  EXPECT_EQ(changes[0].printed_key, "loss");
  EXPECT_FALSE(p.OnPrinted("loss", 2, &changes));
}

TEST(SourcePrecedenceTest, SdkEveryTenthStepNeverFallsBack) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int step = 0; step < 1000; ++step) {
    if (step % 10 == 0) p.OnSdk("train/loss", step, &changes);
    EXPECT_FALSE(p.OnPrinted("loss", step, &changes)) << step;
  }
  EXPECT_TRUE(changes.empty());
}

// A fast process: the supervisor reads the SDK pipe's whole batch before the printed lines.
TEST(SourcePrecedenceTest, BatchedReadsDoNotLookQuiet) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int step = 0; step < 500; ++step) p.OnSdk("train/loss", step, &changes);
  for (int step = 0; step < 500; ++step) EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  SourcePrecedence q;  // the same without steps on the printed side
  for (int step = 0; step < 20; ++step) q.OnSdk("train/loss", step, &changes);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(q.OnPrinted("loss", kNoStep, &changes));
  EXPECT_TRUE(changes.empty());
}

TEST(SourcePrecedenceTest, QuietSdkFallsBackToPrintedAndBack) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int step = 1; step <= 20; ++step) {
    p.OnSdk("train/loss", step, &changes);
    EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  }
  // The SDK stops logging the loss at step 20; the process keeps printing it. Interval 1: quiet
  // once a printed step is past 20 + 2 * 1 + 2.
  for (int step = 21; step <= 24; ++step) EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  EXPECT_TRUE(changes.empty());
  EXPECT_TRUE(p.OnPrinted("loss", 25, &changes));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].now, MetricSource::kPrinted);
  EXPECT_EQ(changes[0].printed_since_sdk, 6);  // steps 20..25
  EXPECT_EQ(p.SourceOf("loss"), MetricSource::kPrinted);
  for (int step = 26; step <= 40; ++step) EXPECT_TRUE(p.OnPrinted("loss", step, &changes));
  changes.clear();
  // The SDK logs it again: it takes the key back, and the quiet spell is not learned as its
  // interval.
  p.OnSdk("train/loss", 41, &changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].now, MetricSource::kSdk);
  changes.clear();
  for (int step = 41; step <= 45; ++step) EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  EXPECT_TRUE(p.OnPrinted("loss", 46, &changes));
}

TEST(SourcePrecedenceTest, WithoutStepsTheQuietCountIsLarge) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  p.OnSdk("loss", kNoStep, &changes);
  for (int i = 0; i < SourcePrecedence::kQuietFirstPrinted; ++i) {
    EXPECT_FALSE(p.OnPrinted("loss", kNoStep, &changes)) << i;
  }
  EXPECT_TRUE(p.OnPrinted("loss", kNoStep, &changes));
  ASSERT_EQ(changes.size(), 1u);
}

TEST(SourcePrecedenceTest, RestartedAttemptRewindsSteps) {
  SourcePrecedence p;
  std::vector<SourceChange> changes;
  for (int step = 1; step <= 100; ++step) {
    p.OnSdk("train/loss", step, &changes);
    EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  }
  for (int step = 41; step <= 100; ++step) {  // resumed from a checkpoint of step 40
    p.OnSdk("train/loss", step, &changes);
    EXPECT_FALSE(p.OnPrinted("loss", step, &changes));
  }
  EXPECT_TRUE(changes.empty());
}

TEST(SourcePrecedenceTest, LinesWithSdkRecordsEverything) {
  SourcePrecedence p(/*lines_with_sdk=*/true);
  std::vector<SourceChange> changes;
  for (int i = 0; i < 50; ++i) {
    p.OnSdk("train/loss", i, &changes);
    EXPECT_TRUE(p.OnPrinted("loss", i, &changes));
  }
  EXPECT_TRUE(changes.empty());
}

}  // namespace
}  // namespace inloop::ingest
