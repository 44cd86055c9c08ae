// Markdown rendering of a RunReport: a heading, the summary paragraph, then tables (timeline,
// remedies, attempts, throughput regressions, baseline comparison, series, params) and the
// recommendations list. Table cells are escaped ('|', newlines, markup characters) so a message
// from a training script cannot break the layout. Pure; never reads the store.
#pragma once

#include <string>

#include "report/run_report.h"

namespace inloop::report {

std::string RenderMarkdown(const RunReport& r);

// A cell of a Markdown table: '|' and '\' escaped, newlines as spaces, '<' '>' '`' '*' '_' '['
// ']' backslash-escaped so no markup is formed, trimmed to `max` bytes (on a UTF-8 boundary).
std::string MarkdownCell(const std::string& s, size_t max = 400);
// Text inside `code`: backticks become quotes, newlines spaces.
std::string MarkdownCode(const std::string& s);
// Local "YYYY-MM-DD HH:MM:SS"; "-" for t <= 0.
std::string LocalTime(double t);

}  // namespace inloop::report
