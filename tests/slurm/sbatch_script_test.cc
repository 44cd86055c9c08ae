// The sbatch script: its directives, and that every argv element reaches `inloop run` exactly as
// given whatever it holds (spaces, quotes, $, backquotes, newlines): the script is run by bash
// with a stand-in binary that prints its arguments.
#include "slurm/sbatch_script.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/subprocess.h"

namespace inloop::slurm {
namespace {

const std::vector<std::string> kNasty = {
    "a b", "it's", "\"dq\"", "$HOME", "${SLURM_JOB_ID}", "`id`", "$(id)", "x;y", "a\nb",
    "", "--", "back\\slash", "*", "~", "#c", "tab\there", "!bang"};

std::vector<std::string> SplitNul(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

class SbatchScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-sbatch-XXXXXX";
    dir_ = mkdtemp(tmpl);
    dump_ = dir_ + "/argv dump";  // a space in the binary's own path too
    std::ofstream(dump_) << "#!/bin/sh\nprintf '%s\\0' \"$PWD\" \"$@\"\n";
    ::chmod(dump_.c_str(), 0755);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SbatchRequest Request() {
    SbatchRequest r;
    r.job_name = "train";
    r.inloop_binary = dump_;
    r.chdir = dir_;
    r.run_options = {"--store", dir_ + "/it's a store", "--name", "my run"};
    r.command = {"/usr/bin/python3", "train.py"};
    return r;
  }

  // Runs the script under bash as Slurm would (SLURM_* set); returns the argv it passed on.
  std::vector<std::string> RunScript(const std::string& script) {
    std::string path = dir_ + "/job.sbatch";
    std::ofstream(path) << script;
    SubprocessSpec spec;
    spec.argv = {"/bin/bash", path};
    spec.env = {{"SLURM_JOB_ID", "4242"}, {"SLURM_CLUSTER_NAME", "lab"}, {"HOME", "/nowhere"}};
    CapturedOutput out;
    Status s = RunCaptured(spec, &out);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return SplitNul(out.out);
  }

  std::string dir_, dump_;
};

TEST(ShellQuote, LeavesSafeWordsAndQuotesTheRest) {
  EXPECT_EQ(ShellQuote("train.py"), "train.py");
  EXPECT_EQ(ShellQuote("--lr=3e-4"), "--lr=3e-4");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
}

TEST(ShellQuote, RoundTripsThroughBash) {
  for (const auto& arg : kNasty) {
    SubprocessSpec spec;
    spec.argv = {"/bin/bash", "-c", "printf '%s\\0' " + ShellQuote(arg)};
    CapturedOutput out;
    ASSERT_TRUE(RunCaptured(spec, &out).ok());
    EXPECT_EQ(SplitNul(out.out), std::vector<std::string>{arg}) << "argument: " << arg;
  }
}

TEST_F(SbatchScriptTest, DirectivesAskForRequeueAppendAndTheSignal) {
  SbatchRequest r = Request();
  r.nodes = 1;
  r.gpus_per_node = 8;
  r.partition = "gpu";
  r.time = "04:00:00";
  r.signal_seconds = 90;
  r.exclude = {"node7", "node9"};
  std::string s;
  ASSERT_TRUE(BuildSbatchScript(r, &s).ok());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* line :
       {"#SBATCH --job-name=train\n", "#SBATCH --nodes=1\n", "#SBATCH --gpus-per-node=8\n",
        "#SBATCH --partition=gpu\n", "#SBATCH --time=04:00:00\n", "#SBATCH --requeue\n",
        "#SBATCH --open-mode=append\n", "#SBATCH --signal=B:USR1@90\n",
        "#SBATCH --exclude=node7,node9\n"}) {
    EXPECT_NE(s.find(line), std::string::npos) << line << " missing in\n" << s;
  }
  // Directives come before the first command, or sbatch ignores them.
  EXPECT_LT(s.find("#SBATCH --exclude"), s.find("\ncd "));
  EXPECT_NE(s.find("\nexec "), std::string::npos);
}

TEST_F(SbatchScriptTest, OptionalDirectivesAreLeftOut) {
  std::string s;
  ASSERT_TRUE(BuildSbatchScript(Request(), &s).ok());
  EXPECT_EQ(s.find("--partition"), std::string::npos);
  EXPECT_EQ(s.find("--time"), std::string::npos);
  EXPECT_EQ(s.find("--exclude"), std::string::npos);
  EXPECT_EQ(s.find("--gpus-per-node"), std::string::npos);
  EXPECT_EQ(s.find("srun"), std::string::npos);
}

TEST_F(SbatchScriptTest, EveryArgumentArrivesExactlyAndTheRunIsTheJobs) {
  SbatchRequest r = Request();
  r.command.insert(r.command.end(), kNasty.begin(), kNasty.end());
  std::string s;
  ASSERT_TRUE(BuildSbatchScript(r, &s).ok());
  std::vector<std::string> want = {dir_, "run", "--continue-run", "slurm-lab-4242", "--store",
                                   dir_ + "/it's a store", "--name", "my run", "--",
                                   "/usr/bin/python3", "train.py"};
  want.insert(want.end(), kNasty.begin(), kNasty.end());
  EXPECT_EQ(RunScript(s), want);
}

TEST_F(SbatchScriptTest, SeveralNodesRunTheCommandUnderSrun) {
  SbatchRequest r = Request();
  r.nodes = 4;
  std::string s;
  ASSERT_TRUE(BuildSbatchScript(r, &s).ok());
  EXPECT_NE(s.find("#SBATCH --nodes=4\n"), std::string::npos);
  EXPECT_NE(s.find("#SBATCH --ntasks-per-node=1\n"), std::string::npos);
  std::vector<std::string> got = RunScript(s);
  ASSERT_GE(got.size(), 12u);
  EXPECT_EQ(got[9], "srun");
  EXPECT_EQ(got[11], "/usr/bin/python3");
}

TEST_F(SbatchScriptTest, ABodyVerbReplacesInloopRunAndGetsNoSignal) {
  SbatchRequest r = Request();
  r.command.clear();
  r.run_options.clear();
  r.body_args = {"data", "exec-step", "--config", dir_ + "/it's inloop.toml", "gen step"};
  std::string s;
  ASSERT_TRUE(BuildSbatchScript(r, &s).ok());
  EXPECT_EQ(s.find("--signal"), std::string::npos) << s;
  EXPECT_NE(s.find("#SBATCH --requeue\n"), std::string::npos);
  std::vector<std::string> want = {dir_, "data", "exec-step", "--config", dir_ + "/it's inloop.toml",
                                   "gen step"};
  EXPECT_EQ(RunScript(s), want);
}

TEST_F(SbatchScriptTest, RefusesWhatCannotGoIntoADirective) {
  std::string s;
  for (auto bad : {"gpu part", "gpu\n#SBATCH --x", "a'b", "$(x)", ""}) {
    SbatchRequest r = Request();
    r.job_name = bad;
    Status st = BuildSbatchScript(r, &s);
    EXPECT_EQ(st.code(), Status::Code::kInvalid) << bad;
    EXPECT_NE(st.message().find("--name"), std::string::npos) << st.message();
  }
  SbatchRequest r = Request();
  r.partition = "a b";
  EXPECT_NE(BuildSbatchScript(r, &s).message().find("--partition"), std::string::npos);
  r = Request();
  r.exclude = {"n1;rm"};
  EXPECT_FALSE(BuildSbatchScript(r, &s).ok());
  r = Request();
  r.command.clear();
  EXPECT_FALSE(BuildSbatchScript(r, &s).ok());
  r = Request();
  r.inloop_binary = "inloop";
  EXPECT_FALSE(BuildSbatchScript(r, &s).ok());
  r = Request();
  r.signal_seconds = 0;
  EXPECT_FALSE(BuildSbatchScript(r, &s).ok());
}

}  // namespace
}  // namespace inloop::slurm
