// The file importers on samples shaped like what the real tools write (HF Trainer, Lightning
// CSVLogger, MLflow's file store, W&B-style JSONL, training logs): exact points, params, names,
// issues with their lines, and skipped counts.
#include <gtest/gtest.h>

#include <string>

#include "import_fixture.h"
#include "importers/csv_reader.h"
#include "importers/jsonl_reader.h"
#include "importers/lightning_reader.h"
#include "importers/log_reader.h"
#include "importers/mlflow_reader.h"
#include "importers/trainer_state_reader.h"

namespace inloop::importers {
namespace {

// As transformers' Trainer writes it (json.dumps(indent=2, sort_keys=True)); NaN is Python's.
constexpr std::string_view kTrainerState = R"({
  "best_metric": 0.4123,
  "best_model_checkpoint": "out/checkpoint-500",
  "epoch": 2.0,
  "eval_steps": 500,
  "global_step": 1000,
  "is_hyper_param_search": false,
  "is_local_process_zero": true,
  "is_world_process_zero": true,
  "log_history": [
    {
      "epoch": 0.01,
      "grad_norm": 3.5,
      "learning_rate": 4.99e-05,
      "loss": 2.3142,
      "step": 10
    },
    {
      "epoch": 0.02,
      "grad_norm": NaN,
      "learning_rate": 4.98e-05,
      "loss": 2.1,
      "step": 20
    },
    {
      "epoch": 1.0,
      "eval_accuracy": 0.81,
      "eval_loss": 0.4123,
      "eval_runtime": 12.5,
      "eval_samples_per_second": 80.0,
      "eval_steps_per_second": 10.0,
      "step": 500
    },
    {
      "epoch": 2.0,
      "step": 1000,
      "total_flos": 1.2345e+15,
      "train_loss": 0.9,
      "train_runtime": 300.5,
      "train_samples_per_second": 53.2,
      "train_steps_per_second": 3.3
    }
  ],
  "logging_steps": 10,
  "max_steps": 1000,
  "num_input_tokens_seen": 0,
  "num_train_epochs": 2,
  "save_steps": 500,
  "stateful_callbacks": {
    "TrainerControl": {
      "args": {
        "should_epoch_stop": false,
        "should_training_stop": true
      },
      "attributes": {}
    }
  },
  "total_flos": 1.2345e+15,
  "train_batch_size": 8,
  "trial_name": null,
  "trial_params": {
    "learning_rate": 3e-05,
    "scheduler": "cosine"
  }
}
)";

using ImportTrainerStateTest = ImportFixture;

