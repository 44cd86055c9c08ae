// Streaming imports (import_writer.h): a TensorBoard directory of two event files, an MLflow run,
// a W&B run and a JSONL file written to the store while they are read. What the store holds equals what the
// readers read, whatever the stream size; the importer never holds more than
// ImportOptions::stream_points points of a run (the structural memory bound); importing the
// same files again finds their runs (stat key, or the content key when the files were touched or
// copied) and changed files are imported anew.
#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "import_fixture.h"
#include "importers/import_driver.h"
#include "importers/readers.h"
#include "importers/wandb_encode.h"
#include "store/store.h"
#include "support/tfevents_writer.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;
namespace wt = wandb_test;
using namespace tfevents_testing;  // NOLINT

class ImportStreamTest : public ImportFixture {
 protected:
  void SetUp() override {
    ImportFixture::SetUp();
    WriteInputs();
  }

  void WriteInputs() {
    // Two event files of one directory; the second rewinds (a resumed run) to step 2500.
    for (int f = 0; f < 2; ++f) {
      std::string bytes;
      AppendEvent(&bytes, FileVersionEvent(1.7e9));
      for (int64_t i = 0; i < 3000; ++i) {
        int64_t step = f == 0 ? i : 2500 + i;
        auto e = StepEvent(step, 1.7e9 + static_cast<double>(f * 4000 + i));
        AddValue(&e, "train/loss")->set_simple_value(2.0f - 0.0001f * static_cast<float>(i));
        AddValue(&e, "train/acc")->set_simple_value(0.0001f * static_cast<float>(i));
        AppendEvent(&bytes, e);
      }
      Write(fmt::format("in/tb/events.out.tfevents.{}.host", 1700000000 + f), bytes);
    }
    Write("in/mlruns/0/meta.yaml",
          "artifact_location: file:///m/0\nexperiment_id: '0'\nname: Default\n");
    std::string run = "in/mlruns/0/0123456789abcdef0123456789abcdef/";
    Write(run + "meta.yaml",
          "run_uuid: 0123456789abcdef0123456789abcdef\nexperiment_id: '0'\nrun_name: ml\n"
          "start_time: 1700000000000\nend_time: 1700009000000\nstatus: 3\nuser_id: u\n");
    Write(run + "params/lr", "0.1");
    std::string loss, acc;
    for (int64_t i = 0; i < 5000; ++i) {
      loss += fmt::format("{} {} {}\n", 1700000000000 + i * 1000, 3.0 / (1 + i), i);
      if (i % 10 == 0) acc += fmt::format("{} {} {}\n", 1700000000000 + i * 1000, i * 1e-4, i);
    }
    Write(run + "metrics/loss", loss);
    Write(run + "metrics/acc", acc);
    std::vector<std::string> records = {wt::RunRecord("abc", "proj", "wb", 1700000000)};
    for (int64_t i = 0; i < 2000; ++i)
      records.push_back(wt::HistoryRecord(
          {wt::Item("_step", std::to_string(i)),
           wt::Item("_timestamp", fmt::format("{}", 1700000000 + i)),
           wt::Item("loss", fmt::format("{}", 1.0 / (1 + i))),
           wt::Item("lr", i % 2 == 0 ? "0.5" : "0.25")}));
    records.push_back(wt::ExitRecord(0, 2000));
    Write("in/wandb/offline-run-20260101_000000-abc/run-abc.wandb", wt::Framed(records));
    std::string jsonl;
    for (int64_t i = 0; i < 1500; ++i)
      jsonl += fmt::format("{{\"step\": {}, \"loss\": {}, \"acc\": {}}}\n", i, 2.0 / (1 + i), i * 1e-3);
    Write("in/log.jsonl", jsonl);
  }

  std::unique_ptr<store::Store> OpenStore(const std::string& name) {
    std::unique_ptr<store::Store> st;
    Status s = store::Store::Open(dir_ + "/" + name, true, &st);
    EXPECT_TRUE(s.ok()) << s.message();
    return st;
  }

  Status Import(store::Store* st, size_t stream_points, ImportSummary* sum,
                const std::vector<std::string>& rel = {"in"}) {
    ImportOptions opts;
    opts.stream_points = stream_points;
    std::vector<std::string> paths;
    for (auto& r : rel) paths.push_back(dir_ + "/" + r);
    return ImportPaths(st, paths, opts, sum);
  }
};

// Every segment's points of a run, "key#segment: step@wall=value ...", one line per segment,
// sorted (a streamed run may number the later segments of its keys in another order).
std::string Sorted(const std::vector<std::string>& lines) {
  std::vector<std::string> v = lines;
  std::sort(v.begin(), v.end());
  std::string out;
  for (auto& l : v) out += l + "\n";
  return out;
}

