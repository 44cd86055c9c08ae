// The straggler detector (straggler_detector.h): per-rank windows of step times, each rank
// compared with the median of the others' medians on each of its own steps.
#include "detect/straggler_detector.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace inloop::detect {
namespace {

double MedianOf(std::vector<double>* v) {
  size_t n = v->size();
  auto mid = v->begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(v->begin(), mid, v->end());
  double hi = *mid;
  if (n % 2 == 1) return hi;
  double lo = *std::max_element(v->begin(), mid);
  return (lo + hi) / 2;
}

std::string RankName(int rank, const std::string& host) {
  return host.empty() ? fmt::format("rank {}", rank) : fmt::format("rank {} ({})", rank, host);
}

}  // namespace

StragglerDetector::StragglerDetector(const DetectConfig& c)
    : window_(c.straggler_window),
      min_points_(c.straggler_min_points),
      sustain_(c.straggler_sustain),
      threshold_(c.straggler_threshold),
      min_seconds_(c.straggler_min_seconds) {}

void StragglerDetector::SetHost(int rank, std::string host) {
  if (rank >= 0) ranks_[rank].host = std::move(host);
}

void StragglerDetector::Reset() {
  for (auto& [rank, r] : ranks_) {
    std::string host = std::move(r.host);
    r = Rank{};
    r.host = std::move(host);
  }
}

bool StragglerDetector::OthersMedian(int rank, double* out, int* count) {
  scratch_.clear();
  for (const auto& [q, r] : ranks_) {
    if (q != rank && static_cast<int>(r.ring.size()) >= min_points_) scratch_.push_back(r.median);
  }
  *count = static_cast<int>(scratch_.size());
  if (scratch_.empty()) return false;
  *out = MedianOf(&scratch_);
  return true;
}

void StragglerDetector::Observe(int rank, int64_t step, double seconds, double wall_time,
                                std::vector<Finding>* out) {
  if (window_ <= 0 || rank < 0 || !std::isfinite(seconds) || seconds <= 0) return;
  Rank& r = ranks_[rank];
  if (static_cast<int>(r.ring.size()) < window_) {
    r.ring.push_back(seconds);
  } else {
    r.ring[r.next] = seconds;
    r.next = (r.next + 1) % r.ring.size();
  }
  scratch_.assign(r.ring.begin(), r.ring.end());
  r.median = MedianOf(&scratch_);
  if (static_cast<int>(r.ring.size()) < min_points_) return;
  double others = 0;
  int others_count = 0;
  if (!OthersMedian(rank, &others, &others_count) || others <= 0) return;
  double ratio = r.median / others;
  bool slow = ratio >= 1 + threshold_ && r.median - others >= min_seconds_;
  if (!r.open) {
    if (!slow) {
      r.over = 0;
      return;
    }
    if (r.over++ == 0) r.first_over_step = step;
    if (r.over < sustain_) return;
    r.open = true;
    r.under = 0;
    r.open_step = r.first_over_step;
    r.worst_ratio = ratio;
    out->push_back(MakeFinding(rank, r, step, wall_time, others, others_count, false));
    return;
  }
  r.worst_ratio = std::max(r.worst_ratio, ratio);
  if (ratio >= 1 + threshold_ / 2) {
    r.under = 0;
    return;
  }
  if (++r.under < sustain_) return;
  out->push_back(MakeFinding(rank, r, step, wall_time, others, others_count, true));
  r.open = false;
  r.over = 0;
  r.under = 0;
}

Finding StragglerDetector::MakeFinding(int rank, const Rank& r, int64_t step, double wall_time,
                                       double others, int others_count, bool update) const {
  Finding f;
  f.kind = FindingKind::kStraggler;
  f.severity = Severity::kWarning;
  f.series = fmt::format("rank/{}/step_time", rank);
  f.step_lo = r.open_step;
  f.step_hi = step;
  f.wall_time = wall_time;
  f.is_update = update;
  f.rank = rank;
  f.host = r.host;
  double ratio = update ? r.worst_ratio : r.median / others;
  if (update) {
    f.message = fmt::format(
        "{} straggled from step {} to {} (up to {:.2f}x the other ranks' median step time); it "
        "keeps pace again",
        RankName(rank, r.host), r.open_step, step, r.worst_ratio);
  } else {
    f.message = fmt::format(
        "{} is a straggler: median step time {:.4g}s over its last {} steps, {:.2f}x the median "
        "of the other {} rank(s) ({:.4g}s)",
        RankName(rank, r.host), r.median, r.ring.size(), ratio, others_count, others);
  }
  f.evidence = {{"rank", static_cast<double>(rank)},
                {"median_step_time", r.median},
                {"others_median", others},
                {"ratio", ratio},
                {"ranks_compared", static_cast<double>(others_count)},
                {"window", static_cast<double>(r.ring.size())},
                {"threshold", threshold_}};
  return f;
}

}  // namespace inloop::detect
