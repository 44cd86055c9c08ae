// start_run's limits: argv-prefix matching, budgets, concurrency, cwd confinement, the [mcp]
// table of inloop.toml, and a refusal through the server with nothing configured.
#include "mcp/run_limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "mcp/mcp_server.h"
#include "store/store.h"

namespace inloop::mcp {
namespace {
namespace fs = std::filesystem;

const std::vector<std::vector<std::string>> kAllowed = {{"python3", "train.py"},
                                                        {"/usr/bin/python3"}};

TEST(McpRunLimits, CommandPrefixMatchesElementByElement) {
  EXPECT_TRUE(CheckCommand(kAllowed, {"python3", "train.py"}).ok());
  EXPECT_TRUE(CheckCommand(kAllowed, {"python3", "train.py", "--lr", "3e-4"}).ok());
  EXPECT_TRUE(CheckCommand(kAllowed, {"/usr/bin/python3", "-c", "print(1)"}).ok());
  // Not a string prefix: whole elements only.
  Status s = CheckCommand(kAllowed, {"python3", "train.py.evil"});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is not allowed"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[\"python3\", \"train.py\"]"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckCommand(kAllowed, {"python3"}).ok());  // shorter than the prefix
  EXPECT_FALSE(CheckCommand(kAllowed, {"python3", "-c", "import os"}).ok());
  EXPECT_FALSE(CheckCommand(kAllowed, {"/usr/bin/python3.11"}).ok());
  EXPECT_FALSE(CheckCommand(kAllowed, {"bash", "-c", "python3 train.py"}).ok());
  EXPECT_FALSE(CheckCommand(kAllowed, {}).ok());
}

TEST(McpRunLimits, NothingAllowedByDefault) {
  Status s = CheckCommand({}, {"python3", "train.py"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no [mcp] allowed_commands in inloop.toml: the human must allow "
                             "commands first"),
            std::string::npos)
      << s.message();
}

TEST(McpRunLimits, Budget) {
  int64_t b = 0;
  ASSERT_TRUE(CheckBudget(3600, std::nullopt, &b).ok());
  EXPECT_EQ(b, 3600);
  ASSERT_TRUE(CheckBudget(3600, 30, &b).ok());
  EXPECT_EQ(b, 30);
  ASSERT_TRUE(CheckBudget(3600, 3600, &b).ok());
  EXPECT_EQ(b, 3600);
  Status s = CheckBudget(3600, 3601, &b);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("over [mcp] max_budget_s = 3600"), std::string::npos) << s.message();
  EXPECT_FALSE(CheckBudget(3600, 0, &b).ok());
}

TEST(McpRunLimits, Concurrency) {
  EXPECT_TRUE(CheckConcurrency(0, 2).ok());
  EXPECT_TRUE(CheckConcurrency(1, 2).ok());
  Status s = CheckConcurrency(2, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("max_concurrent_runs"), std::string::npos) << s.message();
}

class ConfineDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-confine-XXXXXX";
    base_ = mkdtemp(tmpl);
    root_ = base_ / "project";
    fs::create_directories(root_ / "exp" / "a");
    fs::create_directories(base_ / "outside");
    fs::create_directory_symlink(base_ / "outside", root_ / "link");
    std::ofstream(root_ / "file.txt") << "x";
  }
  void TearDown() override { fs::remove_all(base_); }
  fs::path base_, root_;
};