TEST_F(ImportTrainerStateTest, LogHistoryBecomesSeriesAndScalarsParams) {
  std::string path = Write("out/checkpoint-1000/trainer_state.json", kTrainerState);
  ImportBatch b;
  ASSERT_TRUE(ReadTrainerState(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "out");  // checkpoint-1000's parent
  EXPECT_EQ(r.format, "trainer_state");
  EXPECT_EQ(r.source, path);
  EXPECT_EQ(Points(r, "loss"), "10:2.3142 20:2.1");
  EXPECT_EQ(Points(r, "grad_norm"), "10:3.5 20:nan");
  EXPECT_EQ(Points(r, "learning_rate"), "10:4.99e-05 20:4.98e-05");
  EXPECT_EQ(Points(r, "epoch"), "10:0.01 20:0.02 500:1 1000:2");
  EXPECT_EQ(Points(r, "eval_loss"), "500:0.4123");
  EXPECT_EQ(Points(r, "eval_accuracy"), "500:0.81");
  EXPECT_EQ(Points(r, "train_runtime"), "1000:300.5");
  EXPECT_EQ(Points(r, "total_flos"), "1000:1234500000000000");
  EXPECT_EQ(Points(r, "step"), "<none>");
  EXPECT_EQ(Param(r, "global_step"), "1000");
  EXPECT_EQ(Param(r, "max_steps"), "1000");
  EXPECT_EQ(Param(r, "num_train_epochs"), "2");
  EXPECT_EQ(Param(r, "train_batch_size"), "8");
  EXPECT_EQ(Param(r, "logging_steps"), "10");
  EXPECT_EQ(Param(r, "eval_steps"), "500");
  EXPECT_EQ(Param(r, "save_steps"), "500");
  EXPECT_EQ(Param(r, "best_metric"), "0.4123");
  EXPECT_EQ(Param(r, "best_model_checkpoint"), "out/checkpoint-500");
  EXPECT_EQ(Param(r, "total_flos"), "1.2345e+15");
  EXPECT_EQ(Param(r, "epoch"), "2.0");
  EXPECT_EQ(Param(r, "is_hyper_param_search"), "false");
  EXPECT_EQ(Param(r, "trial_name"), "<none>");  // null
  EXPECT_EQ(Param(r, "trial_params/learning_rate"), "3e-05");
  EXPECT_EQ(Param(r, "trial_params/scheduler"), "cosine");
  EXPECT_EQ(Param(r, "log_history"), "<none>");
  EXPECT_EQ(Param(r, "stateful_callbacks"), "<none>");
  EXPECT_EQ(b.skipped["trainer_state:object field"], 1);
  EXPECT_EQ(b.records, 4);
  EXPECT_EQ(b.bytes, static_cast<int64_t>(kTrainerState.size()));
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(ImportTrainerStateTest, NamedAfterItsFolderWhenNotACheckpoint) {
  ImportBatch b;
  ASSERT_TRUE(ReadTrainerState(Write("bert-glue/trainer_state.json", kTrainerState), &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(b.runs[0].name, "bert-glue");
}

TEST_F(ImportTrainerStateTest, TruncatedFileKeepsTheCompleteEntries) {
  std::string text(kTrainerState);
  text.resize(text.find("\"eval_runtime\""));  // cut inside the third entry (line 25)
  std::string path = Write("run/trainer_state.json", text);
  ImportBatch b;
  ASSERT_TRUE(ReadTrainerState(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "10:2.3142 20:2.1");
  EXPECT_EQ(Points(b.runs[0], "eval_loss"), "<none>");
  EXPECT_EQ(Param(b.runs[0], "best_metric"), "0.4123");
  EXPECT_EQ(Param(b.runs[0], "max_steps"), "<none>");  // after the cut
  EXPECT_EQ(IssueLines(b), "trainer_state.json:25") << IssueText(b);
  EXPECT_EQ(b.skipped["trainer_state:truncated"], 1);
}

TEST_F(ImportTrainerStateTest, BadAndStepLessEntriesAreSkippedWithTheirLines) {
  std::string path = Write("run/trainer_state.json",
                           "{\n"
                           "  \"global_step\": 2,\n"
                           "  \"log_history\": [\n"
                           "    {\"loss\": 1.5, \"step\": 1},\n"
                           "    {\"loss\": 1.4},\n"
                           "    {\"loss\" 1.3, \"step\": 2},\n"
                           "    7,\n"
                           "    {\"loss\": 1.2, \"step\": 3}\n"
                           "  ]\n"
                           "}\n");
  ImportBatch b;
  ASSERT_TRUE(ReadTrainerState(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "1:1.5 3:1.2");
  EXPECT_EQ(IssueLines(b), "trainer_state.json:5 trainer_state.json:6 trainer_state.json:7")
      << IssueText(b);
  EXPECT_EQ(b.skipped["trainer_state:entry without step"], 1);
  EXPECT_EQ(b.skipped["trainer_state:bad entry"], 2);
  EXPECT_EQ(b.records, 5);
}

TEST_F(ImportTrainerStateTest, EmptyAndNonObjectFilesAreIssuesNotRuns) {
  ImportBatch b;
  ASSERT_TRUE(ReadTrainerState(Write("a/trainer_state.json", ""), &b).ok());
  ASSERT_TRUE(ReadTrainerState(Write("b/trainer_state.json", "\n\n[1, 2]\n"), &b).ok());
  EXPECT_TRUE(b.runs.empty());
  EXPECT_EQ(IssueLines(b), "trainer_state.json:0 trainer_state.json:3") << IssueText(b);
  EXPECT_EQ(ReadTrainerState(dir_ + "/missing/trainer_state.json", &b).code(),
            Status::Code::kNotFound);
}

// Lightning 2.x CSVLogger: sorted header, one sparse row per log call.
constexpr std::string_view kLightningCsv =
    "epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss\n"
    "0,49,,0.6931,,\n"
    "0,99,,0.5123,,\n"
    "0,99,,,0.71,0.58\n"
    "0,99,0.6012,,,\n"
    "1,149,,0.4021,,\n"
    "1,199,,0.3547,,\n"
    "1,199,,,0.8,0.41\n"
    "1,199,0.3801,,,\n";

// What save_hparams_to_yaml writes (yaml.dump: sorted keys, block lists at the key's indent).
constexpr std::string_view kHparams =
    "batch_size: 32\n"
    "data:\n"
    "  num_workers: 4\n"
    "  root: /data/mnist\n"
    "dropout: 0.1\n"
    "layers:\n"
    "- 128\n"
    "- 64\n"
    "lr: 0.001\n"
    "name: 'mnist: baseline'\n"
    "optimizer: adam\n"
    "tags: [a, b]\n";

using ImportLightningTest = ImportFixture;

TEST_F(ImportLightningTest, SparseRowsAndHparams) {
  std::string path = Write("lightning_logs/version_3/metrics.csv", kLightningCsv);
  Write("lightning_logs/version_3/hparams.yaml", kHparams);
  ImportBatch b;
  ASSERT_TRUE(ReadLightning(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "lightning_logs/version_3");
  EXPECT_EQ(r.format, "lightning");
  EXPECT_EQ(Keys(r), "epoch train_loss_step val_acc val_loss train_loss_epoch");
  EXPECT_EQ(Points(r, "train_loss_step"), "49:0.6931 99:0.5123 149:0.4021 199:0.3547");
  EXPECT_EQ(Points(r, "val_acc"), "99:0.71 199:0.8");
  EXPECT_EQ(Points(r, "val_loss"), "99:0.58 199:0.41");
  EXPECT_EQ(Points(r, "train_loss_epoch"), "99:0.6012 199:0.3801");
  EXPECT_EQ(Points(r, "epoch"), "49:0 99:0 99:0 99:0 149:1 199:1 199:1 199:1");
  EXPECT_EQ(Param(r, "batch_size"), "32");
  EXPECT_EQ(Param(r, "data/num_workers"), "4");
  EXPECT_EQ(Param(r, "data/root"), "/data/mnist");
  EXPECT_EQ(Param(r, "layers"), "[128, 64]");
  EXPECT_EQ(Param(r, "name"), "mnist: baseline");
  EXPECT_EQ(Param(r, "tags"), "[a, b]");
  EXPECT_EQ(Param(r, "data"), "<none>");
  EXPECT_EQ(r.params.size(), 9u);
  EXPECT_EQ(b.records, 8);
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(ImportLightningTest, MissingHparamsGivesARunWithoutParams) {
  std::string path = Write("logs/mnist/version_0/metrics.csv", kLightningCsv);
  ImportBatch b;
  ASSERT_TRUE(ReadLightning(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(b.runs[0].name, "mnist/version_0");
  EXPECT_TRUE(b.runs[0].params.empty());
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(ImportLightningTest, UnreadableYamlIsAnIssueWithItsLine) {
  std::string path = Write("lightning_logs/version_1/metrics.csv", kLightningCsv);
  Write("lightning_logs/version_1/hparams.yaml",
        "args: !!python/object:argparse.Namespace\n"
        "  lr: 0.1\n"
        "seed: 7\n"
        "\tbad: 1\n"
        "model:\n"
        "  depth: 12\n");
  ImportBatch b;
  ASSERT_TRUE(ReadLightning(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Param(b.runs[0], "seed"), "7");
  EXPECT_EQ(Param(b.runs[0], "model/depth"), "12");
  EXPECT_EQ(Param(b.runs[0], "args/lr"), "<none>");
  EXPECT_EQ(IssueLines(b), "hparams.yaml:1 hparams.yaml:4") << IssueText(b);
}

using ImportCsvTest = ImportFixture;

TEST_F(ImportCsvTest, WideTableWithQuotingBomCrlfAndBadCells) {
  std::string path = Write("exp1.csv",
                           "\xEF\xBB\xBFstep,\"train/loss\",lr,\"a,b\"\r\n"
                           "0,2.5,0.001,1\r\n"
                           "1,,0.001,\"2\"\r\n"
                           "2,nan,abc,inf\r\n"
                           "3,2.0\r\n"
                           "x,1.0,1.0,1.0\r\n"
                           "\r\n"
                           "4,1.5,0.0005,-inf,9\r\n");
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "exp1");
  EXPECT_EQ(r.format, "csv");
  EXPECT_EQ(Keys(r), "train/loss lr a,b");
  EXPECT_EQ(Points(r, "train/loss"), "0:2.5 2:nan 3:2 4:1.5");
  EXPECT_EQ(Points(r, "lr"), "0:0.001 1:0.001 4:0.0005");
  EXPECT_EQ(Points(r, "a,b"), "0:1 1:2 2:inf 4:-inf");
  // abc (line 4), the short row (5), the bad step (6), the long row (8).
  EXPECT_EQ(IssueLines(b), "exp1.csv:4 exp1.csv:5 exp1.csv:6 exp1.csv:8") << IssueText(b);
  EXPECT_NE(b.issues[0].message.find("column 3 'lr'"), std::string::npos) << b.issues[0].message;
  EXPECT_EQ(b.skipped["csv:non-numeric cell"], 1);
  EXPECT_EQ(b.skipped["csv:ragged row"], 2);
  EXPECT_EQ(b.skipped["csv:bad step"], 1);
  EXPECT_EQ(b.records, 6);
}

TEST_F(ImportCsvTest, StepFallsBackToEpochThenRowNumber) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("e.csv", "epoch,acc\n1,0.5\n2,0.6\n"), &b).ok());
  ASSERT_TRUE(ReadCsv(Write("n.csv", "loss,acc\n3,0.5\n2,\n1,0.7\n"), &b).ok());
  ASSERT_TRUE(ReadCsv(Write("r.csv", "global_step,step,loss\n100,1,3\n"), &b).ok());
  ASSERT_EQ(b.runs.size(), 3u);
  EXPECT_EQ(Keys(b.runs[0]), "acc");
  EXPECT_EQ(Points(b.runs[0], "acc"), "1:0.5 2:0.6");
  EXPECT_EQ(Points(b.runs[1], "loss"), "0:3 1:2 2:1");
  EXPECT_EQ(Points(b.runs[1], "acc"), "0:0.5 2:0.7");
  // global_step outranks step, which then is an ordinary series.
  EXPECT_EQ(Points(b.runs[2], "loss"), "100:3");
  EXPECT_EQ(Points(b.runs[2], "step"), "100:1");
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(ImportCsvTest, TimeColumnInEpochSecondsMillisecondsOrIso) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("t.csv",
                            "step,timestamp,loss\n"
                            "1,1700000000.5,3\n"
                            "2,1700000001000,2\n"
                            "3,2023-11-14T22:13:22Z,1\n"
                            "4,2023-11-14 23:13:23+01:00,0.5\n"
                            "5,yesterday,0.25\n"
                            "6,,0.125\n"),
                      &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Keys(b.runs[0]), "loss");
  EXPECT_EQ(Points(b.runs[0], "loss"),
            "1@1700000000.5:3 2@1700000001:2 3@1700000002:1 4@1700000003:0.5 5:0.25 6:0.125");
  EXPECT_EQ(IssueLines(b), "t.csv:6") << IssueText(b);
  EXPECT_EQ(b.skipped["csv:bad time"], 1);
}

TEST_F(ImportCsvTest, CrOnlyLineEndsAndMultiLineQuotedCells) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("cr.csv", "step,loss\r1,2\r2,x\r3,1\r"), &b).ok());
  ASSERT_TRUE(ReadCsv(Write("ml.csv", "step,note,loss\n1,\"two\nlines\",5\n2,,y\n"), &b).ok());
  ASSERT_EQ(b.runs.size(), 2u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "1:2 3:1");
  EXPECT_EQ(Points(b.runs[1], "loss"), "1:5");
  // cr.csv line 3; ml.csv: the note cell of line 2 and the 'y' on line 4 (after the 2-line row).
  EXPECT_EQ(IssueLines(b), "cr.csv:3 ml.csv:2 ml.csv:4") << IssueText(b);
}

TEST_F(ImportCsvTest, UnclosedQuoteLosesOnlyItsOwnRow) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("q.csv", "step,loss\n1,1\n2,\"3\n3,3\n4,4\n"), &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "1:1 3:3 4:4");
  EXPECT_EQ(IssueLines(b), "q.csv:3") << IssueText(b);
  EXPECT_EQ(b.skipped["csv:bad row"], 1);
}

TEST_F(ImportCsvTest, EmptyAndHeaderOnlyFilesAreIssuesNotRuns) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("empty.csv", ""), &b).ok());
  ASSERT_TRUE(ReadCsv(Write("header.csv", "step,loss\n"), &b).ok());
  EXPECT_TRUE(b.runs.empty());
  EXPECT_EQ(IssueLines(b), "empty.csv:0 header.csv:1") << IssueText(b);
  EXPECT_EQ(ReadCsv(dir_ + "/nope.csv", &b).code(), Status::Code::kNotFound);
}

