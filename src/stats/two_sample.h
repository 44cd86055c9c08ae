// Two-sample tests of "same distribution?" for data drift: the Kolmogorov-Smirnov test for a
// numeric sample (its D is the effect size) and the chi-square test of homogeneity for category
// counts (Cramer's V the effect size), with the chi-square survival function they need.
// Pure functions; NaN where undefined (an empty sample, one category).
#pragma once

#include <cstdint>
#include <span>

namespace inloop::stats {

struct KsResult {
  double d = 0;        // sup |F_a - F_b|
  double p_value = 1;  // asymptotic Kolmogorov distribution with Stephens' small-n correction
  int64_t n_a = 0, n_b = 0;
};
// Sorts copies of the samples; NaN values are ignored.
KsResult KsTwoSample(std::span<const double> a, std::span<const double> b);

struct ChiSquareResult {
  double chi2 = 0;
  double df = 0;
  double p_value = 1;
  double cramers_v = 0;  // sqrt(chi2 / N) for a 2 x K table
};
// a[k], b[k]: counts of category k in each sample. Categories empty in both are dropped.
ChiSquareResult ChiSquareHomogeneity(std::span<const double> a, std::span<const double> b);

// Upper tail P(X > x) of the chi-square distribution with df degrees of freedom.
double ChiSquareSf(double x, double df);

}  // namespace inloop::stats
