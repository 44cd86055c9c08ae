// Goodput gauges for /metrics (goodput_metrics.h).
#include "http/goodput_metrics.h"

#include <fmt/format.h>

#include "http/server_metrics.h"
#include "report/run_report.h"
#include "store/store.h"

namespace inloop::http {

std::string GoodputMetricsText(const std::vector<RunGoodputRow>& rows) {
  if (rows.empty()) return {};
  struct Gauge {
    const char* name;
    const char* help;
    double (*value)(const report::Goodput&);
  };
  static const Gauge kGauges[] = {
      {"inloop_run_ettr", "Effective training time ratio: wall time of the steps that survived / wall time",
       [](const report::Goodput& g) { return g.ettr; }},
      {"inloop_run_lost_steps", "Logged steps abandoned by restarts (run again after a rollback or resume)",
       [](const report::Goodput& g) { return static_cast<double>(g.lost_steps); }},
      {"inloop_run_lost_seconds", "Wall time lost to faults: abandoned steps and the repair",
       [](const report::Goodput& g) { return g.lost_seconds; }},
      {"inloop_run_faults", "Faults that restarted the run",
       [](const report::Goodput& g) { return static_cast<double>(g.faults.size()); }},
  };
  std::string out;
  for (const Gauge& gauge : kGauges) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", gauge.name, gauge.help, gauge.name);
    for (const RunGoodputRow& r : rows) {
      out += fmt::format("{}{{run=\"{}\",name=\"{}\"}} {}\n", gauge.name, PrometheusLabelValue(r.id),
                         PrometheusLabelValue(r.name), gauge.value(r.goodput));
    }
  }
  return out;
}

std::vector<RunGoodputRow> NewestRunsGoodput(store::Store* st, int newest) {
  std::vector<RunGoodputRow> rows;
  std::vector<store::RunRecord> runs;
  if (!st->ListRuns(&runs).ok()) return rows;
  for (const store::RunRecord& r : runs) {
    if (static_cast<int>(rows.size()) >= newest) break;
    if (auto g = report::RunGoodput(st, r.id)) rows.push_back({r.id, r.name, *g});
  }
  return rows;
}

}  // namespace inloop::http
