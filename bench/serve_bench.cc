// Benchmarks of `inloop serve` (issue 4), on a store built before any timing:
//  - one 10,000,000-point series downsampled to 2,000 columns (GET .../series?width=2000), server
//    time = Api::Handle from the parsed request to the JSON text (target < 30 ms); baseline: the
//    same curve read whole (every chunk decoded);
//  - 100 runs x 100,000 points overlaid on 1,000 columns (GET /api/v1/series, target < 300 ms);
//    baseline: the same reads one run after another on one thread;
//  - 500 SSE clients on one live run over real sockets: a writer appends N points while the
//    clients read; each client's points are counted and checked for gaps and duplicates.
// `serve_bench --report` prints one line per case (the figures in bench/RESULTS.md); without it,
// Google Benchmark runs the two API cases.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>

#include "http/api.h"
#include "http/live_hub.h"
#include "http/server.h"
#include "query/series_query.h"
#include "store/store.h"

namespace inloop {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Decimal(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

// A loss curve as training logs print it: 5 significant digits, ~200 ms steps with jitter.
void WriteCurve(store::Store* st, const std::string& name, int64_t points, uint64_t seed,
                std::string* id) {
  store::RunRecord r;
  r.name = name;
  r.status = store::kFinished;
  r.started_at = 1712345678;
  r.ended_at = r.started_at + points * 0.2;
  if (!st->CreateRun(&r).ok() || !st->UpdateRun(r).ok()) std::abort();
  std::unique_ptr<store::RunWriter> w;
  if (!st->OpenWriter(r.id, &w).ok()) std::abort();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  double t = r.started_at;
  for (int64_t i = 0; i < points; ++i) {
    t += 0.2 + 0.004 * noise(rng);
    double loss = 4.0 * std::pow(i + 100.0, -0.3) + 0.7;
    if (!w->Append("loss", i, std::round(t * 1000) / 1000,
                   Decimal(loss * (1 + 0.02 * noise(rng)), 5))
             .ok()) {
      std::abort();
    }
  }
  if (!w->Close().ok()) std::abort();
  *id = r.id;
}

struct Fixture {
  std::string dir;
  std::string big_id;
  std::vector<std::string> overlay_ids;
  std::unique_ptr<http::StorePool> pool;
  http::ServerMetrics metrics;
  std::unique_ptr<http::Api> api;
  ~Fixture() {
    api.reset();
    pool.reset();
    std::filesystem::remove_all(dir);
  }
};

void Build(Fixture* fx) {
  char tmpl[] = "/tmp/inloop-serve-bench-XXXXXX";
  fx->dir = mkdtemp(tmpl);
  std::unique_ptr<store::Store> st;
  if (!store::Store::Open(fx->dir, true, &st).ok()) std::abort();
  auto t0 = Clock::now();
  WriteCurve(st.get(), "big", 10'000'000, 1, &fx->big_id);
  for (int i = 0; i < 100; ++i) {
    std::string id;
    WriteCurve(st.get(), fmt::format("overlay-{:03}", i), 100'000, 100 + i, &id);
    fx->overlay_ids.push_back(id);
  }
  fmt::print(stderr, "store built in {:.1f} s ({})\n", Ms(t0, Clock::now()) / 1000, fx->dir);
  fx->pool = std::make_unique<http::StorePool>(fx->dir);
  fx->api = std::make_unique<http::Api>(fx->pool.get(), &fx->metrics);
}

Fixture& Data() {
  static Fixture fx;  // built once, removed at exit
  static bool built = (Build(&fx), true);
  (void)built;
  return fx;
}

http::HttpResponse Get(const std::string& target) {
  http::HttpRequest r;
  r.method = "GET";
  if (!http::ParseTarget(target, &r).ok()) std::abort();
  return Data().api->Handle(r);
}

std::string BigTarget() {
  return fmt::format("/api/v1/runs/{}/series?key=loss&width=2000", Data().big_id);
}

std::string OverlayTarget() {
  std::string runs;
  for (auto& id : Data().overlay_ids) runs += (runs.empty() ? "" : ",") + id;
  return fmt::format("/api/v1/series?runs={}&key=loss&x=step&width=1000", runs);
}

void BM_Downsample10M(benchmark::State& state) {
  std::string target = BigTarget();
  for (auto _ : state) {
    http::HttpResponse r = Get(target);
    if (r.status != 200) std::abort();
    benchmark::DoNotOptimize(r.body.data());
  }
}
BENCHMARK(BM_Downsample10M)->Unit(benchmark::kMillisecond);

void BM_Overlay100x100k(benchmark::State& state) {
  std::string target = OverlayTarget();
  for (auto _ : state) {
    http::HttpResponse r = Get(target);
    if (r.status != 200) std::abort();
    benchmark::DoNotOptimize(r.body.data());
  }
}
BENCHMARK(BM_Overlay100x100k)->Unit(benchmark::kMillisecond);

// Best of `reps` runs of f, in ms.
template <class F>
double Best(int reps, F f) {
  double best = 1e18;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, Ms(t0, Clock::now()));
  }
  return best;
}

void ReportApi() {
  Fixture& fx = Data();
  http::HttpResponse last;
  std::string big = BigTarget();
  double m4 = Best(20, [&] { last = Get(big); });
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(last.body).get(doc)) std::abort();
  size_t out = doc["points"].get_array().size();
  http::StorePool::Lease st;
  if (!fx.pool->Acquire(&st).ok()) std::abort();
  double whole = Best(3, [&] {
    query::SeriesResult res;
    if (!query::QuerySeries(st.get(), fx.big_id, "loss", {}, &res).ok()) std::abort();
  });
  query::M4Stats stats;
  double query_only = Best(20, [&] {
    query::SeriesQuery q;
    q.max_points = 8000;
    query::SeriesResult res;
    if (!query::QuerySeries(st.get(), fx.big_id, "loss", q, &res).ok()) std::abort();
    stats = res.m4;
  });
  fmt::print(
      "series 10,000,000 points -> width 2000: {:.1f} ms server time (best of 20; {} points, "
      "{} bytes of JSON; the query alone {:.1f} ms, {} chunks from summaries, {} decoded); "
      "baseline, the curve read whole: {:.0f} ms\n",
      m4, out, last.body.size(), query_only, stats.chunks_summarized, stats.chunks_decoded, whole);
  std::string overlay = OverlayTarget();
  double ov = Best(10, [&] { last = Get(overlay); });
  double seq = Best(3, [&] {
    for (auto& id : fx.overlay_ids) {
      query::SeriesQuery q;
      q.max_points = 4000;
      query::SeriesResult res;
      if (!query::QuerySeries(st.get(), id, "loss", q, &res).ok()) std::abort();
    }
  });
  fmt::print(
      "overlay 100 runs x 100,000 points -> width 1000: {:.1f} ms server time (best of 10, {} "
      "threads; {} bytes of JSON); baseline, the same reads on one thread without JSON: {:.0f} "
      "ms\n",
      ov, std::min(4u, std::max(1u, std::thread::hardware_concurrency())), last.body.size(), seq);
  std::string relative = overlay;
  relative.replace(relative.find("x=step"), 6, "x=relative");
  double rel = Best(5, [&] { last = Get(relative); });
  fmt::print("overlay 100 runs x 100,000 points -> width 1000 on x=relative: {:.1f} ms server time "
             "(best of 5; {} bytes of JSON)\n",
             rel, last.body.size());
}

