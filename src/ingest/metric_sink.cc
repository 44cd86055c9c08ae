// MetricSink: dedup by key, per-line cap, step-key ranking.
#include "ingest/metric_sink.h"

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
}

void MetricSink::Add(std::string_view key, double value) {
  for (Metric& m : out_->metrics) {
    if (m.key.size() == key.size() && m.key == key) {
      m.value = value;
      return;
    }
  }
  if (full()) return;
  Metric& m = out_->AddMetric();
  m.key.assign(key.data(), key.size());
  m.value = value;
}

void MetricSink::OfferStep(int rank, int64_t step) {
  if (rank < step_rank_) return;
  step_rank_ = rank;
  out_->has_step = true;
  out_->step = step;
}

}  // namespace inloop::ingest
