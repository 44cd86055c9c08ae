// Store: catalog round trips, points through WAL and chunks, segments, readers during writes,
// recovery after a writer dies (kill -9 equivalent), torn WAL tails, format version checks.
#include "store/store.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "query/series_query.h"
#include "common/subprocess.h"
#include "store/pg_conn.h"    // a store test may corrupt the catalog on purpose
#include "store/sqlite_db.h"
#include "support/temp_store.h"

namespace inloop::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public BackendStoreTest {
 protected:
  std::vector<Point> All(Store* st, const std::string& run, const std::string& key) {
    query::SeriesResult res;
    Status s = query::QuerySeries(st, run, key, {}, &res);
    EXPECT_TRUE(s.ok()) << s.message();
    return res.points;
  }
};

TEST_P(StoreTest, RunsParamsEventsRoundTrip) {
  auto st = Open();
  std::string id = NewRun(st.get(), "baseline");
  RunRecord r;
  ASSERT_TRUE(st->FindRun("baseline", &r).ok());
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.command.size(), 4u);
  ASSERT_TRUE(st->SetParams(id, {{"lr", "3e-4", "argv"}}).ok());
  std::vector<Param> ps;
  ASSERT_TRUE(st->GetParams(id, &ps).ok());
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].value, "3e-4");
  EventRecord e;
  e.run_id = id;
  e.kind = "attempt_start";
  e.severity = "info";
  e.step_lo = 5;
  ASSERT_TRUE(st->AddEvent(&e).ok());
  std::vector<EventRecord> evs;
  ASSERT_TRUE(st->ListEvents(id, &evs).ok());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(*evs[0].step_lo, 5);
  // Newest name wins; unknown names are NotFound.
  std::string id2 = NewRun(st.get(), "baseline");
  ASSERT_TRUE(st->FindRun("baseline", &r).ok());
  EXPECT_EQ(r.id, id2);
  EXPECT_EQ(st->FindRun("nope", &r).code(), Status::Code::kNotFound);
}

TEST_P(StoreTest, PointsSurviveCloseAndReopen) {
  std::string id;
  {
    auto st = Open();
    id = NewRun(st.get());
    std::unique_ptr<RunWriter> w;
    ASSERT_TRUE(st->OpenWriter(id, &w).ok());
    for (int i = 0; i < 10000; ++i) {
      ASSERT_TRUE(w->Append("train/loss", i, 1000 + i * 0.05, 2.0 / (1 + i * 0.01)).ok());
      if (i % 3 == 0) {
        ASSERT_TRUE(w->Append("lr", i, 1000 + i * 0.05, 3e-4).ok());
      }
    }
    ASSERT_TRUE(w->Append("train/loss", 10000, 1500, std::nan("")).ok());
    ASSERT_TRUE(w->Close().ok());
  }
  auto st = Open();
  auto pts = All(st.get(), id, "train/loss");
  ASSERT_EQ(pts.size(), 10001u);
  EXPECT_EQ(pts[1234].step, 1234);
  EXPECT_DOUBLE_EQ(pts[1234].value, 2.0 / (1 + 1234 * 0.01));
  EXPECT_TRUE(std::isnan(pts.back().value));
  std::vector<SeriesStats> stats;
  ASSERT_TRUE(st->SeriesStatsFor(id, &stats).ok());
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].key, "train/loss");
  EXPECT_EQ(stats[0].points, 10001);
  EXPECT_EQ(stats[0].nonfinite, 1);
  EXPECT_DOUBLE_EQ(stats[0].max, 2.0);
  if (!pg()) {
    EXPECT_FALSE(fs::exists(dir_ + "/series/" + id + ".wal"));
  }
}

