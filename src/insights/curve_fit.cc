#include "insights/curve_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

namespace inloop::insights {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kGrid = 80;          // log-spaced values of b in the first pass
constexpr int kGoldenSteps = 64;   // bracket shrinks by 0.618^64 ~ 1e-13

// Every basis is exp(-b * t(x)) for a per-basis transform t; the search range of b is in these
// scaled units.
struct BasisSpec {
  double b_lo, b_hi;
};
BasisSpec Spec(Basis b) {
  switch (b) {
    case Basis::kPower: return {1e-4, 10};    // t = ln(x / s), s = geometric mean of x
    case Basis::kExp: return {1e-3, 500};     // t = x / s, s = max x
    case Basis::kLogPower: return {1e-3, 30};  // t = ln(ln(1 + x))
  }
  return {1e-3, 10};
}

double Transform(Basis basis, double scale, double x) {
  switch (basis) {
    case Basis::kPower: return std::log(x / scale);
    case Basis::kExp: return x / scale;
    case Basis::kLogPower: return std::log(std::log1p(x));
  }
  return kNaN;
}

bool InDomain(Basis basis, double x) {
  if (!std::isfinite(x)) return false;
  return basis == Basis::kExp ? x >= 0 : x > 0;
}

// The best (a, c) for a fixed b, and the SSE at it.
struct Profile {
  double a = 0, c = 0, sse = 0;
};
Profile SolveLinear(double b, std::span<const double> t, std::span<const double> y,
                    std::vector<double>* g) {
  size_t n = t.size();
  double gm = 0, ym = 0;
  for (size_t i = 0; i < n; ++i) {
    (*g)[i] = std::exp(-b * t[i]);
    gm += (*g)[i];
    ym += y[i];
  }
  gm /= static_cast<double>(n);
  ym /= static_cast<double>(n);
  double sgg = 0, sgy = 0, g2 = 0;
  for (size_t i = 0; i < n; ++i) {
    double dg = (*g)[i] - gm;
    sgg += dg * dg;
    sgy += dg * (y[i] - ym);
    g2 += (*g)[i] * (*g)[i];
  }
  Profile p;
  // A basis that is numerically constant over the data explains nothing beyond the mean.
  if (!(sgg > 1e-24 * g2) || !std::isfinite(sgg)) {
    p.a = 0;
    p.c = ym;
  } else {
    p.a = sgy / sgg;
    p.c = ym - p.a * gm;
  }
  for (size_t i = 0; i < n; ++i) {
    double r = y[i] - p.c - p.a * (*g)[i];
    p.sse += r * r;
  }
  if (!std::isfinite(p.sse)) p.sse = std::numeric_limits<double>::infinity();
  return p;
}

}  // namespace

const char* BasisName(Basis b) {
  switch (b) {
    case Basis::kPower: return "pow3";
    case Basis::kExp: return "exp3";
    case Basis::kLogPower: return "logpow3";
  }
  return "?";
}

const char* BasisFormula(Basis b) {
  switch (b) {
    case Basis::kPower: return "c + a*x^-b";
    case Basis::kExp: return "c + a*exp(-b*x)";
    case Basis::kLogPower: return "c + a*ln(1+x)^-b";
  }
  return "?";
}

bool InvertInPlace(double* m, int n, double tiny) {
  double biggest = 0;
  for (int i = 0; i < n * n; ++i) biggest = std::max(biggest, std::fabs(m[i]));
  if (!(biggest > 0) || !std::isfinite(biggest)) return false;
  std::vector<int> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  for (int col = 0; col < n; ++col) {
    int piv = col;
    for (int r = col + 1; r < n; ++r)
      if (std::fabs(m[r * n + col]) > std::fabs(m[piv * n + col])) piv = r;
    if (std::fabs(m[piv * n + col]) <= tiny * biggest) return false;
    if (piv != col) {
      for (int k = 0; k < n; ++k) std::swap(m[piv * n + k], m[col * n + k]);
      std::swap(perm[piv], perm[col]);
    }
    // In-place Gauss-Jordan: the pivot column becomes the inverse's column.
    double inv = 1.0 / m[col * n + col];
    m[col * n + col] = 1.0;
    for (int k = 0; k < n; ++k) m[col * n + k] *= inv;
    for (int r = 0; r < n; ++r) {
      if (r == col) continue;
      double f = m[r * n + col];
      if (f == 0) continue;
      m[r * n + col] = 0.0;
      for (int k = 0; k < n; ++k) m[r * n + k] -= f * m[col * n + k];
    }
  }
  // Row swaps of the input are column swaps of the inverse, undone in reverse order.
  std::vector<double> tmp(static_cast<size_t>(n) * n);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) tmp[r * n + perm[c]] = m[r * n + c];
  std::copy(tmp.begin(), tmp.end(), m);
  return true;
}

