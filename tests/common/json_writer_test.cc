// JsonWriter: structure, escaping, non-finite numbers, invalid UTF-8.
#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace inloop {
namespace {

TEST(JsonWriterTest, BuildsNestedValues) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Number(2.5).String("x").Null().EndArray();
  w.Key("c").Bool(true).EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[2.5,"x",null],"c":true})");
}

TEST(JsonWriterTest, NonFiniteAsStrings) {
  JsonWriter w;
  w.BeginArray().Number(std::nan("")).Number(std::numeric_limits<double>::infinity());
  w.Number(-std::numeric_limits<double>::infinity()).Number(3e-4).EndArray();
  EXPECT_EQ(w.str(), R"(["NaN","Infinity","-Infinity",0.0003])");
}

TEST(JsonWriterTest, EscapesAndReplacesInvalidUtf8) {
  std::string out;
  AppendJsonString(&out, "a\"b\\c\n\x01 \xff ok \xc3\xa9");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001 \xef\xbf\xbd ok \xc3\xa9\"");
}

}  // namespace
}  // namespace inloop
