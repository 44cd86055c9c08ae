#include "stats/hypothesis_tests.h"

#include <math.h>  // lgamma_r

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "stats/descriptive.h"
#include "stats/distributions.h"
#include "stats/rng.h"

namespace inloop::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double LogChoose(int64_t n, int64_t k) {
  int sign = 0;
  return ::lgamma_r(n + 1.0, &sign) - ::lgamma_r(k + 1.0, &sign) - ::lgamma_r(n - k + 1.0, &sign);
}

// The units a sign flip or a cluster bootstrap works on: per-cluster sums (and sizes) of d, or d
// itself when there are no clusters.
void Units(std::span<const double> d, std::span<const int64_t> cluster, std::vector<double>* sums,
           std::vector<double>* sizes) {
  sums->clear();
  sizes->clear();
  if (cluster.empty()) {
    sums->assign(d.begin(), d.end());
    sizes->assign(d.size(), 1.0);
    return;
  }
  std::map<int64_t, size_t> index;
  for (size_t i = 0; i < d.size(); ++i) {
    auto [it, fresh] = index.emplace(cluster[i], sums->size());
    if (fresh) {
      sums->push_back(0);
      sizes->push_back(0);
    }
    (*sums)[it->second] += d[i];
    (*sizes)[it->second] += 1;
  }
}

// Quantile of sorted values with linear interpolation between order statistics (numpy "linear").
double SortedQuantile(const std::vector<double>& v, double q) {
  double h = (static_cast<double>(v.size()) - 1) * q;
  size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (h - static_cast<double>(lo)) * (v[lo + 1] - v[lo]);
}

}  // namespace

TTestResult TTestFromSe(double mean_diff, double se, double df, double alpha) {
  TTestResult r;
  r.mean_diff = mean_diff;
  r.se = se;
  r.df = df;
  if (std::isnan(mean_diff) || std::isnan(se) || !(df > 0)) {
    r.t = r.p_value = r.ci_low = r.ci_high = kNaN;
    return r;
  }
  if (se == 0) {
    r.t = mean_diff == 0 ? 0 : std::copysign(kInf, mean_diff);
    r.p_value = mean_diff == 0 ? 1 : 0;
    r.ci_low = r.ci_high = mean_diff;
    return r;
  }
  r.t = mean_diff / se;
  r.p_value = StudentTTwoSidedP(r.t, df);
  double q = StudentTQuantile(1 - alpha / 2, df);
  r.ci_low = mean_diff - q * se;
  r.ci_high = mean_diff + q * se;
  return r;
}

TTestResult OneSampleTTest(std::span<const double> diffs, double alpha) {
  double n = static_cast<double>(diffs.size());
  return TTestFromSe(Mean(diffs), StdError(diffs), diffs.size() >= 2 ? n - 1 : kNaN, alpha);
}

