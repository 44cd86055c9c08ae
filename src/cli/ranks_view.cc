// Stragglers in `inloop show` (ranks_view.h), read back from the timeline's findings.
#include "cli/ranks_view.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "remedy/timeline.h"

namespace inloop::cli {

void PrintStragglers(store::Store* st, const std::string& run_id) {
  std::vector<store::EventRecord> events;
  if (!st->ListEvents(run_id, &events).ok()) return;
  // step_lo per rank of the open episode -> its closing step, when an update ended it.
  std::vector<std::pair<store::EventRecord, remedy::FindingData>> opened;
  std::map<std::pair<int, int64_t>, int64_t> closed;
  for (const auto& e : events) {
    if (e.kind != "straggler") continue;
    auto d = remedy::Parse<remedy::FindingData>(e.data_json);
    if (d.update) {
      closed[{d.rank, e.step_lo.value_or(0)}] = e.step_hi.value_or(0);
    } else {
      opened.emplace_back(e, std::move(d));
    }
  }
  for (const auto& [e, d] : opened) {
    double ratio = 0;
    for (const auto& [k, v] : d.evidence) {
      if (k == "ratio") ratio = v;
    }
    std::string who = d.host.empty() ? fmt::format("rank {}", d.rank)
                                     : fmt::format("rank {} ({})", d.rank, d.host);
    int64_t lo = e.step_lo.value_or(0);
    auto c = closed.find({d.rank, lo});
    std::string steps = c != closed.end() ? fmt::format("steps {}-{}", lo, c->second)
                                          : fmt::format("from step {}", lo);
    fmt::print("straggler  {}  {}: {:.2f}x the other ranks' median step time\n", who, steps,
               ratio);
  }
}

}  // namespace inloop::cli
