// The sentences of a run report, shared by the Markdown and HTML renderers: the summary paragraph,
// what each remedy achieved, the baseline comparison. Plain text (no markup; renderers escape it);
// every clause is built from a number in the RunReport and left out when its number is missing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/run_report.h"

namespace inloop::report {

// One paragraph: status, duration, attempts, first/final/best of the metric, findings, remedies,
// throughput, baseline.
std::string SummaryParagraph(const RunReport& r);
// What a remedy achieved (measured on the metric), or what became of it when it was not applied.
std::string RemedyOutcomeText(const RunReport& r, const RemedyFacts& f);
// The plan of a remedy: "from checkpoint 80, skip 81-100", "lr x0.5", "micro-batch 16".
std::string RemedyPlanText(const RemedyFacts& f);
// The comparison with the baseline in one or two sentences; empty without a baseline.
std::string BaselineText(const RunReport& r);
// "step 100", "steps 100-120", "" when unknown.
std::string StepText(const std::optional<int64_t>& lo, const std::optional<int64_t>& hi);
// "value=8.2 median=2.1 ..." (at most `max` numbers).
std::string EvidenceText(const std::vector<Evidence>& ev, size_t max = 6);
// A time offset from the run's start: "+1m 05s", "-" when negative (unknown).
std::string Offset(double s);

}  // namespace inloop::report
