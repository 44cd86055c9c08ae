// The chat-completions wire format: SSE framing at every byte boundary, chunk folding (content,
// tool-call fragments by index, finish_reason, usage), non-streamed answers, error bodies and the
// exact request JSON.
#include "assist/chat_client.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace inloop::assist {
namespace {

std::vector<std::string> Events(const std::vector<std::string>& pieces) {
  SseParser p;
  std::vector<std::string> out;
  for (auto& piece : pieces) {
    EXPECT_TRUE(p.Feed(piece, [&](std::string_view d) { out.emplace_back(d); }));
  }
  return out;
}

TEST(SseParserTest, SplitsAtEveryByteBoundaryGiveTheSameEvents) {
  const std::string stream =
      ": comment first\r\n\r\n"
      "data: {\"a\":1}\r\n\r\n"
      "data:no-space\n\n"
      "event: message\nid: 7\ndata: line one\ndata: line two\n\n"
      "data: cr only\r\r"
      ": keep-alive\n"
      "data: [DONE]\n\n";
  const std::vector<std::string> want = {"{\"a\":1}", "no-space", "line one\nline two", "cr only",
                                         "[DONE]"};
  EXPECT_EQ(Events({stream}), want);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(Events({stream.substr(0, cut), stream.substr(cut)}), want) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(Events(bytes), want);
}

TEST(SseParserTest, AnEventWithoutItsBlankLineIsDroppedAtTheEnd) {
  EXPECT_EQ(Events({"data: a\n\ndata: b\n"}), std::vector<std::string>{"a"});
  EXPECT_EQ(Events({"\xEF\xBB\xBF" "data: bom\n\n"}), std::vector<std::string>{"bom"});
  EXPECT_EQ(Events({"data\n\n"}), std::vector<std::string>{""});  // a data field with no colon
}

std::string Chunk(const std::string& delta, const std::string& finish = "null") {
  return "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":" +
         delta + ",\"finish_reason\":" + finish + "}]}";
}

TEST(StreamAccumulatorTest, FoldsContentAndInterleavedToolCallFragments) {
  std::string streamed;
  StreamAccumulator acc([&](std::string_view t) { streamed.append(t); });
  ChatError err;
  const std::vector<std::string> chunks = {
      Chunk(R"({"role":"assistant","content":""})"),
      Chunk(R"({"content":"Let me "})"),
      Chunk(R"({"content":"look."})"),
      Chunk(R"({"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"list_runs","arguments":""}}]})"),
      Chunk(R"({"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"show_","arguments":"{\"ru"}}]})"),
      Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"limit\":"}}]})"),
      Chunk(R"({"tool_calls":[{"index":1,"function":{"name":"run","arguments":"n\":\"base\"}"}}]})"),
      Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"3}"}}]})"),
      Chunk("{}", "\"tool_calls\""),
      R"({"id":"c1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})",
      "[DONE]"};
  for (auto& c : chunks) ASSERT_TRUE(acc.Add(c, &err)) << err.message;
  Completion c;
  ASSERT_TRUE(acc.Finish(&c, &err)) << err.message;
  EXPECT_EQ(c.content, "Let me look.");
  EXPECT_EQ(streamed, "Let me look.");
  ASSERT_EQ(c.tool_calls.size(), 2u);
  EXPECT_EQ(c.tool_calls[0].id, "call_A");
  EXPECT_EQ(c.tool_calls[0].name, "list_runs");
  EXPECT_EQ(c.tool_calls[0].arguments, "{\"limit\":3}");
  EXPECT_EQ(c.tool_calls[1].id, "call_B");
  EXPECT_EQ(c.tool_calls[1].name, "show_run");
  EXPECT_EQ(c.tool_calls[1].arguments, "{\"run\":\"base\"}");
  EXPECT_EQ(c.finish_reason, "tool_calls");
  EXPECT_TRUE(c.usage.reported);
  EXPECT_EQ(c.usage.prompt_tokens, 11);
  EXPECT_EQ(c.usage.completion_tokens, 7);
  EXPECT_EQ(c.usage.total_tokens, 18);
  EXPECT_EQ(c.chunks, 10);
}

