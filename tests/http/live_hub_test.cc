// The live stream's hub (http/live_hub.h) without sockets: a client gets `ready`, then every
// point appended after it (none dropped, none twice), events, action changes and the final
// status; clients of one run share one poller; a client that falls behind its byte bound is cut
// off rather than silently losing points.
#include "http/live_hub.h"

#include <chrono>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "support/temp_store.h"

namespace inloop::http {
namespace {

class LiveHubTest : public store::TempStoreTest {
 protected:
  void SetUp() override {
    TempStoreTest::SetUp();
    st_ = Open();
    pool_ = std::make_unique<StorePool>(dir_);
  }
  void TearDown() override {
    pool_.reset();
    st_.reset();
    TempStoreTest::TearDown();
  }

  // Drains the client until `pred(text so far)` holds or ~20 s pass (a busy machine is slow;
  // nothing here measures time).
  template <class Pred>
  std::string DrainUntil(SseClient* c, std::string* text, Pred pred) {
    for (int i = 0; i < 2000 && !pred(*text); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      c->TakeAll(text);
    }
    return *text;
  }

  // Steps of every `points` message of run `id` and key `key`, in order.
  static std::vector<int64_t> StepsIn(const std::string& text, const std::string& key) {
    std::vector<int64_t> steps;
    simdjson::dom::parser parser;
    size_t pos = 0;
    while ((pos = text.find("event: points\ndata: ", pos)) != std::string::npos) {
      pos += 20;
      size_t end = text.find('\n', pos);
      simdjson::dom::element doc;
      EXPECT_FALSE(parser.parse(text.substr(pos, end - pos)).get(doc));
      if (std::string_view(doc["key"]) != key) continue;
      for (auto p : doc["points"].get_array()) steps.push_back(int64_t(p.at(0)));
    }
    return steps;
  }

