// TextMetrics helpers: log-prefix stripping and the unit list. The shapes themselves are
// covered by line_parser_test.cc and the corpus under tests/data/lines/.
#include "ingest/text_metrics.h"

#include <gtest/gtest.h>

namespace inloop::ingest {
namespace {

TEST(StripLogPrefixTest, StripsCommonPrefixes) {
  EXPECT_EQ(StripLogPrefix("[default7]: iteration 1/2 |"), "iteration 1/2 |");
  EXPECT_EQ(StripLogPrefix("2021-03-01 12:00:00 | INFO | train_inner | epoch 001"),
            "train_inner | epoch 001");
  EXPECT_EQ(StripLogPrefix("[2024-01-01 12:00:00,123][__main__][INFO] - step: 100"), "step: 100");
  EXPECT_EQ(StripLogPrefix("INFO:__main__:step 100 | loss 2.3"), "step 100 | loss 2.3");
  EXPECT_EQ(StripLogPrefix("2024-01-01T12:00:00.123+02:00 WARNING loss=1"), "loss=1");
  EXPECT_EQ(StripLogPrefix("12:00:01 DEBUG x"), "x");
  EXPECT_EQ(StripLogPrefix("rank0: step 1"), "step 1");
  EXPECT_EQ(StripLogPrefix("Rank 12: step 1"), "step 1");
  EXPECT_EQ(StripLogPrefix("[INFO|trainer.py:1812] 2024-01-01 12:00:00,123 >> {'loss': 1}"),
            "{'loss': 1}");
  EXPECT_EQ(StripLogPrefix("  \t  loss: 1"), "loss: 1");
}

TEST(StripLogPrefixTest, LeavesContentAlone) {
  EXPECT_EQ(StripLogPrefix("step 100 | loss 2.3"), "step 100 | loss 2.3");
  EXPECT_EQ(StripLogPrefix("iter 100: loss 2.3456"), "iter 100: loss 2.3456");
  EXPECT_EQ(StripLogPrefix("Information: 3"), "Information: 3");
  EXPECT_EQ(StripLogPrefix("ranking: 3"), "ranking: 3");
  EXPECT_EQ(StripLogPrefix("1875/1875 [=====] - 5s"), "1875/1875 [=====] - 5s");
  EXPECT_EQ(StripLogPrefix("[unclosed loss: 1"), "[unclosed loss: 1");
  EXPECT_EQ(StripLogPrefix(""), "");
}

TEST(KnownUnitTest, Units) {
  for (const char* u : {"ms", "s", "MS", "\xC2\xB5s", "it/s", "s/it", "tok/s", "tokens/s", "GB",
                        "GiB", "TFLOPs", "min", "h"}) {
    EXPECT_TRUE(IsKnownUnit(u)) << u;
  }
  for (const char* u : {"", "GPUs", "shards", "minutes", "files", "x", "B", "it", "%"}) {
    EXPECT_FALSE(IsKnownUnit(u)) << u;
  }
}

}  // namespace
}  // namespace inloop::ingest
