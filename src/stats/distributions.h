// Distribution functions: the standard normal CDF and quantile, the regularized incomplete beta
// function, and Student's t CDF and quantile (any real df > 0). Tail probabilities are computed
// directly (not as 1 - CDF), so p-values of ~1e-300 keep their relative accuracy; the t CDF is
// accurate to ~1e-12 relative in the tails. Thread-safe: no global state (lgamma_r, not lgamma).
#pragma once

namespace inloop::stats {

// Standard normal CDF, Phi(x).
double NormalCdf(double x);
// Upper tail, 1 - Phi(x), without cancellation.
double NormalSf(double x);
// Phi^{-1}(p) for p in (0, 1); -inf/+inf at 0/1; NaN outside [0, 1].
double NormalQuantile(double p);

// Regularized incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1]; NaN otherwise.
double IncompleteBetaRegularized(double a, double b, double x);

// Student's t CDF with df > 0 degrees of freedom (df = +inf gives the normal).
double StudentTCdf(double t, double df);
// Upper tail P(T > t).
double StudentTSf(double t, double df);
// Two-sided p-value P(|T| >= |t|).
double StudentTTwoSidedP(double t, double df);
// Quantile: the t with StudentTCdf(t, df) = p, p in (0, 1); -inf/+inf at 0/1; NaN otherwise.
double StudentTQuantile(double p, double df);

}  // namespace inloop::stats