TEST_F(ImportCsvTest, LongTableOneRunPerRunValue) {
  EXPECT_TRUE(LooksLikeLongCsv({"run", "key", "step", "value"}));
  EXPECT_TRUE(LooksLikeLongCsv({"Metric", "Value", "run"}));
  EXPECT_FALSE(LooksLikeLongCsv({"step", "value"}));
  EXPECT_FALSE(LooksLikeLongCsv({"step", "loss", "lr"}));
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("long.csv",
                            "value,step,metric,run,wall_time\n"
                            "2.5,0,loss,baseline,1700000000\n"
                            "2.4,0,loss,lr-3e-4,1700000001\n"
                            "2.1,10,loss,baseline,1700000002\n"
                            "0.001,0,lr,baseline,\n"
                            "bad,20,loss,baseline,1700000003\n"
                            ",20,loss,baseline,1700000003\n"
                            "1.9,20,loss,,1700000003\n"
                            "1.8,20,loss,lr-3e-4,1700000004\n"),
                      &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 2u);
  EXPECT_EQ(b.runs[0].name, "baseline");
  EXPECT_EQ(b.runs[1].name, "lr-3e-4");
  EXPECT_EQ(b.runs[0].format, "csv");
  EXPECT_EQ(Points(b.runs[0], "loss"), "0@1700000000:2.5 10@1700000002:2.1");
  EXPECT_EQ(Points(b.runs[0], "lr"), "0:0.001");
  EXPECT_EQ(Points(b.runs[1], "loss"), "0@1700000001:2.4 20@1700000004:1.8");
  EXPECT_EQ(IssueLines(b), "long.csv:6 long.csv:8") << IssueText(b);
  EXPECT_EQ(b.skipped["csv:empty value"], 1);
  EXPECT_EQ(b.records, 8);
}

