// IngestRuns (http/ingest.h) under concurrent writers, on both backends: threads post batches
// to several runs at once (some by the run's name, which may hash to another lane than its id),
// several threads into the same run (one series each), and a Locked session appends alongside;
// then a fresh store holds every acknowledged point exactly once, in step order, exact values.
// Replicated runs (Sync) likewise, with two threads racing to send a new run's first batch.
#include "http/ingest.h"

#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "support/temp_store.h"
#include "sync/protocol.h"

namespace inloop::http {
namespace {

using store::Backend;
using store::BackendName;

class IngestLanesTest : public store::BackendStoreTest {
 protected:
  // Every point of `key` in `run_id`, in store order (chunks, then the tail), one segment.
  std::vector<Point> ReadSeries(store::Store* st, const std::string& run_id,
                                       const std::string& key) {
    std::vector<store::SegmentData> segs;
    Status s = st->ReadSegments(run_id, key, &segs);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(segs.size(), 1u) << key << ": steps went backwards somewhere";
    std::vector<Point> out;
    for (auto& seg : segs) {
      for (auto& c : seg.chunks) {
        s = st->ReadChunkPoints(run_id, c, &out);
        EXPECT_TRUE(s.ok()) << s.message();
      }
      out.insert(out.end(), seg.tail.begin(), seg.tail.end());
    }
    return out;
  }
};

std::string BatchBody(const std::string& key, int first, int n) {
  std::string body = R"({"points":[)";
  for (int i = first; i < first + n; ++i) {
    body += fmt::format(R"({}{{"key":"{}","step":{},"wall_time":{},"value":{}}})",
                        i > first ? "," : "", key, i, 1.7e9 + i, i * 0.5);
  }
  return body + "]}";
}

std::string IdOf(const HttpResponse& r) {
  simdjson::dom::parser p;
  std::string_view id;
  if (p.parse(r.body)["id"].get_string().get(id)) return "";
  return std::string(id);
}

TEST_P(IngestLanesTest, ConcurrentWritersKeepEveryPointInOrder) {
  constexpr int kRuns = 4, kThreadsPerRun = 3, kBatches = 12, kBatch = 40;
  ASSERT_TRUE(Open());  // the store exists (serve opens it, never makes it)
  ServerMetrics metrics;
  std::vector<std::string> ids, names;
  {
    IngestRuns ingest(dir_, &metrics);
    EXPECT_EQ(ingest.lanes(), pg() ? IngestRuns::kPgLanes : 1);
    for (int r = 0; r < kRuns + 1; ++r) {
      names.push_back(fmt::format("lanes-{}", r));
      HttpResponse c = ingest.Create(fmt::format(R"({{"name":"{}"}})", names.back()));
      ASSERT_EQ(c.status, 200) << c.body;
      ids.push_back(IdOf(c));
      ASSERT_FALSE(ids.back().empty()) << c.body;
    }
    std::vector<std::thread> threads;
    std::vector<std::string> failures(kRuns * kThreadsPerRun + 1);
    for (int r = 0; r < kRuns; ++r) {
      for (int t = 0; t < kThreadsPerRun; ++t) {
        size_t slot = static_cast<size_t>(r * kThreadsPerRun + t);
        // Odd threads name the run, even ones give its id.
        std::string ref = t % 2 ? names[static_cast<size_t>(r)] : ids[static_cast<size_t>(r)];
        threads.emplace_back([&ingest, &failures, slot, ref, t] {
          std::string key = fmt::format("k{}", t);
          for (int b = 0; b < kBatches; ++b) {
            HttpResponse resp = ingest.Points(ref, BatchBody(key, b * kBatch, kBatch));
            if (resp.status != 200) {
              failures[slot] = fmt::format("{} batch {}: {} {}", ref, b, resp.status, resp.body);
              return;
            }
          }
        });
      }
    }
    // Alongside: the MLflow/W&B path (every lane held) into the last run.
    threads.emplace_back([&] {
      const std::string& run_id = ids.back();
      for (int b = 0; b < kBatches; ++b) {
        std::vector<IngestPoint> pts;
        for (int i = b * kBatch; i < (b + 1) * kBatch; ++i) {
          pts.push_back(IngestPoint{"locked", i, 1.7e9 + i, i * 0.5});
        }
        Status s = ingest.Locked(
            [&](IngestRuns::Session& ss) { return ss.Append(run_id, pts); });
        if (!s.ok()) {
          failures.back() = fmt::format("locked batch {}: {}", b, s.message());
          return;
        }
      }
    });
    for (auto& th : threads) th.join();
    for (auto& f : failures) EXPECT_EQ(f, "");
    for (auto& id : ids) {
      HttpResponse fin = ingest.Finish(id, R"({"status":"finished","exit_code":0})");
      EXPECT_EQ(fin.status, 200) << fin.body;
    }
  }
  EXPECT_NE(metrics.Text().find(fmt::format("inloop_points_ingested_total {}\n",
                                             (kRuns * kThreadsPerRun + 1) * kBatches * kBatch)),
            std::string::npos)
      << metrics.Text();
  auto st = Open();
  ASSERT_TRUE(st);
  auto check = [&](const std::string& run_id, const std::string& key) {
    std::vector<Point> pts = ReadSeries(st.get(), run_id, key);
    ASSERT_EQ(pts.size(), size_t{kBatches * kBatch}) << run_id << " " << key;
    for (size_t i = 0; i < pts.size(); ++i) {
      ASSERT_EQ(pts[i].step, static_cast<int64_t>(i)) << run_id << " " << key;
      ASSERT_EQ(pts[i].value, static_cast<double>(i) * 0.5) << run_id << " " << key;
    }
  };
  for (int r = 0; r < kRuns; ++r) {
    store::RunRecord run;
    ASSERT_TRUE(st->FindRun(ids[static_cast<size_t>(r)], &run).ok());
    EXPECT_EQ(run.status, store::kFinished);
    for (int t = 0; t < kThreadsPerRun; ++t) check(run.id, fmt::format("k{}", t));
  }
  check(ids.back(), "locked");
}

TEST_P(IngestLanesTest, RunNamedByAnotherLaneAnswersLikeItsId) {
  // A run referred to by name whose name hashes to another lane than its id: points go to the
  // writer in the id's lane; after Finish the name is refused like the id.
  ASSERT_TRUE(Open());
  ServerMetrics metrics;
  IngestRuns ingest(dir_, &metrics);
  for (int i = 0; i < 6; ++i) {
    std::string name = fmt::format("named-{}", i);
    HttpResponse c = ingest.Create(fmt::format(R"({{"name":"{}"}})", name));
    ASSERT_EQ(c.status, 200) << c.body;
    ASSERT_EQ(ingest.Points(name, BatchBody("x", 0, 3)).status, 200);
    ASSERT_EQ(ingest.Points(IdOf(c), BatchBody("x", 3, 3)).status, 200);
    ASSERT_EQ(ingest.Finish(name, "").status, 200);
    HttpResponse late = ingest.Points(name, BatchBody("x", 6, 1));
    EXPECT_EQ(late.status, 409) << late.body;
    auto st = Open();
    ASSERT_TRUE(st);
    std::vector<Point> pts = ReadSeries(st.get(), IdOf(c), "x");
    ASSERT_EQ(pts.size(), 6u);
    EXPECT_EQ(pts.back().step, 5);
  }
}

std::string SyncBody(int origin_run, int first, int n) {
  sync::SyncBatch b;
  b.origin = "lanesorigin00001";
  b.origin_run = fmt::format("origin-run-{}", origin_run);
  b.run.name = fmt::format("replica-{}", origin_run);
  b.run.status = store::kRunning;
  b.run.started_at = 1000;
  b.run.command = {"python3", "train.py"};
  sync::SeriesBatch sb;
  sb.key = "loss";
  sb.from = first;
  for (int i = first; i < first + n; ++i) sb.points.push_back(Point{i, 1.7e9 + i, i * 0.5});
  b.series.push_back(std::move(sb));
  return sync::EncodeBatch(b);
}

TEST_P(IngestLanesTest, ConcurrentReplicatedRunsKeepEveryPointOnce) {
  constexpr int kRuns = 4, kBatches = 10, kBatch = 30;
  ASSERT_TRUE(Open());
  ServerMetrics metrics;
  std::vector<std::string> failures(kRuns * 2);
  std::vector<std::string> server_ids(kRuns * 2);
  {
    IngestRuns ingest(dir_, &metrics);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRuns; ++r) {
      for (int t = 0; t < 2; ++t) {
        // Both threads send the run's first batch at once (one run must come of it); the first
        // thread then sends the rest.
        threads.emplace_back([&, r, t] {
          size_t slot = static_cast<size_t>(r * 2 + t);
          for (int b = 0; b < (t == 0 ? kBatches : 1); ++b) {
            HttpResponse resp = ingest.Sync(SyncBody(r, b * kBatch, kBatch));
            if (resp.status != 200) {
              failures[slot] = fmt::format("run {} batch {}: {} {}", r, b, resp.status, resp.body);
              return;
            }
            sync::SyncMarks m;
            Status s = sync::ParseMarks(resp.body, &m);
            if (!s.ok()) {
              failures[slot] = s.message();
              return;
            }
            server_ids[slot] = m.run_id;
          }
        });
      }
    }
    for (auto& th : threads) th.join();
  }
  for (auto& f : failures) EXPECT_EQ(f, "");
  auto st = Open();
  ASSERT_TRUE(st);
  std::vector<store::RunRecord> runs;
  ASSERT_TRUE(st->ListRuns(&runs).ok());
  EXPECT_EQ(runs.size(), size_t{kRuns});  // one server run per origin run
  for (int r = 0; r < kRuns; ++r) {
    const std::string& id = server_ids[static_cast<size_t>(r * 2)];
    EXPECT_EQ(server_ids[static_cast<size_t>(r * 2 + 1)], id) << "run " << r;
    std::vector<Point> pts = ReadSeries(st.get(), id, "loss");
    ASSERT_EQ(pts.size(), size_t{kBatches * kBatch}) << "run " << r;
    for (size_t i = 0; i < pts.size(); ++i) {
      ASSERT_EQ(pts[i].step, static_cast<int64_t>(i)) << "run " << r;
      ASSERT_EQ(pts[i].value, static_cast<double>(i) * 0.5) << "run " << r;
    }
  }
}

INLOOP_ON_EVERY_STORE_BACKEND(IngestLanesTest);

}  // namespace
}  // namespace inloop::http
