// Which detectors watch which metric keys: the default pattern lists and boundary matching.
#include "detect/series_class.h"

#include <gtest/gtest.h>

namespace inloop::detect {
namespace {

TEST(SeriesClassTest, NormalizesKeys) {
  EXPECT_EQ(NormalizeKey("Train/Grad-Norm"), "train_grad_norm");
  EXPECT_EQ(NormalizeKey("elapsed time per iteration (s)"), "elapsed_time_per_iteration_s");
  EXPECT_EQ(NormalizeKey("__loss__"), "loss");
}

TEST(SeriesClassTest, MatchesOnBoundaries) {
  EXPECT_TRUE(KeyMatches("train_grad_norm", "grad_norm"));
  EXPECT_TRUE(KeyMatches("grad_norm", "grad-norm"));
  EXPECT_FALSE(KeyMatches("memory", "mem"));
  EXPECT_FALSE(KeyMatches("lossy", "loss"));
  EXPECT_TRUE(KeyMatches("lm_loss", "loss"));
}

TEST(SeriesClassTest, DefaultClasses) {
  DetectConfig c;
  struct Case {
    const char* key;
    SeriesClass want;
  };
  const Case cases[] = {
      {"loss", SeriesClass::kLoss},
      {"train/loss", SeriesClass::kLoss},
      {"lm loss", SeriesClass::kLoss},
      {"train_loss", SeriesClass::kLoss},
      {"lm_loss", SeriesClass::kLoss},
      {"val/loss", SeriesClass::kEvalLoss},
      {"eval_loss", SeriesClass::kEvalLoss},
      {"valid/lm loss value", SeriesClass::kEvalLoss},
      {"loss scale", SeriesClass::kOther},
      {"train/loss_scale", SeriesClass::kOther},
      {"lm loss PPL", SeriesClass::kOther},
      {"grad_norm", SeriesClass::kGradNorm},
      {"grad-norm", SeriesClass::kGradNorm},
      {"grad norm", SeriesClass::kGradNorm},
      {"gradient_norm", SeriesClass::kGradNorm},
      {"train/grad_norm", SeriesClass::kGradNorm},
      {"tokens_per_s", SeriesClass::kThroughput},
      {"throughput/tokens_per_sec", SeriesClass::kThroughput},
      {"samples per second", SeriesClass::kThroughput},
      {"TFLOPs", SeriesClass::kThroughput},
      {"it/s", SeriesClass::kThroughput},
      {"mfu", SeriesClass::kThroughput},
      {"step_time_ms", SeriesClass::kStepTime},
      {"elapsed time per iteration (s)", SeriesClass::kStepTime},
      {"elapsed_time_per_iteration_ms", SeriesClass::kStepTime},
      {"mem", SeriesClass::kMemory},
      {"gpu_mem", SeriesClass::kMemory},
      {"memory/allocated_gb", SeriesClass::kMemory},
      {"max_memory_allocated", SeriesClass::kMemory},
      {"lr", SeriesClass::kOther},
      {"learning rate", SeriesClass::kOther},
      {"epoch", SeriesClass::kOther},
      {"number of nan iterations", SeriesClass::kOther},
  };
  for (const Case& k : cases) {
    EXPECT_EQ(SeriesClassName(ClassifyKey(k.key, c)), SeriesClassName(k.want)) << k.key;
  }
}

TEST(SeriesClassTest, ConfigurablePatterns) {
  DetectConfig c;
  c.loss_keys.push_back("nll");
  c.memory_keys = {"vram"};
  EXPECT_EQ(ClassifyKey("train/nll", c), SeriesClass::kLoss);
  EXPECT_EQ(ClassifyKey("vram_gb", c), SeriesClass::kMemory);
  EXPECT_EQ(ClassifyKey("gpu_mem", c), SeriesClass::kOther);
}

}  // namespace
}  // namespace inloop::detect
