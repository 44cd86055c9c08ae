// Hypothesis tests and intervals for comparing two conditions: the paired t test, Welch's
// two-sample t test, McNemar's test for paired pass/fail outcomes, the paired sign-flip
// permutation test, the paired (optionally cluster) percentile bootstrap CI of the mean
// difference, and the minimum detectable effect of a paired design.
//
// Conventions: every difference is treatment - baseline (for an eval: new - old). Results are
// deterministic for a given seed (stats/rng.h); nothing is global. Undefined quantities (too few
// observations) come back as NaN, never as an error; with zero spread the p-value is 1 when the
// mean difference is 0, else 0 (t = +-inf).
#pragma once

#include <cstdint>
#include <span>

namespace inloop::stats {

struct TTestResult {
  double mean_diff = 0;  // treatment - baseline
  double se = 0;         // standard error of mean_diff
  double t = 0;
  double df = 0;         // n - 1 (paired), Welch-Satterthwaite (Welch)
  double p_value = 1;    // two-sided
  double ci_low = 0;     // (1 - alpha) confidence interval of mean_diff, t-based
  double ci_high = 0;
};

// Paired t test on d_i = treatment[i] - baseline[i]; spans of equal length, n >= 2.
TTestResult PairedTTest(std::span<const double> baseline, std::span<const double> treatment,
                        double alpha = 0.05);
// The same from precomputed differences.
TTestResult OneSampleTTest(std::span<const double> diffs, double alpha = 0.05);
// The t statistic, two-sided p and CI from an estimate, its SE and df (e.g. a cluster-robust SE
// with df = G - 1).
TTestResult TTestFromSe(double mean_diff, double se, double df, double alpha = 0.05);

struct WelchResult : TTestResult {
  double mean_baseline = 0;
  double mean_treatment = 0;
  double var_baseline = 0;  // sample variances (n - 1)
  double var_treatment = 0;
  int64_t n_baseline = 0;
  int64_t n_treatment = 0;
};
// Welch's unequal-variance two-sample t test of mean(treatment) - mean(baseline); each group needs
// n >= 2. When both variances are 0, df = n_b + n_t - 2.
WelchResult WelchTTest(std::span<const double> baseline, std::span<const double> treatment,
                       double alpha = 0.05);

struct McNemarResult {
  int64_t baseline_only = 0;   // b: pass under baseline, fail under treatment
  int64_t treatment_only = 0;  // c: fail under baseline, pass under treatment
  // The reported p: exact two-sided binomial test of b vs Binomial(b + c, 1/2),
  // p = min(1, 2 * P(X <= min(b, c))); 1 when b + c = 0.
  double p_exact = 1;
  double p_mid = 1;  // mid-p: p_exact - P(X = min(b, c)) (less conservative)
  // Chi-square with continuity correction, (|b - c| - 1)^2 / (b + c), 1 df; computed whenever
  // b + c > 0 but only meaningful for large b + c (see kMcNemarChi2MinDiscordant).
  double chi2 = 0;
  double chi2_p = 1;
};
inline constexpr int64_t kMcNemarChi2MinDiscordant = 25;
McNemarResult McNemar(int64_t baseline_only, int64_t treatment_only);

struct PermutationResult {
  double p_value = 1;   // two-sided, on |sum of differences|
  bool exact = false;   // every sign pattern enumerated
  int64_t flips = 0;    // sign patterns evaluated (2^m when exact)
};
// Sign-flip test of mean(d) = 0 for paired differences d. With cluster (same length as d, any
// integer labels) the signs flip per cluster (cluster sums of d), the design's exchangeable unit.
// Exact enumeration when the number of non-zero units is <= max_exact_units (p = k / 2^m);
// otherwise `flips` random sign patterns and p = (k + 1) / (flips + 1).
PermutationResult PairedPermutationTest(std::span<const double> d, uint64_t seed,
                                        int64_t flips = 10000, int max_exact_units = 20,
                                        std::span<const int64_t> cluster = {});

struct BootstrapResult {
  double ci_low = 0;
  double ci_high = 0;
  double se = 0;          // SD of the bootstrap means
  int64_t resamples = 0;
};
// Percentile bootstrap CI of mean(d): `resamples` resamples of the n differences with
// replacement (or, with cluster, of the G clusters with replacement, the statistic being the sum
// of the drawn clusters' differences over their number of examples). Quantiles at alpha/2 and
// 1 - alpha/2 with linear interpolation (numpy's default). NaN when d is empty.
BootstrapResult PairedBootstrapCi(std::span<const double> d, uint64_t seed,
                                  int64_t resamples = 10000, double alpha = 0.05,
                                  std::span<const int64_t> cluster = {});

// Minimum detectable effect of a paired design: (z_{1-alpha/2} + z_{power}) * se_diff.
double MinimumDetectableEffect(double se_diff, double alpha = 0.05, double power = 0.8);
// SE of a paired difference of pass rates from discordance, for MDE planning: under the null
// (b = c) Var(d_i) = (b + c) / n, so se = sqrt(b + c) / n. NaN for n = 0.
double DiscordantPairsSe(int64_t n, int64_t discordant);

}  // namespace inloop::stats
