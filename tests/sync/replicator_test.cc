// RunReplicator against the real server handler (http::IngestRuns::Sync) in-process, through a
// transport that loses answers after the server applied the batch and drops the connection at
// times: the server must end with exactly the local points (segments included), events, status,
// no duplicate and no gap; a second replicator sends nothing; a batch with a hole is refused.
#include "sync/replicator.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "http/ingest.h"
#include "support/temp_store.h"

namespace inloop::sync {
namespace {

class InProcessTransport : public Transport {
 public:
  explicit InProcessTransport(http::IngestRuns* ingest) : ingest_(ingest) {}
  PostResult Post(const std::string& path, const std::string& body) override {
    ++calls;
    PostResult r;
    EXPECT_EQ(path, "/api/v1/sync/runs");
    if (down) {
      r.error = "connection refused";
      return r;
    }
    http::HttpResponse resp = ingest_->Sync(body);
    if (lose_every > 0 && calls % lose_every == 0) {
      r.error = "connection cut off";  // applied, but the answer never arrived
      return r;
    }
    r.reached = true;
    r.status = resp.status;
    r.body = resp.body;
    return r;
  }
  int calls = 0;
  int lose_every = 0;
  bool down = false;

 private:
  http::IngestRuns* ingest_;
};

// Every point of every segment of a run, as (key, segment) -> points.
std::map<std::pair<std::string, int>, std::vector<Point>> AllPoints(store::Store* st,
                                                                    const std::string& run) {
  std::vector<store::SegmentData> segs;
  EXPECT_TRUE(st->ReadAllSegments(run, &segs).ok());
  std::map<std::pair<std::string, int>, std::vector<Point>> out;
  for (auto& sd : segs) {
    auto& v = out[{sd.key, sd.segment}];
    for (auto& c : sd.chunks) {
      std::vector<Point> pts;
      EXPECT_TRUE(st->ReadChunkPoints(run, c, &pts).ok());
      v.insert(v.end(), pts.begin(), pts.end());
    }
    v.insert(v.end(), sd.tail.begin(), sd.tail.end());
  }
  return out;
}

bool SamePoints(const std::vector<Point>& a, const std::vector<Point>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    bool same_value =
        a[i].value == b[i].value || (std::isnan(a[i].value) && std::isnan(b[i].value));
    if (a[i].step != b[i].step || a[i].wall_time != b[i].wall_time || !same_value) return false;
  }
  return true;
}

class ReplicatorTest : public store::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    char tmpl[] = "/tmp/inloop-server-XXXXXX";
    server_dir_ = mkdtemp(tmpl);
    std::unique_ptr<store::Store> made;
    ASSERT_TRUE(store::Store::Open(server_dir_, true, &made).ok());
    ingest_ = std::make_unique<http::IngestRuns>(server_dir_, &metrics_);
  }
  void TearDown() override {
    ingest_.reset();
    std::filesystem::remove_all(server_dir_);
    TempStoreTest::TearDown();
  }
  // Passes until caught up, the transport's failures retried; at most `max` passes.
  RunProgress Replicate(RunReplicator* rep, int max = 200) {
    for (int i = 0; i < max; ++i) {
      Status err;
      PassOutcome o = rep->Pass(&err);
      EXPECT_NE(o, PassOutcome::kRefused) << err.message();
      if (o == PassOutcome::kCaughtUp) return rep->progress();
    }
    ADD_FAILURE() << "never caught up";
    return rep->progress();
  }
  void ExpectSameRun(store::Store* local, const std::string& run, const std::string& server_run) {
    std::unique_ptr<store::Store> srv;
    ASSERT_TRUE(store::Store::Open(server_dir_, false, &srv).ok());
    auto want = AllPoints(local, run);
    auto got = AllPoints(srv.get(), server_run);
    ASSERT_EQ(got.size(), want.size());
    for (auto& [k, pts] : want) {
      ASSERT_TRUE(got.count(k)) << k.first << " segment " << k.second;
      EXPECT_TRUE(SamePoints(got[k], pts)) << k.first << " segment " << k.second << ": "
                                           << got[k].size() << " vs " << pts.size();
    }
    std::vector<store::EventRecord> le, se;
    ASSERT_TRUE(local->ListEventsAfter(run, 0, &le).ok());
    ASSERT_TRUE(srv->ListEventsAfter(server_run, 0, &se).ok());
    ASSERT_EQ(se.size(), le.size());
    for (size_t i = 0; i < le.size(); ++i) {
      EXPECT_EQ(se[i].kind, le[i].kind);
      EXPECT_EQ(se[i].message, le[i].message);
      EXPECT_EQ(se[i].time, le[i].time);
      EXPECT_EQ(se[i].step_lo, le[i].step_lo);
    }
    store::RunRecord lr, sr;
    ASSERT_TRUE(local->FindRun(run, &lr).ok());
    ASSERT_TRUE(srv->FindRun(server_run, &sr).ok());
    EXPECT_EQ(sr.status, lr.status);
    EXPECT_EQ(sr.command, lr.command);
    EXPECT_EQ(sr.name, lr.name);
  }

  std::string server_dir_;
  http::ServerMetrics metrics_;
  std::unique_ptr<http::IngestRuns> ingest_;
};

