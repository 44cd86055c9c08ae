// MetricSink: dedup by key, per-line cap, step-key ranking.
#include "ingest/metric_sink.h"

#include <functional>
#include <vector>

#include "ingest/number_scan.h"

namespace inloop::ingest {

int StepKeyRank(std::string_view key) {
  switch (key.size()) {
    case 4:
      if (EqualsIgnoreCase(key, "step")) return 4;
      if (EqualsIgnoreCase(key, "iter")) return 2;
      return 0;
    case 6:
      return EqualsIgnoreCase(key, "update") ? 1 : 0;
    case 9:
      return EqualsIgnoreCase(key, "iteration") ? 3 : 0;
    case 11:
      if (EqualsIgnoreCase(key, "global_step")) return 6;
      if (EqualsIgnoreCase(key, "num_updates")) return 5;
      return 0;
    default:
      return 0;
  }
}

void MetricSink::Reset() {
  out_->Clear();
  step_rank_ = 0;
  index_.clear();
}

size_t MetricSink::Find(std::string_view key, size_t hash) {
  std::vector<Metric>& ms = out_->metrics;
  if (ms.size() < kIndexFrom) {
    for (size_t i = 0; i < ms.size(); ++i)
      if (ms[i].key.size() == key.size() && ms[i].key == key) return i;
    return kNone;
  }
  if (index_.empty()) {  // the line just grew past a scan's worth: index what it has
    index_.reserve(2 * kIndexFrom);
    for (size_t i = 0; i < ms.size(); ++i)
      index_.emplace(std::hash<std::string_view>{}(ms[i].key), i);
  }
  auto [b, e] = index_.equal_range(hash);
  for (auto it = b; it != e; ++it)
    if (ms[it->second].key == key) return it->second;
  return kNone;
}

bool MetricSink::Has(std::string_view key) {
  return Find(key, std::hash<std::string_view>{}(key)) != kNone;
}

void MetricSink::Add(std::string_view key, double value) {
  std::vector<Metric>& ms = out_->metrics;
  const size_t h = std::hash<std::string_view>{}(key);
  size_t at = Find(key, h);
  if (at != kNone) {
    ms[at].value = value;
    return;
  }
  if (ms.size() >= kMaxMetricsPerLine) {
    ++out_->dropped;
    return;
  }
  Metric& m = out_->AddMetric();
  m.key.assign(key.data(), key.size());
  m.value = value;
  if (!index_.empty()) index_.emplace(h, ms.size() - 1);
}

void MetricSink::OfferStep(int rank, int64_t step) {
  if (rank < step_rank_) return;
  step_rank_ = rank;
  out_->has_step = true;
  out_->step = step;
}

}  // namespace inloop::ingest
