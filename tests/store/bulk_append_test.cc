// RunWriter's bulk side (store/bulk_writer.h: ResolveSeries / AppendPoints), on every backend: the same series,
// segments and points as Append of the same points one by one, across chunk boundaries and steps
// going back; a handle made before the series has a point creates nothing; points are
// acknowledged after Flush; and UpdateRun's started_at and host (an import dates its run last).
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "store/bulk_writer.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

class BulkAppendTest : public BackendStoreTest {};
INLOOP_ON_EVERY_STORE_BACKEND(BulkAppendTest);

// Every segment of every series as "key#segment: step@wall=value ..." lines, in series-id order.
std::string Dump(Store* st, const std::string& run) {
  std::vector<SegmentData> segs;
  Status s = st->ReadAllSegments(run, &segs);
  EXPECT_TRUE(s.ok()) << s.message();
  std::string out;
  for (auto& seg : segs) {
    out += seg.key + "#" + std::to_string(seg.segment) + ":";
    for (auto& c : seg.chunks) {
      std::vector<Point> pts;
      EXPECT_TRUE(st->ReadChunkPoints(run, c, &pts).ok());
      for (auto& p : pts)
        out += " " + std::to_string(p.step) + "@" + std::to_string(p.wall_time) + "=" +
               std::to_string(p.value);
    }
    for (auto& p : seg.tail)
      out += " " + std::to_string(p.step) + "@" + std::to_string(p.wall_time) + "=" +
             std::to_string(p.value) + "(tail)";
    out += "\n";
  }
  return out;
}

// 10,000 points of "loss" (steps rewinding at 6,000, as a resumed attempt does) and 3 of "lr".
std::vector<Point> Loss() {
  std::vector<Point> pts;
  for (int64_t i = 0; i < 10000; ++i) {
    int64_t step = i < 6000 ? i : i - 1000;
    pts.push_back(Point{step, 1000.0 + static_cast<double>(i), 1.0 / (1.0 + static_cast<double>(i))});
  }
  return pts;
}
const std::vector<Point> kLr = {{0, 1000, 0.1}, {5, 1001, 0.05}, {9, 1002, 0.01}};

