// Recommendations of a run report: rules over the measured facts of a RunReport, each producing a
// sentence with its numbers only when the data supports it (spikes right after the warm-up at the
// peak learning rate, every OOM at the same value of a param, throughput regressions, a plateau,
// restarts that kept hitting the same crash, gradient-norm explosions before spikes, whether an
// lr_cut worked). No rule fires on missing data: an empty list is a valid answer. Pure functions.
#pragma once

#include <vector>

#include "report/run_report.h"

namespace inloop::report {

// Every rule that fires, in a fixed order.
std::vector<Recommendation> Recommend(const RunReport& r);

// Number text used by every report sentence: 4 significant digits, "NaN"/"Infinity" spelled out.
std::string Num(double v);

}  // namespace inloop::report