TEST_F(ImportCsvTest, LongTableWithoutStepsCountsPerSeries) {
  ImportBatch b;
  ASSERT_TRUE(ReadCsv(Write("k.csv", "run,key,value\na,loss,3\na,loss,2\na,acc,1\nb,loss,9\n"),
                      &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 2u);
  EXPECT_EQ(Points(b.runs[0], "loss"), "0:3 1:2");
  EXPECT_EQ(Points(b.runs[0], "acc"), "0:1");
  EXPECT_EQ(Points(b.runs[1], "loss"), "0:9");
}

using ImportJsonlTest = ImportFixture;

TEST_F(ImportJsonlTest, StepsTimesNestingCountersAndBadLines) {
  std::string path = Write("metrics.jsonl",
                           "{\"step\": 1, \"loss\": 2.5, \"train\": {\"acc\": 0.1}, \"time\": "
                           "1700000000}\n"
                           "\n"
                           "{\"loss\": 2.4}\n"
                           "not json\n"
                           "{\"global_step\": 5, \"step\": 3, \"loss\": NaN, \"lr\": \"3e-4\"}\n"
                           "{\"loss\": 2.2, \"timestamp\": \"2023-11-14T22:13:20Z\"}\n"
                           "{\"eval/loss\": 1.5, \"_step\": 7, \"_timestamp\": 1700000100.5}\n"
                           "{\"loss\": 2.1, \"step\": 9");  // truncated last line
  ImportBatch b;
  ASSERT_TRUE(ReadJsonl(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "metrics");
  EXPECT_EQ(r.format, "jsonl");
  EXPECT_EQ(Keys(r), "loss train/acc lr eval/loss");
  EXPECT_EQ(Points(r, "loss"), "1@1700000000:2.5 2:2.4 5:nan 6@1700000000:2.2");
  EXPECT_EQ(Points(r, "train/acc"), "1@1700000000:0.1");
  EXPECT_EQ(Points(r, "lr"), "5:0.0003");
  EXPECT_EQ(Points(r, "eval/loss"), "7@1700000100.5:1.5");
  EXPECT_EQ(IssueLines(b), "metrics.jsonl:4 metrics.jsonl:8") << IssueText(b);
  EXPECT_EQ(b.skipped["jsonl:bad line"], 2);
  EXPECT_EQ(b.records, 7);
}

TEST_F(ImportJsonlTest, EmptyFileIsAnIssue) {
  ImportBatch b;
  ASSERT_TRUE(ReadJsonl(Write("e.jsonl", "\n  \n"), &b).ok());
  EXPECT_TRUE(b.runs.empty());
  EXPECT_EQ(IssueLines(b), "e.jsonl:0");
}

using ImportMlflowTest = ImportFixture;

constexpr std::string_view kRunId = "8f2b3c4d5e6f47a8b9c0d1e2f3a4b5c6";

// One run as MLflow 2.x's FileStore lays it out.
std::string MlflowMeta(std::string_view run_name) {
  return fmt::format(
      "artifact_uri: file:///tmp/mlruns/0/{0}/artifacts\n"
      "end_time: 1700000100000\n"
      "entry_point_name: ''\n"
      "experiment_id: '0'\n"
      "lifecycle_stage: active\n"
      "run_id: {0}\n"
      "run_name: {1}\n"
      "run_uuid: {0}\n"
      "source_name: ''\n"
      "source_type: 4\n"
      "source_version: ''\n"
      "start_time: 1700000000000\n"
      "status: 3\n"
      "tags: []\n"
      "user_id: alice\n",
      kRunId, run_name);
}

TEST_F(ImportMlflowTest, MetricsParamsTagsAndName) {
  std::string run = fmt::format("mlruns/0/{}", kRunId);
  Write("mlruns/0/meta.yaml", "artifact_location: file:///tmp/mlruns/0\nexperiment_id: '0'\n"
                              "lifecycle_stage: active\nname: Default\n");
  Write(run + "/meta.yaml", MlflowMeta("bright-fox-42"));
  Write(run + "/metrics/loss", "1700000001234 0.693 0\n1700000002234 0.5 1\noops\n"
                               "1700000003234 nan 2\n");
  Write(run + "/metrics/train/acc", "1700000001500 0.5 0\n1700000002500 0.75\n");
  Write(run + "/params/lr", "0.001");
  Write(run + "/params/model/depth", "12");
  Write(run + "/tags/mlflow.runName", "bright-fox-42");
  Write(run + "/tags/mlflow.source.name", "train.py");
  Write(run + "/tags/team", "nlp");
  EXPECT_TRUE(IsMlflowRunDir(dir_ + "/" + run));
  EXPECT_FALSE(IsMlflowRunDir(dir_ + "/mlruns/0"));
  ImportBatch b;
  ASSERT_TRUE(ReadMlflowRun(dir_ + "/" + run, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "bright-fox-42");
  EXPECT_EQ(r.format, "mlflow");
  EXPECT_EQ(Keys(r), "loss train/acc");
  EXPECT_EQ(Points(r, "loss"), "0@1700000001.234:0.693 1@1700000002.234:0.5 2@1700000003.234:nan");
  EXPECT_EQ(Points(r, "train/acc"), "0@1700000001.5:0.5 0@1700000002.5:0.75");
  EXPECT_EQ(Param(r, "lr"), "0.001");
  EXPECT_EQ(Param(r, "model/depth"), "12");
  EXPECT_EQ(Param(r, "mlflow.run_id"), kRunId);
  EXPECT_EQ(Param(r, "mlflow.experiment_id"), "0");
  // Tags stay tags, mlflow.* ones too; meta.yaml's user and the experiment's name are tags.
  EXPECT_EQ(Param(r, "mlflow.source.name"), "<none>");
  EXPECT_EQ(Param(r, "mlflow.runName"), "<none>");
  EXPECT_EQ(r.tags, (std::vector<std::string>{"user=alice", "experiment=Default",
                                               "mlflow.runName=bright-fox-42",
                                               "mlflow.source.name=train.py", "team=nlp"}));
  // meta.yaml dates the run and gives its status.
  EXPECT_DOUBLE_EQ(r.started_at, 1700000000.0);
  EXPECT_DOUBLE_EQ(r.ended_at, 1700000100.0);
  EXPECT_EQ(r.status, "finished");
  EXPECT_EQ(IssueLines(b), "loss:3") << IssueText(b);
  EXPECT_EQ(b.skipped["mlflow:bad metric line"], 1);
  EXPECT_EQ(b.records, 6);
}

TEST_F(ImportMlflowTest, NameFallsBackToMetaThenRunId) {
  Write("mlruns/1/aaa/meta.yaml", MlflowMeta("from-meta"));
  Write("mlruns/1/aaa/params/x", "1\n");
  Write("mlruns/1/bbb/metrics/loss", "1700000001234 1 0\n");
  Write("mlruns/1/bbb/meta.yaml", "");
  ImportBatch b;
  ASSERT_TRUE(ReadMlflowRun(dir_ + "/mlruns/1/aaa", &b).ok());
  ASSERT_TRUE(ReadMlflowRun(dir_ + "/mlruns/1/bbb/", &b).ok());
  ASSERT_EQ(b.runs.size(), 2u);
  EXPECT_EQ(b.runs[0].name, "from-meta");
  EXPECT_EQ(Param(b.runs[0], "x"), "1");
  EXPECT_EQ(b.runs[1].name, "bbb");
  EXPECT_EQ(Param(b.runs[1], "mlflow.experiment_id"), "1");
  EXPECT_EQ(ReadMlflowRun(dir_ + "/mlruns/9", &b).code(), Status::Code::kNotFound);
}

using ImportLogTest = ImportFixture;

TEST_F(ImportLogTest, EveryLineThroughTheLineParser) {
  std::string path = Write(
      "train.log",
      "2024-05-01 12:00:00,500 - INFO - starting\n"
      "step 100 | loss 2.34 | lr 3.0e-04\n"
      "{'loss': 2.3142, 'grad_norm': 1.93, 'learning_rate': 4.9e-05, 'epoch': 0.12}\n"
      "{'loss': 2.2, 'epoch': 0.24}\n"
      "[2024-05-01T12:00:10Z] step=200 loss=2.1\n"
      "[default7]: iteration   300/ 115311 | consumed samples:    71455664 | elapsed "
      "time per iteration (s): 105.16 | learning\n"
      " rate: 4.475E-05 | grad norm: 0.150 |\n"
      "Traceback (most recent call last):\n");
  ImportBatch b;
  ASSERT_TRUE(ReadLog(path, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "train");
  EXPECT_EQ(r.format, "log");
  // The dict prints have no step: loss continues from its last step (100), epoch counts from 0.
  EXPECT_EQ(Points(r, "loss"), "100:2.34 101:2.3142 102:2.2 200@1714564810:2.1");
  EXPECT_EQ(Points(r, "epoch"), "0:0.12 1:0.24");
  EXPECT_EQ(Points(r, "grad_norm"), "0:1.93 300:0.15");
  EXPECT_EQ(Points(r, "learning_rate"), "0:4.9e-05 300:4.475e-05");
  EXPECT_EQ(Points(r, "consumed_samples"), "300:71455664");
  EXPECT_EQ(b.records, 8);
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(ImportLogTest, NoMetricsNoRun) {
  ImportBatch b;
  ASSERT_TRUE(ReadLog(Write("notes.txt", "just words\nmore words\n"), &b).ok());
  ASSERT_TRUE(ReadLog(Write("empty.out", ""), &b).ok());
  EXPECT_TRUE(b.runs.empty());
  EXPECT_EQ(b.skipped["log:no metrics"], 2);
  EXPECT_EQ(b.records, 2);
}

}  // namespace
}  // namespace inloop::importers