TTestResult PairedTTest(std::span<const double> baseline, std::span<const double> treatment,
                        double alpha) {
  if (baseline.size() != treatment.size()) return TTestFromSe(kNaN, kNaN, kNaN, alpha);
  std::vector<double> d(baseline.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = treatment[i] - baseline[i];
  return OneSampleTTest(d, alpha);
}

WelchResult WelchTTest(std::span<const double> baseline, std::span<const double> treatment,
                       double alpha) {
  WelchResult r;
  r.n_baseline = static_cast<int64_t>(baseline.size());
  r.n_treatment = static_cast<int64_t>(treatment.size());
  r.mean_baseline = Mean(baseline);
  r.mean_treatment = Mean(treatment);
  r.var_baseline = SampleVariance(baseline);
  r.var_treatment = SampleVariance(treatment);
  double na = static_cast<double>(baseline.size()), nb = static_cast<double>(treatment.size());
  double va = r.var_baseline / na, vb = r.var_treatment / nb;
  double se = std::sqrt(va + vb);
  double df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  if (va + vb == 0) df = na + nb - 2;
  static_cast<TTestResult&>(r) = TTestFromSe(r.mean_treatment - r.mean_baseline, se, df, alpha);
  return r;
}

McNemarResult McNemar(int64_t baseline_only, int64_t treatment_only) {
  McNemarResult r;
  r.baseline_only = baseline_only;
  r.treatment_only = treatment_only;
  int64_t n = baseline_only + treatment_only;
  if (n <= 0 || baseline_only < 0 || treatment_only < 0) return r;
  int64_t k = std::min(baseline_only, treatment_only);
  double log_half_n = -static_cast<double>(n) * std::log(2.0);
  double cdf = 0, pmf_k = 0;
  for (int64_t i = 0; i <= k; ++i) {
    double pmf = std::exp(LogChoose(n, i) + log_half_n);
    cdf += pmf;
    if (i == k) pmf_k = pmf;
  }
  r.p_exact = std::min(1.0, 2 * cdf);
  r.p_mid = std::min(1.0, 2 * cdf - pmf_k);
  double diff = std::fabs(static_cast<double>(baseline_only - treatment_only)) - 1;
  if (diff < 0) diff = 0;
  r.chi2 = diff * diff / static_cast<double>(n);
  r.chi2_p = std::erfc(std::sqrt(r.chi2 / 2));  // survival of chi-square with 1 df
  return r;
}

PermutationResult PairedPermutationTest(std::span<const double> d, uint64_t seed, int64_t flips,
                                        int max_exact_units, std::span<const int64_t> cluster) {
  PermutationResult r;
  if (d.empty() || (!cluster.empty() && cluster.size() != d.size())) {
    r.p_value = kNaN;
    return r;
  }
  std::vector<double> sums, sizes;
  Units(d, cluster, &sums, &sizes);
  std::vector<double> u;
  double observed = 0, scale = 0;
  for (double s : sums) {
    if (s != 0) u.push_back(s);
    observed += s;
    scale += std::fabs(s);
  }
  observed = std::fabs(observed);
  // Sign patterns reach the observed |sum| up to rounding of the sums themselves.
  double threshold = observed - 1e-9 * scale;
  size_t m = u.size();
  if (m == 0) {  // every difference is 0: every pattern ties
    r.exact = true;
    r.flips = 1;
    return r;
  }
  if (static_cast<int>(m) <= max_exact_units && m < 63) {
    // Gray-code enumeration: consecutive patterns differ in one sign.
    uint64_t total = uint64_t{1} << m;
    std::vector<int> sign(m, 1);
    double s = 0;
    for (double v : u) s += v;
    uint64_t hits = std::fabs(s) >= threshold ? 1 : 0;
    for (uint64_t i = 1; i < total; ++i) {
      int j = std::countr_zero(i);
      s -= 2.0 * sign[j] * u[j];
      sign[j] = -sign[j];
      if (std::fabs(s) >= threshold) ++hits;
    }
    r.exact = true;
    r.flips = static_cast<int64_t>(total);
    r.p_value = static_cast<double>(hits) / static_cast<double>(total);
    return r;
  }
  Rng rng(seed);
  int64_t hits = 0;
  for (int64_t f = 0; f < flips; ++f) {
    double s = 0;
    uint64_t bits = 0;
    for (size_t j = 0; j < m; ++j) {
      if (j % 64 == 0) bits = rng.Next();
      s += (bits & 1) ? u[j] : -u[j];
      bits >>= 1;
    }
    if (std::fabs(s) >= threshold) ++hits;
  }
  r.flips = flips;
  r.p_value = static_cast<double>(hits + 1) / static_cast<double>(flips + 1);
  return r;
}

BootstrapResult PairedBootstrapCi(std::span<const double> d, uint64_t seed, int64_t resamples,
                                  double alpha, std::span<const int64_t> cluster) {
  BootstrapResult r;
  r.resamples = resamples;
  if (d.empty() || resamples < 1 || (!cluster.empty() && cluster.size() != d.size())) {
    r.ci_low = r.ci_high = r.se = kNaN;
    return r;
  }
  std::vector<double> sums, sizes;
  Units(d, cluster, &sums, &sizes);
  uint64_t g = sums.size();
  Rng rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& mean : means) {
    double s = 0, count = 0;
    for (uint64_t i = 0; i < g; ++i) {
      uint64_t j = rng.Below(g);
      s += sums[j];
      count += sizes[j];
    }
    mean = s / count;
  }
  r.se = SampleSd(means);
  if (resamples < 2) r.se = kNaN;
  std::sort(means.begin(), means.end());
  r.ci_low = SortedQuantile(means, alpha / 2);
  r.ci_high = SortedQuantile(means, 1 - alpha / 2);
  return r;
}

double MinimumDetectableEffect(double se_diff, double alpha, double power) {
  return (NormalQuantile(1 - alpha / 2) + NormalQuantile(power)) * se_diff;
}

double DiscordantPairsSe(int64_t n, int64_t discordant) {
  if (n <= 0) return kNaN;
  return std::sqrt(static_cast<double>(discordant)) / static_cast<double>(n);
}

}  // namespace inloop::stats
