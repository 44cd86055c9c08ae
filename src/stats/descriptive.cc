#include "stats/descriptive.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace inloop::stats {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double Median(std::vector<double> x) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  size_t mid = x.size() / 2;
  std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(mid), x.end());
  double hi = x[mid];
  if (x.size() % 2 == 1) return hi;
  double lo = *std::max_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lo + hi);
}

double Mean(std::span<const double> x) {
  if (x.empty()) return kNaN;
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double SampleVariance(std::span<const double> x) {
  if (x.size() < 2) return kNaN;
  double m = Mean(x);
  double ss = 0, comp = 0;  // second pass with the compensating term of the corrected two-pass
  for (double v : x) {
    ss += (v - m) * (v - m);
    comp += v - m;
  }
  double n = static_cast<double>(x.size());
  return (ss - comp * comp / n) / (n - 1);
}

double SampleSd(std::span<const double> x) { return std::sqrt(SampleVariance(x)); }

double StdError(std::span<const double> x) {
  return SampleSd(x) / std::sqrt(static_cast<double>(x.size()));
}

double ClusterRobustSeOfMean(std::span<const double> x, std::span<const int64_t> cluster) {
  if (x.size() != cluster.size() || x.empty()) return kNaN;
  double m = Mean(x);
  std::map<int64_t, double> sums;  // ordered: the same summation order everywhere
  for (size_t i = 0; i < x.size(); ++i) sums[cluster[i]] += x[i] - m;
  double g = static_cast<double>(sums.size());
  if (sums.size() < 2) return kNaN;
  double ss = 0;
  for (auto& [label, s] : sums) ss += s * s;
  double n = static_cast<double>(x.size());
  return std::sqrt(g / (g - 1) * ss) / n;
}

int64_t CountClusters(std::span<const int64_t> cluster) {
  std::map<int64_t, char> seen;
  for (int64_t c : cluster) seen.emplace(c, 0);
  return static_cast<int64_t>(seen.size());
}

}  // namespace inloop::stats
