// remedy/controller: replays of whole scenarios through the remedy state machine, with no
// process, clock or store: the test feeds steps, loss points, findings, exits, approvals and time,
// and asserts the exact sequence of commands and events the controller sends.
#include "remedy/controller.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/catalog.h"

namespace inloop::remedy {
namespace {

using detect::SeriesClass;

// Records every command; answers kRecordAction with 1, 2, ... (or 0 once the store "failed").
class Recorder : public CommandSink {
 public:
  int64_t Execute(const Command& c) override {
    commands.push_back(c);
    if (c.kind != CommandKind::kRecordAction || store_failed) return 0;
    return ++last_id;
  }
  // The commands since the last call, described, without the lines said to the user.
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (auto& c : commands) {
      if (c.kind != CommandKind::kSay) out.push_back(Describe(c));
    }
    said.clear();
    for (auto& c : commands) {
      if (c.kind == CommandKind::kSay) said.push_back(c.text);
    }
    commands.clear();
    return out;
  }
  // The first event of `kind` among the commands not taken yet.
  const TimelineEvent* Event(std::string_view kind) const {
    for (auto& c : commands) {
      if (c.kind == CommandKind::kEvent && c.event.kind == kind) return &c.event;
    }
    return nullptr;
  }

  std::vector<Command> commands;
  std::vector<std::string> said;
  int64_t last_id = 0;
  bool store_failed = false;
};

detect::Finding Found(detect::FindingKind kind, int64_t step, const std::string& series = "loss") {
  detect::Finding f;
  f.kind = kind;
  f.severity = detect::Severity::kError;
  f.series = series;
  f.step_lo = f.step_hi = step;
  f.message = std::string(detect::FindingKindName(kind));
  return f;
}

using Batch = std::vector<std::pair<detect::Finding, SeriesClass>>;

Batch NonFinite(int64_t step) { return {{Found(detect::FindingKind::kNonFinite, step), SeriesClass::kLoss}}; }

detect::CrashReport Segfault() {
  detect::CrashReport c;
  c.cls = detect::CrashClass::kSegfault;
  c.retry = detect::Retry::kYes;
  c.summary = "segfault";
  return c;
}

class ControllerTest : public ::testing::Test {
 protected:
  RemedyConfig Config() {
    RemedyConfig c;
    c.backoff_initial_seconds = 1;
    c.backoff_max_seconds = 3;
    return c;
  }
  // A controller whose checkpoints all "exist" (no file system).
  Controller& Make(RemedyConfig config) {
    ctl_ = std::make_unique<Controller>(config, "/nonexistent", &rec_);
    ctl_->checkpoints().SetExists([](const std::string&) { return true; });
    return *ctl_;
  }
  void Steps(int64_t from, int64_t to) {
    for (int64_t s = from; s <= to; ++s) ctl_->OnStep(s);
  }
  void Exit(int code, std::optional<detect::CrashReport> crash = std::nullopt, double now = 0) {
    ctl_->OnProcessGone();
    ctl_->OnExit(ExitInput{code, crash, now});
  }
  // The NaN-at-150 scenario up to the restart it asks for: checkpoint 100, steps to 150.
  void NanAt150() {
    ctl_->OnAttemptStart(1);
    Steps(1, 100);
    ctl_->OnCheckpoint("ckpt-100.pt", 100);
    Steps(101, 150);
    ctl_->OnFindings(NonFinite(150));
  }

  Recorder rec_;
  std::unique_ptr<Controller> ctl_;
};

using Lines = std::vector<std::string>;

TEST_F(ControllerTest, NanWithGoodCheckpointRollsBackSkipsAndRecovers) {
  Controller& c = Make(Config());
  NanAt150();
  EXPECT_EQ(rec_.Take(), (Lines{"event checkpoint", "kill", "record rollback_skip approved by policy",
                                "event action_proposed rollback_skip",
                                "event action_approved rollback_skip", "event signal_sent"}));
  EXPECT_FALSE(c.DiedOnItsOwn(143));
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy",
                                "event action_applied rollback_skip",
                                "restart attempt 2 rollback_skip from step 100 skip 101..150"}));
  ASSERT_EQ(c.state().skip_windows.size(), 1u);
  EXPECT_EQ(c.state().resume_step, 100);

  c.OnAttemptStart(2);
  Steps(101, 150);
  EXPECT_TRUE(rec_.Take().empty());
  c.OnStep(151);  // past the failure's step: the remedy worked
  ASSERT_NE(rec_.Event("action_outcome"), nullptr);
  auto outcome = std::get<OutcomeData>(rec_.Event("action_outcome")->data);
  EXPECT_EQ(outcome.action_id, 1);
  EXPECT_EQ(outcome.attempt, 2);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome passed"}));
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"end finished"}));
  EXPECT_TRUE(c.ended());
  EXPECT_FALSE(c.policy_stopped());
}

