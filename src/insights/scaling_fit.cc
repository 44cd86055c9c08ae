#include "insights/scaling_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "stats/distributions.h"

namespace inloop::insights {

Status FitScaling(std::span<const double> x, std::span<const double> loss,
                  const ScalingOptions& options, ScalingFitResult* out) {
  *out = ScalingFitResult();
  out->level = options.level;
  if (x.size() != loss.size())
    return Status::Invalid(fmt::format("{} x values but {} losses", x.size(), loss.size()));
  int min_points = std::max(options.min_points, 4);
  if (static_cast<int>(x.size()) < min_points)
    return Status::Invalid(fmt::format("needs at least {} runs; has {}", min_points, x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0) || !std::isfinite(x[i]))
      return Status::Invalid(fmt::format("x = {} is not a positive number", x[i]));
    if (!std::isfinite(loss[i])) return Status::Invalid(fmt::format("the loss at x = {} is not finite", x[i]));
  }
  INLOOP_RETURN_IF_ERROR(FitSeparable(Basis::kPower, x, loss, &out->fit));
  const SeparableFit& f = out->fit;
  out->n = f.n;
  out->df = f.n - 3;
  out->x_min = *std::min_element(x.begin(), x.end());
  out->x_max = *std::max_element(x.begin(), x.end());
  double mean = 0;
  for (double v : loss) mean += v;
  mean /= static_cast<double>(loss.size());
  double sst = 0;
  for (double v : loss) sst += (v - mean) * (v - mean);
  out->r2 = sst > 0 ? 1 - f.sse / sst : (f.sse == 0 ? 1 : 0);
  double q = stats::StudentTQuantile(0.5 + options.level / 2, static_cast<double>(out->df));
  out->t_quantile = q;
  out->a = {f.a - q * f.se_a, f.a + q * f.se_a};
  out->b = {f.b - q * f.se_b, f.b + q * f.se_b};
  out->c = {f.c - q * f.se_c, f.c + q * f.se_c};
  out->at_default = !options.at.has_value();
  out->at = options.at ? *options.at : 10 * out->x_max;
  if (!(out->at > 0) || !std::isfinite(out->at))
    return Status::Invalid(fmt::format("cannot predict at x = {}: it must be a positive number", out->at));
  out->predicted = Evaluate(f, out->at);
  double vc = CurveVariance(f, out->at);  // NaN without a covariance: the intervals say so
  double vp = vc + f.sigma * f.sigma;
  out->predicted_ci = {out->predicted - q * std::sqrt(vc), out->predicted + q * std::sqrt(vc)};
  out->predicted_pi = {out->predicted - q * std::sqrt(vp), out->predicted + q * std::sqrt(vp)};
  return Status::OK();
}

}  // namespace inloop::insights
