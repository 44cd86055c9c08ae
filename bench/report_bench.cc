// Benchmark of `inloop report` on a large run: a temp store holding one run of 1,000,000 points
// (train/loss, lr and tokens_per_s, 333,334 + 333,333 + 333,333, every step logged, wall times
// 0.2 s apart) and 100 timeline rows (40 loss-spike findings, 20 applied rollback_skip actions
// with their action_applied events, 20 throughput-regression findings), with an earlier run of
// the same command as the auto-picked baseline. Times BuildRunReport, RenderMarkdown, RenderHtml
// and all three together (target < 1 s), against reading every point of the run's three series
// (the floor any report that looks at all the data pays). `report_bench --report` prints one line
// per case and the ratio instead of running Google Benchmark.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "query/series_query.h"
#include "report/render_html.h"
#include "report/render_markdown.h"
#include "report/run_report.h"
#include "store/store.h"

namespace inloop {
namespace {

constexpr int64_t kSteps = 333'334;  // 333,334 + 2 x 333,333 = 1,000,000 points
constexpr double kT0 = 1.7e9;
const char* kKeys[] = {"train/loss", "lr", "tokens_per_s"};

double Decimal(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", digits, x);
  return std::strtod(buf, nullptr);
}

struct Fixture {
  std::string dir;
  std::unique_ptr<store::Store> st;
  std::string run_id;
  int64_t points = 0;
};

void Check(const Status& s) {
  if (!s.ok()) {
    fmt::print(stderr, "report_bench: {}\n", s.message());
    std::exit(1);
  }
}

std::string MakeRun(store::Store* st, const std::string& name, double t0, int64_t steps,
                    double scale, int64_t* points) {
  store::RunRecord r;
  r.name = name;
  r.command = {"python3", "train.py", "--lr", "3e-4"};
  r.started_at = t0;
  Check(st->CreateRun(&r));
  std::unique_ptr<store::RunWriter> w;
  Check(st->OpenWriter(r.id, &w));
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 1);
  const int64_t warmup = 2000;
  for (int64_t s = 0; s < steps; ++s) {
    double t = std::round((t0 + 0.2 * static_cast<double>(s)) * 1000) / 1000;
    double loss = scale * (4.0 * std::pow(s + 100.0, -0.3) + 0.7) * (1 + 0.01 * noise(rng));
    if (s % 8000 == 4000) loss *= 8;  // a spike every 8,000 steps
    double lr = 3e-4 * std::min(1.0, (s + 1.0) / warmup) *
                (0.5 + 0.5 * std::cos(M_PI * static_cast<double>(s) / static_cast<double>(steps)));
    double tok = (s % 16000 >= 12000 && s % 16000 < 12800 ? 6000.0 : 12000.0) * (1 + 0.02 * noise(rng));
    Check(w->Append(kKeys[0], s, t, Decimal(loss, 5)));
    if (s + 1 < steps || steps != kSteps) Check(w->Append(kKeys[1], s, t, Decimal(lr, 4)));
    if (s + 1 < steps || steps != kSteps) Check(w->Append(kKeys[2], s, t, std::round(tok)));
    if (s % 4096 == 0) Check(w->Flush());
  }
  *points = w->points_appended();
  Check(w->Close());
  r.status = store::kFinished;
  r.ended_at = t0 + 0.2 * static_cast<double>(steps);
  r.attempts = 1;
  r.exit_code = 0;
  Check(st->UpdateRun(r));
  return r.id;
}

Fixture& Get() {
  static Fixture* f = [] {
    auto* f = new Fixture;
    char tmpl[] = "/tmp/inloop-report-bench-XXXXXX";
    f->dir = mkdtemp(tmpl);
    Check(store::Store::Open(f->dir, true, &f->st));
    int64_t base_points = 0;
    MakeRun(f->st.get(), "baseline", kT0 - 1e6, 100'000, 1.02, &base_points);
    f->run_id = MakeRun(f->st.get(), "big", kT0, kSteps, 1.0, &f->points);
    // 100 timeline rows: 40 spikes, 20 actions + 20 action_applied events, 20 slowdowns.
    for (int i = 0; i < 40; ++i) {
      int64_t s = 4000 + 8000 * i;
      store::EventRecord e;
      e.run_id = f->run_id;
      e.time = kT0 + 0.2 * static_cast<double>(s) + 0.01;
      e.kind = "loss_spike";
      e.severity = "warning";
      e.step_lo = e.step_hi = s;
      e.message = fmt::format("loss spike on train/loss at step {}", s);
      e.data_json = R"({"series":"train/loss","update":false,"evidence":{"value":8,"median":1,"robust_z":40}})";
      Check(f->st->AddEvent(&e));
      if (i % 2 == 0) {
        store::ActionRecord a;
        a.run_id = f->run_id;
        a.created_at = e.time - 0.005;
        a.action = "rollback_skip";
        a.trigger = "loss_spike";
        a.step = s;
        a.reason = "loss spike";
        a.state = store::kActionApplied;
        a.decided_by = "policy";
        a.data_json = fmt::format(
            R"({{"checkpoint":{{"path":"c","step":{0},"source":"sdk"}},"resume_step":{0},"start_step":{1},"skip":[{1},{2}],"lr_scale":1,"micro_batch":null}})",
            s - 1000, s - 999, s + 1);
        Check(f->st->AddAction(&a));
        store::EventRecord ap;
        ap.run_id = f->run_id;
        ap.time = e.time + 1;
        ap.kind = "action_applied";
        ap.severity = "warning";
        ap.step_lo = ap.step_hi = s;
        ap.message = "rollback_skip";
        ap.data_json = fmt::format(R"({{"action_id":{},"action":"rollback_skip"}})", a.id);
        Check(f->st->AddEvent(&ap));
      }
      if (i % 2 == 1) {
        store::EventRecord g;
        g.run_id = f->run_id;
        g.time = e.time + 2;
        g.kind = "throughput_regression";
        g.severity = "warning";
        g.step_lo = 12000 + 16000 * (i / 2);
        g.step_hi = *g.step_lo + 800;
        g.message = "throughput regression on tokens_per_s";
        g.data_json = R"({"series":"tokens_per_s","update":false,"evidence":{"short_median":6000,"long_median":12000,"drop":0.5}})";
        Check(f->st->AddEvent(&g));
      }
    }
    return f;
  }();
  return *f;
}

report::ReportOptions Options() {
  report::ReportOptions o;
  o.run = Get().run_id;
  return o;
}

double ReadAll() {
  double sum = 0;
  for (const char* k : kKeys) {
    query::SeriesResult res;
    Check(query::QuerySeries(Get().st.get(), Get().run_id, k, query::SeriesQuery{}, &res));
    for (auto& p : res.points) sum += p.value;
  }
  return sum;
}

void BM_ReadAllPoints(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ReadAll());
  state.counters["points"] = static_cast<double>(Get().points);
}

void BM_BuildRunReport(benchmark::State& state) {
  for (auto _ : state) {
    report::RunReport r;
    Check(report::BuildRunReport(Get().st.get(), Options(), &r));
    benchmark::DoNotOptimize(r);
  }
}

void BM_RenderMarkdown(benchmark::State& state) {
  report::RunReport r;
  Check(report::BuildRunReport(Get().st.get(), Options(), &r));
  for (auto _ : state) benchmark::DoNotOptimize(report::RenderMarkdown(r));
}

void BM_RenderHtml(benchmark::State& state) {
  report::RunReport r;
  Check(report::BuildRunReport(Get().st.get(), Options(), &r));
  for (auto _ : state) benchmark::DoNotOptimize(report::RenderHtml(r));
}

void BM_ReportMdAndHtml(benchmark::State& state) {
  for (auto _ : state) {
    report::RunReport r;
    Check(report::BuildRunReport(Get().st.get(), Options(), &r));
    benchmark::DoNotOptimize(report::RenderMarkdown(r));
    benchmark::DoNotOptimize(report::RenderHtml(r));
  }
}

BENCHMARK(BM_ReadAllPoints)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildRunReport)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RenderMarkdown)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RenderHtml)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReportMdAndHtml)->Unit(benchmark::kMillisecond);

