// JsonMetrics: simdjson and the tolerant scanner agree on JSON; the scanner reads what Python
// prints; hostile input (deep nesting, huge objects, bad UTF-8) stays bounded and safe.
#include "ingest/json_metrics.h"
#include "ingest/sdk_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parsed_line_text.h"

namespace inloop::ingest {
namespace {

enum class Grammar { kAuto, kStrict, kLoose };

std::string ParseWith(JsonMetrics& json, std::string_view object, Grammar g = Grammar::kAuto) {
  ParsedLine out;
  MetricSink sink(&out);
  sink.Reset();
  bool ok = g == Grammar::kStrict  ? json.ParseStrict(object, &sink)
            : g == Grammar::kLoose ? json.ParseLoose(object, &sink)
                                   : json.Parse(object, &sink);
  if (!ok) return "error";
  return ParsedLineText(out.metrics.size() > 0 || out.has_step, out);
}

TEST(JsonMetricsTest, StrictAndLooseAgreeOnJson) {
  const std::vector<std::string> objects = {
      R"({"step": 12345, "loss": 2.3456, "lr": 0.0003, "grad_norm": 1.234})",
      R"({"train": {"loss": 1.2, "acc": 0.5}, "eval": {"loss": 1.4}, "global_step": 7})",
      R"({"loss": "2.34", "v": "nan", "s": "hello", "b": true, "n": null, "a": [1, {"x": 2}]})",
      R"({"caf\u00e9": 1.5, "esc\"aped": 3, "emoji\ud83d\ude00": 4, "tab\tkey": 5})",
      R"({"step": 1.5, "update": 3, "iter": 4, "loss": -1e-3, "big": 146341199872})",
      R"({"loss": 1, "loss": 2, "": 3, "nested": {"step": 9}})",
      R"( { "a" : { } , "b" : [ ] , "c" : 0 } )",
      R"({"deep": {"a": {"b": {"c": {"d": 1}}}}, "x": 1E+5})"};
  JsonMetrics json;
  for (const std::string& o : objects) {
    std::string strict = ParseWith(json, o, Grammar::kStrict);
    EXPECT_NE(strict, "error") << o;
    EXPECT_EQ(ParseWith(json, o, Grammar::kLoose), strict) << o;
  }
}

TEST(JsonMetricsTest, SimdjsonRejectsBareNonFiniteAndTheScannerReadsThem) {
  JsonMetrics json;
  std::string o = R"({"step": 3, "loss": NaN, "a": Infinity, "b": -Infinity, "c": nan})";
  EXPECT_EQ(ParseWith(json, o, Grammar::kStrict), "error");
  EXPECT_EQ(ParseWith(json, o), "step=3 loss=nan a=inf b=-inf c=nan");
}

TEST(JsonMetricsTest, PythonDictPrints) {
  JsonMetrics json;
  EXPECT_EQ(ParseWith(json,
                      "{'loss': 2.3142, 'grad_norm': 1.93, 'learning_rate': 4.9e-05, "
                      "'epoch': 0.12}"),
            "loss=2.3142 grad_norm=1.93 learning_rate=4.9e-05 epoch=0.12");
  EXPECT_EQ(ParseWith(json,
                      "{'loss': tensor(2.31, device='cuda:0'), 'g': torch.tensor(1.5), "
                      "'v': tensor([1.0, 2.0]), 'n': np.float64(0.25), 'd': datetime(2024, 1, 1)}"),
            "loss=2.31 g=1.5 n=0.25");
  EXPECT_EQ(
      ParseWith(json, "{'a': True, 'b': None, 'c': (1, 2), 'd': 'text', 'e': \"x'y\", 'f': 1,}"),
      "f=1");
  EXPECT_EQ(ParseWith(json, "{loss: 1.5, 'it\\'s': 2}"), "loss=1.5 it's=2");
  EXPECT_EQ(ParseWith(json, "{1: 2.5, 'ok': 1}"), "ok=1");
}

TEST(JsonMetricsTest, MalformedObjectsAreErrors) {
  JsonMetrics json;
  for (const char* o :
       {"{", "{\"a\": }", "{\"a\" 1}", "{\"a\": 1", "{'a': <obj>}", "{\"a\": 1}}", "{\"a\": [1, 2}",
        "{\"a\": \"unterminated}", "{\"a\": 1 \"b\": 2}", "{\"a\": 1.5.5}", "{\"a\": 1e}"}) {
    EXPECT_EQ(ParseWith(json, o), "error") << o;
  }
}

