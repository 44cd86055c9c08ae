// The pieces under the readers: the YAML subset, format detection, line ends and wall-time
// text; and hostile input (truncations of every sample, invalid UTF-8, a 10 MB line) through
// every reader, which must neither crash nor lose the good records.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "import_fixture.h"
#include "importers/csv_reader.h"
#include "importers/detect_format.h"
#include "importers/jsonl_reader.h"
#include "importers/lightning_reader.h"
#include "importers/log_reader.h"
#include "importers/mlflow_reader.h"
#include "importers/simple_yaml.h"
#include "importers/text_input.h"
#include "importers/trainer_state_reader.h"

namespace inloop::importers {
namespace {

std::string Yaml(std::string_view text, std::string* problems = nullptr) {
  std::vector<YamlEntry> entries;
  std::vector<YamlProblem> probs;
  ReadSimpleYaml(text, &entries, &probs);
  std::string out;
  for (auto& e : entries) out += fmt::format("{}={}|", e.key, e.value);
  if (problems) {
    problems->clear();
    for (auto& p : probs) *problems += fmt::format("{} ", p.line);
  }
  return out;
}

TEST(ImportYamlTest, MapsScalarsAndLists) {
  std::string probs;
  EXPECT_EQ(Yaml("---\n"
                 "# comment\n"
                 "a: 1  # trailing\n"
                 "b:\n"
                 "  c: \"x\\ty \\u00e9\"\n"
                 "  d:\n"
                 "    e: 'it''s'\n"
                 "  f: [1, 2,\n"
                 "     3]\n"
                 "g:\n"
                 "  - 1\n"
                 "  - two\n"
                 "h: {k: v}\n"
                 "i: |\n"
                 "  line one\n"
                 "  line two\n"
                 "j: a long plain\n"
                 "  scalar folded\n"
                 "k:\n"
                 "l: null\n"
                 "m:\n"
                 "- name: x\n"
                 "  size: 2\n"
                 "url: http://host:80/p\n",
                 &probs),
            "a=1|b/c=x\ty \xC3\xA9|b/d/e=it's|b/f=[1, 2, 3]|g=[1, two]|h={k: v}|"
            "i=line one\nline two|j=a long plain scalar folded|k=|l=null|"
            "m=- name: x\n  size: 2|url=http://host:80/p|");
  EXPECT_EQ(probs, "");
}

TEST(ImportYamlTest, WhatItCannotReadIsAProblemWithItsLine) {
  std::string probs;
  EXPECT_EQ(Yaml("a: &anchor 1\n"
                 "b: *anchor\n"
                 "c: 2\n"
                 "   d: 3\n"
                 "- stray\n"
                 "no colon here\n"
                 "e: \"never closed\n"
                 "f: 4\n"
                 "---\n"
                 "g: 5\n",
                 &probs),
            "c=2|e=never closed|f=4|");
  EXPECT_EQ(probs, "1 2 4 5 6 7 9 ");
  EXPECT_EQ(Yaml("", &probs), "");
  EXPECT_EQ(Yaml("\xff\xfe: \x80\n  \t\n", &probs), "\xff\xfe=\x80|");
}

TEST(ImportYamlTest, DeepNestingStaysBounded) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  std::string probs;
  std::string out = Yaml(text, &probs);
  EXPECT_EQ(out.substr(out.size() - 4), "/k=|");
}

TEST(ImportTextTest, WallTimes) {
  double t = 0;
  EXPECT_TRUE(ParseWallTime("1700000000.25", &t));
  EXPECT_EQ(t, 1700000000.25);
  EXPECT_TRUE(ParseWallTime("1700000000250", &t));
  EXPECT_EQ(t, 1700000000.25);
  EXPECT_TRUE(ParseWallTime("1970-01-02", &t));
  EXPECT_EQ(t, 86400);
  EXPECT_TRUE(ParseWallTime("2000-03-01T00:00:00.5+00:30", &t));
  EXPECT_EQ(t, 951868800.5 - 1800);
  EXPECT_TRUE(ParseWallTime("\"2024-02-29 23:59:59 UTC\"", &t));
  EXPECT_EQ(t, 1709251199);
  EXPECT_FALSE(ParseWallTime("2024-13-01", &t));
  EXPECT_FALSE(ParseWallTime("-5", &t));
  EXPECT_FALSE(ParseWallTime("nan", &t));
  EXPECT_FALSE(ParseWallTime("2024-01-01T10:00junk", &t));
  EXPECT_FALSE(ParseWallTime("", &t));
}

using ImportLinesTest = ImportFixture;

TEST_F(ImportLinesTest, LfCrlfCrAndBom) {
  std::string path = Write("l.txt", "\xEF\xBB\xBF" "a\r\nb\rc\n\nd\r\r\ne");
  LineReader r;
  ASSERT_TRUE(r.Open(path).ok());
  std::string_view line;
  int64_t no;
  bool too_long;
  std::string got;
  while (r.Next(&line, &no, &too_long)) got += fmt::format("{}:{}|", no, line);
  EXPECT_EQ(got, "1:a|2:b|3:c|4:|5:d|6:|7:e|");
  EXPECT_EQ(r.bytes(), 16);
}

using ImportDetectTest = ImportFixture;

TEST_F(ImportDetectTest, NamesAndContents) {
  std::string d = dir_ + "/";
  EXPECT_EQ(DetectFormat(Write("events.out.tfevents.1700000000.host.123.0", "x")), "tfevents");
  EXPECT_EQ(DetectFormat(Write("ck/trainer_state.json", "{}")), "trainer_state");
  EXPECT_EQ(DetectFormat(Write("state.json", "{\n  \"epoch\": 1,\n  \"log_history\": []\n}")),
            "trainer_state");
  EXPECT_EQ(DetectFormat(Write("v0/metrics.csv", "step,loss\n1,2\n")), "csv");
  Write("v1/hparams.yaml", "lr: 1\n");
  EXPECT_EQ(DetectFormat(Write("v1/metrics.csv", "step,loss\n1,2\n")), "lightning");
  EXPECT_EQ(DetectFormat(Write("sparse.csv", "epoch,step,a,b\n0,1,2,\n0,1,,3\n")), "lightning");
  EXPECT_EQ(DetectFormat(Write("dense.csv", "epoch,step,a,b\n0,1,2,4\n0,2,1,3\n")), "csv");
  EXPECT_EQ(DetectFormat(Write("long.CSV", "run,key,step,value\n")), "csv");
  EXPECT_EQ(DetectFormat(Write("m.jsonl", "")), "jsonl");
  EXPECT_EQ(DetectFormat(Write("m.ndjson", "")), "jsonl");
  EXPECT_EQ(DetectFormat(Write("lines.json", "{\"loss\": 1}\n{\"loss\": {\"a\": 2}}\n")),
            "jsonl");
  EXPECT_EQ(DetectFormat(Write("config.json", "{\n  \"hidden\": 1\n}\n")), "");
  EXPECT_EQ(DetectFormat(Write("summary.json", "{\"loss\": 1}\n")), "");
  EXPECT_EQ(DetectFormat(Write("list.json", "[1]\n")), "");
  EXPECT_EQ(DetectFormat(Write("train.log", "")), "log");
  EXPECT_EQ(DetectFormat(Write("out.TXT", "")), "log");
  EXPECT_EQ(DetectFormat(Write("slurm-1.out", "")), "log");
  EXPECT_EQ(DetectFormat(Write("hparams.yaml", "")), "");
  EXPECT_EQ(DetectFormat(Write("model.bin", "")), "");
  Write("mlruns/0/abc/meta.yaml", "run_id: abc\n");
  std::filesystem::create_directories(d + "mlruns/0/abc/metrics");
  EXPECT_EQ(DetectFormat(d + "mlruns/0/abc"), "mlflow");
  EXPECT_EQ(DetectFormat(d + "mlruns/0"), "");
  EXPECT_EQ(DetectFormat(d + "does-not-exist.csv"), "csv");
}

using ImportRobustnessTest = ImportFixture;

using Reader = Status (*)(const std::string&, ImportBatch*);

// Every prefix of each sample, through its reader: no crash, no hang, and never more runs than
// the whole file gives.
TEST_F(ImportRobustnessTest, EveryTruncationOfEverySample) {
  const std::string trainer =
      "{\n  \"global_step\": 2,\n  \"log_history\": [\n    {\"loss\": NaN, \"step\": 1},\n"
      "    {\"loss\": 1.0, \"step\": 2, \"s\": \"a\\\"}\"}\n  ],\n  \"trial_params\": {\"x\": "
      "[1, {\"y\": 2}]}\n}\n";
  const std::string csv = "\xEF\xBB\xBFstep,\"a\"\"b\",time\r\n1,\"2\",2024-01-01\r\n2,3,\r\n";
  const std::string long_csv = "run,key,step,value\nr,loss,1,2\nr,loss,2,\"3\"\n";
  const std::string jsonl = "{\"step\": 1, \"a\": {\"b\": [1, 2]}, \"time\": \"2024-01-01\"}\n";
  const std::string log = "iteration 1/ 10 | lm loss: 2.0 | learning\n rate: 1.0 |\nstep=2 l=1\n";
  const std::string yaml = "a:\n  b: 'x\n  y'\n  c: |\n    z\nd: [1,\n  2]\n- e\n";
  struct Case {
    std::string name, text;
    Reader read;
  };
  std::vector<Case> cases = {{"t/trainer_state.json", trainer, &ReadTrainerState},
                             {"c.csv", csv, &ReadCsv},
                             {"l.csv", long_csv, &ReadCsv},
                             {"j.jsonl", jsonl, &ReadJsonl},
                             {"x.log", log, &ReadLog},
                             {"lightning_logs/version_0/metrics.csv", csv, &ReadLightning}};
  for (const Case& c : cases) {
    for (size_t n = 0; n <= c.text.size(); ++n) {
      if (c.read == &ReadLightning) Write("lightning_logs/version_0/hparams.yaml", yaml.substr(0, n));
      ImportBatch b;
      Status s = c.read(Write(c.name, c.text.substr(0, n)), &b);
      ASSERT_TRUE(s.ok()) << c.name << " cut at " << n << ": " << s.message();
      ASSERT_LE(b.runs.size(), 1u);
      for (const ImportIssue& i : b.issues) ASSERT_FALSE(i.path.empty());
    }
  }
}

TEST_F(ImportRobustnessTest, InvalidUtf8AndControlBytesAreReadAround) {
  std::string junk = "\xff\xfe\x80\x01\x7f";
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("u.csv", "step,l\xff" "oss,ok\n1," + junk + ",2\n2,3,4\n"), &b).ok());
  ASSERT_TRUE(ReadJsonl(Write("u.jsonl", "{\"step\": 1, \"ok\": 2}\n" + junk + "\n{\"" + junk +
                                             "\": 1, \"step\": 2, \"ok\": 3}\n"),
                        &b)
                  .ok());
  ASSERT_TRUE(ReadLog(Write("u.log", junk + " step=1 loss=2\n" + junk + "\n"), &b).ok());
  ASSERT_EQ(b.runs.size(), 3u);
  EXPECT_EQ(Points(b.runs[0], "ok"), "1:2 2:4");
  EXPECT_EQ(Points(b.runs[0], "l\xff" "oss"), "2:3");
  EXPECT_EQ(Points(b.runs[1], "ok"), "1:2 2:3");
  EXPECT_EQ(IssueLines(b), "u.csv:2 u.jsonl:2") << IssueText(b);
  for (const ImportIssue& i : b.issues)
    EXPECT_EQ(i.message.find('\x01'), std::string::npos) << "control byte in a message";
}

TEST_F(ImportRobustnessTest, TenMegabyteLines) {
  std::string big(10u << 20, 'x');
  ImportBatch b;
  ASSERT_TRUE(ReadJsonl(Write("big.jsonl", "{\"step\": 1, \"loss\": 2}\n{\"s\": \"" + big +
                                               "\", \"step\": 2, \"loss\": 1}\n" + big + "\n"),
                        &b)
                  .ok());
  ASSERT_TRUE(ReadCsv(Write("big.csv", "step,loss\n1,2\n2," + big + "\n3,1\n"), &b).ok());
  ASSERT_TRUE(ReadLog(Write("big.log", "step=1 loss=2\n" + big + " loss=3\nstep=3 loss=1\n"), &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 3u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "1:2 2:1");
  EXPECT_EQ(Points(b.runs[1], "loss"), "1:2 3:1");
  EXPECT_EQ(Points(b.runs[2], "loss").substr(0, 3), "1:2");
  EXPECT_EQ(IssueLines(b), "big.jsonl:3 big.csv:3") << IssueText(b);
}

}  // namespace
}  // namespace inloop::importers
