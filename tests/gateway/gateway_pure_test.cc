// Unit tests of deploy's pure parts: canonical JSON keys, the response cache (LRU by bytes,
// checksums, versions), the autoscaler over replayed timelines, and the balancer.
#include <gtest/gtest.h>

#include <limits>

#include "gateway/autoscaler.h"
#include "gateway/balancer.h"
#include "gateway/canonical_json.h"
#include "gateway/metrics_text.h"
#include "gateway/response_cache.h"

namespace inloop::gateway {
namespace {

TEST(CanonicalJson, SortsKeysDropsWhitespaceAndNormalisesNumbers) {
  std::string a, b;
  ASSERT_TRUE(CanonicalJson(R"({"b": 1, "a": {"y": [1, 2.50, "x"], "x": null}, "t": 0.0})", &a).ok());
  ASSERT_TRUE(CanonicalJson(R"({"t":0,"a":{"x":null,"y":[1,2.5,"x"]},"b":1.0})", &b).ok());
  EXPECT_EQ(a, R"({"a":{"x":null,"y":[1,2.5,"x"]},"b":1,"t":0})");
  EXPECT_EQ(a, b);
  std::string c;
  ASSERT_TRUE(CanonicalJson(R"({"prompt":"a\"b\n"})", &c).ok());
  EXPECT_EQ(c, R"({"prompt":"a\"b\n"})");
  EXPECT_FALSE(CanonicalJson("{nope", &c).ok());
}

TEST(CanonicalJson, TopLevelNumber) {
  EXPECT_EQ(TopLevelNumber(R"({"temperature": 0})", "temperature"), 0.0);
  EXPECT_EQ(TopLevelNumber(R"({"temperature": 0.7})", "temperature"), 0.7);
  EXPECT_FALSE(TopLevelNumber(R"({"temperature": "0"})", "temperature"));
  EXPECT_FALSE(TopLevelNumber(R"({"x": {"temperature": 0}})", "temperature"));
  EXPECT_FALSE(TopLevelNumber(R"([0])", "temperature"));
}

TEST(CacheKey, DependsOnEveryPartAndIsUnambiguous) {
  std::string k = CacheKey("POST", "/v1/completions", "v1", R"({"p":1})");
  EXPECT_EQ(k.size(), 32u);
  EXPECT_EQ(k, CacheKey("POST", "/v1/completions", "v1", R"({"p":1})"));
  EXPECT_NE(k, CacheKey("GET", "/v1/completions", "v1", R"({"p":1})"));
  EXPECT_NE(k, CacheKey("POST", "/v1/chat", "v1", R"({"p":1})"));
  EXPECT_NE(k, CacheKey("POST", "/v1/completions", "v2", R"({"p":1})"));
  EXPECT_NE(k, CacheKey("POST", "/v1/completions", "v1", R"({"p":2})"));
  // Length prefixes: moving a byte between fields changes the key.
  EXPECT_NE(CacheKey("ab", "c", "v", "x"), CacheKey("a", "bc", "v", "x"));
}

CachedAnswer Answer(std::string body) { return CachedAnswer{"application/json", std::move(body)}; }

TEST(ResponseCache, HitMissAndLruByBytes) {
  // Each entry: key 1 + version 2 + type 16 + body 100 + 128 overhead = 247 bytes.
  ResponseCache cache(3 * 247);
  cache.Insert("a", "v1", Answer(std::string(100, 'a')));
  cache.Insert("b", "v1", Answer(std::string(100, 'b')));
  cache.Insert("c", "v1", Answer(std::string(100, 'c')));
  CachedAnswer got;
  EXPECT_EQ(cache.Lookup("a", "v1", &got), CacheLookup::kHit);  // a is now most recent
  EXPECT_EQ(got.body, std::string(100, 'a'));
  cache.Insert("d", "v1", Answer(std::string(100, 'd')));       // evicts b, the LRU
  EXPECT_EQ(cache.Lookup("b", "v1", &got), CacheLookup::kMiss);
  EXPECT_EQ(cache.Lookup("a", "v1", &got), CacheLookup::kHit);
  EXPECT_EQ(cache.Lookup("c", "v1", &got), CacheLookup::kHit);
  EXPECT_EQ(cache.Lookup("d", "v1", &got), CacheLookup::kHit);
  CacheStats s = cache.Stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.bytes, 3 * 247);
  EXPECT_EQ(s.evictions["capacity"], 1);
  EXPECT_EQ(s.hits, 4);
  EXPECT_EQ(s.misses, 1);
  // Bigger than the whole bound: not stored, nothing else evicted.
  cache.Insert("huge", "v1", Answer(std::string(1000, 'h')));
  EXPECT_EQ(cache.Lookup("huge", "v1", &got), CacheLookup::kMiss);
  EXPECT_EQ(cache.Stats().entries, 3);
}

