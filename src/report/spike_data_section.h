// The report's "Data behind the spike" section: for a run the doctor rolled back past a data
// window (rollback_skip), the records those skipped batches consumed, as the SDK's data index
// recorded them ("data_batches" events, data/batch_index.h), analysed by data::AnalyzeSpikeData
// next to the run's normal batches. Gathering reads the dataset files; rendering is pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/run_report.h"

namespace inloop::report {

// The skip windows the run's applied remedies set, in the order applied.
std::vector<std::pair<int64_t, int64_t>> AppliedSkipWindows(const RunReport& r);

// Fills r->spike_data from the run's data_batches events (none: nothing to say).
void GatherSpikeData(RunReport* r, const std::vector<store::EventRecord>& events);

std::string SpikeDataMarkdown(const RunReport& r);
std::string SpikeDataHtml(const RunReport& r);

}  // namespace inloop::report
