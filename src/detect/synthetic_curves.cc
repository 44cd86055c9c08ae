// Generation of the labelled synthetic families and their scoring against a DetectorSet. Owns
// the exact shapes documented in synthetic_curves.h; must never change a family silently (the
// numbers in bench/RESULTS.md come from here).
#include "detect/synthetic_curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>

#include "detect/detector_set.h"

namespace inloop::detect::synthetic {
namespace {

double Round(double x, int digits) {
  if (!std::isfinite(x)) return x;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

class Noise {
 public:
  Noise(uint64_t seed, bool heavy) : rng_(seed), heavy_(heavy) {}
  // Unit-variance noise.
  double Draw() { return heavy_ ? t_(rng_) * std::sqrt(3.0 / 5.0) : normal_(rng_); }
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  std::mt19937_64 rng_;
  bool heavy_;
  std::normal_distribution<double> normal_{0, 1};
  std::student_t_distribution<double> t_{5};
};

// Steps of injected anomalies: one per ~1000 steps, jittered, away from the start and the end.
std::vector<int64_t> Positions(Noise* rng, int steps, int first, int margin_end) {
  std::vector<int64_t> out;
  for (int base = first; base < steps - margin_end; base += 1000) {
    int64_t s = base + static_cast<int64_t>(rng->Uniform(-300, 300));
    if (s >= 200 && s < steps - margin_end) out.push_back(s);
  }
  return out;
}

}  // namespace

Curve Generate(const FamilySpec& f, int index) {
  Noise rng(f.seed * 1000003ull + static_cast<uint64_t>(index) * 7919ull + 17, f.heavy_tails);
  Curve c;
  const int n = f.steps;
  std::vector<double> mult(n, 1.0);   // anomaly multiplier on the clean curve
  std::vector<char> nonfinite(n, 0);  // 1 nan, 2 +inf, 3 -inf

  // The clean curve's parameters vary per curve.
  const double floor = rng.Uniform(1.5, 2.5), amp = rng.Uniform(7, 10);
  const double tau = rng.Uniform(10, 30), alpha = rng.Uniform(0.3, 0.45);
  auto base = [&](int64_t s) { return floor + amp * std::pow(1 + s / tau, -alpha); };
  int64_t flat_from = n;  // plateau onset

  switch (f.shape) {
    case Shape::kClean:
      break;
    case Shape::kSpikes: {
      static constexpr int kDurations[] = {1, 1, 2, 3, 5, 8};
      for (int64_t s : Positions(&rng, n, 800, 200)) {
        int d = kDurations[rng.Pick(6)];
        for (int t = 0; t < d && s + t < n; ++t) mult[s + t] = 1 + f.magnitude * std::pow(0.5, t);
        c.events.push_back({FindingKind::kLossSpike, s, s + d - 1});
      }
      break;
    }
    case Shape::kNonFinite: {
      const bool tail = index % 2 == 1;
      for (int64_t s : Positions(&rng, n, 300, tail ? 700 : 100)) {
        nonfinite[s] = static_cast<char>(1 + rng.Pick(3));
        c.events.push_back({FindingKind::kNonFinite, s, s});
      }
      if (tail) {
        int64_t s = n - 500;
        for (int64_t i = s; i < n; ++i) nonfinite[i] = 1;
        c.events.push_back({FindingKind::kNonFinite, s, n - 1});
      }
      break;
    }
    case Shape::kDivergence: {
      int64_t s = static_cast<int64_t>(rng.Uniform(3000, 7000));
      for (int64_t i = s; i < n; ++i) {
        double t = static_cast<double>(i - s);
        switch (index % 3) {
          case 0:
            mult[i] = std::exp(std::min(t / 100, 20.0));
            break;  // blow-up
          case 1:
            mult[i] = 1 + f.magnitude;
            break;  // jump that stays
          case 2:
            mult[i] = 1 + f.magnitude * t / 1000;
            break;  // slow rise
        }
      }
      c.events.push_back({FindingKind::kDivergence, s, n - 1});
      break;
    }
    case Shape::kPlateau: {
      flat_from = static_cast<int64_t>(rng.Uniform(3000, 6000));
      c.events.push_back({FindingKind::kPlateau, flat_from, n - 1});
      break;
    }
    case Shape::kGradSpikes: {
      static constexpr int kDurations[] = {1, 1, 2, 3, 5};
      for (int64_t s : Positions(&rng, n, 600, 200)) {
        int d = kDurations[rng.Pick(5)];
        for (int t = 0; t < d && s + t < n; ++t) mult[s + t] = f.magnitude;
        c.events.push_back({FindingKind::kGradExplosion, s, s + d - 1});
      }
      break;
    }
  }

  c.points.reserve(n);
  if (f.shape == Shape::kGradSpikes) {
    c.key = "grad_norm";
    const double g0 = rng.Uniform(0.5, 2.0);
    for (int64_t s = 0; s < n; ++s) {
      double level = g0 * (0.4 + 0.6 * std::exp(-s / 3000.0)) * (1 + 4 * std::exp(-s / 30.0));
      double v = level * mult[s] * std::exp(f.noise * rng.Draw());
      c.points.push_back({s, 1.7e9 + 0.5 * s, Round(v, f.digits)});
    }
    return c;
  }
  c.key = "train/loss";
  for (int64_t s = 0; s < n; ++s) {
    double v = base(std::min(s, flat_from)) * mult[s] * (1 + f.noise * rng.Draw());
    switch (nonfinite[s]) {
      case 1:
        v = std::numeric_limits<double>::quiet_NaN();
        break;
      case 2:
        v = std::numeric_limits<double>::infinity();
        break;
      case 3:
        v = -std::numeric_limits<double>::infinity();
        break;
      default:
        break;
    }
    c.points.push_back({s, 1.7e9 + 0.5 * s, Round(v, f.digits)});
  }
  return c;
}

std::vector<FamilySpec> StandardCorpus() {
  std::vector<FamilySpec> v;
  auto add = [&](std::string name, Shape shape, double noise, int digits, double magnitude,
                 bool heavy = false, bool beyond = false) {
    FamilySpec f;
    f.name = std::move(name);
    f.shape = shape;
    f.noise = noise;
    f.digits = digits;
    f.magnitude = magnitude;
    f.heavy_tails = heavy;
    f.beyond_defaults = beyond;
    f.seed = v.size() + 1;
    v.push_back(f);
  };
  add("clean noise 0.5% 6 digits", Shape::kClean, 0.005, 6, 0);
  add("clean noise 2% 5 digits", Shape::kClean, 0.02, 5, 0);
  add("clean noise 5% 4 digits", Shape::kClean, 0.05, 4, 0);
  add("clean noise 2% t5 tails", Shape::kClean, 0.02, 5, 0, true);
  add("clean noise 10% t5 tails *", Shape::kClean, 0.10, 4, 0, true, true);
  add("spikes +30% noise 1%", Shape::kSpikes, 0.01, 5, 0.3);
  add("spikes +40% noise 0.5%", Shape::kSpikes, 0.005, 6, 0.4);
  add("spikes +40% noise 2%", Shape::kSpikes, 0.02, 5, 0.4);
  add("spikes +100% noise 2%", Shape::kSpikes, 0.02, 5, 1.0);
  add("spikes +40% noise 5%", Shape::kSpikes, 0.05, 4, 0.4);
  add("spikes +100% noise 5%", Shape::kSpikes, 0.05, 4, 1.0);
  add("spikes +300% noise 2%", Shape::kSpikes, 0.02, 5, 3.0);
  add("spikes +100% t5 tails", Shape::kSpikes, 0.02, 5, 1.0, true);
  add("spikes +100% noise 10% t5 *", Shape::kSpikes, 0.10, 4, 1.0, true, true);
  add("nan/inf noise 2%", Shape::kNonFinite, 0.02, 5, 0);
  add("nan/inf noise 5%", Shape::kNonFinite, 0.05, 4, 0);
  add("divergence +50% noise 2%", Shape::kDivergence, 0.02, 5, 0.5);
  add("plateau noise 2%", Shape::kPlateau, 0.02, 5, 0);
  add("grad x5 log-noise 0.1", Shape::kGradSpikes, 0.1, 4, 5);
  add("grad x20 log-noise 0.3", Shape::kGradSpikes, 0.3, 4, 20);
  add("grad x100 log-noise 0.3", Shape::kGradSpikes, 0.3, 4, 100);
  return v;
}

void KindScore::Add(const KindScore& o) {
  events += o.events;
  detected += o.detected;
  findings += o.findings;
  false_alarms += o.false_alarms;
  latency_sum += o.latency_sum;
  latency_max = std::max(latency_max, o.latency_max);
}

void FamilyScore::Add(const FamilyScore& o) {
  curves += o.curves;
  points += o.points;
  spike.Add(o.spike);
  nonfinite.Add(o.nonfinite);
  divergence.Add(o.divergence);
  plateau.Add(o.plateau);
  grad.Add(o.grad);
}

namespace {

KindScore* ScoreFor(FamilyScore* s, FindingKind k) {
  switch (k) {
    case FindingKind::kLossSpike:
      return &s->spike;
    case FindingKind::kNonFinite:
      return &s->nonfinite;
    case FindingKind::kDivergence:
      return &s->divergence;
    case FindingKind::kPlateau:
      return &s->plateau;
    case FindingKind::kGradExplosion:
      return &s->grad;
    default:
      return nullptr;
  }
}

bool Explains(const Event& e, const Finding& f) {
  const int64_t at = f.step_hi;  // the step of the point that produced the finding
  const bool open_ended = e.kind == FindingKind::kDivergence || e.kind == FindingKind::kPlateau;
  if (f.kind == e.kind) return at >= e.lo && (open_ended || at <= e.hi);
  // Once a run diverged, a spike or a flat stretch at a broken level is no false alarm.
  return e.kind == FindingKind::kDivergence && at >= e.lo &&
         (f.kind == FindingKind::kLossSpike || f.kind == FindingKind::kPlateau);
}

}  // namespace

FamilyScore Evaluate(const FamilySpec& spec, const DetectConfig& config) {
  FamilyScore score;
  score.family = spec.name;
  std::vector<Finding> findings;
  for (int i = 0; i < spec.curves; ++i) {
    Curve c = Generate(spec, i);
    DetectorSet set(config);
    findings.clear();
    for (const Point& p : c.points) set.Observe(c.key, p, &findings);
    ++score.curves;
    score.points += static_cast<int64_t>(c.points.size());
    for (const Finding& f : findings) {
      if (f.is_update) continue;
      KindScore* k = ScoreFor(&score, f.kind);
      if (k == nullptr) continue;
      ++k->findings;
      bool explained = std::any_of(c.events.begin(), c.events.end(),
                                   [&](const Event& e) { return Explains(e, f); });
      if (!explained) ++k->false_alarms;
    }
    for (const Event& e : c.events) {
      KindScore* k = ScoreFor(&score, e.kind);
      ++k->events;
      for (const Finding& f : findings) {
        if (f.is_update || f.kind != e.kind || !Explains(e, f)) continue;
        ++k->detected;
        const int64_t latency = f.step_hi - e.lo;  // one point per step in these curves
        k->latency_sum += latency;
        k->latency_max = std::max(k->latency_max, latency);
        break;
      }
    }
  }
  return score;
}

std::string FormatTable(const std::vector<FamilyScore>& rows) {
  std::string out = fmt::format(
      "{:<28} {:<15} {:>6} {:>6} {:>8} {:>7} {:>8} {:>6} {:>9} "
      "{:>8} {:>7}\n",
      "family", "kind", "curves", "events", "detected", "recall", "findings", "false", "precision",
      "lat_mean", "lat_max");
  for (const FamilyScore& r : rows) {
    const std::pair<FindingKind, const KindScore*> kinds[] = {
        {FindingKind::kLossSpike, &r.spike},
        {FindingKind::kNonFinite, &r.nonfinite},
        {FindingKind::kDivergence, &r.divergence},
        {FindingKind::kPlateau, &r.plateau},
        {FindingKind::kGradExplosion, &r.grad}};
    bool any = false;
    for (auto [kind, k] : kinds) {
      if (k->events == 0 && k->findings == 0) continue;
      any = true;
      out += fmt::format(
          "{:<28} {:<15} {:>6} {:>6} {:>8} {:>7.3f} {:>8} {:>6} {:>9.3f} {:>8.2f} "
          "{:>7}\n",
          r.family, FindingKindName(kind), r.curves, k->events, k->detected, k->recall(),
          k->findings, k->false_alarms, k->precision(), k->mean_latency(), k->latency_max);
    }
    if (!any) {
      out += fmt::format("{:<28} {:<15} {:>6} {:>6} {:>8} {:>7} {:>8} {:>6} {:>9} {:>8} {:>7}\n",
                         r.family, "(no findings)", r.curves, 0, 0, "-", 0, 0, "-", "-", "-");
    }
  }
  return out;
}

}  // namespace inloop::detect::synthetic
