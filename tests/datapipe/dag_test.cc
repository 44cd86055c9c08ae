// The pipeline's DAG, argv templating and cache key (data/dag.h, data/runner.h AssessStep).
#include "data/dag.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "data/manifest.h"
#include "data/runner.h"

namespace inloop::data {
namespace {

StepSpec Step(std::string name, std::vector<std::string> in, std::vector<std::string> out) {
  StepSpec s;
  s.name = std::move(name);
  s.command = {"prog", "{inputs}", "{outputs}"};
  s.inputs = std::move(in);
  s.outputs = std::move(out);
  return s;
}

TEST(DagTest, OrdersByProducers) {
  PipelineSpec p;
  p.steps = {Step("c", {"b.txt"}, {"c.txt"}), Step("a", {"src.txt"}, {"a.txt"}),
             Step("b", {"a.txt"}, {"b.txt"})};
  Dag d;
  ASSERT_TRUE(BuildDag(p, &d).ok());
  EXPECT_EQ(d.order, (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(d.deps[0], (std::vector<int>{2}));
  std::vector<int> sel;
  ASSERT_TRUE(SelectSteps(p, d, {"b"}, &sel).ok());
  EXPECT_EQ(sel, (std::vector<int>{1, 2}));
  Status s = SelectSteps(p, d, {"zzz"}, &sel);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("no data step named 'zzz'"), std::string::npos);
}

TEST(DagTest, CycleIsOneClearError) {
  PipelineSpec p;
  p.steps = {Step("x", {"y.txt"}, {"x.txt"}), Step("y", {"x.txt"}, {"y.txt"}), Step("z", {}, {"z.txt"})};
  Dag d;
  Status s = BuildDag(p, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle through x, y"), std::string::npos) << s.message();
}

TEST(DagTest, TwoProducersAndSelfInputAreErrors) {
  PipelineSpec p;
  p.steps = {Step("x", {}, {"o.txt"}), Step("y", {}, {"o.txt"})};
  Dag d;
  EXPECT_NE(BuildDag(p, &d).message().find("produced by two steps ('x' and 'y')"), std::string::npos);
  p.steps = {Step("x", {"o.txt"}, {"o.txt"})};
  EXPECT_NE(BuildDag(p, &d).message().find("reads its own output"), std::string::npos);
}

TEST(DagTest, TemplatesAreWholeArguments) {
  StepSpec s = Step("t", {"a", "b"}, {"o"});
  s.command = {"prog", "--x", "{inputs}", "{outputs[0]}", "{inputs[1]}", "lit{eral}"};
  std::vector<std::string> argv;
  ASSERT_TRUE(ExpandCommand(s, &argv).ok());
  EXPECT_EQ(argv, (std::vector<std::string>{"prog", "--x", "a", "b", "o", "b", "lit{eral}"}));
  s.command = {"prog", "--in={inputs}"};
  Status st = ExpandCommand(s, &argv);
  EXPECT_EQ(st.code(), Status::Code::kInvalid);
  EXPECT_NE(st.message().find("templates are whole arguments"), std::string::npos);
  s.command = {"prog", "{inputs[2]}"};
  EXPECT_NE(ExpandCommand(s, &argv).message().find("out of range"), std::string::npos);
  s.command = {"prog", "; rm -rf {inputs}"};  // never a shell
  EXPECT_FALSE(ExpandCommand(s, &argv).ok());
}

class CacheKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-dag-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Write("in.txt", "hello\n");
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(CacheKeyTest, KeyFollowsContentCommandAndEnvironment) {
  StepSpec s = Step("s", {"in.txt"}, {"out.txt"});
  Manifest m;
  StepKey k1, k2;
  std::string why;
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k1, &why).ok());
  EXPECT_EQ(why, "never built");
  ASSERT_EQ(k1.inputs.size(), 1u);
  // sha256("hello\n")
  EXPECT_EQ(k1.inputs[0].second, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(k1.key, k2.key);
  // Record it as built and up to date.
  StepRecord rec;
  rec.key = k1.key;
  rec.command_hash = k1.command_hash;
  rec.env_hash = k1.env_hash;
  rec.inputs = k1.inputs;
  rec.status = "ok";
  Write("out.txt", "built\n");
  FileVersion ov;
  ASSERT_TRUE(HashFile(dir_, "out.txt", &m, &ov).ok());
  rec.outputs.push_back({"out.txt", ov.sha256, ov.size, ""});
  m.steps["s"] = rec;
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(why, "");
  // The same content written again (new mtime) keeps the key.
  Write("in.txt", "hello\n");
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(why, "");
  Write("in.txt", "hello!\n");
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(why, "input 'in.txt' changed");
  Write("in.txt", "hello\n");
  s.command.push_back("--more");
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_NE(why.find("command"), std::string::npos);
  EXPECT_NE(k2.key, k1.key);
  s.command.pop_back();
  s.env = {"INLOOP_DAG_TEST_VAR"};
  ::setenv("INLOOP_DAG_TEST_VAR", "1", 1);
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(why, "an environment variable of its key changed");
  ::unsetenv("INLOOP_DAG_TEST_VAR");
  s.env.clear();
  Write("out.txt", "tampered\n");
  ASSERT_TRUE(AssessStep(s, dir_, &m, &k2, &why).ok());
  EXPECT_EQ(why, "output 'out.txt' was modified since it was built");
  s.inputs = {"missing.txt"};
  EXPECT_EQ(AssessStep(s, dir_, &m, &k2, &why).code(), Status::Code::kNotFound);
}

TEST_F(CacheKeyTest, OnePipelineRunPerProject) {
  PipelineSpec p;
  p.steps = {Step("s", {"in.txt"}, {"out.txt"})};
  ASSERT_EQ(::system(("mkdir -p " + dir_ + "/.inloop/data").c_str()), 0);
  int fd = ::open((dir_ + "/.inloop/data/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  RunOptions o;
  o.project_dir = dir_;
  o.store_dir = dir_ + "/store";
  o.inloop_exe = "/nonexistent/inloop";  // never started: the lock is checked first
  o.progress = false;
  PipelineOutcome out;
  Status s = RunPipeline(p, o, &out);
  ::close(fd);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("another `inloop data run` is running in this project"), std::string::npos);
}

TEST_F(CacheKeyTest, ManifestRoundTrips) {
  Manifest m;
  FileVersion v;
  ASSERT_TRUE(HashFile(dir_, "in.txt", &m, &v).ok());
  StepRecord r;
  r.key = "k";
  r.status = "ok";
  r.run_id = "run1";
  r.inputs = {{"in.txt", v.sha256}};
  r.outputs = {{"o", "abc", 3, "prev"}};
  m.steps["s"] = r;
  ASSERT_TRUE(SaveManifest(DataDir(dir_), m).ok());
  Manifest back;
  ASSERT_TRUE(LoadManifest(DataDir(dir_), &back).ok());
  ASSERT_EQ(back.steps.count("s"), 1u);
  EXPECT_EQ(back.steps["s"].outputs[0].previous_sha256, "prev");
  EXPECT_EQ(back.steps["s"].inputs[0].second, v.sha256);
  EXPECT_EQ(back.files["in.txt"].inode, v.inode);
  Write(".inloop/data/manifest.json", "{not json");
  EXPECT_EQ(LoadManifest(DataDir(dir_), &back).code(), Status::Code::kCorrupt);
}

}  // namespace
}  // namespace inloop::data
