// Tamper-evidence parts (loop/tamper.h): hashing the declared evaluation, the evidence when a
// file, a new file under its globs or a fingerprinted setting changes, the changed paths of a
// diff, which audit findings count as tampering, reading the metric from the evaluation's
// stdout, and the verdict's colour. Also the state after a re-check round (recheck.h).
#include "loop/tamper.h"

#include <unistd.h>

#include <filesystem>
#include <functional>

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "loop/recheck.h"

namespace inloop::loop {
namespace {
namespace fs = std::filesystem;

class TamperFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-tamper-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    fs::create_directories(top_ + "/data");
    fs::create_directories(top_ + "/.git");
    fs::create_directories(top_ + "/.inloop/data");
    Write("evaluate.py", "print('val_loss=1')\n");
    Write("data/val.txt", "1 2 3\n");
    Write("train.py", "LR = 0.1\n");
    Write(".git/evaluate.py", "not walked\n");
    Write(".inloop/data/x", "the store: not walked\n");
    c_.metric = "val_loss";
    c_.workdir = top_;
    c_.store_dir = top_ + "/.inloop";
    c_.eval_globs = {"data/*"};
    c_.eval_command = {"/usr/bin/python3", "evaluate.py", "--seed", "{seed}"};
    ASSERT_TRUE(DeclareEvaluation(top_, &c_).ok());
    c_.eval_fingerprint = EvalFingerprint(c_);
  }
  void TearDown() override { fs::remove_all(top_); }
  void Write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(top_ + "/" + rel, text).ok());
  }
  std::string top_;
  LoopConfig c_;
};