std::string Dump(store::Store* st, const std::string& run) {
  std::vector<store::SegmentData> segs;
  EXPECT_TRUE(st->ReadAllSegments(run, &segs).ok());
  std::vector<std::string> lines;
  for (auto& seg : segs) {
    std::string out = fmt::format("{}#{}:", seg.key, seg.segment);
    for (auto& c : seg.chunks) {
      std::vector<Point> pts;
      EXPECT_TRUE(st->ReadChunkPoints(run, c, &pts).ok());
      for (auto& p : pts) out += fmt::format(" {}@{}={}", p.step, p.wall_time, p.value);
    }
    for (auto& p : seg.tail) out += fmt::format(" {}@{}={}(tail)", p.step, p.wall_time, p.value);
    lines.push_back(std::move(out));
  }
  return Sorted(lines);
}

// The same as Dump, from what a reader read (a step going back starts the next segment).
std::string DumpRead(const ImportedRun& run) {
  std::vector<std::pair<std::string, std::string>> segs;  // in order of creation, as ids are
  std::map<std::string, std::pair<int, size_t>> open;     // key -> segment, index in segs
  for (auto& s : run.series) {
    int64_t last = 0;
    bool any = false;
    for (auto& p : s.points) {
      auto it = open.find(s.key);
      if (it == open.end() || (any && p.step < last)) {
        int seg = it == open.end() ? 0 : it->second.first + 1;
        segs.emplace_back(fmt::format("{}#{}:", s.key, seg), "");
        open[s.key] = {seg, segs.size() - 1};
      }
      segs[open[s.key].second].second += fmt::format(" {}@{}={}", p.step, p.wall_time, p.value);
      last = p.step;
      any = true;
    }
  }
  std::vector<std::string> lines;
  for (auto& [head, pts] : segs) lines.push_back(head + pts);
  return Sorted(lines);
}

std::map<std::string, const ImportedRunResult*> ByName(const ImportSummary& s) {
  std::map<std::string, const ImportedRunResult*> out;
  for (auto& r : s.runs) out[r.name] = &r;
  return out;
}

TEST_F(ImportStreamTest, StreamedRunsEqualWhatTheReadersReadAndStayUnderTheLimit) {
  auto streamed = OpenStore("streamed"), whole = OpenStore("whole");
  ImportSummary small, big;
  ASSERT_TRUE(Import(streamed.get(), 500, &small).ok());
  ASSERT_TRUE(Import(whole.get(), size_t{1} << 40, &big).ok());
  ASSERT_EQ(small.runs.size(), 4u);
  ASSERT_EQ(big.runs.size(), 4u);
  EXPECT_EQ(small.points, 2 * 6000 + 5500 + 4000 + 3000);
  EXPECT_EQ(big.points, small.points);
  // The structural memory bound: never more than stream_points points held by a reader.
  EXPECT_GT(small.peak_buffered_points, 0);
  EXPECT_LE(small.peak_buffered_points, 500);
  EXPECT_EQ(big.peak_buffered_points, 0);  // nothing handed over before the end

  auto a = ByName(small), b = ByName(big);
  ASSERT_EQ(a.size(), 4u);
  for (auto& [name, ra] : a) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(b.count(name));
    const ImportedRunResult* rb = b[name];
    EXPECT_EQ(Dump(streamed.get(), ra->run_id), Dump(whole.get(), rb->run_id));
    EXPECT_EQ(ra->points, rb->points);
    EXPECT_EQ(ra->series, rb->series);
    store::RunRecord x, y;
    ASSERT_TRUE(streamed->FindRun(ra->run_id, &x).ok());
    ASSERT_TRUE(whole->FindRun(rb->run_id, &y).ok());
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.started_at, y.started_at);
    EXPECT_EQ(x.ended_at, y.ended_at);
    EXPECT_EQ(x.host, y.host);
    std::vector<store::Param> px, py;
    ASSERT_TRUE(streamed->GetParams(ra->run_id, &px).ok());
    ASSERT_TRUE(whole->GetParams(rb->run_id, &py).ok());
    ASSERT_EQ(px.size(), py.size());
    for (size_t i = 0; i < px.size(); ++i) EXPECT_EQ(px[i].key + "=" + px[i].value, py[i].key + "=" + py[i].value);
  }
  // The store holds exactly what the readers read (kept whole, not streamed).
  ImportBatch ml, wb, js;
  ASSERT_TRUE(ReadFile("jsonl", dir_ + "/in/log.jsonl", &js).ok());
  ASSERT_EQ(js.runs.size(), 1u);
  EXPECT_EQ(Dump(streamed.get(), a["log"]->run_id), DumpRead(js.runs[0]));
  ASSERT_TRUE(ReadFile("mlflow", dir_ + "/in/mlruns/0/0123456789abcdef0123456789abcdef", &ml).ok());
  ASSERT_TRUE(ReadFile("wandb", dir_ + "/in/wandb/offline-run-20260101_000000-abc/run-abc.wandb",
                       &wb).ok());
  ASSERT_EQ(ml.runs.size(), 1u);
  ASSERT_EQ(wb.runs.size(), 1u);
  EXPECT_EQ(Dump(streamed.get(), a["ml"]->run_id), DumpRead(ml.runs[0]));
  EXPECT_EQ(Dump(streamed.get(), a["wb"]->run_id), DumpRead(wb.runs[0]));
  store::RunRecord tb;
  ASSERT_TRUE(streamed->FindRun(a["tb"]->run_id, &tb).ok());
  EXPECT_EQ(tb.started_at, 1.7e9);  // the earliest point, known only at the end
  EXPECT_EQ(tb.ended_at, 1.7e9 + 6999);
  std::string tb_dump = Dump(streamed.get(), a["tb"]->run_id);
  EXPECT_NE(tb_dump.find("train/loss#1: 2500@"), std::string::npos);  // the second file rewound
}

