// The response cache's hit path, as the proxy runs it for one request: the cache rule (the
// body's temperature), the canonical JSON body, the SHA-256 key, the checksummed lookup and the
// copy of a 4 KiB answer. Target: < 50 us per hit. Socket I/O is measured by
// bench/deploy_proxy_bench.sh instead.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>

#include "gateway/canonical_json.h"
#include "gateway/response_cache.h"

namespace inloop::gateway {
namespace {

std::string Request(int i) {
  return fmt::format(R"({{"model": "m", "prompt": "summarise document number {} in two short sentences",
 "temperature": 0, "max_tokens": 256, "stop": ["\n\n"], "top_p": 1}})", i);
}

void BM_CacheHitPath(benchmark::State& state) {
  const int kEntries = state.range(0) > 8192 ? 1000 : 10000;  // all of them fit
  ResponseCache cache(int64_t{kEntries} * (state.range(0) + 1024));
  std::string answer(static_cast<size_t>(state.range(0)), 'a');
  for (int i = 0; i < kEntries; ++i) {
    std::string canonical;
    (void)CanonicalJson(Request(i), &canonical);
    cache.Insert(CacheKey("POST", "/v1/completions", "v1", canonical),
                 "v1", CachedAnswer{"application/json", answer});
  }
  std::vector<std::string> requests;
  for (int i = 0; i < 64; ++i) requests.push_back(Request(i * 97 % kEntries));
  size_t n = 0;
  for (auto _ : state) {
    const std::string& body = requests[n++ % requests.size()];
    auto t = TopLevelNumber(body, "temperature");
    std::string canonical;
    (void)CanonicalJson(body, &canonical);
    std::string key = CacheKey("POST", "/v1/completions", "v1", canonical);
    CachedAnswer out;
    CacheLookup got = cache.Lookup(key, "v1", &out);
    if (got != CacheLookup::kHit || !t) state.SkipWithError("expected a hit");
    benchmark::DoNotOptimize(out.body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_CacheHitPath)->Arg(4096)->Arg(65536)->Unit(benchmark::kMicrosecond);

void BM_CacheInsertEvict(benchmark::State& state) {
  ResponseCache cache(int64_t{4} << 20);  // ~1000 entries of 4 KiB: every insert evicts
  std::string answer(4096, 'b');
  int i = 0;
  for (auto _ : state) {
    cache.Insert(CacheKey("POST", "/v1/completions", "v1", std::to_string(i++)), "v1",
                 CachedAnswer{"application/json", answer});
  }
}
BENCHMARK(BM_CacheInsertEvict)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace inloop::gateway

BENCHMARK_MAIN();
