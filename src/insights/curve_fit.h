// Nonlinear least squares for the curve families of insights/: y = c + a * g(x; b), one nonlinear
// parameter b and two linear ones (a, c). Fitted by variable projection: for a fixed b the best
// (a, c) is a closed-form linear regression, so the fit is a one-dimensional search of the
// profile SSE(b) (a log-spaced grid, then golden-section refinement of the best bracket). That
// finds the global minimum over b's range without starting values, which a Gauss-Newton or
// Levenberg-Marquardt iteration on (a, b, c) would need. Standard errors come from the Jacobian
// at the optimum: cov = s^2 (J'J)^-1 with s^2 = SSE / (n - 3).
// Pure numerics: no store, no I/O. Not thread-hostile: no global state.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"

namespace inloop::insights {

// g(x; b). Power: (x/s)^-b (x > 0). Exp: exp(-b x/s) (x >= 0). LogPower: ln(1 + x)^-b (x > 0).
// s is a positive scale chosen from the data (the geometric mean of x for Power, max x for Exp)
// so that b's search range is the same whatever the units of x; `a` is reported in x's own units.
enum class Basis { kPower, kExp, kLogPower };
inline constexpr std::array<Basis, 3> kAllBases = {Basis::kPower, Basis::kExp, Basis::kLogPower};

// "pow3", "exp3", "logpow3".
const char* BasisName(Basis b);
// The formula in x's own units, e.g. "c + a*x^-b".
const char* BasisFormula(Basis b);

struct SeparableFit {
  Basis basis = Basis::kPower;
  double a = 0, b = 0, c = 0;  // in x's own units: y = c + a * g_unscaled(x; b)
  int n = 0;                   // points fitted
  double sse = 0;
  double sigma = 0;            // residual SD, sqrt(sse / (n - 3)); 0 when n <= 3
  bool b_at_bound = false;     // the best b is at an end of its search range
  bool cov_ok = false;         // the Jacobian has full rank and n > 3
  // Standard errors of a, b, c (x's own units), NaN when !cov_ok.
  double se_a = 0, se_b = 0, se_c = 0;

  // Internals of the fit, kept for predictions: the scale s and the coefficient on the scaled
  // basis (a = a_scaled * s^b for Power), and cov(a_scaled, b, c).
  double scale = 1;
  double a_scaled = 0;
  std::array<std::array<double, 3>, 3> cov{};
};

// Least-squares fit of y = c + a*g(x; b). REQUIRES x.size() == y.size(). Points with a
// non-finite value, or an x outside the basis's domain, are an Invalid error (filter first);
// fewer than 3 points, or fewer than 2 distinct x, are Invalid too.
Status FitSeparable(Basis basis, std::span<const double> x, std::span<const double> y,
                    SeparableFit* out);

// The fitted curve at x.
double Evaluate(const SeparableFit& f, double x);
// Variance of the fitted curve's value at x (delta method: grad' cov grad). NaN when !cov_ok.
double CurveVariance(const SeparableFit& f, double x);

// Small dense linear algebra: inverts the n x n matrix m (row-major, n <= 8) in place by
// Gauss-Jordan elimination with partial pivoting. False when a pivot is below `tiny` times the
// largest entry (numerically singular); m is then unspecified.
bool InvertInPlace(double* m, int n, double tiny = 1e-13);

}  // namespace inloop::insights