TEST_F(ConfineDirTest, InsideAllowedOutsideRefused) {
  std::string out;
  ASSERT_TRUE(ConfineDir(root_, ".", &out).ok());
  EXPECT_EQ(out, fs::canonical(root_).string());
  ASSERT_TRUE(ConfineDir(root_, "exp/a", &out).ok());
  EXPECT_EQ(out, fs::canonical(root_ / "exp" / "a").string());
  ASSERT_TRUE(ConfineDir(root_, (root_ / "exp").string(), &out).ok());  // absolute, inside
  ASSERT_TRUE(ConfineDir(root_, "exp/../exp/a", &out).ok());
  Status s = ConfineDir(root_, "..", &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside the project directory"), std::string::npos) << s.message();
  EXPECT_FALSE(ConfineDir(root_, "exp/../../outside", &out).ok());
  EXPECT_FALSE(ConfineDir(root_, "link", &out).ok());  // a symlink out of the project
  EXPECT_FALSE(ConfineDir(root_, "/tmp", &out).ok());
  EXPECT_FALSE(ConfineDir(root_, "file.txt", &out).ok());  // not a directory
  EXPECT_FALSE(ConfineDir(root_, "missing", &out).ok());
  // A sibling whose name starts with the root's is not inside it.
  fs::create_directories(base_ / "project2");
  EXPECT_FALSE(ConfineDir(root_, (base_ / "project2").string(), &out).ok());
}

std::string WriteToml(const std::string& text) {
  char path[] = "/tmp/inloop-mcp-config-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(McpConfig, ReadsTable) {
  auto p = WriteToml(R"([mcp]
allowed_commands = [["python3", "train.py"], ["/usr/bin/python3"]]
max_concurrent_runs = 3
max_budget_s = 600
)");
  config::Config c;
  Status s = config::LoadConfig(p, &c);
  std::remove(p.c_str());
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(c.mcp.allowed_commands.size(), 2u);
  EXPECT_EQ(c.mcp.allowed_commands[0], (std::vector<std::string>{"python3", "train.py"}));
  EXPECT_EQ(c.mcp.max_concurrent_runs, 3);
  EXPECT_EQ(c.mcp.max_budget_s, 600);
}

TEST(McpConfig, DefaultsAndErrors) {
  config::Config c;
  EXPECT_TRUE(c.mcp.allowed_commands.empty());
  EXPECT_EQ(c.mcp.max_concurrent_runs, 2);
  EXPECT_EQ(c.mcp.max_budget_s, 3600);
  for (const char* bad : {"[mcp]\nallowed_commands = [\"python3 train.py\"]\n",
                          "[mcp]\nallowed_commands = [[]]\n",
                          "[mcp]\nmax_concurrent_runs = 0\n", "[mcp]\nmax_budget_s = -5\n",
                          "[mcp]\nallowed = 1\n"}) {
    auto p = WriteToml(bad);
    Status s = config::LoadConfig(p, &c);
    std::remove(p.c_str());
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("mcp."), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();  // names the line
  }
}

McpOptions Options() {
  McpOptions o;
  o.store_dir = "/nonexistent-store";
  o.root = "/tmp";
  o.version = "0.1";
  return o;
}

TEST(McpRunTools, StartRunRefusedWithoutAllowedCommands) {
  McpServer server(Options());
  std::string r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"start_run","arguments":{"command":["python3","train.py"]}}})");
  EXPECT_NE(r.find("\"isError\":true"), std::string::npos) << r;
  EXPECT_NE(r.find("the human must allow commands first"), std::string::npos) << r;
  // The schema is strict: an unknown argument or a string command is refused before any check.
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_run","arguments":{"command":"python3 train.py"}}})");
  EXPECT_NE(r.find("\"isError\":true"), std::string::npos) << r;
  EXPECT_NE(r.find("command"), std::string::npos) << r;
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"start_run","arguments":{"command":["x"],"shell":true}}})");
  EXPECT_NE(r.find("\"isError\":true"), std::string::npos) << r;
}

TEST(McpRunTools, BudgetAndCwdRefusedBeforeStarting) {
  McpOptions o = Options();
  o.limits.allowed_commands = {{"/bin/true"}};
  o.limits.max_budget_s = 60;
  McpServer server(o);
  std::string r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"start_run","arguments":{"command":["/bin/true"],"budget_s":61}}})");
  EXPECT_NE(r.find("over [mcp] max_budget_s = 60"), std::string::npos) << r;
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_run","arguments":{"command":["/bin/true"],"cwd":"/"}}})");
  EXPECT_NE(r.find("outside the project directory"), std::string::npos) << r;
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"stop_run","arguments":{"run":"x"}}})");
  EXPECT_NE(r.find("\"isError\":true"), std::string::npos) << r;  // no store: nothing to stop
}

TEST(McpRunTools, ProposeActionIsPendingWithPlanOptional) {
  char tmpl[] = "/tmp/inloop-mcp-store-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string run_id;
  {
    std::unique_ptr<store::Store> st;
    ASSERT_TRUE(store::Store::Open(dir, true, &st).ok());
    store::RunRecord r;
    r.name = "exp";
    r.command = {"python3", "train.py"};
    ASSERT_TRUE(st->CreateRun(&r).ok());
    run_id = r.id;
  }
  McpOptions o = Options();
  o.store_dir = dir;
  McpServer server(o);
  std::string r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"propose_action","arguments":{"run":"exp","action":"stop","reason":"the loss is flat"}}})");
  EXPECT_NE(r.find("\"isError\":false"), std::string::npos) << r;
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"propose_action","arguments":{"run":"exp","action":"lr_cut","reason":"spikes","plan":null}}})");
  EXPECT_NE(r.find("lr_cut needs plan.lr_scale"), std::string::npos) << r;  // assist's own checks
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"propose_action","arguments":{"run":"exp","action":"lr_cut","reason":"spikes","plan":{"lr_scale":0.5}}}})");
  EXPECT_NE(r.find("\"isError\":false"), std::string::npos) << r;
  std::unique_ptr<store::Store> st;
  ASSERT_TRUE(store::Store::Open(dir, false, &st).ok());
  std::vector<store::ActionRecord> pending;
  ASSERT_TRUE(st->ListActions(run_id, store::kActionPending, &pending).ok());
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].action, "stop");
  EXPECT_EQ(pending[0].trigger, "assistant");
  EXPECT_EQ(pending[0].reason, "the loss is flat");
  EXPECT_EQ(pending[1].action, "lr_cut");
  EXPECT_NE(pending[1].data_json.find("0.5"), std::string::npos) << pending[1].data_json;
  // run_status of a run this server did not start.
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"run_status","arguments":{"run":"exp"}}})");
  EXPECT_NE(r.find("\"isError\":false"), std::string::npos) << r;
  EXPECT_NE(r.find("started_here\\\":false"), std::string::npos) << r;
  r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"stop_run","arguments":{"run":"exp"}}})");
  EXPECT_NE(r.find("was not started by this server"), std::string::npos) << r;
  st.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inloop::mcp
