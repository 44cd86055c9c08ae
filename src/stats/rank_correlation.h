// Spearman's rank correlation: Pearson's correlation of the ranks, ties given their average rank,
// with the two-sided p-value of the t approximation t = r sqrt((n - 2) / (1 - r^2)), n - 2 df
// (what scipy.stats.spearmanr reports). Pure functions; undefined results are NaN.
#pragma once

#include <span>
#include <vector>

namespace inloop::stats {

// 1-based ranks of x, ties replaced by the mean of the ranks they span.
std::vector<double> AverageRanks(std::span<const double> x);

struct SpearmanResult {
  double rho = 0;      // NaN when n < 3 or either side is constant
  double p_value = 1;  // two-sided; 0 when |rho| = 1; NaN when rho is
  int n = 0;
};
// REQUIRES x.size() == y.size() (NaN otherwise); every value finite.
SpearmanResult Spearman(std::span<const double> x, std::span<const double> y);

}  // namespace inloop::stats
