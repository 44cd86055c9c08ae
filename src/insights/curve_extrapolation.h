// Learning-curve extrapolation: predicts the value a running run's metric will have at a later
// step (its planned last step) from the curve so far, with a calibrated interval.
//   1. Each family of curve_fit.h (pow3, exp3, logpow3) is fitted on the first part of the
//      observed curve and scored by its RMSE on the held-out last part; the best one wins.
//   2. The winner is refitted on every observed point and evaluated at the horizon.
//   3. Interval: a prediction interval for the value logged at the horizon, t quantile times
//      sqrt(curve variance (delta method) + residual variance), so it widens with the distance of
//      the extrapolation through the curve's parameter uncertainty. It is then widened by the
//      calibration factor k = max(1, RMS of standardized backtest errors): the held-out errors
//      of step 1, and the errors at the last observed point of the winner fitted on the first
//      half and the first two thirds (longer-range backtests), each in units of the SD its own
//      fit predicted. When the family extrapolated the past worse than its error model said, the
//      interval at the horizon is widened by the same ratio.
// Calibration: on curves of one of the families with Gaussian noise the 90% interval covers the
// value logged at the horizon ~90-93% of the time (tests/insights). On curves of another shape
// (an offset power law, a sum of exponentials) with little noise it is too narrow: no family can
// know the shape beyond the data, and the backtests only partly see it.
// Pure numerics; the points come from the caller.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "insights/curve_fit.h"

namespace inloop::insights {

struct ExtrapolationOptions {
  double holdout_fraction = 0.2;  // last part of the observed points used to pick the family
  int max_points = 400;           // longer curves are thinned (evenly, keeping the last point)
  double level = 0.9;             // two-sided coverage of the interval
  int min_points = 8;
};

struct FamilyTrial {
  Basis basis = Basis::kPower;
  bool ok = false;
  double holdout_rmse = 0;  // NaN when the family could not be fitted
  std::string error;        // why not, when !ok
};

struct Extrapolation {
  SeparableFit fit;                 // the winning family, fitted on every point used
  std::vector<FamilyTrial> trials;  // every family, in kAllBases order
  int points_used = 0;              // after thinning
  int holdout_points = 0;
  double last_x = 0, last_y = 0;    // the last observed point
  double horizon = 0;
  double predicted = 0;             // the fitted curve at the horizon
  double lo = 0, hi = 0;            // the `level` prediction interval
  double level = 0.9;
  double calibration = 1;           // k >= 1, the widening from the held-out errors
};

// REQUIRES x ascending. Points with x <= 0 or a non-finite y must be filtered out by the caller
// (Invalid otherwise). Invalid when there are fewer than options.min_points points, when the
// horizon is not beyond the last x, or when no family could be fitted.
Status ExtrapolateCurve(std::span<const double> x, std::span<const double> y, double horizon,
                        const ExtrapolationOptions& options, Extrapolation* out);

}  // namespace inloop::insights
