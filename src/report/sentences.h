// The sentences of a run report, shared by the Markdown and HTML renderers: the summary paragraph,
// what each remedy achieved, the baseline comparison. Plain text (no markup; renderers escape it);
// every clause is built from a number in the RunReport and left out when its number is missing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/run_report.h"

namespace inloop::report {

// One line that leads the report: what happened (the findings by kind, most severe first), what
// it cost (steps run twice and wall time lost to restarts) and what inloop did (the remedies and
// whether they worked, judged on the attempt that followed each).
std::string Headline(const RunReport& r);
// A collapsed finding row's "what": "3 loss spikes on train/loss" / "1 throughput slowdown on
// tokens_per_s (also step_time_ms)".
std::string FindingGroupText(const FindingGroup& g);
// The noun of a finding kind: "loss spike" / "loss spikes", "crash" / "crashes".
std::string KindNoun(const std::string& kind, int count);

// A collapsed timeline entry's event and message: "loss_spike x3" and "3 in a row over steps
// 100-400; the first: ..." (an entry that stands for one event is shown as it is).
std::string TimelineKindText(const TimelineEntry& t);
std::string TimelineMessage(const TimelineEntry& t);

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
