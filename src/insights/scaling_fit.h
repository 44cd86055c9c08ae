// Scaling fit: the power law L(C) = a * C^-b + c of final loss against compute or tokens across
// runs (curve_fit.h's pow3), with intervals for a, b, c and the predicted loss at the next scale.
// Intervals are Jacobian-based: standard errors from s^2 (J'J)^-1 at the least-squares optimum
// and Student t quantiles with n - 3 degrees of freedom (Wald intervals; with few runs they are
// wide, as they should be). The prediction has both a confidence interval of the fitted curve and
// a prediction interval for one new run (adding the residual variance).
// Pure numerics; the points come from the caller.
#pragma once

#include <optional>
#include <span>

#include "common/status.h"
#include "insights/curve_fit.h"

namespace inloop::insights {

struct ScalingOptions {
  double level = 0.95;       // two-sided level of every interval
  std::optional<double> at;  // where to predict; default 10x the largest x
  int min_points = 4;        // n - 3 >= 1 degree of freedom for the residual variance
};

struct Interval {
  double lo = 0, hi = 0;
};

struct ScalingFitResult {
  SeparableFit fit;  // a, b, c, their standard errors, the residual SD
  int n = 0;
  int df = 0;        // n - 3
  double level = 0.95;
  double t_quantile = 0;
  Interval a, b, c;  // estimate -+ t * se
  double x_min = 0, x_max = 0;
  double r2 = 0;     // 1 - SSE / SS_total of the losses
  double at = 0;     // where the prediction is
  bool at_default = true;
  double predicted = 0;
  Interval predicted_ci;  // of the curve (the expected loss at `at`)
  Interval predicted_pi;  // of one new run's loss at `at`
};

// REQUIRES x.size() == loss.size(); x > 0 and every value finite (Invalid otherwise). Invalid
// with fewer than min_points points or fewer than 3 distinct x, or when `at` is not > 0.
Status FitScaling(std::span<const double> x, std::span<const double> loss,
                  const ScalingOptions& options, ScalingFitResult* out);

}  // namespace inloop::insights
