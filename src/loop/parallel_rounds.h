// The scheduler of `inloop loop run --parallel N`: which slot starts what, and what happens to a
// candidate when it finishes. A pure state machine (no clock, no I/O, no git): the driver
// (parallel_driver.h) feeds it events and carries out the actions it returns, in order.
//
// The rule (docs/loop.md, "Rounds in parallel"):
// - Every free slot starts a candidate round branched from the current champion, while the
//   loop may start rounds; the champion's seed-noise estimate comes first: while the champion
//   has fewer than noise_seeds samples (and fewer failed tries than that), a free slot re-runs
//   the champion with a fresh seed instead (a sample of an old champion is dropped).
// - A candidate that did not pass the gate is discarded.
// - A candidate that passed against the champion it branched from, and that champion is still
//   the champion, is kept: it becomes the champion.
// - A candidate that passed but whose champion has moved since it branched is rebased: its
//   change is cherry-picked onto the new champion; a conflict discards it (verdict `conflict`),
//   otherwise it is measured again, from its first seed, against the new champion, and the same
//   rule applies when that measurement finishes. After max_rebases rebases it is discarded
//   (verdict `stale`): the champion keeps moving under it.
// - After a stop (Ctrl-C, --until, --rounds spent) nothing new starts; kDone comes when every
//   slot is idle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace inloop::loop {

struct SchedulerConfig {
  int slots = 2;
  int noise_seeds = 3;      // champion samples the gate wants
  int64_t rounds = -1;      // candidate rounds this run may start; -1: no limit
  int max_rebases = 3;
};

enum class SlotTask { kIdle, kCandidate, kRemeasure, kChampionNoise };

struct SchedulerEvent {
  enum class Kind {
    kTick,      // may_start: whether the driver's other limits (--until, max_rounds) allow starts
    kFinished,  // a slot's child ended: passed (candidates) / ok (champion noise)
    kRebased,   // the driver cherry-picked: ok = applied cleanly
    kStop,      // Ctrl-C / SIGTERM: start nothing more
  };
  Kind kind = Kind::kTick;
  int slot = -1;
  bool may_start = true;
  bool passed = false;
  bool ok = false;
  int champion_samples = 0;  // kFinished of a kept candidate: its samples (the new champion's)
};

struct SchedulerAction {
  enum class Kind {
    kStartCandidate,      // new round in `slot`, branched from the champion
    kStartChampionNoise,  // one more seed of the champion in `slot`
    kKeep,                // the slot's candidate becomes the champion
    kDiscard,             // the slot's candidate is not kept (its own verdict stands)
    kRebase,              // cherry-pick the slot's change onto the champion, then kRebased
    kRemeasure,           // measure the rebased candidate again against the champion
    kConflict,            // the rebase conflicted: discard as `conflict`
    kStale,               // rebased max_rebases times: discard as `stale`
    kAcceptSample,        // the champion-noise sample counts
    kDropSample,          // it measured a former champion (or failed): dropped
    kDone,                // stopped/spent and every slot idle
  };
  Kind kind;
  int slot = -1;
  bool operator==(const SchedulerAction& o) const { return kind == o.kind && slot == o.slot; }
};

const char* SchedulerActionName(SchedulerAction::Kind k);

class ParallelScheduler {
 public:
  ParallelScheduler(const SchedulerConfig& cfg, int champion_samples);

  std::vector<SchedulerAction> OnEvent(const SchedulerEvent& e);

  int64_t champion_version() const { return version_; }  // +1 per kept candidate
  int champion_samples() const { return champion_samples_; }
  SlotTask task(int slot) const { return slots_.at(static_cast<size_t>(slot)).task; }
  int rebases(int slot) const { return slots_.at(static_cast<size_t>(slot)).rebases; }
  // Whether the candidate in `slot` branched from (or was rebased onto) the current champion.
  bool OnChampion(int slot) const { return slots_.at(static_cast<size_t>(slot)).base == version_; }
  int64_t started() const { return started_; }
  bool idle() const;
  bool done() const { return done_; }

 private:
  struct Slot {
    SlotTask task = SlotTask::kIdle;
    int64_t base = 0;  // champion version it measures against
    int rebases = 0;
    bool rebasing = false;
  };
  void Tick(bool may_start, std::vector<SchedulerAction>* out);
  void Finished(const SchedulerEvent& e, std::vector<SchedulerAction>* out);

  SchedulerConfig cfg_;
  std::vector<Slot> slots_;
  int64_t version_ = 0;
  int champion_samples_ = 0;
  int noise_in_flight_ = 0;
  int noise_failures_ = 0;
  int64_t started_ = 0;
  bool stopped_ = false;
  bool done_ = false;
};

// Replay: events in a tiny text form, one per entry, for tests and the docs:
//   "tick" | "tick-" (may_start false) | "stop" | "fin S pass N" | "fin S fail" |
//   "fin S ok" | "rebased S ok" | "rebased S conflict"
// Returns the actions, "kind slot" joined by ", " per event, events joined by " | ".
std::string ReplaySchedule(const SchedulerConfig& cfg, int champion_samples,
                           const std::vector<std::string>& events);

}  // namespace inloop::loop
