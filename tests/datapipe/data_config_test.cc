// The [data] section of inloop.toml (config/data_section.h): fields, defaults, and errors that
// name file:line and the field.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "config/config.h"
#include "ingest/sdk_message.h"

namespace inloop::config {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/inloop-dataconf-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

Status Load(const std::string& text, Config* c) {
  std::string p = WriteTemp(text);
  Status s = LoadConfig(p, c);
  std::remove(p.c_str());
  return s;
}

TEST(DataConfigTest, ReadsStepsAndChecks) {
  Config c;
  Status s = Load(R"(
[[data.step]]
name = "tok"
command = ["python3", "tok.py", "{inputs}", "{outputs}"]
inputs = ["corpus.jsonl"]
outputs = ["train.bin", "val.bin"]
env = ["SEED"]

[[data.step.validate]]
output = "train.bin"
dtype = "uint16"
vocab_size = 65
repeated_ngrams = { max_rate = 0.1, severity = "warn" }

[[data.step]]
name = "clean"
command = ["clean"]
outputs = ["c.jsonl"]
[[data.step.validate]]
severity = "warn"
schema = { text = "string" }
near_duplicates = { field = "text", threshold = 0.9, severity = "error" }
drift = { numeric = ["length"], categorical = ["lang"] }
)", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(c.data.steps.size(), 2u);
  const auto& tok = c.data.steps[0];
  EXPECT_EQ(tok.outputs.size(), 2u);
  EXPECT_EQ(tok.env, (std::vector<std::string>{"SEED"}));
  ASSERT_EQ(tok.validate.size(), 1u);
  EXPECT_EQ(tok.validate[0].format, "tokens");  // from .bin
  EXPECT_EQ(tok.validate[0].vocab_size, 65);
  EXPECT_EQ(tok.validate[0].repeated_ngrams.severity, data::Severity::kWarn);
  EXPECT_DOUBLE_EQ(*tok.validate[0].repeated_ngrams.max_rate, 0.1);
  const auto& v = c.data.steps[1].validate[0];
  EXPECT_EQ(v.output, "c.jsonl");  // the only output
  EXPECT_EQ(v.format, "jsonl");
  EXPECT_EQ(v.severity, data::Severity::kWarn);
  EXPECT_EQ(v.near_duplicates.severity, data::Severity::kError);
  EXPECT_DOUBLE_EQ(v.near_duplicates.threshold, 0.9);
  EXPECT_TRUE(v.drift.enabled);
  EXPECT_EQ(v.drift.categorical, (std::vector<std::string>{"lang"}));
}

TEST(DataConfigTest, ExecutorAndSlurmOptions) {
  Config c;
  Status s = Load("[data]\nexecutor = \"slurm\"\n[data.slurm]\npartition = \"cpu\"\ntime = \"00:30:00\"\n"
                  "[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\n", &c);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(c.data.executor, "slurm");
  EXPECT_EQ(c.data.slurm_partition, "cpu");
  EXPECT_EQ(c.data.slurm_time, "00:30:00");
  Config d;
  ASSERT_TRUE(Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\n", &d).ok());
  EXPECT_EQ(d.data.executor, "local");
  s = Load("[data]\nexecutor = \"k8s\"\n", &c);
  EXPECT_NE(s.message().find("data.executor must be \"local\" or \"slurm\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();
  s = Load("[data.slurm]\nqos = \"high\"\n", &c);
  EXPECT_NE(s.message().find("unknown field 'data.slurm.qos'"), std::string::npos) << s.message();
}

TEST(DataConfigTest, ErrorsNameLineAndField) {
  Config c;
  Status s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\nbogus = 1\n", &c);
  EXPECT_NE(s.message().find(":5:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("unknown field 'data.step.bogus'"), std::string::npos);
  s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\", \"p\"]\n"
           "[[data.step.validate]]\nrows = { min = 1 }\n", &c);
  EXPECT_NE(s.message().find("say which one validate.output checks"), std::string::npos) << s.message();
  s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\n"
           "[[data.step.validate]]\noutput = \"q\"\n", &c);
  EXPECT_NE(s.message().find("'q' is not an output of step 'a'"), std::string::npos);
  s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\n[[data.step]]\n"
           "name = \"a\"\ncommand = [\"y\"]\noutputs = [\"p\"]\n", &c);
  EXPECT_NE(s.message().find("two data steps are named 'a'"), std::string::npos);
  s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\noutputs = [\"o\"]\n"
           "[[data.step.validate]]\nduplicates = { severity = \"fatal\" }\n", &c);
  EXPECT_NE(s.message().find("must be \"warn\" or \"error\""), std::string::npos);
  s = Load("[[data.step]]\nname = \"a\"\ncommand = [\"x\"]\n", &c);
  EXPECT_NE(s.message().find("needs at least one output"), std::string::npos);
}

TEST(DataConfigTest, SdkDatasetMessage) {
  ingest::SdkMessage m;
  ASSERT_TRUE(ingest::ParseSdkMessage(R"({"t":"dataset","name":"train","path":"/d/train.bin"})", &m));
  EXPECT_EQ(m.type, ingest::SdkMessage::Type::kDataset);
  EXPECT_EQ(m.name, "train");
  EXPECT_EQ(m.path, "/d/train.bin");
  EXPECT_FALSE(ingest::ParseSdkMessage(R"({"t":"dataset","name":"x"})", &m));
}

}  // namespace
}  // namespace inloop::config
