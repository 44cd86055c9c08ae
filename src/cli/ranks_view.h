// `inloop show`'s lines about a multi-rank job's stragglers (docs/sdk_protocol.md "Ranks"): one
// per straggler episode, from the run's `straggler` findings. Prints nothing for other runs.
#pragma once

#include <string>

#include "store/store.h"

namespace inloop::cli {

// "straggler  rank 1 (node-07)  steps 12-30: 2.95x the other ranks' median step time" lines.
void PrintStragglers(store::Store* st, const std::string& run_id);

}  // namespace inloop::cli
