// The socket-free HTTP rules (http/router.h): target parsing and percent-decoding, path
// confinement of the embedded files, loopback binds, parameter validation (tokens: auth_test.cc).
#include "http/router.h"

#include <gtest/gtest.h>

#include "http/ui_assets.h"

namespace inloop::http {
namespace {

HttpRequest Parse(std::string_view target, Status* s = nullptr) {
  HttpRequest r;
  Status st = ParseTarget(target, &r);
  if (s) *s = st;
  return r;
}

TEST(RouterTest, SplitsPathAndDecodesQuery) {
  Status s;
  HttpRequest r = Parse("/api/v1/runs?name=lr%2A&tag=a+b&tag=c&last=loss,lr&flag", &s);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.path, "/api/v1/runs");
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(r.segments[2], "runs");
  ASSERT_NE(r.Param("name"), nullptr);
  EXPECT_EQ(*r.Param("name"), "lr*");
  EXPECT_EQ(r.Params("tag"), (std::vector<std::string>{"a b", "c"}));
  EXPECT_EQ(ListParam(r, "last"), (std::vector<std::string>{"loss", "lr"}));
  ASSERT_NE(r.Param("flag"), nullptr);
  EXPECT_EQ(*r.Param("flag"), "");
  EXPECT_EQ(r.Param("missing"), nullptr);
}

TEST(RouterTest, EncodedSlashStaysInsideItsSegment) {
  Status s;
  HttpRequest r = Parse("/api/v1/runs/sweep%2Flr-1/series", &s);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(r.segments.size(), 5u);
  EXPECT_EQ(r.segments[3], "sweep/lr-1");
}

TEST(RouterTest, RefusesTraversalAndMalformedTargets) {
  for (const char* bad : {"/../etc/passwd", "/a/../../b", "/%2e%2e/etc/passwd", "/%2E%2E%2fx",
                          "/..%2f..%2fetc/passwd", "/a/./b", "/a%00b", "/a\\..\\b", "//etc/passwd",
                          "etc/passwd", "http://host/x", "/%zz", "/%4", "/x?k=%00"}) {
    Status s;
    Parse(bad, &s);
    EXPECT_EQ(s.code(), Status::Code::kInvalid) << bad;
  }
  for (const char* ok : {"/", "/index.html", "/app.js?v=1", "/a..b/c", "/...", "/%2e%2e.js"}) {
    Status s;
    Parse(ok, &s);
    EXPECT_TRUE(s.ok()) << ok << ": " << s.message();
  }
}

TEST(RouterTest, PercentDecode) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b+c", true, &out));
  EXPECT_EQ(out, "a b c");
  EXPECT_TRUE(PercentDecode("a+b", false, &out));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("%g0", false, &out));
  EXPECT_FALSE(PercentDecode("x%00", false, &out));
}

TEST(RouterTest, ParseOrRefuseAnswers400BeforeRouting) {
  HttpRequest r;
  auto refusal = ParseOrRefuse("/../x?token=tok", &r);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 400);
  EXPECT_EQ(refusal->route, "rejected");
  EXPECT_FALSE(ParseOrRefuse("/api/v1/runs?token=tok", &r).has_value());
  EXPECT_EQ(r.segments.size(), 3u);
}

TEST(RouterTest, LoopbackBinds) {
  for (const char* ok : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"}) {
    EXPECT_TRUE(IsLoopbackBind(ok)) << ok;
  }
  for (const char* no : {"0.0.0.0", "::", "10.0.0.1", "127.0.0", "127.0.0.1.5", "127.0.0.256",
                         "127.a.0.1", "localhost.evil.com", "", "128.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackBind(no)) << no;
  }
}

TEST(RouterTest, IntParamNamesTheParameter) {
  HttpRequest r = Parse("/x?width=abc&limit=0&offset=12&big=99999999999999999999&neg=-5");
  std::optional<int64_t> v;
  Status s = IntParam(r, "width", 1, 10000, &v);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_EQ(s.message().rfind("width: 'abc' is not an integer", 0), 0u) << s.message();
  s = IntParam(r, "limit", 1, 100, &v);
  EXPECT_EQ(s.message().rfind("limit: 0 is out of range", 0), 0u) << s.message();
  EXPECT_FALSE(IntParam(r, "big", 0, 10, &v).ok());
  EXPECT_TRUE(IntParam(r, "neg", -10, 10, &v).ok());
  EXPECT_EQ(v, -5);
  ASSERT_TRUE(IntParam(r, "offset", 0, 100, &v).ok());
  EXPECT_EQ(v, 12);
  std::optional<int64_t> absent;
  EXPECT_TRUE(IntParam(r, "nothere", 0, 1, &absent).ok());
  EXPECT_FALSE(absent.has_value());
  HttpRequest d = Parse("/x?from=1.5&to=inf&bad=1x");
  std::optional<double> dv;
  ASSERT_TRUE(DoubleParam(d, "from", &dv).ok());
  EXPECT_EQ(dv, 1.5);
  EXPECT_EQ(DoubleParam(d, "to", &dv).code(), Status::Code::kInvalid);
  EXPECT_EQ(DoubleParam(d, "bad", &dv).message().rfind("bad:", 0), 0u);
}

TEST(RouterTest, ServesOnlyEmbeddedFiles) {
  ASSERT_FALSE(UiAssets().empty());
  HttpResponse index = ServeAsset("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_FALSE(index.body.empty());
  for (const UiAsset& a : UiAssets()) {
    HttpResponse r = ServeAsset(a.path);
    EXPECT_EQ(r.status, 200) << a.path;
    EXPECT_EQ(r.body, a.body);
    EXPECT_EQ(r.content_type, a.content_type);
  }
  EXPECT_EQ(ServeAsset("/etc/passwd").status, 404);
  EXPECT_EQ(ServeAsset("/index.html/").status, 404);
  EXPECT_EQ(ServeAsset("/CMakeLists.txt").status, 404);
}

TEST(RouterTest, ErrorsAreJsonWithTheirStatus) {
  HttpResponse r = ErrorFor(Status::Invalid("width: bad"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"width: bad"})");
  EXPECT_EQ(ErrorFor(Status::NotFound("x")).status, 404);
  EXPECT_EQ(ErrorFor(Status::Io("x")).status, 500);
}

}  // namespace
}  // namespace inloop::http
