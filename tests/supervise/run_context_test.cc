// Params from the command line and default run names.
#include "supervise/run_context.h"

#include <gtest/gtest.h>

#include <map>

namespace inloop::supervise {
namespace {

std::map<std::string, std::string> AsMap(const std::vector<store::Param>& ps) {
  std::map<std::string, std::string> m;
  for (auto& p : ps) m[p.key] = p.value;
  return m;
}

TEST(RunContextTest, ParsesSpaceEqualsShortAndFlags) {
  auto m = AsMap(ParamsFromArgv({"python3", "train.py", "--lr", "3e-4", "--batch-size=64", "-n",
                                 "5", "--fp16", "--shift", "-1", "--name", "gpt small", "pos"}));
  EXPECT_EQ(m["lr"], "3e-4");
  EXPECT_EQ(m["batch-size"], "64");
  EXPECT_EQ(m["n"], "5");
  EXPECT_EQ(m["fp16"], "true");
  EXPECT_EQ(m["shift"], "-1");
  EXPECT_EQ(m["name"], "gpt small");
  EXPECT_EQ(m.count("pos"), 0u);
}

TEST(RunContextTest, RepeatedFlagLastWins) {
  auto m = AsMap(ParamsFromArgv({"x", "--lr", "1", "--lr=2"}));
  EXPECT_EQ(m["lr"], "2");
}

TEST(RunContextTest, DefaultNames) {
  EXPECT_EQ(DefaultRunName({"/usr/bin/python3", "examples/charlm/train.py", "--lr", "1"}), "train");
  EXPECT_EQ(DefaultRunName({"/usr/bin/python3", "-u", "finetune.py"}), "finetune");
  EXPECT_EQ(DefaultRunName({"/bin/cat", "file.txt"}), "cat");
}

}  // namespace
}  // namespace inloop::supervise