// ---- the runs table over thousands of runs ----

void ReportRunsList(int runs) {
  char tmpl[] = "/tmp/inloop-runs-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    std::unique_ptr<store::Store> st;
    if (!store::Store::Open(dir, true, &st).ok()) std::abort();
    auto t0 = Clock::now();
    for (int i = 0; i < runs; ++i) {
      store::RunRecord r;
      r.name = fmt::format("sweep-{:05}", i);
      r.status = i % 10 == 0 ? store::kFailed : store::kFinished;
      r.started_at = 1.7e9 + i;
      r.ended_at = r.started_at + 100 + i % 37;
      if (!st->CreateRun(&r).ok() || !st->UpdateRun(r).ok()) std::abort();
      if (!st->SetParams(r.id, {{"lr", fmt::format("{}", 1e-4 * (1 + i % 13)), "argv"},
                                {"seed", std::to_string(i % 5), "argv"}})
               .ok()) {
        std::abort();
      }
      std::unique_ptr<store::RunWriter> w;
      if (!st->OpenWriter(r.id, &w).ok()) std::abort();
      for (int s = 0; s < 100; ++s) {
        if (!w->Append("loss", s, r.started_at + s, 3.0 / (s + 1) + (i % 101) * 0.001).ok()) {
          std::abort();
        }
      }
      if (!w->Close().ok()) std::abort();
    }
    fmt::print(stderr, "{} runs built in {:.1f} s\n", runs, Ms(t0, Clock::now()) / 1000);
    http::StorePool pool(dir);
    http::ServerMetrics metrics;
    http::Api api(&pool, &metrics);
    for (const char* q : {"/api/v1/runs", "/api/v1/runs?last=loss",
                          "/api/v1/runs?name=sweep-01*&status=finished&sort=param.lr&last=loss",
                          "/api/v1/runs?param.seed=3&sort=duration_s&order=asc&offset=200",
                          "/api/v1/runs?sort=last.loss&order=asc&last=loss",
                          "/api/v1/runs?sort=last.loss&limit=1000&last=loss"}) {
      http::HttpResponse last;
      double ms = Best(10, [&] {
        http::HttpRequest r;
        r.method = "GET";
        if (!http::ParseTarget(q, &r).ok()) std::abort();
        last = api.Handle(r);
      });
      if (last.status != 200) std::abort();
      fmt::print("runs list over {} runs, GET {}: {:.1f} ms (best of 10, {} bytes)\n", runs, q, ms,
                 last.body.size());
    }
  }
  std::filesystem::remove_all(dir);
}

