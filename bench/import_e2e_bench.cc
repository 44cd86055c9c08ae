// import_e2e_bench: `inloop import` of a large mixed directory, end to end into a fresh store
// (issue 18: 1 GB of TensorBoard, W&B and MLflow files at >= 200 MB/s on one core, memory bounded
// by a constant, re-import in under a second).
//
// Generates, in a temp dir (deleted at the end unless --keep), a directory of about --mb MB
// (default 1024): a third TensorBoard run directories (one event file each: five simple_value
// scalars and a TF2 tensor scalar per step, an image and a histogram every 500 steps), a third
// W&B offline runs (run-ID.wandb: run record, config, history rows of eight metrics with _step,
// _timestamp and _runtime, summary, exit), a third an MLflow file store (mlruns/0/<run>/ with
// meta.yaml, params, tags and four metric files of `timestamp value step` lines). Files are
// written piece by piece, so the generator itself stays small.
//
// Then, for each binary (--inloop, default build/inloop, and --baseline if given: an older build
// measured in the same run for a ratio), runs `inloop import --json --store S DIR` in a child
// process on a fresh store and reports wall and CPU time (wait4's rusage: user + sys), MB/s of
// the input by wall and by CPU time, the child's peak RSS, then imports the same directory
// again and reports that time (content keys: nothing is read again).
//
// Usage: import_e2e_bench [--mb N] [--inloop PATH] [--baseline PATH] [--keep]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "importers/wandb_encode.h"
#include "support/tfevents_writer.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace inloop::tfevents_testing;  // NOLINT
namespace wt = inloop::importers::wandb_test;
using Event = tensorboard::Event;

uint32_t g_rng = 12345;
float Noise() {
  g_rng = g_rng * 1664525u + 1013904223u;
  return static_cast<float>(g_rng >> 8) / static_cast<float>(1 << 24);
}

// Appends `piece` to the open file and empties it once it passes 4 MiB (or when `all`).
void Drain(std::FILE* f, std::string* piece, bool all = false) {
  if (!all && piece->size() < (4u << 20)) return;
  std::fwrite(piece->data(), 1, piece->size(), f);
  piece->clear();
}

int64_t WriteTfEvents(const fs::path& dir, int64_t bytes) {
  fs::create_directories(dir);
  fs::path file = dir / "events.out.tfevents.1700000000.host.1.0";
  std::FILE* f = std::fopen(file.c_str(), "wb");
  std::string piece;
  AppendEvent(&piece, FileVersionEvent(1.7e9));
  const char* tags[] = {"train/loss", "train/grad_norm", "train/learning_rate",
                        "train/tokens_per_second", "train/epoch"};
  std::string image(8 * 1024, '\0');
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i * 131 + 7);
  int64_t written = 0;
  for (int64_t step = 0; written + static_cast<int64_t>(piece.size()) < bytes; ++step) {
    const double wall = 1.7e9 + 0.25 * static_cast<double>(step);
    for (const char* tag : tags) {
      Event e = StepEvent(step, wall);
      AddValue(&e, tag)->set_simple_value(2.0f / (1.0f + 0.001f * static_cast<float>(step)) +
                                          0.05f * Noise());
      AppendEvent(&piece, e);
    }
    Event t = StepEvent(step, wall);
    SetRawScalar(AddValue(&t, "tf2/loss", step == 0 ? "scalars" : nullptr)->mutable_tensor(),
                 tensorboard::DT_FLOAT, 1.5f + 0.1f * Noise());
    AppendEvent(&piece, t);
    if (step % 500 == 0) {  // TF2 image and histogram summaries, to be skipped
      AppendMediaEvents(&piece, step, wall, image);
    }
    if (piece.size() >= (4u << 20)) {
      written += static_cast<int64_t>(piece.size());
      Drain(f, &piece, true);
    }
  }
  written += static_cast<int64_t>(piece.size());
  Drain(f, &piece, true);
  std::fclose(f);
  return written;
}