TEST(StreamAccumulatorTest, CallsWithoutIndexFollowTheirIdsAndGetIdsWhenMissing) {
  StreamAccumulator acc;
  ChatError err;
  ASSERT_TRUE(acc.Add(Chunk(R"({"tool_calls":[{"id":"x1","function":{"name":"events","arguments":"{}"}}]})"), &err));
  ASSERT_TRUE(acc.Add(Chunk(R"({"tool_calls":[{"function":{"name":"list_runs","arguments":"{"}}]})"), &err));
  ASSERT_TRUE(acc.Add(Chunk(R"({"tool_calls":[{"id":"x2","function":{"name":"show_run","arguments":"{"}}]})"), &err));
  ASSERT_TRUE(acc.Add(Chunk(R"({"tool_calls":[{"function":{"arguments":"}"}}]})", "\"tool_calls\""), &err));
  Completion c;
  ASSERT_TRUE(acc.Finish(&c, &err));
  ASSERT_EQ(c.tool_calls.size(), 2u);
  EXPECT_EQ(c.tool_calls[0].id, "x1");
  EXPECT_EQ(c.tool_calls[0].name, "eventslist_runs");  // no index, no id: the last call goes on
  EXPECT_EQ(c.tool_calls[1].id, "x2");
  EXPECT_EQ(c.tool_calls[1].arguments, "{}");

  StreamAccumulator anon;
  ASSERT_TRUE(anon.Add(Chunk(R"({"tool_calls":[{"index":3,"function":{"name":"events","arguments":"{}"}}]})", "\"tool_calls\""), &err));
  ASSERT_TRUE(anon.Finish(&c, &err));
  EXPECT_EQ(c.tool_calls[0].id, "call_3");
}

TEST(StreamAccumulatorTest, MalformedChunkErrorObjectAndCutStreamAreErrors) {
  {
    StreamAccumulator acc;
    ChatError err;
    EXPECT_FALSE(acc.Add("{\"choices\": [", &err));
    EXPECT_EQ(err.kind, ChatError::Kind::kBadResponse);
    EXPECT_NE(err.message.find("not a JSON object"), std::string::npos) << err.message;
  }
  {
    StreamAccumulator acc;
    ChatError err;
    EXPECT_FALSE(acc.Add("[1,2]", &err));
    EXPECT_EQ(err.kind, ChatError::Kind::kBadResponse);
  }
  {
    StreamAccumulator acc;
    ChatError err;
    EXPECT_FALSE(acc.Add(R"({"error":{"message":"out of memory on the server","code":500}})", &err));
    EXPECT_EQ(err.kind, ChatError::Kind::kHttp);
    EXPECT_NE(err.message.find("out of memory on the server"), std::string::npos);
  }
  {
    StreamAccumulator acc;
    ChatError err;
    ASSERT_TRUE(acc.Add(Chunk(R"({"content":"half an ans"})"), &err));
    Completion c;
    EXPECT_FALSE(acc.Finish(&c, &err));
    EXPECT_EQ(err.kind, ChatError::Kind::kTruncated);
    EXPECT_EQ(c.content, "half an ans");
  }
  {
    // A finish_reason without [DONE] is a complete answer; [DONE] without one too.
    StreamAccumulator a, b;
    ChatError err;
    Completion c;
    ASSERT_TRUE(a.Add(Chunk(R"({"content":"ok"})", "\"stop\""), &err));
    EXPECT_TRUE(a.Finish(&c, &err));
    ASSERT_TRUE(b.Add(Chunk(R"({"content":"ok"})"), &err));
    ASSERT_TRUE(b.Add("[DONE]", &err));
    EXPECT_TRUE(b.Finish(&c, &err));
  }
}

TEST(ParseCompletionJsonTest, ReadsMessageToolCallsAndObjectArguments) {
  Completion c;
  ChatError err;
  ASSERT_TRUE(ParseCompletionJson(
      R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null,
          "tool_calls":[{"id":"t1","type":"function","function":{"name":"events","arguments":"{\"run\":\"a\"}"}},
                        {"type":"function","function":{"name":"show_run","arguments":{"run":"b"}}}]},
          "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2}})",
      &c, &err))
      << err.message;
  EXPECT_FALSE(c.streamed);
  EXPECT_EQ(c.content, "");
  ASSERT_EQ(c.tool_calls.size(), 2u);
  EXPECT_EQ(c.tool_calls[0].arguments, "{\"run\":\"a\"}");
  EXPECT_EQ(c.tool_calls[1].id, "call_1");
  EXPECT_EQ(c.tool_calls[1].arguments, "{\"run\":\"b\"}");
  EXPECT_EQ(c.usage.total_tokens, 7);  // summed when total_tokens is missing
  EXPECT_FALSE(ParseCompletionJson(R"({"choices":[]})", &c, &err));
  EXPECT_EQ(err.kind, ChatError::Kind::kBadResponse);
  EXPECT_FALSE(ParseCompletionJson("<html>", &c, &err));
  EXPECT_EQ(err.kind, ChatError::Kind::kBadResponse);
}