TEST_F(ImportStreamTest, ReimportFindsTheRunsAndChangedFilesAreImportedAgain) {
  fs::copy(dir_ + "/in/tb", dir_ + "/in/tb_copy");
  auto st = OpenStore("store");
  ImportSummary first;
  ASSERT_TRUE(Import(st.get(), 1000, &first).ok());
  ASSERT_EQ(first.runs.size(), 4u);
  ASSERT_EQ(first.skipped_paths.size(), 1u);
  EXPECT_EQ(first.skipped_paths[0].reason, "duplicate");
  auto ids = ByName(first);

  auto again = [&](ImportSummary* s) { ASSERT_TRUE(Import(st.get(), 1000, s).ok()); };
  ImportSummary second;
  again(&second);  // unchanged: found by the stat key, nothing read
  ASSERT_EQ(second.runs.size(), 4u);
  for (auto& r : second.runs) {
    EXPECT_TRUE(r.already_imported) << r.name;
    EXPECT_EQ(r.run_id, ids[r.name]->run_id);
    EXPECT_EQ(r.points, ids[r.name]->points);
  }
  EXPECT_EQ(second.points, 0);
  ASSERT_EQ(second.skipped_paths.size(), 1u);  // the copy is still a duplicate
  EXPECT_EQ(second.skipped_paths[0].reason, "duplicate");

  // Touched, same bytes: a new stat, the content key finds the run.
  std::string loss = dir_ + "/in/mlruns/0/0123456789abcdef0123456789abcdef/metrics/loss";
  struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, loss.c_str(), times, 0), 0);
  ImportSummary third;
  again(&third);
  for (auto& r : third.runs) EXPECT_TRUE(r.already_imported) << r.name;

  // Changed bytes: the MLflow run is imported anew, the others are found.
  {
    std::ofstream f(loss, std::ios::app);
    f << "1700009000000 0.001 5000\n";
  }
  ASSERT_EQ(::utimensat(AT_FDCWD, loss.c_str(), times, 0), 0);  // even with the old mtime
  ImportSummary fourth;
  again(&fourth);
  ASSERT_EQ(fourth.runs.size(), 4u);
  for (auto& r : fourth.runs) {
    if (r.name == "ml") {
      EXPECT_FALSE(r.already_imported);
      EXPECT_NE(r.run_id, ids["ml"]->run_id);
      EXPECT_EQ(r.points, ids["ml"]->points + 1);
    } else {
      EXPECT_TRUE(r.already_imported) << r.name;
    }
  }

  // One byte changed in the middle, same size and modification time: the content key covers
  // every byte, so the run is imported anew with the new value.
  std::string before;
  {
    std::ifstream in(loss, std::ios::binary);
    before.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  size_t mid = before.find(" 0.", before.size() / 2);
  ASSERT_NE(mid, std::string::npos);
  std::string after = before;
  after[mid + 1] = '7';  // " 0.xxx" -> " 7.xxx"
  {
    std::ofstream out(loss, std::ios::binary | std::ios::trunc);
    out << after;
  }
  ASSERT_EQ(::utimensat(AT_FDCWD, loss.c_str(), times, 0), 0);
  ImportSummary fifth;
  again(&fifth);
  ASSERT_EQ(fifth.runs.size(), 4u);
  std::string fourth_ml;
  for (auto& r : fourth.runs)
    if (r.name == "ml") fourth_ml = r.run_id;
  for (auto& r : fifth.runs) {
    if (r.name == "ml") {
      EXPECT_FALSE(r.already_imported);
      EXPECT_NE(r.run_id, fourth_ml);
      EXPECT_NE(r.run_id, ids["ml"]->run_id);
      EXPECT_EQ(r.points, ids["ml"]->points + 1);
    } else {
      EXPECT_TRUE(r.already_imported) << r.name;
    }
  }
}

}  // namespace
}  // namespace inloop::importers
