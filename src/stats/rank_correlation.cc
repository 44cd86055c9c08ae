#include "stats/rank_correlation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "stats/distributions.h"

namespace inloop::stats {

std::vector<double> AverageRanks(std::span<const double> x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    double r = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

SpearmanResult Spearman(std::span<const double> x, std::span<const double> y) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  SpearmanResult r;
  r.n = static_cast<int>(x.size());
  if (x.size() != y.size() || x.size() < 3) {
    r.rho = r.p_value = kNaN;
    return r;
  }
  std::vector<double> rx = AverageRanks(x), ry = AverageRanks(y);
  double n = static_cast<double>(x.size());
  double mean = (n + 1) / 2;  // the mean of any average-rank vector
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    double a = rx[i] - mean, b = ry[i] - mean;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  if (!(sxx > 0) || !(syy > 0)) {
    r.rho = r.p_value = kNaN;
    return r;
  }
  r.rho = std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  if (std::fabs(r.rho) >= 1) {
    r.p_value = 0;
    return r;
  }
  double t = r.rho * std::sqrt((n - 2) / (1 - r.rho * r.rho));
  r.p_value = StudentTTwoSidedP(t, n - 2);
  return r;
}

}  // namespace inloop::stats
