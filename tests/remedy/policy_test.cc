// remedy/: the escalation ladders, good checkpoints, the launch channels and [remedy] loading.
#include "remedy/policy.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/file_io.h"
#include "config/config.h"
#include "remedy/launch.h"

namespace inloop::remedy {
namespace {

namespace fs = std::filesystem;

class RemedyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-remedy-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Touch(const std::string& name, const std::string& content = "weights") {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }

  RemedyConfig Config() {
    RemedyConfig c;
    c.backoff_initial_seconds = 1;
    c.backoff_max_seconds = 3;
    return c;
  }

  std::string dir_;
};

Failure Loss(int64_t step, const char* trigger = "loss_spike") {
  Failure f;
  f.family = Family::kLoss;
  f.trigger = trigger;
  f.step = f.step_hi = step;
  f.process_alive = true;
  f.detail = "spike";
  return f;
}

Failure Crash(const char* cls, std::optional<int64_t> step, detect::Retry retry) {
  detect::CrashReport c;
  c.cls = cls == std::string("unknown")     ? detect::CrashClass::kUnknown
          : cls == std::string("cuda_oom")  ? detect::CrashClass::kCudaOom
          : cls == std::string("disk_full") ? detect::CrashClass::kDiskFull
          : cls == std::string("host_oom")  ? detect::CrashClass::kHostOom
                                            : detect::CrashClass::kSegfault;
  c.retry = retry;
  c.summary = cls;
  return FailureFromCrash(c, step, 10);
}

TEST_F(RemedyTest, LossLadderRollsBackThenCutsLrThenStops) {
  Policy p(Config(), dir_);
  p.checkpoints().Announce(Touch("ckpt-100.pt"), 100, 1);
  p.checkpoints().Announce(Touch("ckpt-200.pt"), 200, 1);
  p.checkpoints().OpenAnomaly(250);
  p.checkpoints().Announce(Touch("ckpt-300.pt"), 300, 1);  // inside the open anomaly: not good

  Plan a = p.Decide(Loss(250));
  EXPECT_EQ(a.action, ActionKind::kRollbackSkip);
  ASSERT_TRUE(a.checkpoint);
  EXPECT_EQ(a.checkpoint->step, 200);
  ASSERT_TRUE(a.new_skip);
  EXPECT_EQ(a.new_skip->first, 201);
  EXPECT_EQ(a.new_skip->second, 251);
  EXPECT_EQ(a.delay_seconds, 0);
  p.Apply(a);
  EXPECT_EQ(p.state().restarts, 1);
  EXPECT_EQ(p.state().skip_windows.size(), 1u);

  // The same anomaly again at the same step: cut the learning rate.
  Plan b = p.Decide(Loss(250));
  EXPECT_EQ(b.action, ActionKind::kLrCut);
  EXPECT_DOUBLE_EQ(b.lr_scale, 0.5);
  ASSERT_TRUE(b.checkpoint);
  EXPECT_EQ(b.checkpoint->step, 200);
  p.Apply(b);
  ASSERT_TRUE(p.state().lr_scale);
  EXPECT_DOUBLE_EQ(*p.state().lr_scale, 0.5);

  // Every remedy of the ladder failed at this step: stop, with the reason.
  Plan c = p.Decide(Loss(250));
  EXPECT_EQ(c.action, ActionKind::kStop);
  EXPECT_NE(c.reason.find("after every remedy"), std::string::npos) << c.reason;
}

TEST_F(RemedyTest, RecurrenceAtAnotherStepCutsLr) {
  RemedyConfig c = Config();
  c.restart_from_scratch = true;  // no checkpoint: allowed to restart from the beginning
  Policy p(c, dir_);
  p.Apply(p.Decide(Loss(50)));
  Plan b = p.Decide(Loss(400, "nonfinite"));
  EXPECT_EQ(b.action, ActionKind::kLrCut);
  EXPECT_FALSE(b.checkpoint);  // none: from scratch
  EXPECT_EQ(b.resume_step, 0);
}

// Issue 15 (2b): with no good checkpoint a loss anomaly never restarts the run from its beginning
// unless restart_from_scratch: a non-finite loss stops at once saying what to configure, a spike
// or divergence is withheld (recorded, nothing done). A crash still restarts from the beginning.
TEST_F(RemedyTest, NoCheckpointNeverRestartsFromScratchForALossAnomaly) {
  Policy p(Config(), dir_);
  Plan spike = p.Decide(Loss(50));
  EXPECT_EQ(spike.action, ActionKind::kWithhold);
  EXPECT_FALSE(spike.restarts_process());
  EXPECT_NE(spike.reason.find("no good checkpoint"), std::string::npos) << spike.reason;
  p.Apply(spike);
  EXPECT_EQ(p.state().restarts, 0);
  // Withholding is not a rung of the ladder: the next spike is withheld again, not an lr_cut.
  EXPECT_EQ(p.Decide(Loss(60)).action, ActionKind::kWithhold);
  EXPECT_EQ(p.Decide(Loss(70, "divergence")).action, ActionKind::kWithhold);

  Plan nan = p.Decide(Loss(80, "nonfinite"));
  EXPECT_EQ(nan.action, ActionKind::kStop);
  EXPECT_NE(nan.reason.find("no good checkpoint"), std::string::npos) << nan.reason;
  EXPECT_NE(nan.reason.find("inloop.checkpoint(path, step)"), std::string::npos) << nan.reason;
  EXPECT_NE(nan.reason.find("checkpoint_glob"), std::string::npos) << nan.reason;

  // A checkpoint after the onset does not count either.
  p.checkpoints().Announce(Touch("ckpt-90.pt"), 90, 1);
  EXPECT_EQ(p.Decide(Loss(85)).action, ActionKind::kWithhold);
  EXPECT_EQ(p.Decide(Loss(95)).action, ActionKind::kRollbackSkip);

  Plan crash = p.Decide(Crash("segfault", 40, detect::Retry::kYes));
  EXPECT_EQ(crash.action, ActionKind::kResume);

  RemedyConfig c = Config();
  c.restart_from_scratch = true;
  Policy q(c, dir_);
  Plan a = q.Decide(Loss(50, "nonfinite"));
  EXPECT_EQ(a.action, ActionKind::kRollbackSkip);
  EXPECT_FALSE(a.checkpoint);
}

// Issue 15 (2c): a rollback whose skip window cannot reach the program is a plain resume, with
// the skip marked not deliverable; it still counts as the ladder's rollback rung.
TEST_F(RemedyTest, UndeliverableSkipIsAPlainResume) {
  Policy p(Config(), dir_);
  p.SetSkipReachable(false);
  p.checkpoints().Announce(Touch("ckpt-100.pt"), 100, 1);
  Plan a = p.Decide(Loss(150, "nonfinite"));
  EXPECT_EQ(a.action, ActionKind::kResume);
  EXPECT_FALSE(a.skip_deliverable);
  ASSERT_TRUE(a.new_skip);
  EXPECT_EQ(a.new_skip->first, 101);
  EXPECT_EQ(a.new_skip->second, 151);
  EXPECT_NE(a.reason.find("cannot be skipped"), std::string::npos) << a.reason;
  p.Apply(a);
  Plan b = p.Decide(Loss(150, "nonfinite"));
  EXPECT_EQ(b.action, ActionKind::kLrCut);

  // skip_args always reach the program.
  RemedyConfig c = Config();
  c.skip_args = {"--skip", "{skip_from}:{skip_to}"};
  Policy q(c, dir_);
  q.SetSkipReachable(false);
  q.checkpoints().Announce(dir_ + "/ckpt-100.pt", 100, 1);
  Plan d = q.Decide(Loss(150, "nonfinite"));
  EXPECT_EQ(d.action, ActionKind::kRollbackSkip);
  EXPECT_TRUE(d.skip_deliverable);
}

TEST_F(RemedyTest, ScriptReadsRemediesLooksForTheVariables) {
  std::string reads = Touch("reads.py", "skip = os.environ.get('INLOOP_SKIP')\n");
  std::string control = Touch("control.sh", "cat \"$INLOOP_CONTROL\"\n");
  std::string plain = Touch("plain.py", "resume = os.environ.get('INLOOP_RESUME_FROM')\n");
  EXPECT_TRUE(ScriptReadsRemedies({"python3", reads}, ""));
  EXPECT_TRUE(ScriptReadsRemedies({"bash", "control.sh", "--x"}, dir_));  // relative to cwd
  EXPECT_FALSE(ScriptReadsRemedies({"python3", plain, "--skip", "INLOOP_SKIP"}, ""));
  EXPECT_FALSE(ScriptReadsRemedies({"python3", dir_ + "/missing.py"}, ""));
  EXPECT_FALSE(ScriptReadsRemedies({"python3", dir_}, ""));  // a directory
}

TEST_F(RemedyTest, CrashResumesWithBackoffThenSkipsThenStops) {
  Policy p(Config(), dir_);
  p.checkpoints().Announce(Touch("ckpt-100.pt"), 100, 1);
  Plan a = p.Decide(Crash("segfault", 120, detect::Retry::kYes));
  EXPECT_EQ(a.action, ActionKind::kResume);
  EXPECT_EQ(a.checkpoint->step, 100);
  EXPECT_DOUBLE_EQ(a.delay_seconds, 1);
  p.Apply(a);
  Plan b = p.Decide(Crash("segfault", 120, detect::Retry::kYes));
  EXPECT_EQ(b.action, ActionKind::kRollbackSkip);
  EXPECT_DOUBLE_EQ(b.delay_seconds, 2);
  ASSERT_TRUE(b.new_skip);
  EXPECT_EQ(b.new_skip->first, 101);
  EXPECT_EQ(b.new_skip->second, 131);  // through the steps after the last logged one
  p.Apply(b);
  Plan c = p.Decide(Crash("segfault", 120, detect::Retry::kYes));
  EXPECT_EQ(c.action, ActionKind::kStop);
  // A crash elsewhere is resumed again; the backoff is capped.
  Plan d = p.Decide(Crash("segfault", 500, detect::Retry::kYes));
  EXPECT_EQ(d.action, ActionKind::kResume);
  EXPECT_DOUBLE_EQ(d.delay_seconds, 3);
}

TEST_F(RemedyTest, UnexplainedExitBeforeAnyStepStopsAtOnce) {
  Policy p(Config(), dir_);
  Plan a = p.Decide(Crash("unknown", std::nullopt, detect::Retry::kYes));
  EXPECT_EQ(a.action, ActionKind::kStop);
  EXPECT_NE(a.reason.find("setup error"), std::string::npos) << a.reason;
  // A recognised crash before any step (a segfault at start-up) is still retried, but repeats
  // without progress count as the same step: resume, rollback_skip, stop.
  Plan b = p.Decide(Crash("segfault", std::nullopt, detect::Retry::kYes));
  EXPECT_EQ(b.action, ActionKind::kResume);
  p.Apply(b);
  Plan c = p.Decide(Crash("unknown", std::nullopt, detect::Retry::kYes));
  EXPECT_EQ(c.action, ActionKind::kRollbackSkip);
  p.Apply(c);
  EXPECT_EQ(p.Decide(Crash("segfault", std::nullopt, detect::Retry::kYes)).action,
            ActionKind::kStop);
}

TEST_F(RemedyTest, FatalCrashStopsAtOnce) {
  Policy p(Config(), dir_);
  Plan a = p.Decide(Crash("disk_full", 10, detect::Retry::kNo));
  EXPECT_EQ(a.action, ActionKind::kStop);
  EXPECT_NE(a.reason.find("cannot fix"), std::string::npos);
}

TEST_F(RemedyTest, OomHalvesTheMicroBatchUntilOne) {
  Policy p(Config(), dir_);
  Plan unknown = p.Decide(Crash("cuda_oom", 3, detect::Retry::kWithSmallerBatch));
  EXPECT_EQ(unknown.action, ActionKind::kStop);
  EXPECT_NE(unknown.reason.find("micro_batch"), std::string::npos);
  p.OnParam("effective/micro_batch", "4");
  Plan a = p.Decide(Crash("cuda_oom", 3, detect::Retry::kWithSmallerBatch));
  EXPECT_EQ(a.action, ActionKind::kShrinkBatch);
  EXPECT_EQ(a.micro_batch, 2);
  EXPECT_EQ(a.delay_seconds, 0);
  p.Apply(a);
  p.OnParam("effective/micro_batch", "4");  // a stale report does not undo the shrink
  Plan b = p.Decide(Crash("cuda_oom", 3, detect::Retry::kWithSmallerBatch));
  EXPECT_EQ(b.micro_batch, 1);
  p.Apply(b);
  EXPECT_EQ(p.Decide(Crash("cuda_oom", 3, detect::Retry::kWithSmallerBatch)).action,
            ActionKind::kStop);
}

TEST_F(RemedyTest, HostOomWithoutKnownBatchIsResumed) {
  Policy p(Config(), dir_);
  EXPECT_EQ(p.Decide(Crash("host_oom", 3, detect::Retry::kYes)).action, ActionKind::kResume);
}

TEST_F(RemedyTest, MaxRestartsStops) {
  RemedyConfig c = Config();
  c.max_restarts = 2;
  Policy p(c, dir_);
  p.Apply(p.Decide(Crash("segfault", 1, detect::Retry::kYes)));
  p.Apply(p.Decide(Crash("segfault", 2, detect::Retry::kYes)));
  Plan x = p.Decide(Crash("segfault", 3, detect::Retry::kYes));
  EXPECT_EQ(x.action, ActionKind::kStop);
  EXPECT_NE(x.reason.find("max_restarts (2)"), std::string::npos) << x.reason;
}

TEST_F(RemedyTest, RollbackAbandonsTheFuture) {
  Policy p(Config(), dir_);
  p.checkpoints().Announce(Touch("a-100"), 100, 1);
  p.checkpoints().Announce(Touch("a-200"), 200, 1);
  Plan a = p.Decide(Loss(150));
  EXPECT_EQ(a.checkpoint->step, 100);
  p.Apply(a);
  // ckpt 200 belongs to the abandoned future; a crash now resumes from 100.
  Plan b = p.Decide(Crash("segfault", 120, detect::Retry::kYes));
  EXPECT_EQ(b.checkpoint->step, 100);
  // ...until the new timeline saves it again.
  p.checkpoints().Announce(dir_ + "/a-200", 200, 2);
  EXPECT_EQ(p.Decide(Crash("segfault", 220, detect::Retry::kYes)).checkpoint->step, 200);
}

TEST_F(RemedyTest, MissingCheckpointFileIsNotUsed) {
  Policy p(Config(), dir_);
  p.checkpoints().Announce(Touch("ok-10"), 10, 1);
  p.checkpoints().Announce(dir_ + "/gone-20", 20, 1);
  EXPECT_EQ(p.Decide(Crash("segfault", 25, detect::Retry::kYes)).checkpoint->step, 10);
}

TEST_F(RemedyTest, UntrustedCheckpointIsSkippedAndOnlyTheNewestCandidatesAreAsked) {
  Policy p(Config(), dir_);
  for (int s : {10, 20, 30, 40}) p.checkpoints().Announce(Touch("ck-" + std::to_string(s)), s, 1);
  std::vector<int64_t> asked;
  p.checkpoints().SetTrusted([&](const Checkpoint& c) {
    asked.push_back(c.step);
    return c.step != 40 && c.step != 30;
  });
  EXPECT_EQ(p.Decide(Crash("segfault", 45, detect::Retry::kYes)).checkpoint->step, 20);
  EXPECT_EQ(asked, (std::vector<int64_t>{40, 30, 20}));  // 10 is never scanned
  p.checkpoints().SetTrusted([](const Checkpoint&) { return false; });
  EXPECT_FALSE(p.checkpoints().NewestGood().has_value());
}

TEST_F(RemedyTest, GlobCheckpointsCompleteOnceSettled) {
  RemedyConfig c = Config();
  c.checkpoint_glob = "ck/step_*.bin";
  c.checkpoint_settle_seconds = 2;
  fs::create_directories(dir_ + "/ck");
  Touch("ck/step_000500.bin");
  Touch("ck/step_000600.bin.tmp.77");
  CheckpointBook book(c.checkpoint_glob, dir_, c.checkpoint_settle_seconds);
  book.Scan(100, 1);
  EXPECT_FALSE(book.NewestGood());  // just seen: may still be written
  book.Scan(101, 1);
  EXPECT_FALSE(book.NewestGood());
  book.Scan(102.5, 1);
  ASSERT_TRUE(book.NewestGood());
  EXPECT_EQ(book.NewestGood()->step, 500);
  EXPECT_EQ(book.all().size(), 1u);  // the temp file is not a checkpoint
}

TEST_F(RemedyTest, GlobCheckpointUnchangedForLongIsCompleteAtFirstSight) {
  fs::create_directories(dir_ + "/ck");
  std::string old = Touch("ck/step_000300.bin");
  std::string fresh = Touch("ck/step_000400.bin");
  struct timespec times[2] = {{0, UTIME_OMIT}, {0, 0}};
  times[1].tv_sec = time(nullptr) - 60;  // written a minute ago
  ASSERT_EQ(utimensat(AT_FDCWD, old.c_str(), times, 0), 0);
  CheckpointBook book("ck/step_*.bin", dir_, 2);
  book.Scan(static_cast<double>(time(nullptr)), 1);
  ASSERT_TRUE(book.NewestGood());
  EXPECT_EQ(book.NewestGood()->step, 300);  // 400 was just written: not yet
}

TEST_F(RemedyTest, StepFromName) {
  EXPECT_EQ(StepFromName("/x/ckpt-0000250.pt"), 250);
  EXPECT_EQ(StepFromName("/x/checkpoint-500/"), 500);
  EXPECT_EQ(StepFromName("/run3/model.pt"), std::nullopt);
  EXPECT_EQ(StepFromName("epoch=3-step=1200.ckpt"), 1200);
}

TEST_F(RemedyTest, NonFiniteGradNormAloneIsNotActedOn) {
  RemedyConfig c = Config();
  detect::Finding f;
  f.kind = detect::FindingKind::kNonFinite;
  f.step_lo = f.step_hi = 7;
  EXPECT_FALSE(FailureFromFinding(f, /*loss_series=*/false, c));
  EXPECT_TRUE(FailureFromFinding(f, /*loss_series=*/true, c));
  f.is_update = true;
  EXPECT_FALSE(FailureFromFinding(f, true, c));
  f.is_update = false;
  f.kind = detect::FindingKind::kPlateau;
  EXPECT_FALSE(FailureFromFinding(f, true, c));
}

TEST_F(RemedyTest, LaunchRendersArgsEnvAndControl) {
  RemedyConfig c = Config();
  c.checkpoint_args = {"--resume", "{checkpoint}"};
  c.skip_args = {"--skip={skip_from}:{skip_to}"};
  c.lr_scale_args = {"--lr-scale", "{lr_scale}"};
  c.micro_batch_args = {"--micro-batch", "{micro_batch}"};
  RemedyState st;
  Launch first = BuildLaunch({"train", "--x"}, c, st, 1, "start", "/c.json");
  EXPECT_EQ(first.argv, (std::vector<std::string>{"train", "--x"}));
  EXPECT_NE(ControlJson(first.control).find("\"resume_from\":null"), std::string::npos);

  Checkpoint ck;
  ck.path = "/ck/ckpt-200.pt";
  ck.step = 200;
  st.checkpoint = ck;
  st.resume_step = 200;
  st.skip_windows = {{50, 60}, {201, 251}};
  st.lr_scale = 0.5;
  Launch l = BuildLaunch({"train"}, c, st, 3, "lr_cut", "/c.json");
  EXPECT_EQ(l.argv, (std::vector<std::string>{"train", "--resume", "/ck/ckpt-200.pt",
                                              "--skip=201:251", "--lr-scale", "0.5"}));
  auto env = [&](const std::string& k) {
    for (auto& [a, b] : l.env) {
      if (a == k) return b;
    }
    return std::string("<unset>");
  };
  EXPECT_EQ(env("INLOOP_RESUME_FROM"), "/ck/ckpt-200.pt");
  EXPECT_EQ(env("INLOOP_SKIP"), "50:60,201:251");
  EXPECT_EQ(env("INLOOP_LR_SCALE"), "0.5");
  EXPECT_EQ(env("INLOOP_MICRO_BATCH"), "<unset>");
  EXPECT_EQ(env("INLOOP_CONTROL"), "/c.json");
  std::string control = ControlJson(l.control);
  EXPECT_NE(control.find("\"skip_windows\":[[50,60],[201,251]]"), std::string::npos) << control;
  EXPECT_NE(control.find("\"attempt\":3"), std::string::npos);
}

TEST_F(RemedyTest, LiveRequestAddsToTheAttemptsControlFile) {
  RemedyState before;
  before.skip_windows = {{50, 60}};
  Plan p;
  p.action = ActionKind::kRollbackSkip;
  Checkpoint ck;
  ck.path = "/ck/ckpt-200.pt";
  ck.step = 200;
  p.checkpoint = ck;
  p.resume_step = 200;
  p.new_skip = SkipWindow{201, 251};
  ControlFile attempt = BuildLaunch({"train"}, Config(), before, 2, "resume", "/c.json").control;
  std::string base = ControlJson(attempt);
  std::string out = ControlJson(WithLiveRequest(attempt, p, before, 3));
  // The attempt's keys unchanged, then "live" as the last key.
  EXPECT_EQ(out.substr(0, base.size() - 2), base.substr(0, base.size() - 2));
  EXPECT_NE(out.find(R"(,"live":{"seq":3,"action":"rollback_skip","resume_from":"/ck/ckpt-200.pt",)"
                     R"("resume_step":200,"skip_windows":[[50,60],[201,251]],"lr_scale":null,)"
                     R"("micro_batch":null}})"),
            std::string::npos)
      << out;
  EXPECT_EQ(ControlJson(attempt), base) << "the attempt's own control file is not changed";
}

TEST_F(RemedyTest, ControlFileIsReplacedAtomically) {
  std::string p = dir_ + "/control.json";
  ASSERT_TRUE(WriteFileAtomically(p, "{\"a\":1}\n").ok());
  ASSERT_TRUE(WriteFileAtomically(p, "{\"a\":2}\n").ok());
  std::ifstream f(p);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(s, "{\"a\":2}\n");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no temp file left behind
}

TEST_F(RemedyTest, ConfigLoadsAndRejects) {
  std::string p = Touch("inloop.toml", R"([remedy]
policy = "ask"
max_restarts = 3
checkpoint_args = ["--resume", "{checkpoint}"]
rollback_on = ["nonfinite"]
)");
  config::Config cfg;
  ASSERT_TRUE(config::LoadConfig(p, &cfg).ok());
  EXPECT_EQ(cfg.remedy.mode, Mode::kAsk);
  EXPECT_EQ(cfg.remedy.max_restarts, 3);
  EXPECT_EQ(cfg.remedy.rollback_on, std::vector<std::string>{"nonfinite"});

  p = Touch("bad.toml", "[remedy]\npolicy = \"sometimes\"\n");
  Status s = config::LoadConfig(p, &cfg);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("bad.toml:2:"), std::string::npos) << s.message();
  p = Touch("bad2.toml", "[remedy]\ncheckpoint_args = [\"--resume\", \"{ckpt}\"]\n");
  s = config::LoadConfig(p, &cfg);
  EXPECT_NE(s.message().find("{ckpt}"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad2.toml:2:"), std::string::npos) << s.message();
  p = Touch("bad3.toml", "[remedy]\nlr_cut_factor = 1.5\n");
  EXPECT_FALSE(config::LoadConfig(p, &cfg).ok());
  p = Touch("bad4.toml", "[remedy]\nmax_restart = 1\n");
  s = config::LoadConfig(p, &cfg);
  EXPECT_NE(s.message().find("unknown field 'remedy.max_restart'"), std::string::npos);
}

}  // namespace
}  // namespace inloop::remedy