// Appends `rec` with the .wandb framing (wandb_encode.h's Framed, for a log that is `*pos` bytes
// long so far): chunks never cross a 32 KiB block, a block tail under 7 bytes is zeros.
void FrameRecord(std::string* out, int64_t* pos, std::string_view rec) {
  constexpr int64_t kBlock = inloop::importers::WandbLogReader::kBlockSize;
  std::string_view left = rec;
  bool first = true;
  do {
    int64_t room = kBlock - *pos % kBlock;
    if (room < 7) {
      out->append(static_cast<size_t>(room), '\0');
      *pos += room;
      room = kBlock;
    }
    size_t n = std::min(left.size(), static_cast<size_t>(room - 7));
    bool end = n == left.size();
    uint8_t type = first && end ? 1 : first ? 2 : end ? 4 : 3;
    uint32_t crc = inloop::importers::Crc32Ieee(0, &type, 1);
    crc = inloop::importers::Crc32Ieee(crc, left.data(), n);
    for (int k = 0; k < 4; ++k) out->push_back(static_cast<char>(crc >> (8 * k)));
    out->push_back(static_cast<char>(n & 0xFF));
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(type));
    out->append(left.substr(0, n));
    *pos += static_cast<int64_t>(7 + n);
    left.remove_prefix(n);
    first = false;
  } while (!left.empty());
}

int64_t WriteWandb(const fs::path& dir, const std::string& id, int64_t bytes) {
  fs::create_directories(dir / "files");
  fs::path file = dir / fmt::format("run-{}.wandb", id);
  std::FILE* f = std::fopen(file.c_str(), "wb");
  std::string piece(":W&B\xE1\xBE\x00", 7);
  int64_t pos = 7;
  FrameRecord(&piece, &pos, wt::RunRecord(id, "bench", "bench-" + id, 1700000000));
  FrameRecord(&piece, &pos,
              wt::ConfigRecord({wt::Item("lr", "0.0003"), wt::Item("batch_size", "64")}));
  const char* keys[] = {"loss", "val_loss", "lr", "grad_norm", "acc", "val_acc", "tokens_s",
                        "epoch"};
  for (int64_t step = 0; pos < bytes; ++step) {
    std::vector<std::string> items;
    items.push_back(wt::Item("_step", fmt::format("{}", step)));
    items.push_back(wt::Item("_timestamp", fmt::format("{:.3f}", 1.7e9 + 0.5 * step)));
    items.push_back(wt::Item("_runtime", fmt::format("{:.3f}", 0.5 * step)));
    for (const char* k : keys)
      items.push_back(wt::Item(k, fmt::format("{:.6g}", 1.0 / (1.0 + 0.001 * step) + Noise())));
    FrameRecord(&piece, &pos, wt::HistoryRecord(items));
    Drain(f, &piece);
  }
  FrameRecord(&piece, &pos, wt::SummaryRecord({wt::Item("loss", "0.5")}));
  FrameRecord(&piece, &pos, wt::ExitRecord(0, 3600));
  Drain(f, &piece, true);
  std::fclose(f);
  return pos;
}

int64_t WriteMlflow(const fs::path& run, int64_t bytes) {
  fs::create_directories(run / "metrics");
  fs::create_directories(run / "params");
  fs::create_directories(run / "tags");
  std::string id = run.filename().string();
  {
    std::FILE* m = std::fopen((run / "meta.yaml").c_str(), "wb");
    fmt::print(m,
               "artifact_uri: file:///mlruns/0/{0}/artifacts\nend_time: 1700003600000\n"
               "experiment_id: '0'\nlifecycle_stage: active\nrun_id: {0}\nrun_name: bench-{0}\n"
               "run_uuid: {0}\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
               "start_time: 1700000000000\nstatus: 3\ntags: []\nuser_id: bench\n",
               id);
    std::fclose(m);
    std::FILE* p = std::fopen((run / "params" / "lr").c_str(), "wb");
    std::fputs("0.0003", p);
    std::fclose(p);
    std::FILE* t = std::fopen((run / "tags" / "mlflow.runName").c_str(), "wb");
    fmt::print(t, "bench-{}", id);
    std::fclose(t);
  }
  const char* keys[] = {"loss", "val_loss", "lr", "accuracy"};
  int64_t written = 0;
  for (int i = 0; i < 4; ++i) {
    std::FILE* f = std::fopen((run / "metrics" / keys[i]).c_str(), "wb");
    std::string piece;
    const int64_t until = bytes / 4 * (i + 1);
    for (int64_t step = 0; written + static_cast<int64_t>(piece.size()) < until; ++step) {
      fmt::format_to(std::back_inserter(piece), "{} {} {}\n", 1700000000000 + step * 250,
                     1.0 / (1.0 + 0.001 * static_cast<double>(step)) + Noise(), step);
      if (piece.size() >= (4u << 20)) {
        written += static_cast<int64_t>(piece.size());
        Drain(f, &piece, true);
      }
    }
    written += static_cast<int64_t>(piece.size());
    Drain(f, &piece, true);
    std::fclose(f);
  }
  return written;
}