TEST(ResponseCache, CorruptEntryIsEvictedNeverServed) {
  ResponseCache cache(1 << 20);
  cache.Insert("k", "v1", Answer("{\"text\":\"hello world\"}"));
  EXPECT_EQ(cache.CorruptForTest(1), 1);
  CachedAnswer got;
  EXPECT_EQ(cache.Lookup("k", "v1", &got), CacheLookup::kCorrupt);
  EXPECT_TRUE(got.body.empty());
  EXPECT_EQ(cache.Lookup("k", "v1", &got), CacheLookup::kMiss);
  EXPECT_EQ(cache.Stats().evictions["corrupt"], 1);
  EXPECT_EQ(cache.Stats().entries, 0);
  EXPECT_EQ(cache.Stats().bytes, 0);
}

TEST(ResponseCache, OtherVersionIsStale) {
  ResponseCache cache(1 << 20);
  cache.Insert("k", "v1", Answer("one"));
  cache.Insert("j", "v1", Answer("two"));
  cache.Insert("i", "v2", Answer("three"));
  CachedAnswer got;
  EXPECT_EQ(cache.Lookup("k", "v2", &got), CacheLookup::kStaleVersion);
  EXPECT_EQ(cache.EvictOtherVersions("v2"), 1);  // j
  EXPECT_EQ(cache.Lookup("i", "v2", &got), CacheLookup::kHit);
  EXPECT_EQ(cache.Stats().evictions["stale_version"], 2);
  EXPECT_TRUE(cache.Evict("i", kEvictMismatch));
  EXPECT_FALSE(cache.Evict("i", kEvictMismatch));
  EXPECT_EQ(cache.Stats().evictions["mismatch"], 1);
}

TEST(ResponseCache, ReplacingAnEntryKeepsByteCountExact) {
  ResponseCache cache(1 << 20);
  cache.Insert("k", "v1", Answer("short"));
  cache.Insert("k", "v1", Answer("a much longer body"));
  CacheStats s = cache.Stats();
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes, 1 + 2 + 16 + 18 + 128);
}

AutoscaleConfig FastConfig() {
  AutoscaleConfig c;
  c.target_in_flight = 2;
  c.stable_window_s = 10;
  c.panic_window_s = 2;
  c.min_replicas = 1;
  c.max_replicas = 6;
  return c;
}

// Feeds `in_flight` every 0.1 s from t0 to t1, applying each decision to *replicas; returns the
// decisions made.
std::vector<ScaleDecision> Replay(Autoscaler* a, double t0, double t1, double in_flight,
                                  int* replicas) {
  std::vector<ScaleDecision> out;
  for (double t = t0; t < t1 - 1e-9; t += 0.1) {
    a->Observe(t, in_flight);
    ScaleDecision d;
    if (a->Decide(t, *replicas, &d)) {
      *replicas = d.to;
      out.push_back(d);
    }
  }
  return out;
}

TEST(Autoscaler, SpikePanicsAndScalesUpAtOnce) {
  Autoscaler a(FastConfig());
  int replicas = 1;
  EXPECT_TRUE(Replay(&a, 0, 20, 1.0, &replicas).empty());  // 1 in flight fits one replica
  auto ds = Replay(&a, 20, 21, 10.0, &replicas);          // 10x spike
  ASSERT_FALSE(ds.empty());
  EXPECT_TRUE(ds.front().panic);
  EXPECT_EQ(ds.front().from, 1);
  // The first panic decision comes as soon as the short window's mean reaches 2 x capacity (4).
  EXPECT_LT(ds.front().time, 21.0);
  EXPECT_GE(ds.front().panic_avg, 4.0);
  EXPECT_EQ(replicas, ds.back().to);
  Replay(&a, 21, 24, 10.0, &replicas);
  EXPECT_EQ(replicas, 5);  // ceil(10 / 2)
  EXPECT_TRUE(a.in_panic());
}

