// RankPrefix: the rank label a launcher puts in front of a worker's printed line, so that lines
// of several ranks sharing one stdout never feed the run's main series (docs/sdk_protocol.md
// "Ranks"). Recognised: torchrun's "[rank3]:" and its --tee/--redirects "[default3]:" (any
// "[<role><N>]:" whose role is letters), and, when the caller says the launcher labels lines
// (srun --label), "3: ". Pure text; never looks past the prefix.
#pragma once

#include <optional>
#include <string_view>

namespace inloop::ingest {

struct RankedLine {
  std::optional<int> rank;  // absent: no rank label
  std::string_view text;    // the line without the label (and the space after it)
};

// `srun_labels`: also read srun --label's "N: " prefix (only asked for when the command is
// srun with --label, since "10: ..." is otherwise a plausible line of its own).
RankedLine SplitRankPrefix(std::string_view line, bool srun_labels);

}  // namespace inloop::ingest
