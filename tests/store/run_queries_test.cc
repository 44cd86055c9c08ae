// The store's typed queries (run_queries.h, store.h): the run listing's filters, sorts and pages,
// last values (sealed chunks and a live writer's WAL tail), labels and key lists, the event
// cursor, attempt logs through the store (compressed and raw), and the consistent snapshot of a
// run's segments while a writer in another thread appends and seals.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "store/pg_conn.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

class RunQueriesTest : public BackendStoreTest {
 protected:
  std::string AddRun(Store* st, const std::string& name, double started, const std::string& status,
                     std::vector<Param> params = {}, std::vector<std::string> tags = {},
                     std::optional<double> last_loss = std::nullopt) {
    RunRecord r;
    r.name = name;
    r.command = {"train"};
    r.started_at = started;
    r.status = status;
    if (status != kRunning) r.ended_at = started + 10;
    EXPECT_TRUE(st->CreateRun(&r).ok());
    EXPECT_TRUE(st->UpdateRun(r).ok());
    EXPECT_TRUE(st->SetParams(r.id, params).ok());
    EXPECT_TRUE(st->AddTags(r.id, tags).ok());
    if (last_loss) {
      std::unique_ptr<RunWriter> w;
      EXPECT_TRUE(st->OpenWriter(r.id, &w).ok());
      for (int i = 0; i < 10; ++i)
        EXPECT_TRUE(w->Append("loss", i, i, i == 9 ? *last_loss : 9).ok());
      EXPECT_TRUE(w->Close().ok());
    }
    return r.id;
  }
  static std::vector<std::string> Names(const RunListPage& p) {
    std::vector<std::string> out;
    for (auto& r : p.runs) out.push_back(r.name);
    return out;
  }
  RunListPage List(Store* st, RunListQuery q) {
    RunListPage p;
    Status s = st->ListRunsPage(q, &p);
    EXPECT_TRUE(s.ok()) << s.message();
    return p;
  }
};

TEST_P(RunQueriesTest, ListRunsPageFiltersSortsAndPages) {
  auto st = Open();
  AddRun(st.get(), "lr-a", 1000, kFinished, {{"lr", "0.1", "argv"}}, {"sweep"}, 3.0);
  AddRun(st.get(), "lr-b", 2000, kFailed, {{"lr", "0.01", "argv"}}, {"sweep", "best"}, 1.0);
  AddRun(st.get(), "lr-c", 3000, kFinished, {{"lr", "abc", "argv"}}, {}, 2.0);
  AddRun(st.get(), "other", 4000, kFinished, {}, {}, std::nullopt);
  RunListQuery q;
  RunListPage all = List(st.get(), q);
  EXPECT_EQ(all.total, 4);
  EXPECT_EQ(Names(all), (std::vector<std::string>{"other", "lr-c", "lr-b", "lr-a"}));
  q.filter.name_glob = "lr-*";
  q.ascending = true;
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"lr-a", "lr-b", "lr-c"}));
  q.filter.tags = {"sweep", "best"};  // every tag must be there
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"lr-b"}));
  q.filter = {};
  q.filter.statuses = {kFinished};
  q.filter.params = {{"lr", "0.1"}};
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"lr-a"}));
  // Param sort: numbers numerically, then text, runs without the param last (both orders).
  q.filter = {};
  q.sort = RunSort::kParam;
  q.sort_key = "lr";
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"lr-b", "lr-a", "lr-c", "other"}));
  q.ascending = false;
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"lr-a", "lr-b", "lr-c", "other"}));
  // Last-value sort pages after sorting; runs without the series last.
  q.sort = RunSort::kLastValue;
  q.sort_key = "loss";
  q.ascending = true;
  q.limit = 2;
  q.offset = 1;
  RunListPage page = List(st.get(), q);
  EXPECT_EQ(page.total, 4);
  EXPECT_EQ(Names(page), (std::vector<std::string>{"lr-c", "lr-a"}));
  q.offset = 3;
  EXPECT_EQ(Names(List(st.get(), q)), (std::vector<std::string>{"other"}));
  // Plain pages.
  q = {};
  q.sort = RunSort::kName;
  q.limit = 1;
  q.offset = 1;
  page = List(st.get(), q);
  EXPECT_EQ(Names(page), (std::vector<std::string>{"lr-c"}));
  EXPECT_EQ(page.total, 4);
  // A page past the end is empty and still counts the matches; no match counts 0.
  q.offset = 9;
  page = List(st.get(), q);
  EXPECT_TRUE(page.runs.empty());
  EXPECT_EQ(page.total, 4);
  // The same past the end of a page sorted by a param (whose key is bound for the order only).
  q.sort = RunSort::kParam;
  q.sort_key = "lr";
  page = List(st.get(), q);
  EXPECT_TRUE(page.runs.empty());
  EXPECT_EQ(page.total, 4);
  q.sort = RunSort::kName;
  q.sort_key.clear();
  q.offset = 0;
  q.filter.name_glob = "none-*";
  page = List(st.get(), q);
  EXPECT_TRUE(page.runs.empty());
  EXPECT_EQ(page.total, 0);
  q.filter = {};
  // Mistakes are Invalid, not SQL errors.
  RunListPage p;
  q.limit = 0;
  EXPECT_EQ(st->ListRunsPage(q, &p).code(), Status::Code::kInvalid);
  q.limit = 1;
  q.sort = RunSort::kParam;
  q.sort_key = "";
  EXPECT_EQ(st->ListRunsPage(q, &p).code(), Status::Code::kInvalid);
}