TEST_F(TamperFiles, DeclaresTheGlobsAndTheEvaluationCommandsFiles) {
  EXPECT_EQ(c_.eval_globs, (std::vector<std::string>{"data/*", "evaluate.py"}));
  ASSERT_EQ(c_.eval_files.size(), 2u);
  EXPECT_EQ(c_.eval_files[0].path, "data/val.txt");
  EXPECT_EQ(c_.eval_files[1].path, "evaluate.py");
  EXPECT_EQ(c_.eval_files[1].sha256.size(), 64u);
  EXPECT_TRUE(VerifyEvaluation(c_, top_, c_).empty());
  std::vector<EvalFile> none;
  Status s = HashEvalFiles(top_, {"eval/*.json"}, c_.store_dir, &none);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--eval-file eval/*.json: no file"), std::string::npos) << s.message();
}

TEST_F(TamperFiles, EvidenceOfAChangedGoneOrNewFile) {
  Write("evaluate.py", "print('val_loss=0')\n");
  auto ev = VerifyEvaluation(c_, top_, c_);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].find("evaluation file evaluate.py changed"), std::string::npos) << ev[0];
  fs::remove(top_ + "/data/val.txt");
  Write("data/extra.txt", "more\n");
  fs::create_directories(top_ + "/data/__pycache__");
  Write("data/__pycache__/x.cpython-311.pyc", "byte code of an import\n");
  ev = VerifyEvaluation(c_, top_, c_);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_NE(ev[0].find("data/val.txt is gone"), std::string::npos) << ev[0];
  EXPECT_NE(ev[2].find("new file data/extra.txt"), std::string::npos) << ev[2];
  Write("train.py", "LR = 0.2\n");  // not the evaluation
  EXPECT_EQ(VerifyEvaluation(c_, top_, c_).size(), 3u);
}

TEST_F(TamperFiles, EvidenceOfAnEditedBudgetOrTimerInTheConfig) {
  LoopConfig on_disk = c_;
  on_disk.budget_s = 3000;
  auto ev = VerifyEvaluation(c_, top_, on_disk);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].find("config changed budget_s"), std::string::npos) << ev[0];
  on_disk = c_;
  on_disk.eval_files[0].sha256 = std::string(64, '0');  // hashes rewritten to match an edit
  ev = VerifyEvaluation(c_, top_, on_disk);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_NE(ev[0].find("recorded hashes"), std::string::npos) << ev[0];
}

TEST_F(TamperFiles, FingerprintCoversTimersAndTheEvaluationNotTheName) {
  std::string f = EvalFingerprint(c_);
  LoopConfig d = c_;
  d.name = "other";
  d.created_at = 123;
  EXPECT_EQ(EvalFingerprint(d), f);
  for (auto change : std::vector<std::function<void(LoopConfig&)>>{
           [](LoopConfig& x) { x.budget_s += 1; }, [](LoopConfig& x) { x.grace_s += 1; },
           [](LoopConfig& x) { x.alpha = 0.5; }, [](LoopConfig& x) { x.eval_command.pop_back(); },
           [](LoopConfig& x) { x.eval_files[0].sha256[0] ^= 1; },
           [](LoopConfig& x) { x.recheck_every = 0; }}) {
    LoopConfig e = c_;
    change(e);
    EXPECT_NE(EvalFingerprint(e), f);
  }
}

TEST_F(TamperFiles, ChangedPathsOfTheEvaluation) {
  auto ev = TamperedPaths({"train.py", "data/new.csv", "evaluate.py"}, c_);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_NE(ev[0].find("data/new.csv (matches 'data/*')"), std::string::npos) << ev[0];
  EXPECT_NE(ev[1].find("evaluate.py (hashed at init)"), std::string::npos) << ev[1];
  EXPECT_TRUE(TamperedPaths({"train.py"}, c_).empty());
}

// The evaluation reads its metric from the command's output, and gets the round's training
// budget: one that hangs is stopped and the round fails with that reason, not the loop held.
TEST_F(TamperFiles, TheEvaluationRunsWithinTheRoundsBudget) {
  double v = 0;
  std::string tail;
  c_.eval_command = {"sh", "-c", "echo val_loss=0.25"};
  ASSERT_TRUE(RunEvaluation(c_, 1, 7, "run-1", &v, &tail).ok());
  EXPECT_EQ(v, 0.25);
  c_.eval_command = {"sh", "-c", "echo val_loss=0.5; exec sleep 3600"};
  c_.budget_s = 0.5;
  Status s = RunEvaluation(c_, 1, 7, "run-1", &v, &tail);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ran past the round's budget of 0.5 s"), std::string::npos)
      << s.message();
}

TEST(Tamper, AuditRulesThatAreTampering) {
  LoopConfig none;
  EXPECT_FALSE(IsTamperRule("loop.budget_edit", none)) << "no evaluation declared: rejected as before";
  LoopConfig files;
  files.eval_files = {{"evaluate.py", "x"}};
  EXPECT_TRUE(IsTamperRule("loop.budget_edit", files));
  EXPECT_TRUE(IsTamperRule("loop.log_write", files));
  EXPECT_FALSE(IsTamperRule("loop.metric_print", files));
  EXPECT_FALSE(IsTamperRule("loop.network", files));
  LoopConfig cmd = files;
  cmd.eval_command = {"python3", "evaluate.py"};
  EXPECT_TRUE(IsTamperRule("loop.metric_print", cmd));
}

TEST(Tamper, ReadsTheMetricFromTheEvaluationsOutput) {
  double v = 0;
  ASSERT_TRUE(ParseEvalOutput("loading\nval_loss=0.5\n", "val_loss", &v).ok());
  EXPECT_EQ(v, 0.5);
  ASSERT_TRUE(ParseEvalOutput("val_loss: 0.4", "val_loss", &v).ok());
  EXPECT_EQ(v, 0.4);
  ASSERT_TRUE(ParseEvalOutput("{\"step\": 3, \"val_loss\": 0.3}\n", "val_loss", &v).ok());
  EXPECT_EQ(v, 0.3);
  ASSERT_TRUE(ParseEvalOutput("val_loss 0.2\nval_loss=0.1\n", "val_loss", &v).ok());
  EXPECT_EQ(v, 0.1) << "the last line giving it";
  ASSERT_TRUE(ParseEvalOutput("val_loss=1e-3 acc=0.9", "val_loss", &v).ok());
  EXPECT_EQ(v, 1e-3);
  Status s = ParseEvalOutput("train_val_loss=0.1\nval_loss_ema=0.2\nval_loss=nan\nval_loss\n",
                             "val_loss", &v);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("printed no val_loss"), std::string::npos) << s.message();
}

TEST(Tamper, TamperedInRedUnlessNoColour) {
  EXPECT_EQ(PaintVerdict("tampered", true), "\033[1;31mtampered\033[0m");
  EXPECT_EQ(PaintVerdict("tampered", false, 11), "tampered   ");
  EXPECT_EQ(PaintVerdict("tampered", true, 11), "\033[1;31mtampered   \033[0m");
  EXPECT_EQ(PaintVerdict("kept", true, 6), "kept  ");
  EXPECT_EQ(PaintVerdict("demoted", true), "\033[33mdemoted\033[0m");
}

TEST(Tamper, StateAfterARecheckRound) {
  LoopState st;
  st.champion_commit = "c2";
  st.champion_round = 2;
  st.champion_samples = {{0, 0.5, "lucky"}};
  st.recheck = StartRechecks("c0", {});
  st.recheck.pending = 5;
  RoundRecord rec;
  rec.proposer = "recheck";
  rec.verdict = kDemoted;
  rec.samples = {{100700, 1.0, "a"}};
  rec.reference_samples = {{100700, 0.99, "b"}};
  LoopState demoted = st;
  CloseRecheckRound(rec, &demoted);
  EXPECT_EQ(demoted.champion_commit, "c0");
  EXPECT_EQ(demoted.champion_round, 0);
  ASSERT_EQ(demoted.champion_samples.size(), 1u);
  EXPECT_EQ(demoted.champion_samples[0].run_id, "b");
  EXPECT_EQ(demoted.recheck.pending, 0);
  rec.verdict = kRechecked;
  LoopState kept = st;
  CloseRecheckRound(rec, &kept);
  EXPECT_EQ(kept.champion_commit, "c2");
  EXPECT_EQ(kept.champion_samples[0].run_id, "a") << "the fresh samples replace the lucky ones";
  EXPECT_EQ(kept.recheck.reference_commit, "c2");
  rec.verdict = kFailed;
  LoopState failed = st;
  CloseRecheckRound(rec, &failed);
  EXPECT_EQ(failed.champion_commit, "c2");
  EXPECT_EQ(failed.recheck.reference_commit, "c0");
  EXPECT_EQ(failed.recheck.pending, 0) << "tried again K rounds later";
  RoundRecord normal;
  normal.proposer = "agent";
  normal.verdict = kDiscarded;
  CloseRecheckRound(normal, &failed);
  EXPECT_EQ(failed.recheck.pending, 1);
}

}  // namespace
}  // namespace inloop::loop