constexpr const char* kOrigin = "00112233445566778899aabbccddeeff";

TEST_F(ReplicatorTest, LostAnswersAndOutagesLeaveNoDuplicateAndNoGap) {
  auto st = Open();
  std::string run = NewRun(st.get(), "train");
  ASSERT_TRUE(st->SetParams(run, {{"lr", "3e-4", "argv"}}).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st->OpenWriter(run, &w).ok());
  for (int s = 1; s <= 9000; ++s) ASSERT_TRUE(w->Append("loss", s, 1000 + s * 0.001, 1.0 / s).ok());
  for (int s = 1; s <= 50; ++s) ASSERT_TRUE(w->Append("acc", s, 1000 + s, s / 50.0).ok());
  ASSERT_TRUE(w->Flush().ok());
  for (int i = 0; i < 5; ++i) {
    store::EventRecord e;
    e.run_id = run;
    e.time = 1000 + i;
    e.kind = "note";
    e.severity = "info";
    e.step_lo = i;
    e.message = "event " + std::to_string(i);
    ASSERT_TRUE(st->AddEvent(&e).ok());
  }

  // Attempt 1 with its logs (stdout has bytes that are not UTF-8).
  store::AttemptRecord att;
  att.run_id = run;
  att.number = 1;
  att.reason = "start";
  att.started_at = 1000;
  std::unique_ptr<store::LogWriter> out_log, err_log;
  ASSERT_TRUE(
      st->OpenAttemptLog(run, 1, store::LogStream::kStdout, &out_log, &att.stdout_path).ok());
  ASSERT_TRUE(
      st->OpenAttemptLog(run, 1, store::LogStream::kStderr, &err_log, &att.stderr_path).ok());
  std::string out_text;
  for (int i = 0; i < 3000; ++i) out_text += "step=" + std::to_string(i) + " \xff\xfe loss\n";
  ASSERT_TRUE(out_log->Append(out_text).ok());
  ASSERT_TRUE(out_log->Flush().ok());
  ASSERT_TRUE(err_log->Append("warning: something\n").ok());
  ASSERT_TRUE(err_log->Close().ok());
  ASSERT_TRUE(st->PutAttempt(att).ok());

  InProcessTransport t(ingest_.get());
  t.lose_every = 3;
  std::unique_ptr<store::Store> reader;
  ASSERT_TRUE(store::Store::Open(dir_, false, &reader).ok());
  RunReplicator rep(reader.get(), &t, kOrigin, run, 700);
  RunProgress p = Replicate(&rep);
  EXPECT_EQ(p.points_server, 9050);
  EXPECT_EQ(p.events_server, 5);
  EXPECT_FALSE(p.complete);  // still running

  // The server goes away; the run rolls back (a new segment), logs more and ends.
  t.down = true;
  for (int s = 4000; s <= 6000; ++s) ASSERT_TRUE(w->Append("loss", s, 2000 + s, 0.5).ok());
  ASSERT_TRUE(w->Append("loss", 6001, 3000, std::nan("")).ok());
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(out_log->Append("the end\n").ok());
  ASSERT_TRUE(out_log->Close().ok());
  out_text += "the end\n";
  store::RunRecord r;
  ASSERT_TRUE(st->FindRun(run, &r).ok());
  r.status = store::kFinished;
  r.exit_code = 0;
  r.ended_at = 5000;
  ASSERT_TRUE(st->UpdateRun(r).ok());
  Status err;
  EXPECT_EQ(rep.Pass(&err), PassOutcome::kUnreachable);
  t.down = false;
  p = Replicate(&rep);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.points_server, 9050 + 2002);
  ExpectSameRun(st.get(), run, p.server_run_id);
  {
    std::unique_ptr<store::Store> srv;
    ASSERT_TRUE(store::Store::Open(server_dir_, false, &srv).ok());
    store::LogInfo info;
    ASSERT_TRUE(srv->AttemptLogInfo(p.server_run_id, 1, store::LogStream::kStdout, &info).ok());
    EXPECT_EQ(info.raw_bytes, static_cast<int64_t>(out_text.size()));
    store::LogLinesQuery q;
    q.run_id = p.server_run_id;
    q.attempt = 1;
    q.stream = store::LogStream::kStderr;
    store::LogLines lines;
    ASSERT_TRUE(srv->ReadAttemptLog(q, &lines).ok());
    ASSERT_EQ(lines.lines.size(), 1u);
    EXPECT_EQ(lines.lines[0], "warning: something");
    q.stream = store::LogStream::kStdout;
    q.first_line = 2999;
    ASSERT_TRUE(srv->ReadAttemptLog(q, &lines).ok());
    ASSERT_EQ(lines.lines.size(), 2u);
    EXPECT_EQ(lines.lines[0], "step=2999 \xff\xfe loss");
    EXPECT_EQ(lines.lines[1], "the end");
  }

  // Another replicator of the same store (`inloop sync` again) finds nothing to send.
  InProcessTransport again(ingest_.get());
  RunReplicator rep2(reader.get(), &again, kOrigin, run);
  p = Replicate(&rep2);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.points_sent, 0);
  EXPECT_EQ(p.events_sent, 0);
  EXPECT_EQ(again.calls, 1);

  // The server restarts (its marks are derived from its data again): still nothing to send.
  ingest_ = std::make_unique<http::IngestRuns>(server_dir_, &metrics_);
  InProcessTransport third(ingest_.get());
  RunReplicator rep3(reader.get(), &third, kOrigin, run);
  p = Replicate(&rep3);
  EXPECT_TRUE(p.complete);
  EXPECT_EQ(p.points_sent, 0);
  ExpectSameRun(st.get(), run, p.server_run_id);
}

