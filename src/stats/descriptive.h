// Descriptive statistics of a sample: mean, sample variance and SD (n-1 denominator), standard
// error of the mean, and the cluster-robust (CR1) standard error of a mean. Pure functions over
// spans; an undefined value (too few observations) is NaN rather than an error, so callers can
// report it as "NaN" in JSON without special cases.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace inloop::stats {

// Median (the mean of the two middle values for an even n); NaN for an empty sample.
double Median(std::vector<double> x);
// Arithmetic mean; NaN for an empty sample.
double Mean(std::span<const double> x);
// Sample variance with the n-1 denominator (two-pass); NaN for n < 2.
double SampleVariance(std::span<const double> x);
// sqrt(SampleVariance); NaN for n < 2.
double SampleSd(std::span<const double> x);
// Standard error of the mean, SampleSd / sqrt(n); NaN for n < 2.
double StdError(std::span<const double> x);

// Cluster-robust standard error of the mean of x, CR1 style: with residuals e_i = x_i - mean and
// G clusters, Var = G/(G-1) * sum_g (sum_{i in g} e_i)^2 / n^2 (the (n-1)/(n-k) factor is 1 for
// a mean, k = 1). cluster[i] is any integer label of x[i]'s cluster (labels need not be dense).
// With every observation its own cluster this equals StdError(x). NaN when G < 2 or the spans
// differ in length.
double ClusterRobustSeOfMean(std::span<const double> x, std::span<const int64_t> cluster);

// Number of distinct labels in cluster.
int64_t CountClusters(std::span<const int64_t> cluster);

}  // namespace inloop::stats
