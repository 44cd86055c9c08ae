// The pure rules of replication (sync/protocol.h): the batch and marks JSON round trip, strict
// validation, overlap (dedupe/gap), segment counting as the store does it, and backoff.
#include "sync/protocol.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "http/auth.h"
#include "sync/replicator.h"

namespace inloop::sync {
namespace {

SyncBatch Sample() {
  SyncBatch b;
  b.origin = "0123456789abcdef0123456789abcdef";
  b.origin_run = "20260101-000000-abcd";
  b.run.name = "train";
  b.run.status = store::kRunning;
  b.run.command = {"python3", "train.py", "--lr", "3e-4"};
  b.run.cwd = "/home/u/proj";
  b.run.host = "gpu-7";
  b.run.git_commit = "abc123";
  b.run.git_dirty = 1;
  b.run.started_at = 1733500000.25;
  b.run.exit_code = 3;
  b.run.attempts = 2;
  b.params = std::vector<store::Param>{{"lr", "3e-4", "argv"}};
  b.tags = std::vector<std::string>{"baseline"};
  store::AttemptRecord a;
  a.number = 1;
  a.reason = "start";
  a.started_at = 1733500000.5;
  a.stderr_tail = "Traceback\n  boom";
  b.attempts.push_back(a);
  store::EventRecord e;
  e.time = 1733500001.125;
  e.kind = "loss_spike";
  e.severity = "warning";
  e.step_lo = 40;
  e.message = "loss jumped";
  e.data_json = R"({"z":9.5})";
  b.events_from = 7;
  b.events.push_back(e);
  SeriesBatch s;
  s.key = "loss";
  s.from = 100;
  s.points = {{1, 1733500000.123456789, 2.5},
              {2, 1733500000.2, std::numeric_limits<double>::quiet_NaN()},
              {-3, 1e9, -std::numeric_limits<double>::infinity()},
              {4, 1e9, 1e-300}};
  b.series.push_back(s);
  return b;
}

TEST(SyncProtocol, BatchRoundTripsExactly) {
  SyncBatch b = Sample();
  SyncBatch back;
  Status s = ParseBatch(EncodeBatch(b), &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back.origin, b.origin);
  EXPECT_EQ(back.run.command, b.run.command);
  EXPECT_EQ(back.run.started_at, b.run.started_at);
  EXPECT_EQ(back.run.exit_code, b.run.exit_code);
  EXPECT_EQ(back.run.git_dirty, 1);
  ASSERT_TRUE(back.params && back.tags);
  EXPECT_EQ((*back.params)[0].value, "3e-4");
  EXPECT_EQ(back.attempts[0].stderr_tail, b.attempts[0].stderr_tail);
  EXPECT_EQ(back.events_from, 7);
  EXPECT_EQ(back.events[0].step_lo, 40);
  EXPECT_FALSE(back.events[0].step_hi.has_value());
  EXPECT_EQ(back.events[0].data_json, b.events[0].data_json);
  ASSERT_EQ(back.series.size(), 1u);
  const auto& p = back.series[0].points;
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(back.series[0].from, 100);
  EXPECT_EQ(p[0].wall_time, 1733500000.123456789);  // bit-exact
  EXPECT_TRUE(std::isnan(p[1].value));
  EXPECT_EQ(p[2].step, -3);
  EXPECT_EQ(p[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(p[3].value, 1e-300);
}

TEST(SyncProtocol, RefusesBadFieldsByName) {
  std::string good = EncodeBatch(Sample());
  auto refused = [&](std::string from, std::string to, std::string field) {
    std::string body = good;
    size_t at = body.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    body.replace(at, from.size(), to);
    SyncBatch out;
    Status s = ParseBatch(body, &out);
    EXPECT_FALSE(s.ok()) << body;
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  };
  refused(R"("origin":"0123)", R"("origin":"XY)", "origin");
  refused(R"("status":"running")", R"("status":"rm -rf")", "run.status");
  refused(R"("from":100)", R"("from":-1)", "series[0].from");
  refused(R"("points":[[1,)", R"("points":[[1.5,)", "series[0].points[0]");
  refused(R"("points":[[1,)", R"("points":[[1,"NaN",0],[1,)", "series[0].points[0]");
  refused(R"("points":[[1,)", R"("points":[[1,0],[1,)", "series[0].points[0]");
  refused(R"("points":[[1,)", R"("points":[[1,2,"nope"],[1,)", "series[0].points[0]");
  refused(R"("data_json":"{\"z\":9.5}")", R"("data_json":"[1]")", "events[0].data_json");
  refused(R"("events_from":7)", R"("events_from":"7")", "events_from");
  refused(R"("number":1)", R"("number":0)", "attempts[0].number");
  refused(R"("tags":["baseline"])", R"("tags":[""])", "tags");
  SyncBatch out;
  EXPECT_FALSE(ParseBatch("", &out).ok());
  EXPECT_FALSE(ParseBatch("[]", &out).ok());
  EXPECT_FALSE(ParseBatch("{\"origin\":", &out).ok());
  // A key twice in one batch would make its offsets ambiguous.
  SyncBatch twice = Sample();
  twice.series.push_back(twice.series[0]);
  EXPECT_FALSE(ParseBatch(EncodeBatch(twice), &out).ok());
}

TEST(SyncProtocol, MarksRoundTripAndFind) {
  SyncMarks m;
  m.run_id = "srv-1";
  m.status = "running";
  m.events = 4;
  m.series = {{"acc", {3}}, {"loss", {10, 5}}};
  SyncMarks back;
  ASSERT_TRUE(ParseMarks(EncodeMarks(m), &back).ok());
  EXPECT_EQ(back.events, 4);
  ASSERT_NE(back.Find("loss"), nullptr);
  EXPECT_EQ(back.Find("loss")->total(), 15);
  EXPECT_EQ(back.Find("nope"), nullptr);
  // A 409 answer carries the error beside the marks.
  ASSERT_TRUE(ParseMarks(R"({"error":"gap","run_id":"x","status":"running","events":0,"series":[]})",
                         &back)
                  .ok());
  EXPECT_FALSE(ParseMarks("{}", &back).ok());
}

TEST(SyncProtocol, OverlapDedupesAndFindsGaps) {
  // held 10: a resend of [5, 12) skips 5, [10, 15) skips none, [0, 4) is all known.
  EXPECT_EQ(OverlapOf(10, 5, 7).skip, 5);
  EXPECT_FALSE(OverlapOf(10, 5, 7).gap);
  EXPECT_EQ(OverlapOf(10, 10, 5).skip, 0);
  EXPECT_EQ(OverlapOf(10, 0, 4).skip, 4);
  EXPECT_TRUE(OverlapOf(10, 11, 3).gap);
  EXPECT_FALSE(OverlapOf(0, 0, 0).gap);
}

TEST(SyncProtocol, SegmentCounterFollowsTheStoreRule) {
  SegmentCounter c;
  for (int64_t s : {1, 2, 3, 3, 4, 2, 3, 1, 5}) c.Add(s);
  EXPECT_EQ(c.segments(), (std::vector<int64_t>{5, 2, 2}));
  EXPECT_EQ(c.total(), 9);
  // Continues from what a store holds.
  SegmentCounter d({4, 2}, 10);
  d.Add(11);
  d.Add(9);
  EXPECT_EQ(d.segments(), (std::vector<int64_t>{4, 3, 1}));
}

TEST(SyncProtocol, SegmentsAgreeAsAPrefix) {
  std::string why;
  EXPECT_TRUE(SegmentsAgree({5, 2, 2}, {5, 2, 1}, &why));
  EXPECT_TRUE(SegmentsAgree({5, 2, 2}, {}, &why));
  EXPECT_TRUE(SegmentsAgree({5, 2}, {5, 2}, &why));
  EXPECT_FALSE(SegmentsAgree({5, 2, 2}, {4, 2}, &why));
  EXPECT_NE(why.find("segment 0"), std::string::npos);
  EXPECT_FALSE(SegmentsAgree({5}, {5, 1}, &why));
  EXPECT_FALSE(SegmentsAgree({5, 2}, {5, 3}, &why));
}

TEST(SyncProtocol, BackoffDoublesUpToTheCapWithJitter) {
  Backoff b(0.5, 4);
  EXPECT_DOUBLE_EQ(b.Next(1.0), 0.5);
  EXPECT_DOUBLE_EQ(b.Next(1.0), 1.0);
  EXPECT_DOUBLE_EQ(b.Next(1.0), 2.0);
  EXPECT_DOUBLE_EQ(b.Next(0.0), 2.0);  // 4 * 0.5
  for (int i = 0; i < 100; ++i) EXPECT_LE(b.Next(0.99), 4.0);
  b.Reset();
  EXPECT_DOUBLE_EQ(b.Next(1.0), 0.5);
}

TEST(SyncProtocol, Base64RoundTripsAnyBytes) {
  for (std::string in : {std::string(), std::string("a"), std::string("ab"), std::string("abc"),
                         std::string("\xff\x00\xfe\n\x80", 5)}) {
    std::string out;
    ASSERT_TRUE(Base64Decode(Base64Encode(in), &out)) << in;
    EXPECT_EQ(out, in);
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  std::string out;
  EXPECT_FALSE(Base64Decode("aGVsbG8", &out));
  EXPECT_FALSE(Base64Decode("aG=sbG8=", &out));
  EXPECT_FALSE(Base64Decode("aGVsbG8*", &out));
  EXPECT_FALSE(Base64Decode("aGVsb=8=", &out));
  // A log piece travels as base64 and comes back byte for byte.
  SyncBatch b = Sample();
  b.logs.push_back({1, store::LogStream::kStderr, 12, std::string("\xc3\x28 bad utf-8\n", 14)});
  SyncBatch back;
  ASSERT_TRUE(ParseBatch(EncodeBatch(b), &back).ok());
  ASSERT_EQ(back.logs.size(), 1u);
  EXPECT_EQ(back.logs[0].bytes, b.logs[0].bytes);
  EXPECT_EQ(back.logs[0].stream, store::LogStream::kStderr);
  EXPECT_EQ(back.logs[0].from, 12);
}

TEST(SyncProtocol, OriginIds) {
  EXPECT_TRUE(ValidOrigin("0123456789abcdef"));
  EXPECT_FALSE(ValidOrigin("0123456789abcde"));
  EXPECT_FALSE(ValidOrigin("0123456789ABCDEF"));
  EXPECT_FALSE(ValidOrigin("0123456789abcdef/"));
}

TEST(SyncProtocol, SyncNeedsTheIngestScope) {
  http::HttpRequest r;
  r.method = "POST";
  r.segments = {"api", "v1", "sync", "runs"};
  EXPECT_EQ(http::RequiredScopes(r), http::kScopeRead | http::kScopeIngest);
}

}  // namespace
}  // namespace inloop::sync