TEST_F(ReplicatorTest, AGapIsRefusedWithTheMarksAndNothingApplied) {
  SyncBatch b;
  b.origin = kOrigin;
  b.origin_run = "run-a";
  b.run.name = "a";
  b.run.started_at = 1;
  b.series.push_back({"loss", 0, {{1, 1, 1}, {2, 2, 2}}});
  http::HttpResponse ok = ingest_->Sync(EncodeBatch(b));
  ASSERT_EQ(ok.status, 200) << ok.body;
  b.series[0].from = 5;  // the server holds 2
  b.events_from = 0;
  http::HttpResponse gap = ingest_->Sync(EncodeBatch(b));
  EXPECT_EQ(gap.status, 409);
  SyncMarks m;
  ASSERT_TRUE(ParseMarks(gap.body, &m).ok());
  ASSERT_NE(m.Find("loss"), nullptr);
  EXPECT_EQ(m.Find("loss")->total(), 2);
  EXPECT_NE(gap.body.find("holds only 2"), std::string::npos);
  // A resend of what it has plus one more appends exactly one.
  b.series[0] = {"loss", 1, {{2, 2, 2}, {3, 3, 3}}};
  http::HttpResponse more = ingest_->Sync(EncodeBatch(b));
  ASSERT_EQ(more.status, 200);
  ASSERT_TRUE(ParseMarks(more.body, &m).ok());
  EXPECT_EQ(m.Find("loss")->segments, (std::vector<int64_t>{3}));
  // Bad input is a 400 that names the field, and changes nothing.
  http::HttpResponse bad = ingest_->Sync(R"({"origin":"x"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("origin"), std::string::npos);
}

}  // namespace
}  // namespace inloop::sync
