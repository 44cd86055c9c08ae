// Small parts of the loop: the agent command line split without a shell, protected-path globs,
// the metric spec, the journal/rounds files (a torn last line is skipped), and the MCP server's
// JSON-RPC handling of good and malformed messages.
#include <filesystem>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "loop/git_repo.h"
#include "loop/loop_runner.h"
#include "loop/loop_state.h"
#include "loop/program.h"
#include "mcp/mcp_server.h"

namespace inloop::loop {
namespace {

TEST(LoopParts, SplitsCommandLinesLikeAShellWithoutExpanding) {
  std::vector<std::string> argv;
  ASSERT_TRUE(SplitCommandLine("codex exec --flag 'two words' \"a \\\"q\\\"\" $HOME `x` a\\ b", &argv).ok());
  EXPECT_EQ(argv, (std::vector<std::string>{"codex", "exec", "--flag", "two words", "a \"q\"",
                                            "$HOME", "`x`", "a b"}));
  EXPECT_FALSE(SplitCommandLine("agent 'open", &argv).ok());
  EXPECT_FALSE(SplitCommandLine("   ", &argv).ok());
}

TEST(LoopParts, ProtectedGlobs) {
  std::vector<std::string> globs = {"evaluate.py", "data/", "prep/*.py", "**/secret*"};
  std::string which;
  EXPECT_TRUE(MatchesProtected("evaluate.py", globs, &which));
  EXPECT_EQ(which, "evaluate.py");
  EXPECT_TRUE(MatchesProtected("data/train.bin", globs, &which));
  EXPECT_TRUE(MatchesProtected("data/sub/x", globs, nullptr));
  EXPECT_TRUE(MatchesProtected("prep/tok.py", globs, nullptr));
  EXPECT_TRUE(MatchesProtected("a/b/secret.txt", globs, nullptr));
  EXPECT_FALSE(MatchesProtected("train.py", globs, nullptr));
  EXPECT_FALSE(MatchesProtected("database.py", globs, nullptr));
  EXPECT_FALSE(MatchesProtected("src/evaluate.py.bak", globs, nullptr));
}

TEST(LoopParts, MetricSpec) {
  std::string key;
  bool minimize = false;
  ASSERT_TRUE(ParseMetricSpec("val_loss:min", &key, &minimize).ok());
  EXPECT_EQ(key, "val_loss");
  EXPECT_TRUE(minimize);
  ASSERT_TRUE(ParseMetricSpec("eval/acc", &key, &minimize).ok());
  EXPECT_FALSE(minimize);
  ASSERT_TRUE(ParseMetricSpec("a:b:max", &key, &minimize).ok());
  EXPECT_EQ(key, "a:b");
  EXPECT_FALSE(ParseMetricSpec("loss:lowest", &key, &minimize).ok());
  EXPECT_FALSE(ParseMetricSpec(":min", &key, &minimize).ok());
}

TEST(LoopParts, StateFilesRoundTripAndSkipATornLine) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("loop-state-" + std::to_string(getpid()));
  fs::create_directories(dir);
  LoopPaths p{dir.string()};
  RoundRecord r;
  r.round = 3;
  r.verdict = kKept;
  r.samples = {{0, 1.5, "run-a"}, {1, 1.25, "run-b"}};
  r.run_ids = {"run-a", "run-b"};
  r.metric = 1.375;
  r.gain = 0.125;
  r.params = {{"lr", "0.01"}};
  r.changed_files = {"train.py"};
  ASSERT_TRUE(AppendRound(p, r).ok());
  {
    FILE* f = fopen(p.rounds().c_str(), "a");
    fputs("{\"round\": 4, \"verd", f);  // a crash mid-append
    fclose(f);
  }
  std::vector<RoundRecord> rounds;
  ASSERT_TRUE(LoadRounds(p, &rounds).ok());
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].verdict, kKept);
  EXPECT_EQ(rounds[0].samples.size(), 2u);
  EXPECT_EQ(*rounds[0].metric, 1.375);
  EXPECT_EQ(rounds[0].params, r.params);
  EXPECT_FALSE(rounds[0].threshold.has_value());

  Journal j;
  j.round = 4;
  j.phase = "decided";
  j.base = "abc";
  j.record = r;
  ASSERT_TRUE(SaveJournal(p, j).ok());
  std::optional<Journal> back;
  ASSERT_TRUE(LoadJournal(p, &back).ok());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->phase, "decided");
  EXPECT_EQ(back->record.run_ids, r.run_ids);
  ASSERT_TRUE(ClearJournal(p).ok());
  ASSERT_TRUE(LoadJournal(p, &back).ok());
  EXPECT_FALSE(back.has_value());
  LoopConfig c;
  EXPECT_EQ(LoadConfig(p, &c).code(), Status::Code::kNotFound);
  fs::remove_all(dir);
}