TEST(Autoscaler, PanicNeverScalesDownAndStaysBoundedByMax) {
  AutoscaleConfig c = FastConfig();
  c.max_replicas = 3;
  Autoscaler a(c);
  int replicas = 1;
  Replay(&a, 0, 3, 40.0, &replicas);
  EXPECT_EQ(replicas, 3);
  // Load drops; still in panic until a full stable window without the panic condition.
  auto ds = Replay(&a, 3, 8, 0.5, &replicas);
  EXPECT_TRUE(ds.empty());
  EXPECT_EQ(replicas, 3);
}

TEST(Autoscaler, ScaleDownOnlyAfterAFullStableWindowOneStepAtATime) {
  Autoscaler a(FastConfig());
  int replicas = 4;
  Replay(&a, 0, 10, 7.0, &replicas);  // needs 4
  EXPECT_EQ(replicas, 4);
  auto ds = Replay(&a, 10, 15, 0.5, &replicas);
  EXPECT_TRUE(ds.empty()) << "scaled down before a full stable window";
  ds = Replay(&a, 15, 60, 0.5, &replicas);
  ASSERT_GE(ds.size(), 3u);
  for (size_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds[i].to, ds[i].from - 1);
    EXPECT_FALSE(ds[i].panic);
    if (i) {
      EXPECT_GE(ds[i].time - ds[i - 1].time, 10.0 - 1e-6);
    }
  }
  EXPECT_EQ(replicas, 1);  // never below min
}

TEST(Autoscaler, GradualGrowthScalesUpWithoutPanic) {
  Autoscaler a(FastConfig());
  int replicas = 2;
  Replay(&a, 0, 10, 3.0, &replicas);
  auto ds = Replay(&a, 10, 30, 5.0, &replicas);  // 5 < 2 x capacity(4): no panic
  ASSERT_FALSE(ds.empty());
  EXPECT_FALSE(ds.front().panic);
  EXPECT_EQ(replicas, 3);
}

TEST(Autoscaler, BringsCountIntoBounds) {
  Autoscaler a(FastConfig());
  a.Observe(0, 0);
  ScaleDecision d;
  ASSERT_TRUE(a.Decide(0, 0, &d));
  EXPECT_EQ(d.to, 1);
  ASSERT_TRUE(a.Decide(0, 9, &d));
  EXPECT_EQ(d.to, 6);
}

TEST(Balancer, LeastOutstandingWithRotationAndExclusions) {
  uint64_t cursor = 0;
  std::vector<BackendLoad> b = {{3, true, false}, {1, true, false}, {1, true, false},
                                {0, false, false}};
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), 1);
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), 2);  // tie rotates
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), 1);
  b[1].excluded = true;
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), 2);
  b[2].routable = false;
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), 0);
  b[0].routable = false;
  EXPECT_EQ(PickLeastOutstanding(b, &cursor), -1);
  std::vector<BackendLoad> none;
  EXPECT_EQ(PickLeastOutstanding(none, &cursor), -1);
}

TEST(MetricsWriter, PrometheusTextWithEscapedLabels) {
  MetricsWriter m;
  m.Help("inloop_requests_total", "counter", "Requests.");
  m.Sample("inloop_requests_total", {{"code", "200"}}, 12);
  m.Help("inloop_requests_total", "counter", "Requests.");  // once per family
  m.Sample("inloop_requests_total", {{"code", "5\"0\\3\n"}}, 1);
  m.Sample("inloop_latency_sum", {}, 0.25);
  m.Sample("inloop_x", {{"a", "1"}, {"b", "2"}}, std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.Take(),
            "# HELP inloop_requests_total Requests.\n"
            "# TYPE inloop_requests_total counter\n"
            "inloop_requests_total{code=\"200\"} 12\n"
            "inloop_requests_total{code=\"5\\\"0\\\\3\\n\"} 1\n"
            "inloop_latency_sum 0.25\n"
            "inloop_x{a=\"1\",b=\"2\"} +Inf\n");
}

}  // namespace
}  // namespace inloop::gateway
