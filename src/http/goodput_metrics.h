// Goodput on /metrics: ETTR, lost steps, lost seconds and faults of the newest runs, as Prometheus
// gauges labelled with the run's id and name, so that a dashboard or an alert can follow the
// number large-scale training reports (report/goodput.h) next to the server's own counters.
#pragma once

#include <string>
#include <vector>

#include "report/goodput.h"

namespace inloop::store {
class Store;
}

namespace inloop::http {

struct RunGoodputRow {
  std::string id, name;
  report::Goodput goodput;
};

// Pure: the Prometheus text (HELP/TYPE once per metric, one sample per row).
std::string GoodputMetricsText(const std::vector<RunGoodputRow>& rows);

// The rows of the newest `newest` runs that have a goodput (a primary metric).
std::vector<RunGoodputRow> NewestRunsGoodput(store::Store* st, int newest);

}  // namespace inloop::http
