// The labelled synthetic corpus (src/detect/synthetic_curves.h) against the quality targets:
// precision and recall >= 0.95 for loss spikes and non-finite values, latency 0 logged steps for
// non-finite values and <= 1 for spikes. A smaller sample than bench/detect_bench.cc (4 curves
// per family instead of 20) to stay fast under sanitizers.
#include <gtest/gtest.h>

#include "detect/synthetic_curves.h"

namespace inloop::detect::synthetic {
namespace {

TEST(CorpusTest, GenerationIsDeterministicAndLabelled) {
  for (const FamilySpec& f : StandardCorpus()) {
    Curve a = Generate(f, 3), b = Generate(f, 3);
    ASSERT_EQ(a.points.size(), static_cast<size_t>(f.steps));
    for (size_t i = 0; i < a.points.size(); i += 97) {
      EXPECT_EQ(a.points[i], b.points[i]);
    }
    if (f.shape != Shape::kClean) {
      EXPECT_FALSE(a.events.empty()) << f.name;
    }
  }
}

TEST(CorpusTest, MeetsTargetsWithDefaults) {
  DetectConfig config;
  FamilyScore all;
  for (FamilySpec f : StandardCorpus()) {
    if (f.beyond_defaults) continue;
    f.curves = 4;
    FamilyScore s = Evaluate(f, config);
    SCOPED_TRACE(f.name);
    EXPECT_GE(s.spike.precision(), 0.95);
    EXPECT_GE(s.nonfinite.precision(), 0.95);
    EXPECT_GE(s.grad.precision(), 0.95);
    EXPECT_GE(s.divergence.precision(), 0.95);
    EXPECT_LE(s.spike.latency_max, 1);
    EXPECT_EQ(s.nonfinite.latency_max, 0);
    EXPECT_EQ(s.nonfinite.recall(), 1.0);
    EXPECT_GE(s.divergence.recall(), 0.95);
    EXPECT_GE(s.plateau.recall(), 0.95);
    EXPECT_GE(s.grad.recall(), 0.95);
    // A +40% spike on 5% noise is 8 sigma on average: the noise of the spiked point itself
    // pushes ~8% of them under the 6-sigma line. Every other family is well above.
    EXPECT_GE(s.spike.recall(), f.name == "spikes +40% noise 5%" ? 0.85 : 0.95);
    all.Add(s);
  }
  EXPECT_GE(all.spike.precision(), 0.95);
  EXPECT_GE(all.spike.recall(), 0.95);
  EXPECT_GE(all.nonfinite.precision(), 0.95);
  EXPECT_GE(all.nonfinite.recall(), 0.95);
  EXPECT_GT(all.spike.events, 200);
  EXPECT_GT(all.nonfinite.events, 60);
  EXPECT_EQ(all.plateau.false_alarms, 0);
}

}  // namespace
}  // namespace inloop::detect::synthetic
