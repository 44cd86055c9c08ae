// Attempt log benchmark (store/attempt_log.h): a 1,000,000-line training log written through
// LogWriter (zstd frames) against the baseline measured in the same run, the raw file the store
// kept before compression. Prints the bytes on disk of each and their ratio, the write time of
// each, and the time to read the last 100 lines (LogReader::Tail: frame headers plus the last
// frames) against reading the whole log (the raw file, and the compressed log decompressed).
// Usage: build/attempt_log_bench [LINES [ZSTD_LEVEL]]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "store/attempt_log.h"

namespace {

namespace fs = std::filesystem;
using inloop::Status;
using namespace inloop::store;

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// What a training script prints: a progress line per step, an eval line now and then, rare
// warnings. ~70 bytes a line.
std::string TrainingLog(int lines) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  std::string s;
  s.reserve(static_cast<size_t>(lines) * 72);
  char buf[256];
  double loss = 4.0;
  for (int i = 0; i < lines; ++i) {
    loss = std::max(0.8, loss * 0.999995 + (u(rng) - 0.5) * 0.01);
    int n;
    if (i % 500 == 499) {
      n = std::snprintf(buf, sizeof buf, "eval step=%d val_loss=%.4f ppl=%.3f acc=%.4f\n", i,
                        loss + 0.05, std::exp(loss + 0.05), 1 - loss / 5);
    } else if (i % 9973 == 0) {
      n = std::snprintf(buf, sizeof buf,
                        "warning: step %d: gradient overflow, skipping update (scale %d)\n", i,
                        1 << (i % 16));
    } else {
      n = std::snprintf(
          buf, sizeof buf, "step %7d | loss %.4f | lr %.2e | grad %.3f | %6.0f tok/s | %.1fs\n", i,
          loss, 3e-4 * std::min(1.0, i / 2000.0), 0.5 + u(rng), 150000 + u(rng) * 9000, i * 0.21);
    }
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

int64_t SizeOf(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0 ? static_cast<int64_t>(sb.st_size) : -1;
}

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "attempt_log_bench: %s\n", s.message().c_str());
    std::exit(1);
  }
}

template <class F>
double BestOf(int n, F f) {
  double best = 1e30;
  for (int i = 0; i < n; ++i) {
    double t0 = Now();
    f();
    best = std::min(best, Now() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int lines = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  LogWriterOptions options;
  if (argc > 2) options.level = std::atoi(argv[2]);
  std::string text = TrainingLog(lines);
  char tmpl[] = "/tmp/inloop-logbench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string raw_path = dir + "/attempt-1.stdout";
  std::string zst_path = dir + "/attempt-1.stdout.zst";
  constexpr size_t kPiece = 64 << 10;  // what one read of a busy pipe returns

  // Baseline: the raw file, appended piece by piece as the supervisor did.
  double raw_write = BestOf(1, [&] {
    int fd = ::open(raw_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    for (size_t pos = 0; pos < text.size(); pos += kPiece) {
      Check(inloop::WriteAll(fd, std::string_view(text).substr(pos, kPiece), raw_path));
    }
    ::close(fd);
  });
  double zst_write = BestOf(1, [&] {
    std::unique_ptr<LogWriter> w;
    Check(LogWriter::Open(zst_path, options, &w));
    for (size_t pos = 0; pos < text.size(); pos += kPiece) {
      Check(w->Append(std::string_view(text).substr(pos, kPiece)));
      Check(w->FlushDue());
    }
    Check(w->Close());
  });
  int64_t raw_bytes = SizeOf(raw_path), zst_bytes = SizeOf(zst_path);

  std::vector<std::string> tail;
  int64_t frames = 0, decoded = 0;
  double tail_s = BestOf(5, [&] {
    std::unique_ptr<LogReader> r;
    Check(LogReader::Open(zst_path, &r));
    Check(r->Tail(100, &tail));
    frames = r->info().frames;
    decoded = r->frames_decoded();
  });
  std::string expect_last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  expect_last.pop_back();
  if (tail.size() != 100 || tail.back() != expect_last) {
    std::fprintf(stderr, "attempt_log_bench: the tail is wrong\n");
    return 1;
  }
  // Baselines for the tail: read the whole raw file; decompress the whole compressed log.
  double raw_full_s = BestOf(5, [&] {
    std::string all;
    Check(inloop::ReadFile(raw_path, &all));
    if (all.size() != text.size()) std::exit(1);
  });
  double zst_full_s = BestOf(3, [&] {
    std::unique_ptr<LogReader> r;
    Check(LogReader::Open(zst_path, &r));
    std::string all;
    Check(r->Bytes(0, r->info().raw_bytes, &all));
    if (all != text) std::exit(1);
  });

  std::printf("attempt log of %d lines (%.1f MB of text), zstd level %d\n", lines,
              text.size() / 1e6, options.level);
  std::printf(
      "  on disk: raw %.2f MB, zstd frames %.2f MB -> %.1fx smaller (%.1f%% of raw), "
      "%lld frames\n",
      raw_bytes / 1e6, zst_bytes / 1e6, double(raw_bytes) / zst_bytes,
      100.0 * zst_bytes / raw_bytes, static_cast<long long>(frames));
  std::printf("  write: raw %.3f s, compressed %.3f s (%.1f MB/s of text)\n", raw_write, zst_write,
              text.size() / 1e6 / zst_write);
  std::printf(
      "  last 100 lines: %.3f ms (%lld of %lld frames decoded) vs whole raw file %.1f ms "
      "(%.0fx faster), whole compressed log %.1f ms (%.0fx faster)\n",
      tail_s * 1e3, static_cast<long long>(decoded), static_cast<long long>(frames),
      raw_full_s * 1e3, raw_full_s / tail_s, zst_full_s * 1e3, zst_full_s / tail_s);
  fs::remove_all(dir);
  return 0;
}
