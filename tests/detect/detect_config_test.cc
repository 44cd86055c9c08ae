// The [detect] table of inloop.toml: defaults, fields, and errors naming file:line:col and field.
#include "detect/detect_config.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <string>
#include <string_view>

namespace inloop::detect {
namespace {

// Debian's toml++ is a compiled library built with exceptions (see config/config.cc).
Status Load(const std::string& text, DetectConfig* c) {
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view("inloop.toml"));
  } catch (const toml::parse_error& e) {
    ADD_FAILURE() << e.description();
    return Status::Invalid("bad toml");
  }
  const toml::table* detect = root["detect"].as_table();
  EXPECT_NE(detect, nullptr);
  return detect ? LoadDetectConfig(*detect, "inloop.toml", c) : Status::Invalid("no [detect]");
}

TEST(DetectConfigTest, DefaultsAreValid) {
  DetectConfig c;
  EXPECT_TRUE(ValidateDetectConfig(c).ok());
  EXPECT_EQ(c.spike_window, 128);
  EXPECT_EQ(c.spike_min_points, 32);
  EXPECT_DOUBLE_EQ(c.spike_z, 6.0);
  EXPECT_DOUBLE_EQ(c.spike_min_rel_jump, 0.25);
  EXPECT_DOUBLE_EQ(c.hang_floor_seconds, 300);
}

TEST(DetectConfigTest, ReadsFields) {
  DetectConfig c;
  Status s = Load(R"(
[detect]
spike_window = 64
spike_min_points = 16
spike_z = 8          # an integer would do too
spike_min_rel_jump = 0.5
divergence_recover_steps = 250
hang_floor_seconds = 2
hang_factor = 4
loss_keys = ["loss", "nll"]
)",
                  &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.spike_window, 64);
  EXPECT_EQ(c.spike_min_points, 16);
  EXPECT_DOUBLE_EQ(c.spike_z, 8);
  EXPECT_DOUBLE_EQ(c.spike_min_rel_jump, 0.5);
  EXPECT_EQ(c.divergence_recover_steps, 250);
  EXPECT_DOUBLE_EQ(c.hang_floor_seconds, 2);
  ASSERT_EQ(c.loss_keys.size(), 2u);
  EXPECT_EQ(c.loss_keys[1], "nll");
  EXPECT_EQ(c.grad_window, 128);  // untouched
}

TEST(DetectConfigTest, UnknownFieldNamesFileLineAndField) {
  DetectConfig c;
  Status s = Load("[detect]\nspike_window = 64\nspike_zz = 3\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("inloop.toml:3:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("detect.spike_zz"), std::string::npos) << s.message();
  EXPECT_EQ(c.spike_window, 128);  // *out untouched on error
}

TEST(DetectConfigTest, WrongTypes) {
  DetectConfig c;
  Status s = Load("[detect]\nspike_window = 6.5\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("inloop.toml:2:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("detect.spike_window must be an integer"), std::string::npos);
  s = Load("[detect]\nspike_z = \"high\"\n", &c);
  EXPECT_NE(s.message().find("detect.spike_z must be a number"), std::string::npos);
  s = Load("[detect]\nloss_keys = [\"loss\", 3]\n", &c);
  EXPECT_NE(s.message().find("array of strings"), std::string::npos);
}

TEST(DetectConfigTest, OutOfRange) {
  DetectConfig c;
  Status s = Load("[detect]\n\nspike_min_points = 500\n", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("inloop.toml:3:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("spike_min_points must be <= spike_window"), std::string::npos);
  s = Load("[detect]\nthroughput_drop = 1.5\n", &c);
  EXPECT_NE(s.message().find("detect.throughput_drop must be in (0, 1)"), std::string::npos)
      << s.message();
  s = Load("[detect]\nhang_floor_seconds = 0\n", &c);
  EXPECT_FALSE(s.ok());
  s = Load("[detect]\nplateau_window = 0\n", &c);  // 0 turns it off
  EXPECT_TRUE(s.ok()) << s.message();
}

}  // namespace
}  // namespace inloop::detect