std::string Field(const std::string& json, const char* a, const char* b = nullptr) {
  simdjson::dom::parser parser;
  simdjson::dom::element e = parser.parse(json);
  simdjson::dom::element v = e[a];
  if (b) v = v[b];
  return simdjson::minify(v);
}

TEST(Mcp, HandshakeListAndErrors) {
  mcp::McpOptions opts;
  opts.store_dir = "/nonexistent-store";
  opts.root = "/tmp";
  opts.version = "0.1";
  mcp::McpServer server(opts);
  std::string r = server.HandleLine(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  EXPECT_EQ(Field(r, "result", "protocolVersion"), "\"2025-03-26\"");
  r = server.HandleLine(R"({"jsonrpc":"2.0","id":"x","method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(Field(r, "result", "protocolVersion"), "\"2025-06-18\"");
  EXPECT_EQ(Field(r, "id"), "\"x\"");
  EXPECT_EQ(server.HandleLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"), "");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"), "result"), "{}");
  r = server.HandleLine(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})");
  for (const char* t : {"list_runs", "show_run", "query_series", "events", "compare", "report",
                        "evaldiff", "loop_status"}) {
    EXPECT_NE(r.find(std::string("\"name\":\"") + t + "\""), std::string::npos) << t;
  }
  for (const char* t : {"start_run", "run_status", "wait_run", "stop_run", "propose_action"}) {
    EXPECT_NE(r.find(std::string("\"name\":\"") + t + "\""), std::string::npos) << t;
  }
  EXPECT_EQ(Field(server.HandleLine("{not json"), "error", "code"), "-32700");
  EXPECT_EQ(Field(server.HandleLine("[1,2]"), "error", "code"), "-32600");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"2.0","id":4,"method":"nope"})"), "error", "code"), "-32601");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope"}})"), "error", "code"), "-32602");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":[1]})"), "error", "code"), "-32602");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"1.0","id":7,"method":"ping"})"), "error", "code"), "-32600");
  EXPECT_EQ(Field(server.HandleLine(R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})"), "error", "code"), "-32600");
  // A tool that cannot work (no store here) is an isError result, not a protocol error.
  r = server.HandleLine(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"list_runs","arguments":{}}})");
  EXPECT_EQ(Field(r, "result", "isError"), "true");
  // Bad arguments are an isError result naming the argument.
  r = server.HandleLine(R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"evaldiff","arguments":{"old_path":1}}})");
  EXPECT_EQ(Field(r, "result", "isError"), "true");
  EXPECT_NE(r.find("old_path"), std::string::npos);
  // A path outside the served directory is refused.
  r = server.HandleLine(R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"evaldiff","arguments":{"old_path":"/etc/passwd","new_path":"/etc/passwd"}}})");
  EXPECT_EQ(Field(r, "result", "isError"), "true");
  EXPECT_NE(r.find("outside the directory"), std::string::npos) << r;
  EXPECT_EQ(server.HandleLine("   "), "");
}

}  // namespace
}  // namespace inloop::loop