// An unfiltered listing's total on PostgreSQL is a count a trigger keeps (pg_store.cc): runs that
// several connections create all count, and a store made before that count existed gains it
// with the runs it already has.
TEST_P(RunQueriesTest, UnfilteredTotalCountsEveryConnectionsRuns) {
  auto a = Open();
  auto b = Open();
  for (int i = 0; i < 5; ++i) {
    AddRun(a.get(), "a", 1000 + i, kFinished);
    AddRun(b.get(), "b", 2000 + i, kRunning);
  }
  RunListQuery q;
  q.limit = 2;
  EXPECT_EQ(List(a.get(), q).total, 10);
  q.offset = 50;  // past the end: the count alone
  EXPECT_EQ(List(b.get(), q).total, 10);
  q.filter.statuses = {kRunning};
  EXPECT_EQ(List(b.get(), q).total, 5);
  if (!pg()) return;
  a.reset();
  b.reset();
  {
    std::unique_ptr<pg::PgConn> c;
    ASSERT_TRUE(pg::PgConn::Connect(dir_, &c).ok());
    Status s = c->ExecScript("DROP TRIGGER runs_count ON runs; DROP TABLE run_count");
    ASSERT_TRUE(s.ok()) << s.message();
  }
  auto st = Open();
  AddRun(st.get(), "c", 3000, kFinished);
  q = {};
  EXPECT_EQ(List(st.get(), q).total, 11);
  q.offset = 20;
  EXPECT_EQ(List(st.get(), q).total, 11);
}

TEST_P(RunQueriesTest, LastValuesLabelsKeysAndRunningRuns) {
  auto st = Open();
  std::string a = AddRun(st.get(), "a", 1000, kFinished,
                         {{"lr", "0.1", "argv"}, {"bs", "8", "sdk"}}, {"x", "y"}, 3.5);
  std::string b = AddRun(st.get(), "b", 2000, kRunning);
  std::string c = AddRun(st.get(), "c", 3000, kRunning);
  // b is live: its newest points are in the WAL only.
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(b, &w).ok());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(w->Append("acc", i, i, i * 0.5).ok());
  ASSERT_TRUE(w->Flush().ok());
  std::unordered_map<std::string, Point> last;
  ASSERT_TRUE(st->LastValues({a, b, c}, "loss", &last).ok());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[a].value, 3.5);
  ASSERT_TRUE(st->LastValues({a, b, c}, "acc", &last).ok());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[b].step, 4999);
  EXPECT_EQ(last[b].value, 4999 * 0.5);
  std::unordered_map<std::string, RunLabels> labels;
  ASSERT_TRUE(st->RunLabelsOf({a, b}, &labels).ok());
  ASSERT_EQ(labels.count(b), 0u);
  EXPECT_EQ(labels[a].tags, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(labels[a].params.size(), 2u);
  EXPECT_EQ(labels[a].params[0].key, "bs");
  EXPECT_EQ(labels[a].params[0].source, "sdk");
  std::vector<std::string> keys;
  ASSERT_TRUE(st->ParamKeys(&keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"bs", "lr"}));
  ASSERT_TRUE(st->SeriesKeys({}, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"acc", "loss"}));
  ASSERT_TRUE(st->SeriesKeys({b, c}, &keys).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"acc"}));
  std::vector<std::string> running;
  ASSERT_TRUE(st->RunningRunIds(&running).ok());
  EXPECT_EQ(running, (std::vector<std::string>{b, c}));
  ASSERT_TRUE(w->Close().ok());
}

