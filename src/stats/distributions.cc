#include "stats/distributions.h"

#include <math.h>  // lgamma_r: reentrant, unlike std::lgamma (which writes signgam)

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace inloop::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double LogGamma(double x) {
  int sign = 0;
  return ::lgamma_r(x, &sign);
}

double LogBeta(double a, double b) { return LogGamma(a) + LogGamma(b) - LogGamma(a + b); }

// Continued fraction of I_x(a, b) (modified Lentz); converges fast for x < (a+1)/(a+b+2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-16;
  constexpr int kMaxIter = 100000;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIter; ++m) {
    double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return h;
}

// I_x(a, b) and 1 - I_x(a, b), each with relative accuracy, given x and y = 1 - x computed
// without cancellation by the caller.
void BetaIncBoth(double a, double b, double x, double y, double* lower, double* upper) {
  if (x <= 0) { *lower = 0; *upper = 1; return; }
  if (y <= 0) { *lower = 1; *upper = 0; return; }
  double logx = x > 0.5 ? std::log1p(-y) : std::log(x);
  double logy = y > 0.5 ? std::log1p(-x) : std::log(y);
  double logfront = a * logx + b * logy - LogBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    *lower = std::exp(logfront) * BetaContinuedFraction(a, b, x) / a;
    *upper = 1 - *lower;
  } else {
    *upper = std::exp(logfront) * BetaContinuedFraction(b, a, y) / b;
    *lower = 1 - *upper;
  }
}

// P(|T| > |t|) and P(|T| < |t|) for Student's t with df degrees of freedom.
void TwoSidedTails(double t, double df, double* outside, double* inside) {
  double at = std::fabs(t);
  if (at > 1e150) {  // t*t overflows: the leading term x^a / (a B(a, 1/2)), x = df / t^2
    double a = df / 2;
    *outside = std::exp(a * (std::log(df) - 2 * std::log(at)) - std::log(a) - LogBeta(a, 0.5));
    *inside = 1 - *outside;
    return;
  }
  double t2 = at * at;
  double x = df / (df + t2), y = t2 / (df + t2);
  BetaIncBoth(df / 2, 0.5, x, y, outside, inside);
}

double StudentTPdf(double t, double df) {
  return std::exp(LogGamma((df + 1) / 2) - LogGamma(df / 2) - 0.5 * std::log(df * std::numbers::pi) -
                  (df + 1) / 2 * std::log1p(t * t / df));
}

// Acklam's rational approximation of the normal quantile (relative error ~1e-9) for p <= 0.5.
double AcklamLower(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00, 2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double NormalSf(double x) { return 0.5 * std::erfc(x / std::numbers::sqrt2); }

double NormalQuantile(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return kNaN;
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  if (p > 0.5) return -NormalQuantile(1 - p);
  double x = AcklamLower(p);
  // Halley steps on Phi(x) - p: each roughly triples the number of correct digits.
  for (int i = 0; i < 2; ++i) {
    double e = NormalCdf(x) - p;
    double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
    x = x - u / (1 + x * u / 2);
  }
  return x;
}

double IncompleteBetaRegularized(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return kNaN;
  double lower, upper;
  BetaIncBoth(a, b, x, 1 - x, &lower, &upper);
  return lower;
}

double StudentTSf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(df)) return NormalSf(t);
  if (std::isinf(t)) return t > 0 ? 0 : 1;
  double outside, inside;
  TwoSidedTails(t, df, &outside, &inside);
  return t > 0 ? outside / 2 : 0.5 + inside / 2;
}

double StudentTCdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  return StudentTSf(-t, df);
}

double StudentTTwoSidedP(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(df)) return std::erfc(std::fabs(t) / std::numbers::sqrt2);
  if (std::isinf(t)) return 0;
  double outside, inside;
  TwoSidedTails(t, df, &outside, &inside);
  return outside;
}

double StudentTQuantile(double p, double df) {
  if (std::isnan(p) || p < 0 || p > 1 || !(df > 0)) return kNaN;
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  if (p == 0.5) return 0;
  if (std::isinf(df)) return NormalQuantile(p);
  double sign = p < 0.5 ? -1 : 1;
  double q = p < 0.5 ? p : 1 - p;  // upper-tail probability of |t|
  if (df == 1) return sign / std::tan(std::numbers::pi * q);
  // Solve log SF(t) = log q for t > 0 by Newton's method in u = log t, kept inside a bracket.
  double z = -NormalQuantile(q);
  double t = z + (z * z * z + z) / (4 * df);  // Cornish-Fisher start
  if (!(t > 1e-300)) t = 1e-3;
  double lo = t, hi = t;
  while (StudentTSf(lo, df) < q && lo > 1e-300) lo /= 2;
  while (StudentTSf(hi, df) > q && hi < 1e300) hi *= 2;
  double logq = std::log(q);
  double u = std::log(t), ulo = std::log(lo), uhi = std::log(hi);
  for (int i = 0; i < 300; ++i) {
    double tt = std::exp(u);
    double sf = StudentTSf(tt, df);
    double h = std::log(sf) - logq;
    if (h > 0) ulo = u; else uhi = u;
    if (h == 0) break;
    double dh = -StudentTPdf(tt, df) * tt / sf;
    double next = u - h / dh;
    if (!(next > ulo && next < uhi)) next = (ulo + uhi) / 2;  // Newton left the bracket: bisect
    double step = std::fabs(next - u);
    u = next;
    if (step < 1e-15 * std::max(1.0, std::fabs(u)) || uhi - ulo < 1e-15) break;
  }
  return sign * std::exp(u);
}

}  // namespace inloop::stats