struct Measure {
  bool ok = false;
  double wall = 0, user = 0, sys = 0;
  long max_rss_kb = 0;
};

Measure RunImport(const std::string& inloop, const fs::path& store, const fs::path& dir) {
  std::vector<std::string> args = {inloop, "import", "--json", "--store", store.string(),
                                   dir.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  Measure m;
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, inloop.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return m;
  }
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) return m;
  m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.user = static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec * 1e-6;
  m.sys = static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec * 1e-6;
  m.max_rss_kb = ru.ru_maxrss;
  m.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t mb = 1024;
  std::string inloop = "build/inloop", baseline;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mb" && i + 1 < argc) mb = std::atoll(argv[++i]);
    else if (a == "--inloop" && i + 1 < argc) inloop = argv[++i];
    else if (a == "--baseline" && i + 1 < argc) baseline = argv[++i];
    else if (a == "--keep") keep = true;
    else {
      fmt::print(stderr, "usage: import_e2e_bench [--mb N] [--inloop PATH] [--baseline PATH] [--keep]\n");
      return 2;
    }
  }
  fs::path root = fs::temp_directory_path() / fmt::format("inloop-import-e2e-{}", ::getpid());
  fs::path data = root / "data";
  const int64_t total = mb << 20, third = total / 3;
  auto g0 = std::chrono::steady_clock::now();
  int64_t tb = 0, wb = 0, ml = 0;
  const int kRuns = 4;  // of each kind
  for (int r = 0; r < kRuns; ++r) {
    tb += WriteTfEvents(data / "tensorboard" / fmt::format("run{}", r), third / kRuns);
    std::string id = fmt::format("bench{:04}", r);
    wb += WriteWandb(data / "wandb" / fmt::format("offline-run-20260101_00000{}-{}", r, id), id,
                     third / kRuns);
    ml += WriteMlflow(data / "mlruns" / "0" / fmt::format("{:032x}", 0xabc0 + r), third / kRuns);
  }
  {
    std::FILE* m = std::fopen((data / "mlruns" / "0" / "meta.yaml").c_str(), "wb");
    std::fputs("artifact_location: file:///mlruns/0\nexperiment_id: '0'\nlifecycle_stage: "
               "active\nname: Default\n", m);
    std::fclose(m);
  }
  double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  const double bytes = static_cast<double>(tb + wb + ml);
  fmt::print("input: {:.1f} MB ({:.1f} tfevents, {:.1f} wandb, {:.1f} mlflow; {} runs), generated "
             "in {:.1f} s\n",
             bytes / 1e6, tb / 1e6, wb / 1e6, ml / 1e6, 3 * kRuns, gen);
  fmt::print("{:<10} {:>8} {:>8} {:>9} {:>11} {:>10} {:>10} {:>12}\n", "binary", "wall s",
             "cpu s", "MB/s wall", "MB/s cpu", "peak RSS", "RSS/input", "re-import s");
  std::vector<std::pair<std::string, std::string>> bins = {{"new", inloop}};
  if (!baseline.empty()) bins.push_back({"baseline", baseline});
  std::vector<Measure> firsts;
  int rc = 0;
  for (auto& [label, bin] : bins) {
    fs::path store = root / ("store-" + label);
    Measure m = RunImport(bin, store, data);
    Measure again = RunImport(bin, store, data);
    if (!m.ok || !again.ok) {
      fmt::print("{}: `{} import` failed\n", label, bin);
      rc = 1;
      continue;
    }
    double cpu = m.user + m.sys;
    fmt::print("{:<10} {:>8.2f} {:>8.2f} {:>9.0f} {:>11.0f} {:>7.0f} MB {:>10.2f} {:>12.3f}\n",
               label, m.wall, cpu, bytes / 1e6 / m.wall, bytes / 1e6 / cpu,
               m.max_rss_kb / 1024.0, m.max_rss_kb * 1024.0 / bytes, again.wall);
    firsts.push_back(m);
    fs::remove_all(store);
  }
  if (firsts.size() == 2)
    fmt::print("new / baseline: {:.2f}x faster by CPU time, {:.2f}x by wall time, peak RSS "
               "{:.2f}x\n",
               (firsts[1].user + firsts[1].sys) / (firsts[0].user + firsts[0].sys),
               firsts[1].wall / firsts[0].wall,
               static_cast<double>(firsts[0].max_rss_kb) / firsts[1].max_rss_kb);
  if (keep) fmt::print("kept {}\n", data.string());
  else fs::remove_all(root);
  return rc;
}
