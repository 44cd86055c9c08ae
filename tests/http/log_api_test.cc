// GET /api/v1/runs/{id}/logs (http/log_api.h) through the Api router over a real store: a tail
// and a range of a compressed attempt log, a raw log of an older store, and 400/404 answers that
// name what was wrong.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>

#include "http/api.h"
#include "support/api_fixture.h"

namespace inloop::http {
namespace {

class LogApiTest : public ApiFixture {
 protected:
  std::vector<std::string> Lines(const HttpResponse& r) {
    std::vector<std::string> out;
    for (auto l : Json(r)["lines"].get_array()) out.emplace_back(std::string_view(l.get_string()));
    return out;
  }

};

TEST_F(LogApiTest, TailRangeRawAndErrors) {
  std::string id = NewRun(st_.get(), "logged");
  store::AttemptRecord a1;  // an older store's raw log
  a1.run_id = id;
  a1.number = 1;
  a1.stdout_path = "runs/" + id + "/attempt-1.stdout";
  std::ofstream(st_->PathOf(a1.stdout_path)) << "raw a\nraw b\n";
  ASSERT_TRUE(st_->PutAttempt(a1).ok());
  store::AttemptRecord a2;
  a2.run_id = id;
  a2.number = 2;
  std::unique_ptr<store::LogWriter> w;
  ASSERT_TRUE(st_->OpenAttemptLog(id, 2, store::LogStream::kStdout, &w, &a2.stdout_path).ok());
  for (int i = 1; i <= 500; ++i) ASSERT_TRUE(w->Append("out " + std::to_string(i) + "\n").ok());
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(st_->PutAttempt(a2).ok());

  HttpResponse tail = Get("/api/v1/runs/logged/logs?tail=2");
  ASSERT_EQ(tail.status, 200) << tail.body;
  EXPECT_EQ(tail.route, "/api/v1/runs/{id}/logs");
  EXPECT_EQ(Lines(tail), (std::vector<std::string>{"out 499", "out 500"}));
  simdjson::dom::element e;
  ASSERT_FALSE(parser_.parse(tail.body).get(e));
  EXPECT_EQ(int64_t(e["attempt"]), 2);
  EXPECT_EQ(int64_t(e["first_line"]), 499);
  EXPECT_EQ(int64_t(e["total_lines"]), 500);
  EXPECT_TRUE(bool(e["compressed"]));
  EXPECT_EQ(Lines(Get("/api/v1/runs/logged/logs?from=10&count=2")),
            (std::vector<std::string>{"out 10", "out 11"}));
  EXPECT_EQ(Lines(Get("/api/v1/runs/logged/logs?attempt=1")),
            (std::vector<std::string>{"raw a", "raw b"}));

  HttpResponse bad = Get("/api/v1/runs/logged/logs?stream=both");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("stream"), std::string::npos) << bad.body;
  EXPECT_EQ(Get("/api/v1/runs/logged/logs?tail=1&from=2").status, 400);
  EXPECT_EQ(Get("/api/v1/runs/logged/logs?count=99999").status, 400);
  HttpResponse no_stderr = Get("/api/v1/runs/logged/logs?stream=stderr");
  EXPECT_EQ(no_stderr.status, 404);
  EXPECT_NE(no_stderr.body.find("kept no stderr log"), std::string::npos) << no_stderr.body;
  EXPECT_EQ(Get("/api/v1/runs/nope/logs").status, 404);
  HttpRequest post;
  post.method = "POST";
  ASSERT_TRUE(ParseTarget("/api/v1/runs/logged/logs", &post).ok());
  EXPECT_EQ(api_->Handle(post).status, 405);
}

}  // namespace
}  // namespace inloop::http