TEST_F(ControllerTest, SpikeThatHealsWithinPatienceIsAFindingOnly) {
  RemedyConfig cfg = Config();
  cfg.spike_patience = 3;
  Controller& c = Make(cfg);
  c.OnAttemptStart(1);
  c.OnCheckpoint("ckpt-5.pt", 5);
  rec_.Take();
  for (int64_t s = 1; s <= 10; ++s) {
    c.OnStep(s);
    c.OnLossPoint("loss", s, 2.0 + 0.01 * (s % 2));
  }
  c.OnStep(11);
  c.OnLossPoint("loss", 11, 9.0);
  c.OnFindings({{Found(detect::FindingKind::kLossSpike, 11), SeriesClass::kLoss}});
  EXPECT_TRUE(rec_.Take().empty());  // held: it may heal
  c.OnStep(12);
  c.OnLossPoint("loss", 12, 2.0);
  EXPECT_TRUE(c.has_work());
  c.OnFindings({});
  const TimelineEvent* e = rec_.Event("spike_recovered");
  ASSERT_NE(e, nullptr);
  auto d = std::get<SpikeData>(e->data);
  EXPECT_EQ(d.onset, 11);
  EXPECT_EQ(d.step, 12);
  EXPECT_EQ(d.patience, 3);
  EXPECT_EQ(rec_.Take(), (Lines{"event spike_recovered"}));
  ASSERT_EQ(rec_.said.size(), 1u);
  EXPECT_NE(rec_.said[0].find("healed on its own"), std::string::npos);
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"end finished"}));
}

TEST_F(ControllerTest, RepeatedFaultsEscalateToLrCutThenStop) {
  Controller& c = Make(Config());
  NanAt150();
  Exit(143);
  rec_.Take();
  c.OnAttemptStart(2);
  Steps(101, 150);
  c.OnFindings(NonFinite(150));
  EXPECT_EQ(rec_.Take(), (Lines{"kill", "record lr_cut approved by policy",
                                "event action_proposed lr_cut", "event action_approved lr_cut",
                                "event signal_sent"}));
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome failed", "set_state 2 applied by policy",
                                "event action_applied lr_cut",
                                "restart attempt 3 lr_cut from step 100 lr 0.5"}));
  c.OnAttemptStart(3);
  Steps(101, 150);
  c.OnFindings(NonFinite(150));
  EXPECT_EQ(rec_.Take(), (Lines{"kill", "record stop approved by policy",
                                "event action_proposed stop", "event action_approved stop",
                                "set_state 3 applied by policy", "event action_applied stop"}));
  EXPECT_TRUE(c.policy_stopped());
  EXPECT_NE(c.stop_reason().find("after every remedy"), std::string::npos);
  // The process is being ended: a further finding is recorded only.
  c.OnFindings(NonFinite(151));
  EXPECT_TRUE(rec_.Take().empty());
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome failed", "end failed"}));
}

TEST_F(ControllerTest, NonFiniteWithNoCheckpointStopsWithTheReason) {
  Controller& c = Make(Config());
  c.OnAttemptStart(1);
  Steps(1, 40);
  c.OnFindings(NonFinite(40));
  EXPECT_EQ(rec_.Take(), (Lines{"kill", "record stop approved by policy",
                                "event action_proposed stop", "event action_approved stop",
                                "set_state 1 applied by policy", "event action_applied stop"}));
  EXPECT_NE(c.stop_reason().find("there is no good checkpoint to return to"), std::string::npos);
  EXPECT_NE(c.stop_reason().find("restart_from_scratch"), std::string::npos);
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"end failed"}));
  EXPECT_TRUE(c.policy_stopped());
}

TEST_F(ControllerTest, SpikeWithNoCheckpointIsWithheldAndTrainingGoesOn) {
  RemedyConfig cfg = Config();
  cfg.spike_patience = 0;
  Controller& c = Make(cfg);
  c.OnAttemptStart(1);
  Steps(1, 40);
  c.OnFindings({{Found(detect::FindingKind::kLossSpike, 40), SeriesClass::kLoss}});
  EXPECT_EQ(rec_.Take(), (Lines{"event remedy_withheld"}));
  ASSERT_EQ(c.summary().size(), 1u);
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"end finished"}));
}