TEST_P(BulkAppendTest, SameSeriesAsAppendOneByOne) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string by_key = NewRun(st.get(), "by_key"), bulk = NewRun(st.get(), "bulk");
  {
    std::unique_ptr<RunWriter> w;
    ASSERT_TRUE(st->OpenWriter(by_key, &w).ok());
    for (auto& p : Loss()) ASSERT_TRUE(w->Append("loss", p.step, p.wall_time, p.value).ok());
    for (auto& p : kLr) ASSERT_TRUE(w->Append("lr", p.step, p.wall_time, p.value).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  {
    std::unique_ptr<RunWriter> w;
    ASSERT_TRUE(st->OpenWriter(bulk, &w).ok());
    BulkAppender* b = BulkOf(w.get());
    ASSERT_NE(b, nullptr);
    int32_t loss = -1, lr = -1, again = -1;
    ASSERT_TRUE(b->ResolveSeries("loss", &loss).ok());
    ASSERT_TRUE(b->ResolveSeries("lr", &lr).ok());
    ASSERT_TRUE(b->ResolveSeries("loss", &again).ok());
    EXPECT_EQ(again, loss);
    EXPECT_NE(lr, loss);
    std::vector<Point> pts = Loss();
    // In uneven pieces, so that runs cross chunk boundaries and the rewind falls inside one.
    size_t at = 0;
    for (size_t piece : {1u, 4095u, 1u, 3000u, 1903u}) {
      ASSERT_TRUE(b->AppendPoints(loss, std::span<const Point>(pts).subspan(at, piece)).ok());
      at += piece;
    }
    ASSERT_TRUE(b->AppendPoints(loss, std::span<const Point>(pts).subspan(at)).ok());
    ASSERT_TRUE(b->AppendPoints(lr, kLr).ok());
    EXPECT_EQ(w->points_appended(), 10003);
    EXPECT_EQ(w->LastStep("loss"), 8999);
    ASSERT_TRUE(w->Close().ok());
  }
  std::string want = Dump(st.get(), by_key);
  EXPECT_EQ(Dump(st.get(), bulk), want);
  EXPECT_NE(want.find("loss#1:"), std::string::npos);  // the rewind made a second segment
}

TEST_P(BulkAppendTest, AHandleCreatesNothingUntilItsFirstPoint) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string run = NewRun(st.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(run, &w).ok());
  BulkAppender* b = BulkOf(w.get());
  ASSERT_NE(b, nullptr);
  int32_t unused = -1, used = -1;
  ASSERT_TRUE(b->ResolveSeries("never", &unused).ok());
  ASSERT_TRUE(b->ResolveSeries("acc", &used).ok());
  ASSERT_TRUE(b->AppendPoints(used, kLr).ok());
  // A key resolved first and then appended by name is the same series.
  ASSERT_TRUE(w->Append("acc", 10, 1003, 0.5).ok());
  ASSERT_TRUE(b->AppendPoints(used, std::vector<Point>{{11, 1004, 0.6}}).ok());
  Status bad = b->AppendPoints(used + 5, kLr);
  EXPECT_EQ(bad.code(), Status::Code::kInvalid) << bad.message();
  ASSERT_TRUE(w->Close().ok());
  std::vector<std::string> keys;
  ASSERT_TRUE(st->SeriesKeys({run}, &keys).ok());
  EXPECT_EQ(keys, std::vector<std::string>{"acc"});
  EXPECT_EQ(Dump(st.get(), run),
            "acc#0: 0@1000.000000=0.100000 5@1001.000000=0.050000 9@1002.000000=0.010000 "
            "10@1003.000000=0.500000 11@1004.000000=0.600000\n");
}

TEST_P(BulkAppendTest, PointsAreAcknowledgedAfterFlush) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string run = NewRun(st.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(run, &w).ok());
  BulkAppender* b = BulkOf(w.get());
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(w->Append("lr", 0, 999, 0.2).ok());  // through the WAL first
  int32_t h = -1;
  ASSERT_TRUE(b->ResolveSeries("lr", &h).ok());
  ASSERT_TRUE(b->AppendPoints(h, kLr).ok());
  ASSERT_TRUE(w->Flush().ok());
  // Another store object (another process, as `inloop serve` would be) sees them while the
  // writer is still open.
  // Sealed (embedded: Flush seals a bulk writer's chunks) or staged (PostgreSQL: the tail):
  // either way there, so the "(tail)" marks are dropped.
  auto reader = Open();
  ASSERT_TRUE(reader);
  std::string seen = Dump(reader.get(), run);
  for (size_t at; (at = seen.find("(tail)")) != std::string::npos;) seen.erase(at, 6);
  EXPECT_EQ(seen,
            "lr#0: 0@999.000000=0.200000 0@1000.000000=0.100000 5@1001.000000=0.050000 "
            "9@1002.000000=0.010000\n");
  ASSERT_TRUE(w->Close().ok());
}

TEST_P(BulkAppendTest, UpdateRunWritesStartAndHost) {
  auto st = Open();
  ASSERT_TRUE(st);
  std::string id = NewRun(st.get());
  RunRecord r;
  ASSERT_TRUE(st->FindRun(id, &r).ok());
  r.started_at = 1234.5;
  r.host = "gpu-7";
  r.status = kFinished;
  r.ended_at = 2000;
  ASSERT_TRUE(st->UpdateRun(r).ok());
  RunRecord back;
  ASSERT_TRUE(st->FindRun(id, &back).ok());
  EXPECT_EQ(back.started_at, 1234.5);
  EXPECT_EQ(back.host, "gpu-7");
  EXPECT_EQ(back.ended_at, 2000);
}

}  // namespace
}  // namespace inloop::store
