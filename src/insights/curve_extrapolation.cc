#include "insights/curve_extrapolation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "stats/distributions.h"

namespace inloop::insights {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Variance of one new observation at x under fit f: the curve's own variance plus the residual
// variance. A fit whose Jacobian is singular (a flat curve: a ~ 0 leaves b undetermined) falls
// back to the variance of a mean, s^2 (1 + 1/n).
double ObservationVariance(const SeparableFit& f, double x) {
  double s2 = f.sigma * f.sigma;
  if (!f.cov_ok) return s2 * (1 + 1.0 / std::max(1, f.n));
  return CurveVariance(f, x) + s2;
}

}  // namespace

Status ExtrapolateCurve(std::span<const double> x, std::span<const double> y, double horizon,
                        const ExtrapolationOptions& options, Extrapolation* out) {
  *out = Extrapolation();
  out->level = options.level;
  out->horizon = horizon;
  if (x.size() != y.size())
    return Status::Invalid(fmt::format("{} steps but {} values", x.size(), y.size()));
  size_t n = x.size();
  if (n < static_cast<size_t>(std::max(options.min_points, 6)))
    return Status::Invalid(fmt::format("needs at least {} points; has {}",
                                       std::max(options.min_points, 6), n));
  for (size_t i = 0; i < n; ++i) {
    if (!(x[i] > 0) || !std::isfinite(x[i]) || !std::isfinite(y[i]))
      return Status::Invalid(fmt::format("point {} (step {}, value {}) is not usable", i, x[i], y[i]));
    if (i > 0 && x[i] < x[i - 1]) return Status::Invalid("steps are not ascending");
  }
  out->last_x = x[n - 1];
  out->last_y = y[n - 1];
  if (!(horizon > out->last_x))
    return Status::Invalid(fmt::format("the horizon {} is not beyond the last step {}", horizon,
                                       out->last_x));

  // Thin evenly, keeping the first and the last point.
  std::vector<double> xs, ys;
  size_t m = std::min<size_t>(n, static_cast<size_t>(std::max(options.max_points, 8)));
  for (size_t k = 0; k < m; ++k) {
    size_t i = m == n ? k : static_cast<size_t>(std::llround(static_cast<double>(k) * (n - 1) / (m - 1)));
    xs.push_back(x[i]);
    ys.push_back(y[i]);
  }
  out->points_used = static_cast<int>(m);
  size_t h = std::max<size_t>(2, static_cast<size_t>(std::llround(options.holdout_fraction * m)));
  h = std::min(h, m - 4);
  out->holdout_points = static_cast<int>(h);
  size_t train = m - h;
  std::span<const double> tx(xs.data(), train), ty(ys.data(), train);

  int winner = -1;
  double winner_z = kNaN;
  for (Basis basis : kAllBases) {
    FamilyTrial trial;
    trial.basis = basis;
    SeparableFit f;
    Status s = FitSeparable(basis, tx, ty, &f);
    if (!s.ok()) {
      trial.holdout_rmse = kNaN;
      trial.error = s.message();
      out->trials.push_back(trial);
      continue;
    }
    double se = 0, z2 = 0;
    for (size_t i = train; i < m; ++i) {
      double e = ys[i] - Evaluate(f, xs[i]);
      se += e * e;
      double v = ObservationVariance(f, xs[i]);
      z2 += v > 0 ? e * e / v : (e == 0 ? 0 : std::numeric_limits<double>::infinity());
    }
    trial.holdout_rmse = std::sqrt(se / static_cast<double>(h));
    trial.ok = std::isfinite(trial.holdout_rmse);
    if (!trial.ok) trial.error = "its held-out prediction is not finite";
    out->trials.push_back(trial);
    if (trial.ok && (winner < 0 || trial.holdout_rmse < out->trials[winner].holdout_rmse)) {
      winner = static_cast<int>(out->trials.size()) - 1;
      winner_z = std::sqrt(z2 / static_cast<double>(h));
    }
  }
  if (winner < 0) {
    std::string why;
    for (auto& t : out->trials) why += fmt::format("; {}: {}", BasisName(t.basis), t.error);
    return Status::Invalid("no curve family could be fitted" + why);
  }
  Basis chosen = out->trials[winner].basis;
  INLOOP_RETURN_IF_ERROR(FitSeparable(chosen, xs, ys, &out->fit));
  // Backtests at longer range: the winner fitted on the first half and the first two thirds,
  // each scored at the last observed point in units of its own predicted SD.
  double zz = std::isfinite(winner_z) ? winner_z * winner_z : 0;
  int nz = std::isfinite(winner_z) ? 1 : 0;
  for (double frac : {0.5, 2.0 / 3}) {
    size_t k = static_cast<size_t>(frac * m);
    if (k < 6) continue;
    SeparableFit f;
    if (!FitSeparable(chosen, std::span<const double>(xs.data(), k),
                      std::span<const double>(ys.data(), k), &f).ok()) continue;
    double e = ys[m - 1] - Evaluate(f, xs[m - 1]);
    double v = ObservationVariance(f, xs[m - 1]);
    if (!(v > 0) || !std::isfinite(e)) continue;
    zz += e * e / v;
    nz++;
  }
  out->calibration = nz > 0 ? std::max(1.0, std::sqrt(zz / nz)) : 1.0;
  out->predicted = Evaluate(out->fit, horizon);
  double sd = std::sqrt(ObservationVariance(out->fit, horizon));
  double q = stats::StudentTQuantile(0.5 + options.level / 2, static_cast<double>(m - 3));
  double half = q * out->calibration * sd;
  out->lo = out->predicted - half;
  out->hi = out->predicted + half;
  if (!std::isfinite(out->predicted) || !std::isfinite(half))
    return Status::Invalid(fmt::format("the {} fit does not give a finite value at step {}",
                                       BasisName(chosen), horizon));
  return Status::OK();
}

}  // namespace inloop::insights
