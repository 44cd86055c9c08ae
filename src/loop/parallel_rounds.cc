// The pure scheduler of parallel rounds; the rule is in parallel_rounds.h.
#include "loop/parallel_rounds.h"

#include <sstream>

#include <fmt/format.h>

namespace inloop::loop {

const char* SchedulerActionName(SchedulerAction::Kind k) {
  using K = SchedulerAction::Kind;
  switch (k) {
    case K::kStartCandidate: return "start";
    case K::kStartChampionNoise: return "noise";
    case K::kKeep: return "keep";
    case K::kDiscard: return "discard";
    case K::kRebase: return "rebase";
    case K::kRemeasure: return "remeasure";
    case K::kConflict: return "conflict";
    case K::kStale: return "stale";
    case K::kAcceptSample: return "accept";
    case K::kDropSample: return "drop";
    case K::kDone: return "done";
  }
  return "?";
}

ParallelScheduler::ParallelScheduler(const SchedulerConfig& cfg, int champion_samples)
    : cfg_(cfg), slots_(static_cast<size_t>(cfg.slots < 1 ? 1 : cfg.slots)),
      champion_samples_(champion_samples) {}

bool ParallelScheduler::idle() const {
  for (auto& s : slots_) {
    if (s.task != SlotTask::kIdle) return false;
  }
  return true;
}

void ParallelScheduler::Tick(bool may_start, std::vector<SchedulerAction>* out) {
  using K = SchedulerAction::Kind;
  for (size_t i = 0; i < slots_.size() && !stopped_ && may_start; ++i) {
    Slot& s = slots_[i];
    if (s.task != SlotTask::kIdle) continue;
    if (champion_samples_ + noise_in_flight_ < cfg_.noise_seeds &&
        noise_failures_ < cfg_.noise_seeds) {
      s = Slot{SlotTask::kChampionNoise, version_, 0, false};
      ++noise_in_flight_;
      out->push_back({K::kStartChampionNoise, static_cast<int>(i)});
      continue;
    }
    if (cfg_.rounds >= 0 && started_ >= cfg_.rounds) break;
    s = Slot{SlotTask::kCandidate, version_, 0, false};
    ++started_;
    out->push_back({K::kStartCandidate, static_cast<int>(i)});
  }
  bool spent = stopped_ || !may_start || (cfg_.rounds >= 0 && started_ >= cfg_.rounds);
  if (spent && idle() && !done_) {
    done_ = true;
    out->push_back({K::kDone, -1});
  }
}

void ParallelScheduler::Finished(const SchedulerEvent& e, std::vector<SchedulerAction>* out) {
  using K = SchedulerAction::Kind;
  Slot& s = slots_.at(static_cast<size_t>(e.slot));
  if (s.task == SlotTask::kIdle || s.rebasing) return;  // not running: a stray event
  if (s.task == SlotTask::kChampionNoise) {
    --noise_in_flight_;
    bool current = s.base == version_;
    if (current && e.ok) ++champion_samples_;
    if (current && !e.ok) ++noise_failures_;
    out->push_back({current && e.ok ? K::kAcceptSample : K::kDropSample, e.slot});
    s = Slot{};
    return;
  }
  if (!e.passed) {
    out->push_back({K::kDiscard, e.slot});
    s = Slot{};
    return;
  }
  if (s.base == version_) {
    out->push_back({K::kKeep, e.slot});
    ++version_;
    champion_samples_ = e.champion_samples;
    noise_failures_ = 0;
    s = Slot{};
    return;
  }
  if (s.rebases >= cfg_.max_rebases) {
    out->push_back({K::kStale, e.slot});
    s = Slot{};
    return;
  }
  ++s.rebases;
  s.rebasing = true;
  s.base = version_;
  out->push_back({K::kRebase, e.slot});
}

std::vector<SchedulerAction> ParallelScheduler::OnEvent(const SchedulerEvent& e) {
  using K = SchedulerAction::Kind;
  std::vector<SchedulerAction> out;
  switch (e.kind) {
    case SchedulerEvent::Kind::kTick:
      Tick(e.may_start, &out);
      break;
    case SchedulerEvent::Kind::kStop:
      stopped_ = true;
      Tick(false, &out);
      break;
    case SchedulerEvent::Kind::kFinished:
      if (e.slot >= 0 && e.slot < static_cast<int>(slots_.size())) Finished(e, &out);
      break;
    case SchedulerEvent::Kind::kRebased: {
      if (e.slot < 0 || e.slot >= static_cast<int>(slots_.size())) break;
      Slot& s = slots_[static_cast<size_t>(e.slot)];
      if (!s.rebasing) break;
      s.rebasing = false;
      if (!e.ok) {
        out.push_back({K::kConflict, e.slot});
        s = Slot{};
      } else {
        s.task = SlotTask::kRemeasure;
        out.push_back({K::kRemeasure, e.slot});
      }
      break;
    }
  }
  return out;
}

std::string ReplaySchedule(const SchedulerConfig& cfg, int champion_samples,
                           const std::vector<std::string>& events) {
  ParallelScheduler sched(cfg, champion_samples);
  std::string out;
  for (const std::string& text : events) {
    std::istringstream in(text);
    std::string word, what;
    SchedulerEvent e;
    in >> word;
    if (word == "tick" || word == "tick-") {
      e.kind = SchedulerEvent::Kind::kTick;
      e.may_start = word == "tick";
    } else if (word == "stop") {
      e.kind = SchedulerEvent::Kind::kStop;
    } else if (word == "fin") {
      e.kind = SchedulerEvent::Kind::kFinished;
      in >> e.slot >> what;
      e.passed = what == "pass";
      e.ok = what == "ok";
      if (e.passed) in >> e.champion_samples;
    } else if (word == "rebased") {
      e.kind = SchedulerEvent::Kind::kRebased;
      in >> e.slot >> what;
      e.ok = what == "ok";
    } else {
      return out + " | bad event '" + text + "'";
    }
    std::string line;
    for (auto& a : sched.OnEvent(e)) {
      if (!line.empty()) line += ", ";
      line += SchedulerActionName(a.kind);
      if (a.slot >= 0) line += fmt::format(" {}", a.slot);
    }
    if (!out.empty()) out += " | ";
    out += line.empty() ? "-" : line;
  }
  return out;
}

}  // namespace inloop::loop