TEST_F(ControllerTest, CrashWithNoCheckpointRestartsFromTheBeginningAfterBackoff) {
  Controller& c = Make(Config());
  c.OnAttemptStart(1);
  Steps(1, 40);
  EXPECT_TRUE(c.DiedOnItsOwn(139));
  Exit(139, Segfault(), 100.0);
  EXPECT_EQ(rec_.Take(), (Lines{"record resume approved by policy", "event action_proposed resume",
                                "event action_approved resume"}));
  ASSERT_EQ(rec_.said.size(), 2u);
  EXPECT_EQ(rec_.said[1], "restarting in 1s (backoff)");
  EXPECT_TRUE(c.waiting());
  ASSERT_TRUE(c.wake_at());
  EXPECT_DOUBLE_EQ(*c.wake_at(), 101.0);
  c.Tick(100.5);
  EXPECT_TRUE(rec_.Take().empty());
  c.Tick(101.0);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy", "event action_applied resume",
                                "restart attempt 2 resume from scratch"}));
  EXPECT_FALSE(c.waiting());
  c.OnAttemptStart(2);
  Steps(1, 41);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome passed"}));
}

TEST_F(ControllerTest, HangRestartsFromTheNewestCheckpointAtOnce) {
  Controller& c = Make(Config());
  c.OnAttemptStart(1);
  Steps(1, 20);
  c.OnCheckpoint("ckpt-20.pt", 20);
  Steps(21, 30);
  rec_.Take();
  detect::Finding hang = Found(detect::FindingKind::kHang, 30, "");
  c.OnFindings({{hang, SeriesClass::kOther}});
  EXPECT_EQ(rec_.Take(), (Lines{"kill", "record resume approved by policy",
                                "event action_proposed resume", "event action_approved resume",
                                "event signal_sent"}));
  Exit(143);  // killed by inloop: a restart decided live starts at once (no backoff)
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy", "event action_applied resume",
                                "restart attempt 2 resume from step 20"}));
}

TEST_F(ControllerTest, AskModeApprovedWhileTheProcessLives) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = Make(cfg);
  NanAt150();
  EXPECT_EQ(rec_.Take(), (Lines{"event checkpoint", "record rollback_skip pending",
                                "event action_proposed rollback_skip", "ask 1 rollback_skip"}));
  ASSERT_EQ(c.pending_approval(), std::optional<int64_t>(1));
  c.OnFindings(NonFinite(151));  // one action at a time
  EXPECT_TRUE(rec_.Take().empty());
  c.OnDecision(1, true, 5.0);
  EXPECT_EQ(rec_.Take(), (Lines{"kill", "event signal_sent"}));
  EXPECT_FALSE(c.pending_approval());
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy",
                                "event action_applied rollback_skip",
                                "restart attempt 2 rollback_skip from step 100 skip 101..150"}));
}

TEST_F(ControllerTest, AskModeDeniedLeavesTheTrainingAlone) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = Make(cfg);
  NanAt150();
  rec_.Take();
  c.OnDecision(1, false, 5.0);
  EXPECT_TRUE(rec_.Take().empty());
  EXPECT_FALSE(c.pending_approval());
  Steps(151, 200);
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"end finished"}));
}

TEST_F(ControllerTest, AskModeUndecidedActionExpiresWhenTheAttemptEnds) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Make(cfg);
  NanAt150();
  rec_.Take();
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 expired by exit", "event action_expired",
                                "end finished"}));
}

TEST_F(ControllerTest, AskModeAfterACrashWaitsForAPersonAndADenialEndsTheRun) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = Make(cfg);
  c.OnAttemptStart(1);
  Steps(1, 40);
  Exit(139, Segfault(), 10.0);
  EXPECT_EQ(rec_.Take(), (Lines{"record resume pending", "event action_proposed resume",
                                "ask 1 resume"}));
  EXPECT_TRUE(c.waiting());
  EXPECT_EQ(c.pending_approval(), std::optional<int64_t>(1));
  c.Tick(50.0);  // nobody decided: it waits
  EXPECT_TRUE(rec_.Take().empty());
  c.OnDecision(1, false, 51.0);
  EXPECT_EQ(rec_.Take(), (Lines{"end failed"}));
  EXPECT_FALSE(c.waiting());
}

TEST_F(ControllerTest, AskModeAfterACrashApprovedRestartsAfterBackoff) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = Make(cfg);
  c.OnAttemptStart(1);
  Steps(1, 40);
  Exit(139, Segfault(), 10.0);
  rec_.Take();
  c.OnDecision(1, true, 20.0);
  EXPECT_TRUE(rec_.Take().empty());
  EXPECT_EQ(c.wake_at(), std::optional<double>(21.0));
  c.Tick(21.0);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy", "event action_applied resume",
                                "restart attempt 2 resume from scratch"}));
}