// ---- 500 SSE clients on one live run ----

struct StreamClient {
  int fd = -1;
  std::string buf;
  int64_t points = 0;
  int64_t next_step = 0;  // the step expected next
  bool ready = false, ended = false, broken = false, gap = false;
};

// Consumes complete SSE messages in c->buf.
void Consume(StreamClient* c, simdjson::dom::parser& parser) {
  size_t pos;
  while ((pos = c->buf.find("\n\n")) != std::string::npos) {
    std::string msg = c->buf.substr(0, pos);
    c->buf.erase(0, pos + 2);
    size_t hdr = msg.find("\r\n\r\n");
    if (hdr != std::string::npos) msg.erase(0, hdr + 4);  // the HTTP response head
    if (msg.rfind("event: ready", 0) == 0) {
      c->ready = true;
    } else if (msg.rfind("event: status", 0) == 0) {
      if (msg.find("\"finished\"") != std::string::npos) c->ended = true;
    } else if (msg.rfind("event: points", 0) == 0) {
      size_t d = msg.find("data: ");
      simdjson::dom::element doc;
      if (d == std::string::npos || parser.parse(msg.substr(d + 6)).get(doc)) {
        c->broken = true;
        continue;
      }
      for (auto p : doc["points"].get_array()) {
        int64_t step = int64_t(p.at(0));
        if (step != c->next_step) c->gap = true;
        c->next_step = step + 1;
        ++c->points;
      }
    }
  }
}

