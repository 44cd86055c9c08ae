#include "report/timeline_filter.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "data/batch_index.h"

namespace inloop::report {
namespace {

// 1234567 -> "1,234,567".
std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace

bool IsBookkeepingEvent(std::string_view kind) { return kind == data::kDataBatchesEvent; }

FilteredTimeline FilterTimeline(std::vector<store::EventRecord> events, const TimelineFilter& f) {
  FilteredTimeline out;
  out.shown.reserve(events.size());
  for (auto& e : events) {
    bool show;
    if (f.all) {
      show = true;
    } else if (!f.kinds.empty()) {
      show = std::find(f.kinds.begin(), f.kinds.end(), e.kind) != f.kinds.end();
    } else {
      show = !IsBookkeepingEvent(e.kind);
      if (!show) ++out.hidden[e.kind];
    }
    if (show) out.shown.push_back(std::move(e));
  }
  return out;
}

std::string HiddenEventsLine(const std::map<std::string, int64_t>& hidden) {
  std::string counts, kinds;
  for (const auto& [kind, n] : hidden) {
    if (n <= 0) continue;
    if (!counts.empty()) counts += ", ";
    counts += fmt::format("{} {} event{}", Grouped(n), kind, n == 1 ? "" : "s");
    kinds += fmt::format("--kind {} ", kind);
  }
  if (counts.empty()) return "";
  return fmt::format("({} hidden; {}or --all to show)", counts, kinds);
}

}  // namespace inloop::report