TEST_P(RunQueriesTest, EventCursor) {
  auto st = Open();
  std::string id = NewRun(st.get());
  int64_t cursor = -1;
  ASSERT_TRUE(st->LastEventId(id, &cursor).ok());
  EXPECT_EQ(cursor, 0);
  for (const char* kind : {"a", "loop_round", "b"}) {
    EventRecord e;
    e.run_id = id;
    e.kind = kind;
    e.severity = "info";
    ASSERT_TRUE(st->AddEvent(&e).ok());
    if (std::string(kind) == "a") cursor = e.id;
  }
  std::vector<EventRecord> after;
  ASSERT_TRUE(st->ListEventsAfter(id, cursor, &after).ok());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].kind, "loop_round");
  EXPECT_EQ(after[1].kind, "b");
  int64_t newest = 0;
  ASSERT_TRUE(st->LastEventId(id, &newest).ok());
  EXPECT_EQ(newest, after[1].id);
  std::vector<EventRecord> rounds;
  ASSERT_TRUE(st->ListEventsOfKind("loop_round", &rounds).ok());
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0].run_id, id);
}

TEST_P(RunQueriesTest, AttemptLogsThroughTheStoreCompressedAndRaw) {
  auto st = Open();
  std::string id = NewRun(st.get());
  // Attempt 1 as an old store kept it: a raw file.
  AttemptRecord a1;
  a1.run_id = id;
  a1.number = 1;
  if (pg()) {  // no store before compression there: the same lines, compressed
    std::unique_ptr<LogWriter> w1;
    ASSERT_TRUE(st->OpenAttemptLog(id, 1, LogStream::kStdout, &w1, &a1.stdout_path).ok());
    ASSERT_TRUE(w1->Append("old 1\nold 2\nold 3\n").ok());
    ASSERT_TRUE(w1->Close().ok());
  } else {
    a1.stdout_path = "runs/" + id + "/attempt-1.stdout";
    std::ofstream(st->PathOf(a1.stdout_path)) << "old 1\nold 2\nold 3\n";
  }
  ASSERT_TRUE(st->PutAttempt(a1).ok());
  // Attempt 2 written through the store.
  AttemptRecord a2;
  a2.run_id = id;
  a2.number = 2;
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(st->OpenAttemptLog(id, 2, LogStream::kStdout, &w, &a2.stdout_path).ok());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(w->Append("new " + std::to_string(i) + "\n").ok());
    if (i % 250 == 0) {
      ASSERT_TRUE(w->Flush().ok());  // the open frame rewritten in place
    }
  }
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(st->PutAttempt(a2).ok());

  LogLinesQuery q;
  q.run_id = id;
  q.tail = 2;
  LogLines out;
  ASSERT_TRUE(st->ReadAttemptLog(q, &out).ok());
  EXPECT_EQ(out.attempt, 2);  // 0: the last attempt
  EXPECT_TRUE(out.info.compressed);
  EXPECT_EQ(out.first_line, 998);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"new 998", "new 999"}));
  q.tail.reset();
  q.first_line = 10;
  q.max_lines = 2;
  ASSERT_TRUE(st->ReadAttemptLog(q, &out).ok());
  EXPECT_EQ(out.lines, (std::vector<std::string>{"new 10", "new 11"}));
  q.attempt = 1;
  q.first_line = 1;
  ASSERT_TRUE(st->ReadAttemptLog(q, &out).ok());
  EXPECT_EQ(out.info.compressed, pg());
  EXPECT_EQ(out.lines, (std::vector<std::string>{"old 2", "old 3"}));
  LogInfo info;
  ASSERT_TRUE(st->AttemptLogInfo(id, 2, LogStream::kStdout, &info).ok());
  EXPECT_EQ(info.lines, 1000);
  // What is missing is NotFound, named.
  q.stream = LogStream::kStderr;
  Status s = st->ReadAttemptLog(q, &out);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("kept no stderr log"), std::string::npos) << s.message();
  q.attempt = 7;
  s = st->ReadAttemptLog(q, &out);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("has no attempt 7"), std::string::npos) << s.message();
}