Status FitSeparable(Basis basis, std::span<const double> x, std::span<const double> y,
                    SeparableFit* out) {
  *out = SeparableFit();
  out->basis = basis;
  if (x.size() != y.size())
    return Status::Invalid(fmt::format("{} x values but {} y values", x.size(), y.size()));
  size_t n = x.size();
  for (size_t i = 0; i < n; ++i) {
    if (!InDomain(basis, x[i]))
      return Status::Invalid(fmt::format("x = {} is outside the domain of {}", x[i],
                                         BasisFormula(basis)));
    if (!std::isfinite(y[i])) return Status::Invalid(fmt::format("y at x = {} is not finite", x[i]));
  }
  std::vector<double> xs(x.begin(), x.end());
  std::sort(xs.begin(), xs.end());
  size_t distinct = xs.empty() ? 0 : 1;
  for (size_t i = 1; i < xs.size(); ++i) distinct += xs[i] != xs[i - 1];
  if (n < 3 || distinct < 3)
    return Status::Invalid(fmt::format("{} needs at least 3 distinct x values; got {}",
                                       BasisFormula(basis), distinct));

  double scale = 1;
  if (basis == Basis::kPower) {
    double lm = 0;
    for (double v : x) lm += std::log(v);
    scale = std::exp(lm / static_cast<double>(n));
  } else if (basis == Basis::kExp) {
    scale = xs.back() > 0 ? xs.back() : 1;
  }
  std::vector<double> t(n), g(n);
  for (size_t i = 0; i < n; ++i) t[i] = Transform(basis, scale, x[i]);

  BasisSpec spec = Spec(basis);
  double llo = std::log(spec.b_lo), lhi = std::log(spec.b_hi);
  int best = 0;
  double best_sse = std::numeric_limits<double>::infinity();
  std::vector<double> grid(kGrid);
  for (int k = 0; k < kGrid; ++k) {
    grid[k] = llo + (lhi - llo) * k / (kGrid - 1);
    double s = SolveLinear(std::exp(grid[k]), t, y, &g).sse;
    if (s < best_sse) {
      best_sse = s;
      best = k;
    }
  }
  // Golden-section search of the bracket around the best grid value, in log b.
  double lo = grid[std::max(0, best - 1)], hi = grid[std::min(kGrid - 1, best + 1)];
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double p1 = hi - phi * (hi - lo), p2 = lo + phi * (hi - lo);
  double f1 = SolveLinear(std::exp(p1), t, y, &g).sse;
  double f2 = SolveLinear(std::exp(p2), t, y, &g).sse;
  for (int it = 0; it < kGoldenSteps; ++it) {
    if (f1 <= f2) {
      hi = p2;
      p2 = p1;
      f2 = f1;
      p1 = hi - phi * (hi - lo);
      f1 = SolveLinear(std::exp(p1), t, y, &g).sse;
    } else {
      lo = p1;
      p1 = p2;
      f1 = f2;
      p2 = lo + phi * (hi - lo);
      f2 = SolveLinear(std::exp(p2), t, y, &g).sse;
    }
  }
  double lb = f1 <= f2 ? p1 : p2;
  // The refinement never does worse than the grid's best point.
  if (std::min(f1, f2) > best_sse) lb = grid[best];
  double b = std::exp(lb);
  Profile p = SolveLinear(b, t, y, &g);
  const double edge = (lhi - llo) / (kGrid - 1);
  out->b_at_bound = lb <= llo + 0.5 * edge || lb >= lhi - 0.5 * edge;

  out->n = static_cast<int>(n);
  out->sse = p.sse;
  out->scale = scale;
  out->a_scaled = p.a;
  out->c = p.c;
  out->sigma = n > 3 ? std::sqrt(p.sse / static_cast<double>(n - 3)) : 0;

  // J'J with J = [d/da, d/db, d/dc] = [g, -a t g, 1] on the scaled parameters.
  double jtj[9] = {0};
  for (size_t i = 0; i < n; ++i) {
    double row[3] = {g[i], -p.a * t[i] * g[i], 1.0};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) jtj[r * 3 + c] += row[r] * row[c];
  }
  out->cov_ok = n > 3 && InvertInPlace(jtj, 3);
  double s2 = out->sigma * out->sigma;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out->cov[r][c] = out->cov_ok ? s2 * jtj[r * 3 + c] : kNaN;

  // Back to x's own units: Power a = a_s * s^b; Exp b = b_s / s. T is d(orig)/d(scaled).
  double T[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  out->a = p.a;
  out->b = b;
  if (basis == Basis::kPower) {
    double sb = std::pow(scale, b);
    out->a = p.a * sb;
    T[0][0] = sb;
    T[0][1] = p.a * sb * std::log(scale);
  } else if (basis == Basis::kExp) {
    out->b = b / scale;
    T[1][1] = 1 / scale;
  }
  double var[3];
  for (int k = 0; k < 3; ++k) {
    double v = 0;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) v += T[k][r] * out->cov[r][c] * T[k][c];
    var[k] = v;
  }
  out->se_a = out->cov_ok ? std::sqrt(std::max(0.0, var[0])) : kNaN;
  out->se_b = out->cov_ok ? std::sqrt(std::max(0.0, var[1])) : kNaN;
  out->se_c = out->cov_ok ? std::sqrt(std::max(0.0, var[2])) : kNaN;
  return Status::OK();
}

double Evaluate(const SeparableFit& f, double x) {
  double b_scaled = f.basis == Basis::kExp ? f.b * f.scale : f.b;
  return f.c + f.a_scaled * std::exp(-b_scaled * Transform(f.basis, f.scale, x));
}

double CurveVariance(const SeparableFit& f, double x) {
  if (!f.cov_ok) return kNaN;
  double b_scaled = f.basis == Basis::kExp ? f.b * f.scale : f.b;
  double t = Transform(f.basis, f.scale, x);
  double g = std::exp(-b_scaled * t);
  double grad[3] = {g, -f.a_scaled * t * g, 1.0};
  double v = 0;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) v += grad[r] * f.cov[r][c] * grad[c];
  return std::max(0.0, v);
}

}  // namespace inloop::insights
