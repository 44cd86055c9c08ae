// Pace and cost of a loop (throughput.h).
#include "loop/throughput.h"

#include <sys/resource.h>

#include <algorithm>
#include <utility>

namespace inloop::loop {

Throughput ComputeThroughput(const std::vector<RoundRecord>& rounds) {
  Throughput t;
  std::vector<std::pair<double, double>> spans;
  double gpu_s = 0, cpu_s = 0;
  for (const RoundRecord& r : rounds) {
    if (r.verdict == kBaseline) {
      // `loop init --replace` starts over: only the rounds since the last baseline count.
      t = Throughput{};
      spans.clear();
      gpu_s = cpu_s = 0;
    }
    // A re-check is no experiment (it re-measures the champion; its cost counts below), and a
    // demotion takes back the improvement a keep claimed.
    bool recheck = r.verdict == kRechecked || r.verdict == kDemoted || r.proposer == "recheck";
    if (r.verdict != kBaseline && r.verdict != kInterruptedRound && !recheck) ++t.experiments;
    if (r.verdict == kKept) ++t.kept;
    if (r.verdict == kDemoted && t.kept > 0) --t.kept;
    double wall = r.ended_at > r.started_at && r.started_at > 0 ? r.ended_at - r.started_at : 0;
    if (wall > 0) spans.emplace_back(r.started_at, r.ended_at);
    if (!r.device.empty()) gpu_s += wall;
    cpu_s += std::max(0.0, r.cpu_s);
  }
  std::sort(spans.begin(), spans.end());
  double covered = 0, from = 0, to = 0;
  bool open = false;
  for (auto& [a, b] : spans) {
    if (open && a <= to) {
      to = std::max(to, b);
      continue;
    }
    if (open) covered += to - from;
    from = a;
    to = b;
    open = true;
  }
  if (open) covered += to - from;
  t.hours = covered / 3600.0;
  t.cpu_hours = cpu_s / 3600.0;
  t.gpu_hours = gpu_s / 3600.0;
  if (t.hours > 0) {
    t.experiments_per_hour = static_cast<double>(t.experiments) / t.hours;
    t.kept_per_hour = static_cast<double>(t.kept) / t.hours;
  }
  if (t.kept > 0) {
    t.cpu_hours_per_kept = t.cpu_hours / static_cast<double>(t.kept);
    if (gpu_s > 0) t.gpu_hours_per_kept = t.gpu_hours / static_cast<double>(t.kept);
  }
  return t;
}

void WriteThroughputJson(const Throughput& t, JsonWriter* wp) {
  JsonWriter& w = *wp;
  w.BeginObject().Key("experiments").Int(t.experiments).Key("kept").Int(t.kept);
  w.Key("hours").Number(t.hours).Key("experiments_per_hour").Number(t.experiments_per_hour);
  w.Key("kept_per_hour").Number(t.kept_per_hour).Key("cpu_hours").Number(t.cpu_hours);
  w.Key("gpu_hours").Number(t.gpu_hours).Key("cpu_hours_per_kept");
  if (t.cpu_hours_per_kept) w.Number(*t.cpu_hours_per_kept); else w.Null();
  w.Key("gpu_hours_per_kept");
  if (t.gpu_hours_per_kept) w.Number(*t.gpu_hours_per_kept); else w.Null();
  w.EndObject();
}

double ChildCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace inloop::loop
