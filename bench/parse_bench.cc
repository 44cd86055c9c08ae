// parse_bench: LineParser::Parse throughput on the shapes that dominate real logs (one JSONL
// metrics line, one Megatron-LM line, one prose line that must be rejected, and a few more).
// Reports lines/s (items_per_second) and heap allocations per line, which must be 0.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ingest/line_parser.h"

// Counts heap allocations in this binary so the bench can report allocations per line. Not
// inlined, so the compiler never pairs a malloc with an operator delete it can see into.
static std::atomic<uint64_t> g_allocations{0};

__attribute__((noinline)) void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace inloop::ingest {
namespace {

void RunParse(benchmark::State& state, const std::string& line, std::vector<CustomPattern> pats) {
  std::unique_ptr<LineParser> parser;
  if (!LineParser::Create(std::move(pats), &parser).ok()) {
    state.SkipWithError("Create failed");
    return;
  }
  ParsedLine out;
  for (int i = 0; i < 16; ++i) parser->Parse(line, &out);  // warm the pools
  uint64_t before = g_allocations.load();
  for (auto _ : state) {
    bool ok = parser->Parse(line, &out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.metrics.data());
  }
  uint64_t allocs = g_allocations.load() - before;
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
  state.counters["allocs_per_line"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations());
  state.counters["metrics"] = static_cast<double>(out.metrics.size());
}

void BM_ParseJson(benchmark::State& state) {
  RunParse(state, R"({"step": 12345, "loss": 2.3456, "lr": 0.0003, "grad_norm": 1.234})", {});
}
BENCHMARK(BM_ParseJson);

void BM_ParseMegatron(benchmark::State& state) {
  RunParse(state,
           "[default7]: iteration    31219/  115311 | consumed samples:     47778736 | consumed "
           "tokens:  97850851328 | elapsed time per iteration (s): 106.36 | learning rate: "
           "5.279E-05 | global batch size:  2048 | lm loss: 5.098124E+00 | grad norm: 960.351 | "
           "num zeros: 0.0 | number of skipped iterations:   0 | number of nan iterations:   0 | "
           "samples per second: 19.256 | TFLOPs: 147.43 |",
           {});
}
BENCHMARK(BM_ParseMegatron);

void BM_ParseProse(benchmark::State& state) {
  RunParse(state,
           "Downloading shards: loaded model weights from ./checkpoints/ckpt-100.pt (2.3 GB)", {});
}
BENCHMARK(BM_ParseProse);

void BM_ParseProseNoDigits(benchmark::State& state) {
  RunParse(state, "Traceback (most recent call last): see the stack trace below for details", {});
}
BENCHMARK(BM_ParseProseNoDigits);

void BM_ParseHfDict(benchmark::State& state) {
  RunParse(state, "{'loss': 2.3142, 'grad_norm': 1.93, 'learning_rate': 4.9e-05, 'epoch': 0.12}",
           {});
}
BENCHMARK(BM_ParseHfDict);

void BM_ParseNanoGpt(benchmark::State& state) {
  RunParse(state, "iter 100: loss 2.3456, time 12.34ms, mfu 1.23%", {});
}
BENCHMARK(BM_ParseNanoGpt);

void BM_ParseLightning(benchmark::State& state) {
  RunParse(state,
           "Epoch 0:  12%|\xE2\x96\x88\xE2\x96\x8F  | 120/1000 [00:10<01:15, 11.7it/s, loss=2.34, "
           "v_num=0]",
           {});
}
BENCHMARK(BM_ParseLightning);

void BM_ParseCustomPattern(benchmark::State& state) {
  RunParse(state, "EVAL 1200 acc=0.8125 f1=0.79",
           {{"eval", R"(^EVAL (?<step>\d+) acc=(?<eval_acc>[0-9.]+) f1=(?<eval_f1>[0-9.]+))"}});
}
BENCHMARK(BM_ParseCustomPattern);

}  // namespace
}  // namespace inloop::ingest

BENCHMARK_MAIN();