TEST_F(ControllerTest, InterruptDuringBackoffExpiresTheActionAndStops) {
  Controller& c = Make(Config());
  c.OnAttemptStart(1);
  Steps(1, 40);
  Exit(139, Segfault(), 10.0);
  rec_.Take();
  c.OnInterrupt();
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 expired by interrupted", "end stopped"}));
}

TEST_F(ControllerTest, MaxRestartsExhaustedStops) {
  RemedyConfig cfg = Config();
  cfg.max_restarts = 1;
  Controller& c = Make(cfg);
  c.OnAttemptStart(1);
  Steps(1, 40);
  Exit(139, Segfault(), 0.0);
  c.Tick(10.0);
  EXPECT_EQ(rec_.Take().back(), "restart attempt 2 resume from scratch");
  c.OnAttemptStart(2);
  Steps(1, 30);
  Exit(139, Segfault(), 20.0);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome failed", "record stop approved by policy",
                                "event action_proposed stop", "event action_approved stop",
                                "set_state 2 applied by policy", "event action_applied stop",
                                "end failed"}));
  EXPECT_NE(c.stop_reason().find("max_restarts (1) reached"), std::string::npos);
  EXPECT_FALSE(c.policy_stopped());  // it ended after the exit, not by ending a live process
}

TEST_F(ControllerTest, UndeliverableSkipIsReportedAsResumeUntilTheSdkAcknowledges) {
  Controller& c = Make(Config());
  c.SetSkipReachable(false);
  NanAt150();
  EXPECT_EQ(rec_.Take(), (Lines{"event checkpoint", "kill", "record resume approved by policy",
                                "event action_proposed resume", "event action_approved resume",
                                "event signal_sent"}));
  Exit(143);
  const TimelineEvent* applied = rec_.Event("action_applied");
  ASSERT_NE(applied, nullptr);
  auto data = std::get<ActionData>(applied->data);
  EXPECT_EQ(data.skip_deliverable, std::optional<bool>(false));
  EXPECT_NE(applied->message.find("not deliverable"), std::string::npos);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy", "event action_applied resume",
                                "restart attempt 2 resume from step 100 skip 101..150 undeliverable"}));
  c.OnAttemptStart(2);
  c.OnRemediesAcknowledged();
  EXPECT_EQ(rec_.Take(), (Lines{"event remedy_acknowledged"}));
  c.OnRemediesAcknowledged();  // said once
  EXPECT_TRUE(rec_.Take().empty());
}

TEST_F(ControllerTest, ObserveModeRecordsAndNeverTouchesTheProcess) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kObserve;
  Controller& c = Make(cfg);
  NanAt150();
  EXPECT_EQ(rec_.Take(), (Lines{"event checkpoint", "record rollback_skip observed by policy",
                                "event action_proposed rollback_skip"}));
  Exit(1, Segfault());
  EXPECT_EQ(rec_.Take(), (Lines{"record resume observed by policy",
                                "event action_proposed resume", "end failed"}));
  EXPECT_EQ(c.state().restarts, 0);
}

TEST_F(ControllerTest, AskAfterExitWithAFailedStoreEndsTheRun) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = Make(cfg);
  rec_.store_failed = true;
  c.OnStoreFailed();
  c.OnAttemptStart(1);
  Steps(1, 10);
  Exit(139, Segfault());
  EXPECT_EQ(rec_.Take(), (Lines{"record resume pending", "event action_proposed resume",
                                "ask 0 resume", "end failed"}));
  EXPECT_EQ(rec_.said.back(), "the store failed, so nobody can approve the remedy: the run ends");
}

TEST_F(ControllerTest, InterruptDropsTheRestartDecidedLive) {
  Controller& c = Make(Config());
  NanAt150();
  rec_.Take();
  c.OnInterrupt();
  EXPECT_FALSE(c.DiedOnItsOwn(130));
  Exit(130);
  EXPECT_EQ(rec_.Take(), (Lines{"end stopped"}));
}

}  // namespace
}  // namespace inloop::remedy

// ---- in-process remedies ----

