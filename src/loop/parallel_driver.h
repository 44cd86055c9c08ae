// The driver of `inloop loop run --parallel N` (N >= 2): carries out the scheduler's actions
// (parallel_rounds.h) with git worktrees, one `inloop loop-slot` process per running round
// (parallel_slot.h), and the loop's files. loop_runner.cc calls it after its own set-up (lock,
// signals blocked, journal recovery, baseline), and calls RecoverSlots before any round so
// that slots left by a killed inloop are finished or undone whatever the next run's mode.
//
// Crash safety: a slot's journal is written before its worktree exists and removed after its
// round is on record and its worktree gone; a keep is journaled as decided before the main tree
// is touched. The next `loop run` then (RecoverSlots): commits a decided keep not yet on the
// loop's branch, records every other round left open as `interrupted`, skips a round already in
// rounds.jsonl, and removes every slot worktree (and any stray one).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loop/git_repo.h"
#include "loop/loop_runner.h"
#include "loop/loop_state.h"
#include "loop/parallel_slot.h"
#include "loop/search_space.h"

namespace inloop::loop {

struct ParallelContext {
  const RunOptions* options = nullptr;
  const GitRepo* repo = nullptr;
  const LoopPaths* paths = nullptr;
  const LoopConfig* cfg = nullptr;
  LoopState* state = nullptr;
  const SearchSpace* space = nullptr;  // null: the agent proposes
  RunSummary* out = nullptr;
  std::function<bool()> stop_requested;  // reads the blocked stop signals
};

// Finishes or undoes what slots left behind. OK when there was nothing.
Status RecoverSlots(const ParallelContext& ctx);

// Runs rounds N at a time until a limit (--rounds, --until, the loop's max rounds) or a stop.
// *interrupted: stopped by a signal (the rounds in flight were recorded as interrupted).
Status RunParallelRounds(const ParallelContext& ctx, int parallel, bool* interrupted);

// The slots' journals (rounds in flight of a `loop run --parallel`, or left by a killed one),
// by slot; unreadable ones are listed in *torn when given.
std::vector<SlotJournal> SlotsInFlight(const LoopPaths& p, std::vector<std::string>* torn = nullptr);

// CUDA_VISIBLE_DEVICES as given ("0,1,3"): the devices, one per slot in turn; none when unset
// or empty (the runs' environment is then left alone).
std::vector<std::string> VisibleDevices(const char* env_value);

}  // namespace inloop::loop