// Best of `reps` wall-clock runs, in ms.
template <typename F>
double BestMs(int reps, F&& f) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ms);
  }
  return best;
}

int Report() {
  Fixture& f = Get();
  report::RunReport r;
  double read = BestMs(5, [] { benchmark::DoNotOptimize(ReadAll()); });
  double build = BestMs(5, [&] { Check(report::BuildRunReport(f.st.get(), Options(), &r)); });
  size_t md_bytes = 0, html_bytes = 0;
  double md = BestMs(5, [&] { md_bytes = report::RenderMarkdown(r).size(); });
  double html = BestMs(5, [&] { html_bytes = report::RenderHtml(r).size(); });
  double total = BestMs(5, [&] {
    report::RunReport x;
    Check(report::BuildRunReport(f.st.get(), Options(), &x));
    benchmark::DoNotOptimize(report::RenderMarkdown(x));
    benchmark::DoNotOptimize(report::RenderHtml(x));
  });
  fmt::print("run: {} points in 3 series, {} timeline rows, {} remedies, {} findings\n", f.points,
             r.timeline.size(), r.remedies.size(), r.findings.size());
  fmt::print("read all points (baseline)   {:8.1f} ms\n", read);
  fmt::print("BuildRunReport               {:8.1f} ms\n", build);
  fmt::print("RenderMarkdown               {:8.1f} ms  ({} bytes)\n", md, md_bytes);
  fmt::print("RenderHtml                   {:8.1f} ms  ({} bytes)\n", html, html_bytes);
  fmt::print("report md + html, total      {:8.1f} ms  (target < 1000 ms; {:.2f}x reading all "
             "points)\n", total, total / read);
  return total < 1000 ? 0 : 1;
}

}  // namespace
}  // namespace inloop

int main(int argc, char** argv) {
  int rc = 0;
  inloop::Get();  // the store is built once, outside every timing
  if (argc > 1 && std::strcmp(argv[1], "--report") == 0) {
    rc = inloop::Report();
  } else {
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  }
  std::filesystem::remove_all(inloop::Get().dir);
  return rc;
}