  std::unique_ptr<store::Store> st_;
  std::unique_ptr<StorePool> pool_;
  ServerMetrics metrics_;
};

TEST_F(LiveHubTest, PushesEveryNewPointEventActionAndStatus) {
  store::RunRecord run;
  run.name = "live";
  ASSERT_TRUE(st_->CreateRun(&run).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st_->OpenWriter(run.id, &w).ok());
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(w->Append("loss", i, i, 1.0 / i).ok());
  ASSERT_TRUE(w->Flush().ok());

  LiveHubOptions opt;
  opt.poll_ms = 20;
  LiveHub hub(pool_.get(), &metrics_, opt);
  hub.Start();
  std::shared_ptr<SseClient> a, b;
  ASSERT_TRUE(hub.Subscribe({run.id}, &a).ok());
  ASSERT_TRUE(hub.Subscribe({run.id}, &b).ok());
  EXPECT_EQ(hub.pollers(), 1u);  // two clients, one poller
  EXPECT_EQ(hub.clients(), 2u);
  std::string ta, tb;
  a->TakeAll(&ta);
  EXPECT_EQ(ta.rfind("event: ready\ndata: ", 0), 0u) << ta;
  EXPECT_NE(ta.find(R"("loss":{"points":10,"last_step":10})"), std::string::npos) << ta;

  // 5000 more points in batches (more than one chunk is sealed on the way), then a rewind to
  // step 3000 (a new segment), an event, an action, and the end of the run.
  for (int i = 11; i <= 5000; ++i) {
    ASSERT_TRUE(w->Append("loss", i, i, 1.0 / i).ok());
    if (i % 700 == 0) {
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  ASSERT_TRUE(w->Flush().ok());
  for (int i = 3000; i <= 3100; ++i) ASSERT_TRUE(w->Append("loss", i, i, 2.0).ok());
  ASSERT_TRUE(w->Flush().ok());
  store::EventRecord e;
  e.run_id = run.id;
  e.kind = "loss_spike";
  e.severity = "warning";
  e.message = "spike";
  ASSERT_TRUE(st_->AddEvent(&e).ok());
  store::ActionRecord act;
  act.run_id = run.id;
  act.action = "rollback_skip";
  ASSERT_TRUE(st_->AddAction(&act).ok());
  ASSERT_TRUE(w->Close().ok());
  run.status = store::kFinished;
  run.ended_at = 99;
  ASSERT_TRUE(st_->UpdateRun(run).ok());

  auto ended = [](const std::string& t) { return t.find("event: status\n") != std::string::npos; };
  DrainUntil(a.get(), &ta, ended);
  DrainUntil(b.get(), &tb, ended);
  ASSERT_TRUE(ended(ta)) << ta.substr(0, 500);
  std::vector<int64_t> want;
  for (int i = 11; i <= 5000; ++i) want.push_back(i);
  for (int i = 3000; i <= 3100; ++i) want.push_back(i);
  EXPECT_EQ(StepsIn(ta, "loss"), want);
  EXPECT_EQ(StepsIn(tb, "loss"), want);
  EXPECT_NE(ta.find("event: event\ndata: "), std::string::npos);
  EXPECT_NE(ta.find("\"kind\":\"loss_spike\""), std::string::npos);
  EXPECT_NE(ta.find("event: action\ndata: "), std::string::npos);
  EXPECT_NE(ta.find(R"("status":"finished")"), std::string::npos);
  // The status comes after every point.
  EXPECT_GT(ta.find("event: status\n"), ta.rfind("event: points\n"));
  hub.Unsubscribe(a);
  hub.Unsubscribe(b);
  EXPECT_EQ(hub.clients(), 0u);
  hub.Stop();
}

TEST_F(LiveHubTest, AllLiveRunsAndUnknownRuns) {
  LiveHubOptions opt;
  opt.poll_ms = 20;
  LiveHub hub(pool_.get(), &metrics_, opt);
  hub.Start();
  std::shared_ptr<SseClient> all;
  ASSERT_TRUE(hub.Subscribe({}, &all).ok());
  std::string text;
  all->TakeAll(&text);
  EXPECT_NE(text.find(R"("all_live":true)"), std::string::npos);
  // A run that starts later is streamed from its first point.
  store::RunRecord run;
  run.name = "later";
  ASSERT_TRUE(st_->CreateRun(&run).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st_->OpenWriter(run.id, &w).ok());
  for (int i = 1; i <= 30; ++i) ASSERT_TRUE(w->Append("acc", i, i, i).ok());
  ASSERT_TRUE(w->Flush().ok());
  DrainUntil(all.get(), &text, [](const std::string& t) { return StepsIn(t, "acc").size() >= 30; });
  std::vector<int64_t> want;
  for (int i = 1; i <= 30; ++i) want.push_back(i);
  EXPECT_EQ(StepsIn(text, "acc"), want);
  std::shared_ptr<SseClient> none;
  EXPECT_FALSE(hub.Subscribe({"no-such-run"}, &none).ok());
  hub.Stop();
}

TEST_F(LiveHubTest, SlowClientIsCutOffNotShortChanged) {
  store::RunRecord run;
  run.name = "flood";
  ASSERT_TRUE(st_->CreateRun(&run).ok());
  std::unique_ptr<store::RunWriter> w;
  ASSERT_TRUE(st_->OpenWriter(run.id, &w).ok());
  LiveHubOptions opt;
  opt.poll_ms = 20;
  opt.client_max_bytes = 4096;
  LiveHub hub(pool_.get(), &metrics_, opt);
  hub.Start();
  std::shared_ptr<SseClient> slow;
  ASSERT_TRUE(hub.Subscribe({run.id}, &slow).ok());
  bool woken = false;
  std::mutex mu;
  slow->SetWakeup([&] {
    std::lock_guard<std::mutex> lock(mu);
    woken = true;
  });
  for (int i = 1; i <= 2000; ++i) ASSERT_TRUE(w->Append("loss", i, i, 0.5).ok());
  ASSERT_TRUE(w->Flush().ok());
  for (int i = 0; i < 2000 && !slow->overflowed(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(slow->overflowed());
  EXPECT_FALSE(slow->Push(std::make_shared<const std::string>("x")));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(woken);  // the session is told, and ends the stream
  }
  for (int i = 0; i < 2000 && hub.clients() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(hub.clients(), 0u);
  EXPECT_EQ(metrics_.sse_clients_dropped(), 1);
  hub.Stop();
}

TEST(SseClientTest, BoundedQueue) {
  SseClient c(10);
  int wakes = 0;
  c.SetWakeup([&] { ++wakes; });
  EXPECT_TRUE(c.Push(std::make_shared<const std::string>("12345")));
  EXPECT_TRUE(c.Push(std::make_shared<const std::string>("678")));
  EXPECT_EQ(wakes, 1);  // only when the queue stops being empty
  std::string out;
  c.TakeAll(&out);
  EXPECT_EQ(out, "12345678");
  EXPECT_TRUE(c.Push(std::make_shared<const std::string>("1234567890")));
  EXPECT_FALSE(c.Push(std::make_shared<const std::string>("x")));
  EXPECT_TRUE(c.overflowed());
  EXPECT_EQ(SseMessage("points", "{}"), "event: points\ndata: {}\n\n");
}

}  // namespace
}  // namespace inloop::http