TEST(ErrorBodyMessageTest, FindsTheServersMessage) {
  EXPECT_EQ(ErrorBodyMessage(R"({"error":{"message":"bad key","type":"auth"}})"), "bad key");
  EXPECT_EQ(ErrorBodyMessage(R"({"error":"plain"})"), "plain");
  EXPECT_EQ(ErrorBodyMessage(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(ErrorBodyMessage("  Bad\ngateway\n"), "Bad gateway ");
  EXPECT_EQ(ErrorBodyMessage(std::string(400, 'x')).size(), 303u);  // 300 and "..."
}

TEST(BuildRequestJsonTest, ExactBody) {
  ChatRequest req;
  req.model = "m-1";
  req.max_tokens = 256;
  req.messages = {{"system", "sys", {}, ""},
                  {"user", "why?", {}, ""},
                  {"assistant", "", {{"call_1", "events", "{\"run\":\"a\"}"}}, ""},
                  {"tool", "{\"events\":[]}", {}, "call_1"}};
  req.tools = {{"events", "timeline", R"({"type":"object","properties":{},"required":[],"additionalProperties":false})"}};
  EXPECT_EQ(BuildRequestJson(req),
            R"({"model":"m-1","messages":[{"role":"system","content":"sys"},)"
            R"({"role":"user","content":"why?"},)"
            R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
            R"("function":{"name":"events","arguments":"{\"run\":\"a\"}"}}]},)"
            R"({"role":"tool","tool_call_id":"call_1","content":"{\"events\":[]}"}],)"
            R"("tools":[{"type":"function","function":{"name":"events","description":"timeline",)"
            R"("parameters":{"type":"object","properties":{},"required":[],"additionalProperties":false},)"
            R"("strict":true}}],"tool_choice":"auto","stream":true,)"
            R"("stream_options":{"include_usage":true},"max_tokens":256})");
  req.tools.clear();
  req.stream = false;
  req.max_tokens_field = "max_completion_tokens";
  req.messages.resize(1);
  EXPECT_EQ(BuildRequestJson(req),
            R"({"model":"m-1","messages":[{"role":"system","content":"sys"}],"stream":false,)"
            R"("max_completion_tokens":256})");
}

TEST(ChatClientTest, UrlJoinsBaseAndPath) {
  Endpoint e;
  e.base_url = "http://127.0.0.1:9/v1/";
  EXPECT_EQ(ChatClient(e).Url(), "http://127.0.0.1:9/v1/chat/completions");
  e.base_url = "https://api.example.com/v1";
  EXPECT_EQ(ChatClient(e).Url(), "https://api.example.com/v1/chat/completions");
}

}  // namespace
}  // namespace inloop::assist

namespace inloop::assist {
namespace {

// Bad input never crashes: every prefix of a valid stream and of a valid JSON answer, and random
// bytes, either parse or come back as an error.
TEST(ChatRobustnessTest, PrefixesAndRandomBytesNeverCrash) {
  const std::string body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":)"
      R"([{"id":"a","type":"function","function":{"name":"events","arguments":"{\"run\":\"x\"}"}}]},)"
      R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})";
  for (size_t n = 0; n < body.size(); ++n) {
    Completion c;
    ChatError err;
    EXPECT_FALSE(ParseCompletionJson(body.substr(0, n), &c, &err)) << n;
    EXPECT_FALSE(err.message.empty());
  }
  const std::string stream =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\",\"tool_calls\":[{\"index\":0,"
      "\"id\":\"x\",\"function\":{\"name\":\"events\",\"arguments\":\"{}\"}}]},"
      "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
  for (size_t n = 0; n <= stream.size(); ++n) {
    SseParser p;
    StreamAccumulator acc;
    ChatError err;
    p.Feed(stream.substr(0, n), [&](std::string_view d) {
      if (err.ok()) acc.Add(d, &err);
    });
    Completion c;
    bool complete = err.ok() && acc.Finish(&c, &err);
    // Complete exactly when the chunk with the finish_reason arrived whole.
    EXPECT_EQ(complete, n >= stream.find("\n\ndata: [DONE]") + 2) << n;
  }
  uint64_t x = 88172645463325252ull;  // xorshift64: deterministic noise
  for (int round = 0; round < 2000; ++round) {
    std::string junk;
    int len = static_cast<int>(x % 64);
    for (int i = 0; i < len; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const char alphabet[] = "{}[]\":,\\ \n\rdata:0123456789abcdefnulltrue[DONE]choicesdelta";
      junk.push_back(alphabet[x % (sizeof(alphabet) - 1)]);
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    SseParser p;
    StreamAccumulator acc;
    ChatError err;
    p.Feed(junk, [&](std::string_view d) {
      if (err.ok()) acc.Add(d, &err);
    });
    Completion c;
    acc.Finish(&c, &err);
    ParseCompletionJson(junk, &c, &err);
    ErrorBodyMessage(junk);
  }
}

}  // namespace
}  // namespace inloop::assist