TEST(JsonMetricsTest, KeysThatCannotBeNamesAreSkipped) {
  JsonMetrics json;
  // Invalid UTF-8 in a key (the scanner path), a control character, an over-long key.
  std::string bad = "{\"ok\": 1, \"bad\xff\": 2, \"ctl\\u0001\": 3, \"" + std::string(300, 'k') +
                    "\": 4, \"nested\xc3\": {\"x\": 5}}";
  EXPECT_EQ(ParseWith(json, bad), "ok=1");
  EXPECT_FALSE(IsUsableJsonKey(""));
  EXPECT_FALSE(IsUsableJsonKey("a\nb"));
  EXPECT_FALSE(IsUsableJsonKey("\xed\xa0\x80"));  // a UTF-16 surrogate encoded in UTF-8
  EXPECT_TRUE(IsUsableJsonKey("train/loss"));
  EXPECT_TRUE(IsUsableJsonKey("caf\xc3\xa9"));
}

TEST(JsonMetricsTest, DeepNestingIsBoundedAndSafe) {
  JsonMetrics json;
  for (int levels : {2000, 100000}) {  // within and beyond simdjson's size limit
    std::string deep;
    for (int i = 0; i < levels; ++i) deep += "{\"a\":";
    deep += "1";
    for (int i = 0; i < levels; ++i) deep += "}";
    EXPECT_EQ(ParseWith(json, deep), "-") << levels;
  }
  std::string open_only(1 << 20, '{');
  EXPECT_EQ(ParseWith(json, open_only), "error");
  // 40 levels: keys nest up to the depth limit, deeper levels are skipped.
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "{\"k\":";
  forty += "1";
  for (int i = 0; i < 40; ++i) forty += "}";
  EXPECT_EQ(ParseWith(json, forty, Grammar::kStrict), ParseWith(json, forty, Grammar::kLoose));
}

TEST(JsonMetricsTest, ThousandsOfKeysAreAllKept) {
  // Per-task evaluation logs and W&B history rows carry 1,500+ keys on one line.
  JsonMetrics json;
  std::string o = "{\"step\": 7";
  for (int i = 0; i < 5000; ++i)
    o += ", \"task" + std::to_string(i) + "/acc\": " + std::to_string(i);
  o += ", \"task17/acc\": -1}";  // a repeated key: the last value wins, no second entry
  ParsedLine out;
  MetricSink sink(&out);
  sink.Reset();
  ASSERT_TRUE(json.Parse(o, &sink));
  ASSERT_EQ(out.metrics.size(), 5000u);
  EXPECT_EQ(out.dropped, 0u);
  EXPECT_EQ(out.metrics[17].key, "task17/acc");
  EXPECT_EQ(out.metrics[17].value, -1);
  EXPECT_EQ(out.metrics.back().key, "task4999/acc");
  EXPECT_EQ(out.metrics.back().value, 4999);
  EXPECT_EQ(out.step, 7);
}

TEST(JsonMetricsTest, SdkLogCallKeepsEveryMetric) {
  // inloop.log({...}) of 2,000 per-task accuracies: the SDK path has no per-call cap.
  std::string line = R"({"t": "log", "step": 4, "metrics": {)";
  for (int i = 0; i < 2000; ++i)
    line += (i ? ", " : "") + ("\"task" + std::to_string(i) + "\": 0.5");
  line += "}}";
  SdkMessage msg;
  ASSERT_TRUE(ParseSdkMessage(line, &msg));
  ASSERT_EQ(msg.metrics.size(), 2000u);
  EXPECT_EQ(msg.metrics.back().first, "task1999");
  EXPECT_EQ(msg.step, 4);
}

TEST(JsonMetricsTest, PastTheBoundTheDroppedAreCounted) {
  ParsedLine out;
  MetricSink sink(&out);
  sink.Reset();
  for (size_t i = 0; i < kMaxMetricsPerLine + 3; ++i) sink.Add("k" + std::to_string(i), 1);
  sink.Add("k5", 2);  // an existing key still updates once the line is full
  EXPECT_EQ(out.metrics.size(), kMaxMetricsPerLine);
  EXPECT_EQ(out.dropped, 3u);
  EXPECT_TRUE(sink.full());
  EXPECT_EQ(out.metrics[5].value, 2);
  sink.Reset();
  EXPECT_EQ(out.dropped, 0u);
  EXPECT_FALSE(sink.full());
  sink.Add("a", 1);
  sink.Add("a", 3);
  ASSERT_EQ(out.metrics.size(), 1u);
  EXPECT_EQ(out.metrics[0].value, 3);
}

}  // namespace
}  // namespace inloop::ingest