// Reading thousands of runs must not hold one descriptor per run (ulimit -n is often 1024).
TEST_P(StoreTest, ReadingManyRunsKeepsDescriptorsBounded) {
  auto open_fds = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  std::vector<std::string> ids;
  {
    auto st = Open();
    for (int r = 0; r < 150; ++r) {
      ids.push_back(NewRun(st.get(), "r" + std::to_string(r)));
      std::unique_ptr<RunWriter> w;
      ASSERT_TRUE(st->OpenWriter(ids.back(), &w).ok());
      for (int i = 0; i < 10; ++i) ASSERT_TRUE(w->Append("loss", i, 1000 + i, r * 100 + i).ok());
      ASSERT_TRUE(w->Close().ok());
    }
  }
  auto st = Open();
  const auto before = open_fds();
  for (int pass = 0; pass < 2; ++pass) {
    for (int k = 0; k < 150; ++k) {
      int r = pass == 0 ? k : 149 - k;
      auto pts = All(st.get(), ids[r], "loss");
      ASSERT_EQ(pts.size(), 10u);
      EXPECT_EQ(pts[7].value, r * 100 + 7);
    }
  }
  EXPECT_LT(open_fds() - before, 100);
}

TEST_P(StoreTest, StepsGoingBackwardsStartASegment) {
  auto st = Open();
  std::string id = NewRun(st.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(id, &w).ok());
  for (int i = 0; i <= 100; ++i) ASSERT_TRUE(w->Append("loss", i, 1, 10.0 - i * 0.01).ok());
  for (int i = 60; i <= 120; ++i) ASSERT_TRUE(w->Append("loss", i, 2, 5.0).ok());
  ASSERT_TRUE(w->Close().ok());
  query::SeriesResult res;
  ASSERT_TRUE(query::QuerySeries(st.get(), id, "loss", {}, &res).ok());
  ASSERT_EQ(res.segments.size(), 2u);
  EXPECT_EQ(res.segments[0].points, 101);  // the abandoned tail is kept
  EXPECT_EQ(res.segments[1].first_step, 60);
  ASSERT_EQ(res.points.size(), 60u + 61u);  // effective: 0..59 from seg 0, 60..120 from seg 1
  EXPECT_EQ(res.points[59].step, 59);
  EXPECT_EQ(res.points[60].value, 5.0);
}

TEST_P(StoreTest, ReaderSeesUnsealedPointsWhileWriting) {
  auto st = Open();
  std::string id = NewRun(st.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(id, &w).ok());
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(w->Append("loss", i, 1, i).ok());
  ASSERT_TRUE(w->Flush().ok());
  std::unique_ptr<Store> reader;
  ASSERT_TRUE(Store::Open(dir_, false, &reader).ok());
  auto pts = All(reader.get(), id, "loss");
  ASSERT_EQ(pts.size(), 5000u);  // 4096 sealed + 904 from the WAL
  EXPECT_EQ(pts[4999].value, 4999);
  ASSERT_TRUE(w->Close().ok());
}

TEST_P(StoreTest, RecoversAfterWriterIsKilledAndDropsTornTail) {
  std::string id;
  {
    auto st = Open();
    id = NewRun(st.get());
  }
  pid_t pid = fork();
  if (pid == 0) {
    std::unique_ptr<Store> st;
    if (!Store::Open(dir_, true, &st).ok()) _exit(1);
    std::unique_ptr<RunWriter> w;
    if (!st->OpenWriter(id, &w).ok()) _exit(1);
    for (int i = 0; i < 6000; ++i) {
      if (!w->Append("loss", i, 1, i * 0.5).ok()) _exit(1);
      if (i % 1000 == 999 && !w->Flush().ok()) _exit(1);
    }
    w->Flush();
    _exit(0);  // no Close(): like kill -9 after the last acknowledged flush
  }
  int status;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  if (pg()) {
    // The dead writer's session ends (and lets its lock go) as the server notices the closed
    // connection: until then a store opened meanwhile must leave the run alone.
    auto st = OpenAfterDeadWriter(id);
    RunRecord r;
    ASSERT_TRUE(st->FindRun(id, &r).ok());
    EXPECT_EQ(r.status, kInterrupted);
    auto pts = All(st.get(), id, "loss");
    ASSERT_EQ(pts.size(), 6000u);  // every acknowledged point, sealed by the recovery
    EXPECT_EQ(pts[5999].value, 5999 * 0.5);
    std::vector<EventRecord> evs;
    ASSERT_TRUE(st->ListEvents(id, &evs).ok());
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].kind, "run_interrupted");
    return;
  }
  // A torn record at the end (a write cut short) must be dropped, nothing before it.
  std::string wal = dir_ + "/series/" + id + ".wal";
  ASSERT_TRUE(fs::exists(wal));
  {
    std::ofstream f(wal, std::ios::app | std::ios::binary);
    f.write("\x40\x00\x00\x00garbage", 11);
  }
  // The run is marked running, as a dead supervisor leaves it.
  auto st = Open();  // opening recovers
  EXPECT_FALSE(fs::exists(wal));
  auto pts = All(st.get(), id, "loss");
  ASSERT_EQ(pts.size(), 6000u);
  EXPECT_EQ(pts[5999].value, 5999 * 0.5);
  RunRecord r;
  ASSERT_TRUE(st->FindRun(id, &r).ok());
  EXPECT_EQ(r.status, kInterrupted);
}

