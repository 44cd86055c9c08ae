// Benchmarks of the assistant's plumbing, to show it never is what a user waits for (a model
// streams tens to hundreds of tokens a second): SSE parsing and chunk folding of a streamed answer
// (chunks/s, bytes/s), tool-call argument fragments, schema validation of a call, and one
// query_series tool call over a 1M-point series in a real store (M4 to 200 points, JSON result).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "assist/chat_client.h"
#include "assist/tools.h"
#include "store/store.h"

namespace inloop::assist {
namespace {

std::string ContentStream(int chunks) {
  std::string s;
  for (int i = 0; i < chunks; ++i) {
    s += fmt::format(
        "data: {{\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{}\"}},"
        "\"finish_reason\":null}}]}}\n\n", i % 100);
  }
  s += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  return s;
}

void Feed(benchmark::State& state, const std::string& stream, size_t piece) {
  int64_t chunks = 0;
  for (auto _ : state) {
    SseParser p;
    StreamAccumulator acc;
    ChatError err;
    for (size_t at = 0; at < stream.size(); at += piece) {
      p.Feed(std::string_view(stream).substr(at, piece), [&](std::string_view d) {
        acc.Add(d, &err);
      });
    }
    Completion c;
    acc.Finish(&c, &err);
    chunks += c.chunks;
    benchmark::DoNotOptimize(c);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["chunks_per_s"] = benchmark::Counter(static_cast<double>(chunks),
                                                      benchmark::Counter::kIsRate);
}

void BM_SseContentStream(benchmark::State& state) {
  Feed(state, ContentStream(2000), static_cast<size_t>(state.range(0)));
}
BENCHMARK(BM_SseContentStream)->Arg(64)->Arg(4096);

void BM_SseToolCallFragments(benchmark::State& state) {
  std::string args = R"({"run":"base","key":"train/loss","from_step":null,"to_step":null,"max_points":200})";
  std::string s = "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
                  "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"query_series\","
                  "\"arguments\":\"\"}}]}}]}\n\n";
  for (size_t at = 0; at < args.size(); at += 3) {
    std::string frag;
    for (char c : args.substr(at, 3)) {
      if (c == '"') frag += '\\';
      frag += c;
    }
    s += "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
         "{\"arguments\":\"" + frag + "\"}}]}}]}\n\n";
  }
  s += "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n";
  Feed(state, s, 1024);
}
BENCHMARK(BM_SseToolCallFragments);

void BM_ValidateProposal(benchmark::State& state) {
  ToolRegistry reg;
  RegisterInloopTools(&reg);
  const Tool* t = reg.Find("propose_action");
  std::string args = R"({"run":"base","action":"config_change","reason":"loss flattens after step 300",
      "plan":{"checkpoint_step":null,"skip_from":null,"skip_to":null,"lr_scale":null,
      "micro_batch":null,"params":[{"key":"lr","value":"0.0005"},{"key":"warmup","value":"200"}]}})";
  simdjson::dom::parser p;
  simdjson::padded_string padded(args);
  simdjson::dom::element e = p.parse(padded);
  for (auto _ : state) {
    std::string err = Validate(t->parameters, e);
    benchmark::DoNotOptimize(err);
  }
}
BENCHMARK(BM_ValidateProposal);

class QueryFixture : public benchmark::Fixture {
 public:
  void SetUp(benchmark::State&) override {
    if (st_) return;
    char tmpl[] = "/tmp/inloop-assist-bench-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store::Store::Open(dir_, true, &st_);
    store::RunRecord r;
    r.name = "base";
    st_->CreateRun(&r);
    std::unique_ptr<store::RunWriter> w;
    st_->OpenWriter(r.id, &w);
    for (int64_t s = 0; s < 1000000; ++s) {
      w->Append("train/loss", s, 1e9 + s * 0.1, 3 * std::exp(-s / 2e5) + 0.01 * std::sin(s * 0.3));
    }
    w->Close();
    RegisterInloopTools(&reg_);
    ctx_.store = st_.get();
  }
  ~QueryFixture() override {
    st_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<store::Store> st_;
  ToolRegistry reg_;
  ToolContext ctx_;
};

BENCHMARK_F(QueryFixture, BM_QuerySeriesToolCall)(benchmark::State& state) {
  for (auto _ : state) {
    ToolOutcome o = reg_.Call(ctx_, "query_series",
                              R"({"run":"base","key":"train/loss","max_points":200})");
    if (!o.ok) state.SkipWithError(o.error.c_str());
    benchmark::DoNotOptimize(o);
  }
}

}  // namespace
}  // namespace inloop::assist

BENCHMARK_MAIN();
