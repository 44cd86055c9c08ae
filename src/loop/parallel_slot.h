// One slot of `inloop loop run --parallel N`: the files the driver (parallel_driver.h) and the
// slot's own process (`inloop loop-slot REQUEST`, one per running round) share, and what that
// process does. Each slot works in its own git worktree under GIT_DIR/inloop-loop/slots/ and in
// its own process, because the supervisor owns its process's signals and children.
//
// Files of slot K in GIT_DIR/inloop-loop/slots/:
//   slot-K.json          the slot's journal (driver): written before the slot acts, so a killed
//                        inloop leaves nothing the next `loop run` cannot finish or undo
//   slot-K.request.json  what the slot process is to do (driver -> slot)
//   slot-K.result.json   what it measured (slot -> driver), written atomically at its end
//   slot-K/              the worktree (detached HEAD), removed when the round is closed
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "loop/loop_state.h"

namespace inloop::loop {

// What a slot process does: a new candidate (propose, guard rails, commit in the worktree,
// measure), the measurement again of a candidate rebased onto a new champion, or one more seed
// of the champion (its noise estimate).
inline constexpr const char* kSlotCandidate = "candidate";
inline constexpr const char* kSlotRemeasure = "remeasure";
inline constexpr const char* kSlotChampion = "champion";

struct SlotRequest {
  std::string loop_dir;  // GIT_DIR/inloop-loop of the main repository
  int slot = 0;
  int64_t round = 0;     // the champion's round for a champion task
  std::string task;      // kSlotCandidate, kSlotRemeasure, kSlotChampion
  std::string tree;      // the worktree (absolute)
  std::string workdir;   // the loop's workdir inside the worktree (absolute)
  std::string base;      // the champion commit the candidate is measured against
  std::string proposer;  // "agent", "search" (params given) or "submitted" (patch given)
  std::string agent;     // the agent's command line (proposer "agent")
  std::string patch;     // proposer "submitted": a diff file applied to the worktree (git apply)
  std::string history;   // the agent's history.json for this round (the slot's own copy)
  double agent_timeout_s = 3600;
  ParamValues params;    // the run's full parameter values
  std::vector<double> champion;  // the champion's samples the gate compares with
  int64_t seed = 0;      // champion task: the seed to run
  std::string device;    // CUDA_VISIBLE_DEVICES for the runs; empty: untouched
  std::string result;    // where to write the SlotResult
};

struct SlotResult {
  RoundRecord record;     // verdict kKept/kDiscarded/kFailed/kRejected, samples, diff...
  std::string candidate;  // the candidate's commit in the worktree (parent = base)
  bool interrupted = false;
};

// The slot's journal: the round in flight in that slot.
struct SlotJournal {
  int slot = 0;
  int64_t round = 0;
  std::string task;       // as SlotRequest
  std::string phase;      // "open" | "decided" (record.verdict says what to finish)
  std::string base;       // the champion the slot measures against now
  std::string tree;
  std::string candidate;  // known once the slot committed its change
  int rebases = 0;
  RoundRecord record;
};

std::string SlotRequestJson(const SlotRequest& r);
Status ParseSlotRequest(const std::string& text, SlotRequest* r);
std::string SlotResultJson(const SlotResult& r);
Status ParseSlotResult(const std::string& text, SlotResult* r);
std::string SlotJournalJson(const SlotJournal& j);
Status ParseSlotJournal(const std::string& text, SlotJournal* j);

// The slot process: reads the request file, does the task, writes the result. Never prints
// but through `say`. Returns non-OK only when it could not even write a result.
Status RunSlotTask(const std::string& request_path,
                   const std::function<void(const std::string&)>& say);

}  // namespace inloop::loop
