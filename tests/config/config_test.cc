// inloop.toml: defaults, fields, and errors that name file:line and the field.
#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace inloop::config {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/inloop-config-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, ReadsFields) {
  auto p = WriteTemp(R"(
[run]
grace_seconds = 5

[[parse.patterns]]
name = "eval"
regex = 'EVAL (?<step>\d+) acc=(?<eval_acc>[0-9.]+)'
)");
  Config c;
  ASSERT_TRUE(LoadConfig(p, &c).ok());
  EXPECT_EQ(c.grace_seconds, 5);
  ASSERT_EQ(c.patterns.size(), 1u);
  EXPECT_EQ(c.patterns[0].name, "eval");
  std::remove(p.c_str());
}

TEST(ConfigTest, UnknownFieldNamesLine) {
  auto p = WriteTemp("[run]\ngrace_secs = 5\n");
  Config c;
  Status s = LoadConfig(p, &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("run.grace_secs"), std::string::npos) << s.message();
  std::remove(p.c_str());
}

TEST(ConfigTest, BadTomlAndBadType) {
  auto p = WriteTemp("[run\n");
  Config c;
  EXPECT_EQ(LoadConfig(p, &c).code(), Status::Code::kInvalid);
  std::ofstream(p) << "[run]\ngrace_seconds = \"soon\"\n";
  Status s = LoadConfig(p, &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("grace_seconds"), std::string::npos);
  std::remove(p.c_str());
  EXPECT_EQ(LoadConfig("/nonexistent/inloop.toml", &c).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace inloop::config
