// KS and chi-square, following Numerical Recipes' probks and the regularized incomplete gamma
// (series below a + 1, Lentz's continued fraction above).
#include "stats/two_sample.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace inloop::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double KolmogorovSf(double lambda) {
  if (lambda < 1e-3) return 1;
  double sum = 0, sign = 1, prev = 0;
  for (int k = 1; k <= 200; ++k) {
    double term = sign * std::exp(-2.0 * k * k * lambda * lambda);
    sum += term;
    if (std::fabs(term) <= 1e-12 * std::fabs(sum) || std::fabs(term) <= 1e-300) return std::clamp(2 * sum, 0.0, 1.0);
    sign = -sign;
    prev = term;
  }
  (void)prev;
  return 1;
}

// Regularized upper incomplete gamma Q(a, x).
double GammaQ(double a, double x) {
  if (x < 0 || a <= 0) return kNaN;
  if (x == 0) return 1;
  int sg = 0;
  double gln = lgamma_r(a, &sg);
  if (x < a + 1) {
    double ap = a, sum = 1.0 / a, del = sum;
    for (int n = 0; n < 1000; ++n) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-15) break;
    }
    return std::clamp(1.0 - sum * std::exp(-x + a * std::log(x) - gln), 0.0, 1.0);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::clamp(std::exp(-x + a * std::log(x) - gln) * h, 0.0, 1.0);
}

}  // namespace

double ChiSquareSf(double x, double df) {
  if (!(df > 0) || std::isnan(x)) return kNaN;
  if (x <= 0) return 1;
  return GammaQ(df / 2, x / 2);
}

KsResult KsTwoSample(std::span<const double> a, std::span<const double> b) {
  std::vector<double> x, y;
  for (double v : a) if (!std::isnan(v)) x.push_back(v);
  for (double v : b) if (!std::isnan(v)) y.push_back(v);
  KsResult r;
  r.n_a = static_cast<int64_t>(x.size());
  r.n_b = static_cast<int64_t>(y.size());
  if (x.empty() || y.empty()) {
    r.d = r.p_value = kNaN;
    return r;
  }
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  size_t i = 0, j = 0;
  double d = 0;
  const double na = static_cast<double>(x.size()), nb = static_cast<double>(y.size());
  while (i < x.size() && j < y.size()) {
    double v = std::min(x[i], y[j]);
    while (i < x.size() && x[i] == v) ++i;
    while (j < y.size() && y[j] == v) ++j;
    d = std::max(d, std::fabs(i / na - j / nb));
  }
  r.d = d;
  double en = std::sqrt(na * nb / (na + nb));
  r.p_value = KolmogorovSf((en + 0.12 + 0.11 / en) * d);
  return r;
}

ChiSquareResult ChiSquareHomogeneity(std::span<const double> a, std::span<const double> b) {
  ChiSquareResult r;
  double ta = 0, tb = 0;
  size_t k = std::min(a.size(), b.size());
  int cats = 0;
  for (size_t i = 0; i < k; ++i) {
    ta += a[i];
    tb += b[i];
    if (a[i] + b[i] > 0) ++cats;
  }
  double n = ta + tb;
  if (ta <= 0 || tb <= 0 || cats < 2) {
    r.chi2 = r.df = r.p_value = r.cramers_v = kNaN;
    return r;
  }
  double chi2 = 0;
  for (size_t i = 0; i < k; ++i) {
    double col = a[i] + b[i];
    if (col <= 0) continue;
    double ea = col * ta / n, eb = col * tb / n;
    chi2 += (a[i] - ea) * (a[i] - ea) / ea + (b[i] - eb) * (b[i] - eb) / eb;
  }
  r.chi2 = chi2;
  r.df = cats - 1;
  r.p_value = ChiSquareSf(chi2, r.df);
  r.cramers_v = std::sqrt(chi2 / n);
  return r;
}

}  // namespace inloop::stats