TEST_P(StoreTest, SecondWriterForSameRunIsRefused) {
  auto st = Open();
  std::string id = NewRun(st.get());
  std::unique_ptr<RunWriter> w1, w2;
  ASSERT_TRUE(st->OpenWriter(id, &w1).ok());
  std::unique_ptr<Store> other;
  ASSERT_TRUE(Store::Open(dir_, false, &other).ok());
  EXPECT_FALSE(other->OpenWriter(id, &w2).ok());
}

TEST_P(StoreTest, IncompatibleFormatVersionIsAClearError) {
  { Open(); }
  const char* kBump = "UPDATE meta SET value='99' WHERE key='format_version'";
  if (pg()) {
    std::unique_ptr<pg::PgConn> c;
    ASSERT_TRUE(pg::PgConn::Connect(dir_, &c).ok());
    ASSERT_TRUE(c->Exec(kBump).ok());
  } else {
    std::unique_ptr<Db> db;
    ASSERT_TRUE(Db::Open(dir_ + "/inloop.db", false, &db).ok());
    ASSERT_TRUE(db->Exec(kBump).ok());
  }
  std::unique_ptr<Store> st;
  Status s = Store::Open(dir_, false, &st);
  EXPECT_EQ(s.code(), Status::Code::kIncompatible);
  EXPECT_NE(s.message().find("99"), std::string::npos);
}

TEST_P(StoreTest, MissingStoreIsNotFound) {
  std::unique_ptr<Store> st;
  // PostgreSQL: a database without the store's tables.
  EXPECT_EQ(Store::Open(pg() ? dir_ : dir_ + "/nothing", false, &st).code(),
            Status::Code::kNotFound);
}

TEST_P(StoreTest, M4QueryKeepsSpikes) {
  auto st = Open();
  std::string id = NewRun(st.get());
  std::unique_ptr<RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(id, &w).ok());
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(w->Append("loss", i, 1, i == 77777 ? 1e6 : 1.0 + (i % 7) * 0.01).ok());
  }
  ASSERT_TRUE(w->Close().ok());
  query::SeriesQuery q;
  q.max_points = 400;
  query::SeriesResult res;
  ASSERT_TRUE(query::QuerySeries(st.get(), id, "loss", q, &res).ok());
  EXPECT_TRUE(res.downsampled);
  EXPECT_LE(res.points.size(), 400u);
  bool spike = false;
  for (auto& p : res.points) spike |= (p.step == 77777 && p.value == 1e6);
  EXPECT_TRUE(spike);
}

INLOOP_ON_EVERY_STORE_BACKEND(StoreTest);

// No server needed: the message names the URL without its password, and what to do.
TEST(PgStoreTest, UnreachableServerIsOneClearLine) {
  std::unique_ptr<Store> st;
  Status s = Store::Open("postgresql://ann:s3cret@127.0.0.1:1/inloop", false, &st);
  EXPECT_EQ(s.code(), Status::Code::kIo);
  EXPECT_NE(s.message().find("postgresql://ann:***@127.0.0.1:1/inloop"), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("s3cret"), std::string::npos);
  EXPECT_NE(s.message().find("check that the server runs"), std::string::npos);
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
}

