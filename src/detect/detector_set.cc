// The per-key dispatch of DetectorSet: an open-addressing table from key to its detectors, and
// the routing of each point by series class. Must never allocate for a key already seen.
#include "detect/detector_set.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "detect/rolling_stats.h"
#include "detect/series_detectors.h"

namespace inloop::detect {
namespace {

// A fast 64-bit hash over 8-byte words (keys are short; quality only needs to spread slots).
inline uint64_t HashKey(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xff51afd7ed558ccdull);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  for (size_t i = 0; i < n; ++i)
    w |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = (h ^ w) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  return h;
}

struct LossDetectors {
  explicit LossDetectors(const DetectConfig& c)
      : spike(LossSpikeParams(c)),
        trend(c.divergence_window, c.divergence_trend_rel, Severity::kError),
        plateau(c.plateau_window, c.plateau_min_improvement),
        history(std::max(trend.needed(), plateau.needed())),
        rel_jump(c.spike_min_rel_jump) {}
  void Observe(const std::string& key, const Point& p, std::vector<Finding>* out) {
    const size_t before = out->size();
    if (diverged && p.value <= diverged_from + 0.5 * rel_jump * std::fabs(diverged_from)) {
      diverged = false;  // back to the level it left: a new divergence is news again
    }
    if (!spike.Observe(key, p, out)) {  // anomalous values stay out of the level history
      history.Push(p.step, p.value);
      trend.Check(key, p, history, out);
      plateau.Check(key, p, history, out);
    }
    if (out->size() != before) FilterDivergence(before, out);
  }
  // One divergence per departure: later ones (a blow-up re-escalating after each re-baseline, the
  // trend confirming the spike path) are dropped until the loss is back or the run restarts.
  void FilterDivergence(size_t before, std::vector<Finding>* out) {
    for (size_t i = before; i < out->size();) {
      Finding& f = (*out)[i];
      if (f.kind != FindingKind::kDivergence) {
        ++i;
        continue;
      }
      if (diverged) {
        out->erase(out->begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      diverged = true;
      diverged_from = f.Get("median", f.Get("mean_old"));
      ++i;
    }
  }
  void Reset() {
    diverged = false;
    spike.Reset();
    history.Clear();
    trend.Reset();
    plateau.Reset();
  }
  RobustSpikeDetector spike;
  RisingTrendDetector trend;
  PlateauDetector plateau;
  BlockHistory history;
  double rel_jump;
  bool diverged = false;
  double diverged_from = 0;  // the baseline the loss left
};

struct EvalLossDetectors {
  explicit EvalLossDetectors(const DetectConfig& c)
      : trend(c.eval_divergence_window, c.divergence_trend_rel, Severity::kWarning),
        history(trend.needed()) {}
  void Observe(const std::string& key, const Point& p, std::vector<Finding>* out) {
    history.Push(p.step, p.value);
    trend.Check(key, p, history, out);
  }
  void Reset() {
    history.Clear();
    trend.Reset();
  }
  RisingTrendDetector trend;
  BlockHistory history;
};

// Points of the series kept for RewindTo: as many as its longest window needs (a loss series'
// plateau and trend windows are long; the other classes' windows are short).
size_t RingCapacity(SeriesClass c, const DetectConfig& cfg) {
  auto at_least = [](int64_t v) { return static_cast<size_t>(std::max<int64_t>(v, 1)); };
  switch (c) {
    case SeriesClass::kLoss:
      return at_least(std::max<int64_t>({cfg.spike_window, cfg.divergence_window + 3,
                                         cfg.plateau_window + cfg.plateau_window / 5 + 1}));
    case SeriesClass::kEvalLoss:
      return at_least(cfg.eval_divergence_window + 3);
    case SeriesClass::kGradNorm:
      return at_least(cfg.grad_window);
    case SeriesClass::kThroughput:
    case SeriesClass::kStepTime:
      return at_least(2 * (cfg.throughput_window + cfg.throughput_short_window));
    case SeriesClass::kMemory:
      return at_least(cfg.memory_window);
    case SeriesClass::kOther:
      return 0;
  }
  return 0;
}

Severity NonFiniteSeverity(SeriesClass c) {
  return c == SeriesClass::kLoss || c == SeriesClass::kEvalLoss ? Severity::kError
                                                               : Severity::kWarning;
}

}  // namespace

struct DetectorSet::Series {
  Series(std::string k, SeriesClass c, const DetectConfig& cfg, ThroughputGroup* g)
      : key(std::move(k)), cls(c), group(g), nonfinite(NonFiniteSeverity(c)) {
    Build(cfg);
    ring.resize(RingCapacity(cls, cfg));
  }

  // Fresh detectors, as at the series' first point.
  void Build(const DetectConfig& cfg) {
    nonfinite = NonFiniteTracker(NonFiniteSeverity(cls));
    loss.reset();
    eval.reset();
    grad.reset();
    if (throughput) throughput->Reset();  // releases its share of the group's open episode
    throughput.reset();
    memory.reset();
    switch (cls) {
      case SeriesClass::kLoss:
        loss = std::make_unique<LossDetectors>(cfg);
        break;
      case SeriesClass::kEvalLoss:
        eval = std::make_unique<EvalLossDetectors>(cfg);
        break;
      case SeriesClass::kGradNorm:
        grad = std::make_unique<RobustSpikeDetector>(GradExplosionParams(cfg));
        break;
      case SeriesClass::kThroughput:
      case SeriesClass::kStepTime:
        throughput =
            std::make_unique<ThroughputDetector>(cfg, cls == SeriesClass::kStepTime, group);
        break;
      case SeriesClass::kMemory:
        memory = std::make_unique<MemoryGrowthDetector>(cfg.memory_window, cfg.memory_growth_rel);
        break;
      case SeriesClass::kOther:
        break;
    }
  }

