// HTML rendering of a RunReport: one self-contained page (inline CSS that follows the reader's
// light or dark preference, inline SVG charts, no script, no network reference) with the same
// sections as the Markdown report. Charts: the primary metric (and the baseline's curve) with a
// numbered marker per finding and action, and the throughput series with its regressions shaded;
// both drawn from the report's M4-downsampled points. Every text from the store is escaped.
#pragma once

#include <string>
#include <string_view>

#include "report/run_report.h"

namespace inloop::report {

std::string RenderHtml(const RunReport& r);

// Escapes & < > " ' for element text and attribute values.
std::string HtmlEscape(std::string_view s);

}  // namespace inloop::report