// The binary COPY stream, byte for byte (PostgreSQL's documented format): signature, flags and
// header extension, then per row its field count and each field as a length and big-endian bytes,
// then the -1 trailer. The store's tests on a real server read back what it writes.
TEST(PgStoreTest, CopyBinaryRowsIsPostgresBinaryCopyFormat) {
  pg::CopyBinaryRows rows;
  EXPECT_TRUE(rows.empty());
  rows.Row(2).Int8(-2).Bytes(std::string("a\0b", 3));
  EXPECT_FALSE(rows.empty());
  std::string want("PGCOPY\n\377\r\n\0", 11);
  want += std::string(8, '\0');                                  // flags, extension length
  want += std::string("\0\2", 2);                               // 2 fields
  want += std::string("\0\0\0\x08", 4) + std::string(7, '\xff') + '\xfe';  // int8 -2
  want += std::string("\0\0\0\x03", 4) + std::string("a\0b", 3);  // bytea of 3 bytes
  want += "\xff\xff";                                            // trailer
  EXPECT_EQ(std::string(rows.Finish()), want);
}

TEST(PgStoreTest, PasswordsAreElided) {
  EXPECT_EQ(pg::ElideUrlPassword("postgres://u:pw@h:5/d?sslmode=disable&password=x"),
            "postgres://u:***@h:5/d?sslmode=disable&password=***");
  EXPECT_EQ(pg::ElideUrlPassword("postgresql://u@h/d"), "postgresql://u@h/d");
  EXPECT_TRUE(Store::IsPostgresUrl("postgres://h/d"));
  EXPECT_FALSE(Store::IsPostgresUrl("/tmp/postgresql://"));
}


// Slurm starts two jobs' supervisors in the same second on a store neither has created yet: both
// must open it (setting WAL mode and creating the schema wait on each other, never fail with
// "database is locked"), or the run goes unrecorded and a requeued job restarts from scratch.
// SQLite's locks differ between processes and between connections of one process: the openers
// are processes, this test binary started again in the child role below.
class EmbeddedOpenRaceTest : public TempStoreTest {
 protected:
  static constexpr int kRunsPerOpener = 10;
};

TEST_F(EmbeddedOpenRaceTest, ChildOpensAndRecordsARun) {
  const char* dir = getenv("INLOOP_OPEN_RACE_DIR");
  if (dir == nullptr) GTEST_SKIP() << "the child role of ManyProcessesOpenAFreshStore";
  // All start together: the parent creates the go file once every child is waiting.
  std::string go = std::string(dir) + ".go";
  while (access(go.c_str(), F_OK) != 0) usleep(200);
  // Open, record, close, again: a closing last connection checkpoints and removes the WAL under
  // an exclusive lock, the moment another process opens (as `inloop submit` then the job do).
  for (int i = 0; i < kRunsPerOpener; ++i) {
    std::unique_ptr<Store> st;
    Status s = Store::Open(dir, true, &st);
    RunRecord r;
    r.name = "job";
    r.command = {"train"};
    if (s.ok()) s = st->CreateRun(&r);
    ASSERT_TRUE(s.ok()) << s.message();
  }
}

TEST_F(EmbeddedOpenRaceTest, ManyProcessesOpenAFreshStore) {
  if (getenv("INLOOP_OPEN_RACE_DIR") != nullptr) GTEST_SKIP();
  constexpr int kOpeners = 6;
  for (int round = 0; round < 3; ++round) {
    std::string dir = fmt::format("{}/store-{}", root_, round);
    std::vector<pid_t> pids;
    for (int i = 0; i < kOpeners; ++i) {
      SubprocessSpec spec;
      spec.argv = {"/proc/self/exe", "--gtest_filter=EmbeddedOpenRaceTest.ChildOpensAndRecordsARun"};
      spec.env = {{"INLOOP_OPEN_RACE_DIR", dir}};
      spec.stdout_plan = spec.stderr_plan = StdioPlan::DevNull();
      pid_t pid = -1;
      ASSERT_TRUE(StartSubprocess(spec, &pid).ok());
      pids.push_back(pid);
    }
    usleep(50000);
    std::ofstream(dir + ".go").put('x');
    for (pid_t pid : pids) EXPECT_EQ(WaitSubprocess(pid), 0) << "round " << round;
    std::unique_ptr<Store> st;
    ASSERT_TRUE(Store::Open(dir, false, &st).ok());
    RunListQuery q;
    q.limit = 1000;
    RunListPage page;
    ASSERT_TRUE(st->ListRunsPage(q, &page).ok());
    EXPECT_EQ(page.runs.size(), static_cast<size_t>(kOpeners * kRunsPerOpener)) << "round " << round;
  }
}

}  // namespace
}  // namespace inloop::store