  // Routes one point to the detectors of the class.
  void Feed(const Point& p, std::vector<Finding>* out) {
    if (nonfinite.Observe(key, p, out)) return;
    switch (cls) {
      case SeriesClass::kLoss:
        loss->Observe(key, p, out);
        break;
      case SeriesClass::kEvalLoss:
        eval->Observe(key, p, out);
        break;
      case SeriesClass::kGradNorm:
        grad->Observe(key, p, out);
        break;
      case SeriesClass::kThroughput:
      case SeriesClass::kStepTime:
        throughput->Observe(key, p, out);
        break;
      case SeriesClass::kMemory:
        memory->Observe(key, p, out);
        break;
      case SeriesClass::kOther:
        break;
    }
  }

  void Remember(const Point& p) {
    if (ring.empty()) return;
    ring[(ring_start + ring_count) % ring.size()] = p;
    if (ring_count < ring.size()) {
      ++ring_count;
    } else {
      ring_start = (ring_start + 1) % ring.size();
    }
  }

  // Rebuilds the detectors from the remembered points with step <= `step` (the others are
  // forgotten). What the replay finds was reported when those points first came.
  void RewindTo(int64_t step, const DetectConfig& cfg, std::vector<Finding>* scratch) {
    Build(cfg);
    size_t kept = 0;
    for (size_t i = 0; i < ring_count; ++i) {
      const Point& p = ring[(ring_start + i) % ring.size()];
      if (p.step > step) continue;
      ring[(ring_start + kept) % ring.size()] = p;
      ++kept;
    }
    ring_count = kept;
    last_step = INT64_MIN;
    for (size_t i = 0; i < ring_count; ++i) {
      const Point& p = ring[(ring_start + i) % ring.size()];
      Feed(p, scratch);
      last_step = p.step;
      scratch->clear();
    }
    // A new process: its first steps are slow and its memory starts low again.
    if (throughput) throughput->Reset();
    if (memory) memory->Reset();
  }

  void Reset() {
    nonfinite.Reset();
    if (loss) loss->Reset();
    if (eval) eval->Reset();
    if (grad) grad->Reset();
    if (throughput) throughput->Reset();
    if (memory) memory->Reset();
  }

  std::string key;
  SeriesClass cls;
  ThroughputGroup* group;  // shared by the run's throughput and step-time series
  int64_t last_step = INT64_MIN;
  NonFiniteTracker nonfinite;
  std::unique_ptr<LossDetectors> loss;
  std::unique_ptr<EvalLossDetectors> eval;
  std::unique_ptr<RobustSpikeDetector> grad;
  std::unique_ptr<ThroughputDetector> throughput;
  std::unique_ptr<MemoryGrowthDetector> memory;
  std::vector<Point> ring;  // the newest points, oldest at ring_start
  size_t ring_start = 0;
  size_t ring_count = 0;
};

DetectorSet::DetectorSet(DetectConfig config)
    : config_(std::move(config)),
      slots_(64),
      throughput_group_(std::make_unique<ThroughputGroup>()) {}

DetectorSet::~DetectorSet() = default;

DetectorSet::Series* DetectorSet::Lookup(std::string_view key) {
  const uint64_t h = HashKey(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.index_plus_one == 0) return Insert(key, h);
    if (s.hash == h) {
      Series* series = series_[s.index_plus_one - 1].get();
      if (series->key == key) return series;
    }
  }
}

DetectorSet::Series* DetectorSet::Insert(std::string_view key, uint64_t hash) {
  series_.push_back(std::make_unique<Series>(std::string(key), ClassifyKey(key, config_), config_,
                                             throughput_group_.get()));
  if (2 * series_.size() > slots_.size()) {
    std::vector<Slot> bigger(2 * slots_.size());
    const size_t mask = bigger.size() - 1;
    for (const Slot& s : slots_) {
      if (s.index_plus_one == 0) continue;
      size_t i = s.hash & mask;
      while (bigger[i].index_plus_one != 0) i = (i + 1) & mask;
      bigger[i] = s;
    }
    slots_.swap(bigger);
  }
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].index_plus_one != 0) i = (i + 1) & mask;
  slots_[i] = Slot{hash, static_cast<uint32_t>(series_.size())};
  return series_.back().get();
}

void DetectorSet::Observe(std::string_view key, const Point& p, std::vector<Finding>* out) {
  Series* s = Lookup(key);
  if (s->cls == SeriesClass::kOther) return;
  if (p.step < s->last_step) s->Reset();
  s->last_step = p.step;
  s->Remember(p);
  s->Feed(p, out);
}

void DetectorSet::OnRestart() {
  for (auto& s : series_) s->Reset();
}

void DetectorSet::RewindTo(int64_t step) {
  std::vector<Finding> scratch;
  for (auto& s : series_) {
    if (s->cls != SeriesClass::kOther) s->RewindTo(step, config_, &scratch);
  }
}

SeriesClass DetectorSet::ClassOf(std::string_view key) { return Lookup(key)->cls; }

}  // namespace inloop::detect
