// Store append benchmark: points/s through RunWriter (WAL + chunk sealing + index commits), and
// the baseline measured in the same run: batched SQLite row inserts of the same points (prepared
// statement, one transaction, MLflow's one-row-per-point table). Target: >= 10,000,000 points/s
// and >= 10x the SQLite rate. Also reports the bytes/point of each on disk.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/store.h"

namespace {

namespace fs = std::filesystem;

struct Sample {
  const char* key;
  int64_t step;
  double t;
  double v;
};

// Three realistic series (loss, lr, grad_norm) logged together at every step.
const std::vector<Sample>& Points() {
  static std::vector<Sample> pts = [] {
    std::vector<Sample> out;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> noise(0, 0.02);
    const int steps = 1'000'000;
    out.reserve(steps * 3);
    double t = 1.7e9;
    for (int i = 0; i < steps; ++i) {
      t += 0.05 + (rng() % 7) / 1000.0;
      double tm = std::round(t * 1000) / 1000;
      auto round_sig = [](double x, int d) {
        if (x == 0) return x;
        double m = std::pow(10, d - 1 - std::floor(std::log10(std::fabs(x))));
        return std::round(x * m) / m;
      };
      out.push_back({"train/loss", i, tm, round_sig(2.5 * std::pow(1 + i, -0.3) + 0.8 + noise(rng), 5)});
      out.push_back({"lr", i, tm, round_sig(3e-4 * std::min(1.0, i / 2000.0), 4)});
      out.push_back({"grad_norm", i, tm, round_sig(std::fabs(1 + noise(rng) * 10), 4)});
    }
    return out;
  }();
  return pts;
}

int64_t DirBytes(const std::string& dir) {
  int64_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += static_cast<int64_t>(e.file_size());
  }
  return n;
}

void BM_RunWriterAppend(benchmark::State& state) {
  const auto& pts = Points();
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = "/tmp/inloop-bench-store";
    fs::remove_all(dir);
    std::unique_ptr<inloop::store::Store> st;
    if (!inloop::store::Store::Open(dir, true, &st).ok()) state.SkipWithError("open");
    inloop::store::RunRecord r;
    r.name = "bench";
    st->CreateRun(&r);
    std::unique_ptr<inloop::store::RunWriter> w;
    if (!st->OpenWriter(r.id, &w).ok()) state.SkipWithError("writer");
    state.ResumeTiming();
    size_t i = 0;
    for (auto& p : pts) {
      w->Append(p.key, p.step, p.t, p.v);
      // The supervisor flushes once per batch of reads; a batch here is ~3000 points.
      if (++i % 3000 == 0) w->Flush();
    }
    w->Close();
    state.PauseTiming();
    bytes = DirBytes(dir + "/series");
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(pts.size()));
  state.counters["bytes_per_point"] = static_cast<double>(bytes) / static_cast<double>(pts.size());
}
BENCHMARK(BM_RunWriterAppend)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SqliteBatchedInsert(benchmark::State& state) {
  const auto& pts = Points();
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string path = "/tmp/inloop-bench-sqlite.db";
    fs::remove(path);
    sqlite3* db;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE metrics(key TEXT, value REAL, timestamp INTEGER, step INTEGER,"
                 " run_uuid TEXT, PRIMARY KEY(key, timestamp, step, run_uuid, value));",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* ins;
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO metrics VALUES(?,?,?,?,'r1')", -1, &ins, nullptr);
    state.ResumeTiming();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (auto& p : pts) {
      sqlite3_bind_text(ins, 1, p.key, -1, SQLITE_STATIC);
      sqlite3_bind_double(ins, 2, p.v);
      sqlite3_bind_int64(ins, 3, static_cast<int64_t>(p.t * 1000));
      sqlite3_bind_int64(ins, 4, p.step);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    state.PauseTiming();
    sqlite3_finalize(ins);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    struct stat sb;
    bytes = stat(path.c_str(), &sb) == 0 ? sb.st_size : 0;
    fs::remove(path);
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(pts.size()));
  state.counters["bytes_per_point"] = static_cast<double>(bytes) / static_cast<double>(pts.size());
}
BENCHMARK(BM_SqliteBatchedInsert)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
