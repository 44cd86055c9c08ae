// DetectorSet allocates nothing per point once every key has been seen (when no finding fires).
// Counts heap allocations by replacing the global operator new for this test binary; the
// replacement behaves exactly like libstdc++'s default (malloc, bad_alloc on failure). Under
// AddressSanitizer, which owns operator new, nothing is replaced and the test is skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "detect/detector_set.h"

#if defined(__SANITIZE_ADDRESS__)
#define INLOOP_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INLOOP_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef INLOOP_COUNT_ALLOCATIONS
#define INLOOP_COUNT_ALLOCATIONS 1
#endif

namespace {
thread_local long g_allocations = 0;
}  // namespace

#if INLOOP_COUNT_ALLOCATIONS
// The deletes pair with the malloc in operator new; GCC cannot see that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

namespace inloop::detect {
namespace {

TEST(NoAllocTest, SteadyStateObserveDoesNotAllocate) {
  if (!INLOOP_COUNT_ALLOCATIONS) GTEST_SKIP() << "operator new belongs to the sanitizer";
  DetectorSet set{DetectConfig{}};
  std::vector<Finding> out;
  out.reserve(16);
  const char* keys[] = {"train/loss",   "train/grad_norm", "lr",       "tokens_per_s",
                        "step_time_ms", "gpu_mem",         "eval/loss"};
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0, 1);
  auto feed = [&](int64_t from, int64_t to) {
    for (int64_t s = from; s < to; ++s) {
      double loss = 2 + 8 * std::pow(1 + s / 20.0, -0.4);
      const double vals[] = {
          loss * (1 + 0.02 * n(rng)), 0.5 * std::exp(0.1 * n(rng)), 3e-4, 1e6 * (1 + 0.01 * n(rng)),
          250 * (1 + 0.01 * n(rng)),  4e10 + 1e6 * n(rng),          loss};
      for (int k = 0; k < 7; ++k) set.Observe(keys[k], {s, 1.7e9 + s, vals[k]}, &out);
    }
  };
  feed(0, 3000);  // every key seen, windows full
  ASSERT_TRUE(out.empty());
  const long before = g_allocations;
  feed(3000, 6000);
  EXPECT_EQ(g_allocations - before, 0);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace inloop::detect