// The live stream's guarantee: every snapshot of a run that a writer (another thread, its own
// Store) is appending to and sealing chunks of shows each segment as a gapless prefix of what
// was written, and never shrinks.
TEST_P(RunQueriesTest, SnapshotIsAConsistentPrefixWhileAWriterAppends) {
  auto st = Open();
  std::string id = NewRun(st.get());
  auto wst = Open();
  auto rst = Open();  // the reader's own connection
  constexpr int kPoints = 6 * static_cast<int>(kChunkPoints) + 123;
  std::atomic<bool> done{false};
  Status writer_status;
  std::thread writer([&] {
    std::unique_ptr<RunWriter> w;
    writer_status = wst->OpenWriter(id, &w);
    for (int i = 0; writer_status.ok() && i < kPoints; ++i) {
      writer_status = w->Append("loss", i, i, i * 2.0);
      if (writer_status.ok() && i % 97 == 0) writer_status = w->Flush();
    }
    if (writer_status.ok()) writer_status = w->Close();
    done = true;
  });
  int64_t seen = 0;
  int reads = 0;
  // The reads in a function of their own: a failed assertion returns from it, and the writer
  // (which ends by itself) is joined below whatever happened.
  auto read_while_writing = [&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (bool last = false; !last && std::chrono::steady_clock::now() < deadline;) {
      last = done.load();  // one more read after the writer finished
      RunSeriesSnapshot snap;
      Status s = rst->ReadRunSnapshot(id, &snap);
      ASSERT_TRUE(s.ok()) << s.message();
      ++reads;
      if (snap.segments.empty()) continue;
      ASSERT_EQ(snap.segments.size(), 1u);
      const SegmentData& seg = snap.segments[0];
      std::vector<Point> pts;
      for (auto& c : seg.chunks) {
        std::vector<Point> cp;
        ASSERT_TRUE(rst->ReadChunkPoints(id, c, &cp).ok());
        pts.insert(pts.end(), cp.begin(), cp.end());
      }
      pts.insert(pts.end(), seg.tail.begin(), seg.tail.end());
      for (size_t i = 0; i < pts.size(); ++i) {
        ASSERT_EQ(pts[i].step, static_cast<int64_t>(i)) << "read " << reads << ": gap or overlap";
        ASSERT_EQ(pts[i].value, i * 2.0);
      }
      ASSERT_GE(static_cast<int64_t>(pts.size()), seen) << "a later snapshot lost points";
      seen = static_cast<int64_t>(pts.size());
    }
  };
  read_while_writing();
  writer.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status.message();
  EXPECT_EQ(seen, kPoints);
  // Once the writer closed, the stamp no longer moves.
  SeriesVersion v1, v2;
  ASSERT_TRUE(rst->SeriesVersionOf(id, &v1).ok());
  ASSERT_TRUE(rst->SeriesVersionOf(id, &v2).ok());
  EXPECT_EQ(v1, v2);
  if (!pg()) {
    EXPECT_EQ(v1.wal_bytes, 0);  // the embedded stamp: no WAL left
  }
}

INLOOP_ON_EVERY_STORE_BACKEND(RunQueriesTest);

}  // namespace
}  // namespace inloop::store