void ReportSse(int clients, int64_t points) {
  char tmpl[] = "/tmp/inloop-sse-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    std::unique_ptr<store::Store> st;
    if (!store::Store::Open(dir, true, &st).ok()) std::abort();
    store::RunRecord run;
    run.name = "live";
    if (!st->CreateRun(&run).ok()) std::abort();
    http::StorePool pool(dir);
    http::ServerMetrics metrics;
    http::Api api(&pool, &metrics);
    http::LiveHub hub(&pool, &metrics);
    http::ServerOptions opt;
    opt.port = 0;
    opt.no_token = true;  // loopback; the admission rules still want the Host with its port
    std::unique_ptr<http::Server> server;
    Status s = http::Server::Start(opt, &api, &hub, &metrics, &server);
    if (!s.ok()) {
      fmt::print(stderr, "{}\n", s.message());
      std::abort();
    }
    hub.Start();
    std::vector<StreamClient> cs(clients);
    std::string request = fmt::format(
        "GET /api/v1/stream?run={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: "
        "text/event-stream\r\n\r\n",
        run.id, server->port());
    for (auto& c : cs) {
      c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(server->port()));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) std::abort();
      if (::send(c.fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
        std::abort();
      }
      ::fcntl(c.fd, F_SETFL, O_NONBLOCK);
    }
    simdjson::dom::parser parser;
    std::vector<pollfd> pfds(cs.size());
    char chunk[65536];
    auto pump = [&](int timeout_ms) {
      for (size_t i = 0; i < cs.size(); ++i) pfds[i] = {cs[i].fd, POLLIN, 0};
      if (::poll(pfds.data(), pfds.size(), timeout_ms) <= 0) return;
      for (size_t i = 0; i < cs.size(); ++i) {
        if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        for (;;) {
          ssize_t n = ::recv(cs[i].fd, chunk, sizeof(chunk), 0);
          if (n > 0) {
            cs[i].buf.append(chunk, static_cast<size_t>(n));
            continue;
          }
          if (n == 0 && !cs[i].ended) cs[i].broken = true;
          break;
        }
        Consume(&cs[i], parser);
      }
    };
    auto all = [&](auto pred) {
      for (auto& c : cs) {
        if (!pred(c)) return false;
      }
      return true;
    };
    auto t0 = Clock::now();
    while (!all([](const StreamClient& c) { return c.ready; }) && Ms(t0, Clock::now()) < 60000) {
      pump(50);
    }
    double connect_ms = Ms(t0, Clock::now());
    int64_t polls_before = metrics.sse_polls();
    // The writer, as a supervisor would: batches of 50 points flushed every 10 ms.
    std::thread writer([&] {
      std::unique_ptr<store::Store> wst;
      if (!store::Store::Open(dir, false, &wst).ok()) std::abort();
      std::unique_ptr<store::RunWriter> w;
      if (!wst->OpenWriter(run.id, &w).ok()) std::abort();
      for (int64_t i = 0; i < points; ++i) {
        if (!w->Append("loss", i, 1e9 + i, 1.0 / (i + 1)).ok()) std::abort();
        if (i % 50 == 49) {
          if (!w->Flush().ok()) std::abort();
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      if (!w->Close().ok()) std::abort();
      run.status = store::kFinished;
      run.ended_at = 1e9 + points;
      if (!wst->UpdateRun(run).ok()) std::abort();
    });
    auto w0 = Clock::now();
    while (!all([](const StreamClient& c) { return c.ended || c.broken; }) &&
           Ms(w0, Clock::now()) < 120000) {
      pump(50);
    }
    double deliver_ms = Ms(w0, Clock::now());
    writer.join();
    int complete = 0, broken = 0, gaps = 0;
    int64_t min_pts = points, max_pts = 0;
    for (auto& c : cs) {
      complete += c.ended && !c.gap && c.points == points;
      broken += c.broken;
      gaps += c.gap;
      min_pts = std::min(min_pts, c.points);
      max_pts = std::max(max_pts, c.points);
      ::close(c.fd);
    }
    fmt::print(
        "SSE {} clients on one live run, {} points written in batches of 50 every 10 ms: {} "
        "clients received all {} points in order (min {}, max {}), {} cut off, {} with gaps; "
        "{} store polls for the run while streaming ({:.1f} s; one poller for all clients), "
        "{} clients dropped by the hub; ready on all after {:.0f} ms\n",
        clients, points, complete, points, min_pts, max_pts, broken, gaps,
        metrics.sse_polls() - polls_before, deliver_ms / 1000, metrics.sse_clients_dropped(),
        connect_ms);
    hub.Stop();  // no more wakeups posted to the server's executor
    server->Stop();
    server.reset();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--report") == 0) {
      inloop::ReportApi();
      inloop::ReportRunsList(5000);
      inloop::ReportSse(500, 20000);
      return 0;
    }
    if (std::strcmp(argv[i], "--sse") == 0) {
      inloop::ReportSse(500, 20000);
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