namespace inloop::remedy {
namespace {

class InProcessTest : public ControllerTest {
 protected:
  // A process that polls for in-process remedies, NaN at 150 with the checkpoint of step 100.
  Controller& LiveNanAt150(RemedyConfig cfg) {
    Controller& c = Make(cfg);
    c.OnClock(10.0);
    c.OnAttemptStart(1);
    c.OnLiveReady();
    NanAt150();
    return c;
  }
};

TEST_F(InProcessTest, RollbackIsAskedOfTheLiveProcessAndJudgedFromTheCheckpoint) {
  Controller& c = LiveNanAt150(Config());
  EXPECT_EQ(rec_.Take(), (Lines{"event checkpoint", "record rollback_skip approved by policy",
                                "event action_proposed rollback_skip",
                                "event action_approved rollback_skip",
                                "deliver rollback_skip to step 100 seq 1 skip 101..150",
                                "event in_process_requested rollback_skip"}));
  c.OnFindings(NonFinite(151));  // what the process logs before it applies: one action at a time
  EXPECT_TRUE(rec_.Take().empty());
  EXPECT_FALSE(c.DiedOnItsOwn(1));  // a remedy is in flight
  c.OnLiveApplied(7);               // not our request
  EXPECT_TRUE(rec_.Take().empty());
  c.OnLiveApplied(1);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy",
                                "event action_applied rollback_skip",
                                "rewind rollback_skip to step 100 skip 101..150"}));
  ASSERT_EQ(c.state().skip_windows.size(), 1u);
  EXPECT_EQ(c.state().resume_step, 100);
  c.OnClock(1000.0);  // long after the deadline: nothing is in flight any more
  EXPECT_TRUE(rec_.Take().empty());
  Steps(101, 150);
  EXPECT_TRUE(rec_.Take().empty());
  c.OnStep(151);
  EXPECT_EQ(rec_.Take(), (Lines{"event action_outcome passed"}));
  Exit(0);
  EXPECT_EQ(rec_.Take(), (Lines{"end finished"}));
  EXPECT_EQ(c.summary().back(), "rollback_skip after nonfinite at step 150 -> in process from step 101");
}

TEST_F(InProcessTest, NotAppliedInTimeFallsBackToTheRestart) {
  RemedyConfig cfg = Config();
  cfg.in_process_timeout_seconds = 5;
  Controller& c = LiveNanAt150(cfg);
  rec_.Take();
  c.OnClock(14.9);
  EXPECT_TRUE(rec_.Take().empty());
  c.OnClock(15.0);
  EXPECT_EQ(rec_.Take(), (Lines{"event in_process_timeout rollback_skip", "kill",
                                "event signal_sent"}));
  c.OnLiveApplied(1);  // too late: the process is being ended
  EXPECT_TRUE(rec_.Take().empty());
  Exit(143);
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 applied by policy",
                                "event action_applied rollback_skip",
                                "restart attempt 2 rollback_skip from step 100 skip 101..150"}));
}

TEST_F(InProcessTest, ProcessEndingBeforeApplyingIsRestartedWithThePlan) {
  Controller& c = LiveNanAt150(Config());
  rec_.Take();
  EXPECT_FALSE(c.DiedOnItsOwn(1));
  Exit(1);
  EXPECT_EQ(rec_.Take(), (Lines{"event in_process_timeout rollback_skip",
                                "set_state 1 applied by policy",
                                "event action_applied rollback_skip",
                                "restart attempt 2 rollback_skip from step 100 skip 101..150"}));
}

TEST_F(InProcessTest, DisabledOrNotPollingOrNoCheckpointRestartsAsBefore) {
  RemedyConfig off = Config();
  off.in_process = false;
  LiveNanAt150(off);
  EXPECT_EQ(rec_.Take()[1], "kill");

  Make(Config());  // never said it polls
  NanAt150();
  EXPECT_EQ(rec_.Take()[1], "kill");

  // A crash is never asked in process (the process is gone).
  Controller& c = Make(Config());
  c.OnAttemptStart(1);
  c.OnLiveReady();
  Steps(1, 100);
  c.OnCheckpoint("ckpt-100.pt", 100);
  rec_.Take();
  Exit(139, Segfault());
  for (const std::string& line : rec_.Take()) EXPECT_NE(line.rfind("deliver", 0), 0u) << line;
}

TEST_F(InProcessTest, AskModeApprovalIsDeliveredInProcessAndInterruptExpiresIt) {
  RemedyConfig cfg = Config();
  cfg.mode = Mode::kAsk;
  Controller& c = LiveNanAt150(cfg);
  rec_.Take();
  c.OnDecision(1, true, 12.0);
  EXPECT_EQ(rec_.Take(), (Lines{"deliver rollback_skip to step 100 seq 1 skip 101..150",
                                "event in_process_requested rollback_skip"}));
  c.OnInterrupt();
  EXPECT_EQ(rec_.Take(), (Lines{"set_state 1 expired by interrupted"}));
  Exit(130);
  EXPECT_EQ(rec_.Take(), (Lines{"end stopped"}));
}

}  // namespace
}  // namespace inloop::remedy
