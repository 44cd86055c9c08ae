// Importing files in the shapes real projects commit (issue 18): an MLflow file store whose runs
// logged only params and tags, or nothing, with Keras autolog's event files under artifacts/;
// HF last-checkpoint/ copies; Caffe glog logs with their echoed solver and net configuration;
// tab-separated tables; lines of thousands of metrics. Each through ImportPaths into a store,
// with the per-directory report of what became a run and what was skipped and why.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "import_fixture.h"
#include "importers/import_driver.h"
#include "importers/jsonl_reader.h"
#include "importers/log_reader.h"
#include "importers/mlflow_reader.h"
#include "ingest/metric_sink.h"
#include "store/store.h"
#include "support/tfevents_writer.h"

namespace inloop::importers {
namespace {

namespace fs = std::filesystem;

class RealShapesTest : public ImportFixture {
 protected:
  void SetUp() override {
    ImportFixture::SetUp();
    Status s = store::Store::Open(dir_ + "/.inloop", true, &st_);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override {
    st_.reset();
    ImportFixture::TearDown();
  }

  Status Import(const std::vector<std::string>& rel, ImportSummary* sum) {
    std::vector<std::string> paths;
    for (auto& r : rel) paths.push_back(dir_ + "/" + r);
    return ImportPaths(st_.get(), paths, ImportOptions{}, sum);
  }

  const ImportedRunResult* RunNamed(const ImportSummary& s, const std::string& name) {
    for (auto& r : s.runs)
      if (r.name == name) return &r;
    ADD_FAILURE() << "no run " << name;
    return nullptr;
  }

  std::string Tags(const std::string& run_id) {
    std::vector<std::string> tags;
    EXPECT_TRUE(st_->GetTags(run_id, &tags).ok());
    std::string out;
    for (auto& t : tags) out += (out.empty() ? "" : " ") + t;
    return out;
  }

  std::string ParamOf(const std::string& run_id, const std::string& key) {
    std::vector<store::Param> params;
    EXPECT_TRUE(st_->GetParams(run_id, &params).ok());
    for (auto& p : params)
      if (p.key == key) return p.value;
    return "<none>";
  }

  // "reason:file name" of every skipped path, sorted.
  static std::string Skipped(const ImportSummary& s) {
    std::vector<std::string> v;
    for (auto& k : s.skipped_paths)
      v.push_back(k.reason + ":" +
                  fs::path(k.path)
                      .lexically_relative(fs::path(k.path).parent_path().parent_path())
                      .generic_string());
    std::sort(v.begin(), v.end());
    std::string out;
    for (auto& x : v) out += (out.empty() ? "" : " ") + x;
    return out;
  }

  std::unique_ptr<store::Store> st_;
};

std::string RunMeta(const std::string& id, const std::string& name, const std::string& exp,
                    int status, const std::string& end_time, const std::string& stage = "active") {
  return fmt::format(
      "artifact_uri: file:///home/u/proj/mlruns/{2}/{0}/artifacts\n"
      "end_time: {4}\n"
      "entry_point_name: ''\n"
      "experiment_id: '{2}'\n"
      "lifecycle_stage: {5}\n"
      "run_id: {0}\n"
      "run_name: {1}\n"
      "run_uuid: {0}\n"
      "source_name: ''\n"
      "source_type: 4\n"
      "source_version: ''\n"
      "start_time: 1700000000000\n"
      "status: {3}\n"
      "tags: []\n"
      "user_id: alice\n",
      id, name, exp, status, end_time, stage);
}

// Keras autolog's event file: epoch_loss per epoch, as TF1 simple values.
std::string KerasEvents(double first) {
  using namespace tfevents_testing;  // NOLINT
  std::string bytes;
  AppendEvent(&bytes, FileVersionEvent(1700000000));
  for (int epoch = 0; epoch < 3; ++epoch) {
    tensorboard::Event e = StepEvent(epoch, 1700000010 + epoch);
    AddValue(&e, "epoch_loss", "scalars")->set_simple_value(static_cast<float>(first - epoch));
    AppendEvent(&bytes, e);
  }
  return bytes;
}

TEST_F(RealShapesTest, MlflowStoreEveryRunDirectoryIsARun) {
  Write("mlruns/1/meta.yaml",
        "artifact_location: file:///home/u/proj/mlruns/1\ncreation_time: 1700000000000\n"
        "experiment_id: '1'\nlast_update_time: 1700000000000\nlifecycle_stage: active\n"
        "name: mnist-sweep\n");
  // Metrics, params and tags.
  Write("mlruns/1/aaa/meta.yaml", RunMeta("aaa", "full", "1", 3, "1700000100000"));
  Write("mlruns/1/aaa/metrics/loss", "1700000001000 0.5 0\n1700000002000 0.25 1\n");
  Write("mlruns/1/aaa/params/lr", "0.01");
  Write("mlruns/1/aaa/tags/mlflow.runName", "full");
  Write("mlruns/1/aaa/tags/mlflow.source.name", "train.py");
  // Params and tags, no metrics (the store of 28 runs imported as 5 without these).
  Write("mlruns/1/bbb/meta.yaml", RunMeta("bbb", "params-only", "1", 4, "1700000050000"));
  Write("mlruns/1/bbb/params/lr", "0.1");
  Write("mlruns/1/bbb/tags/mlflow.user", "alice");
  // Tags only (a sweep's parent run), still RUNNING when the store was copied.
  Write("mlruns/1/ccc/meta.yaml", RunMeta("ccc", "parent", "1", 1, "null"));
  Write("mlruns/1/ccc/tags/mlflow.parentRunId", "none");
  // meta.yaml alone (git keeps no empty folders), deleted in MLflow, killed.
  Write("mlruns/1/ddd/meta.yaml", RunMeta("ddd", "bare", "1", 5, "1700000020000", "deleted"));
  // Keras autolog: event files under artifacts/, no MLflow metrics.
  Write("mlruns/1/eee/meta.yaml", RunMeta("eee", "keras", "1", 3, "1700000200000"));
  Write("mlruns/1/eee/artifacts/tensorboard_logs/train/events.out.tfevents.1700000000.h.1.v2",
        KerasEvents(2.0));
  Write("mlruns/1/eee/artifacts/tensorboard_logs/validation/events.out.tfevents.1700000000.h.2.v2",
        KerasEvents(3.0));
  Write("mlruns/1/eee/artifacts/model/MLmodel", "flavors: {}\n");

  ImportSummary sum;
  Status s = Import({"mlruns"}, &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(sum.runs.size(), 5u);
  EXPECT_EQ(Skipped(sum), "") << "the experiment's meta.yaml is read with its runs";
  EXPECT_EQ(sum.skipped.count("file:unrecognized"), 0u);
  EXPECT_EQ(sum.skipped["mlflow:artifact (not metrics)"], 1);  // the saved model

  const ImportedRunResult* full = RunNamed(sum, "full");
  ASSERT_NE(full, nullptr);
  store::RunRecord rec;
  ASSERT_TRUE(st_->FindRun(full->run_id, &rec).ok());
  EXPECT_EQ(rec.status, store::kFinished);
  EXPECT_DOUBLE_EQ(rec.started_at, 1700000000.0);  // meta.yaml, not the first metric's time
  EXPECT_DOUBLE_EQ(rec.ended_at, 1700000100.0);
  EXPECT_EQ(full->points, 2);
  EXPECT_EQ(ParamOf(full->run_id, "lr"), "0.01");
  EXPECT_EQ(ParamOf(full->run_id, "mlflow.source.name"), "<none>") << "tags stay tags";
  EXPECT_EQ(Tags(full->run_id),
            "experiment=mnist-sweep mlflow.runName=full mlflow.source.name=train.py user=alice");

  const ImportedRunResult* params_only = RunNamed(sum, "params-only");
  ASSERT_NE(params_only, nullptr);
  ASSERT_TRUE(st_->FindRun(params_only->run_id, &rec).ok());
  EXPECT_EQ(rec.status, store::kFailed);
  EXPECT_DOUBLE_EQ(rec.ended_at, 1700000050.0);
  EXPECT_EQ(params_only->points, 0);
  EXPECT_EQ(ParamOf(params_only->run_id, "lr"), "0.1");
  EXPECT_EQ(Tags(params_only->run_id), "experiment=mnist-sweep mlflow.user=alice user=alice");

  const ImportedRunResult* parent = RunNamed(sum, "parent");
  ASSERT_NE(parent, nullptr);
  ASSERT_TRUE(st_->FindRun(parent->run_id, &rec).ok());
  EXPECT_EQ(rec.status, store::kInterrupted) << "RUNNING in a copied store never closed";
  EXPECT_DOUBLE_EQ(rec.started_at, 1700000000.0);

  const ImportedRunResult* bare = RunNamed(sum, "bare");
  ASSERT_NE(bare, nullptr);
  ASSERT_TRUE(st_->FindRun(bare->run_id, &rec).ok());
  EXPECT_EQ(rec.status, store::kStopped);
  EXPECT_EQ(Tags(bare->run_id), "experiment=mnist-sweep lifecycle=deleted user=alice");

  const ImportedRunResult* keras = RunNamed(sum, "keras");
  ASSERT_NE(keras, nullptr);
  EXPECT_EQ(keras->series, 2);
  EXPECT_EQ(keras->points, 6);
  std::vector<store::SeriesStats> series;
  ASSERT_TRUE(st_->SeriesStatsFor(keras->run_id, &series).ok());
  std::vector<std::string> keys;
  for (auto& x : series) keys.push_back(x.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"tensorboard_logs/train/epoch_loss",
                                             "tensorboard_logs/validation/epoch_loss"}));

  // The report: all five runs under the experiment's folder.
  std::vector<DirectoryReport> dirs = ByDirectory(sum);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0].dir, dir_ + "/mlruns/1");
  EXPECT_EQ(dirs[0].runs.size(), 5u);
}

TEST_F(RealShapesTest, MlflowRunDirectoryDetection) {
  Write("mlruns/0/meta.yaml", "artifact_location: mlruns/0\nexperiment_id: '0'\nname: Default\n");
  Write("mlruns/0/tags/note", "experiment tags live here too");
  Write("mlruns/0/r1/meta.yaml", "experiment_id: '0'\nrun_id: r1\nstatus: 3\n");
  Write("mlruns/0/r2/meta.yaml", "");
  // The model registry's version folder names the run it came from: not a run itself.
  Write("mlruns/models/mnist/version-1/meta.yaml",
        "creation_timestamp: 1700000000000\nname: mnist\nrun_id: r1\nsource: "
        "mlruns/0/r1/artifacts/model\nstatus: READY\nversion: 1\n");
  EXPECT_FALSE(IsMlflowRunDir(dir_ + "/mlruns/0"));
  EXPECT_TRUE(IsMlflowExperimentDir(dir_ + "/mlruns/0"));
  EXPECT_TRUE(IsMlflowRunDir(dir_ + "/mlruns/0/r1"));
  EXPECT_FALSE(IsMlflowRunDir(dir_ + "/mlruns/models/mnist/version-1"));
  EXPECT_FALSE(IsMlflowRunDir(dir_ + "/mlruns/0/r2"));  // nothing says it is a run
  fs::create_directories(dir_ + "/mlruns/0/r2/params");
  EXPECT_TRUE(IsMlflowRunDir(dir_ + "/mlruns/0/r2"));
}

std::string TrainerState(int global_step) {
  std::string entries;
  for (int s = 10; s <= global_step; s += 10)
    entries += fmt::format("    {{\"loss\": {}, \"step\": {}}}{}\n", 3.0 - s / 100.0, s,
                           s + 10 <= global_step ? "," : "");
  return fmt::format(fmt::runtime("{{\n  \"epoch\": 1.0,\n  \"global_step\": {},\n  "
                                  "\"log_history\": [\n{}  ]\n}}\n"),
                     global_step, entries);
}

TEST_F(RealShapesTest, HfLastCheckpointIsASupersededCopy) {
  // As pushed with hub_strategy="checkpoint": checkpoint-N/ folders and last-checkpoint/.
  Write("hub/checkpoint-20/trainer_state.json", TrainerState(20));
  Write("hub/checkpoint-40/trainer_state.json", TrainerState(40));
  Write("hub/last-checkpoint/trainer_state.json", TrainerState(40));
  ImportSummary sum;
  ASSERT_TRUE(Import({"hub"}, &sum).ok());
  ASSERT_EQ(sum.runs.size(), 1u);
  EXPECT_NE(sum.runs[0].source.find("last-checkpoint"), std::string::npos) << sum.runs[0].source;
  EXPECT_EQ(sum.runs[0].name, "hub");  // named after the output folder, as checkpoint-N is
  EXPECT_EQ(sum.runs[0].points, 4);
  EXPECT_EQ(Skipped(sum),
            "superseded:checkpoint-20/trainer_state.json "
            "superseded:checkpoint-40/trainer_state.json");
  EXPECT_EQ(sum.skipped["trainer_state:superseded_checkpoint"], 2);
  for (auto& k : sum.skipped_paths)
    EXPECT_NE(k.detail.find("last-checkpoint/trainer_state.json"), std::string::npos) << k.detail;

  // The final trainer_state.json in the output folder supersedes last-checkpoint/ too.
  Write("out/last-checkpoint/trainer_state.json", TrainerState(30));
  Write("out/trainer_state.json", TrainerState(30));
  ImportSummary out;
  ASSERT_TRUE(Import({"out"}, &out).ok());
  ASSERT_EQ(out.runs.size(), 1u);
  EXPECT_EQ(out.runs[0].source, dir_ + "/out/trainer_state.json");
  EXPECT_EQ(Skipped(out), "superseded:last-checkpoint/trainer_state.json");

  // Named explicitly, a superseded copy is what the user asked for.
  ImportSummary named;
  Status s = Import({"hub/checkpoint-20/trainer_state.json"}, &named);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(named.runs.size(), 1u);
  EXPECT_EQ(named.runs[0].points, 2);
  EXPECT_FALSE(named.runs[0].already_imported);
  EXPECT_TRUE(named.skipped_paths.empty());
}

TEST_F(RealShapesTest, ReportSaysWhatWasSkippedAndWhy) {
  Write("logs/a/metrics.csv.bak", "x");
  Write("logs/a/train.csv", "step,loss\n1,2.5\n2,2.25\n");
  Write("logs/b/train.csv", "step,loss\n1,2.5\n2,2.25\n");  // the same bytes
  Write("logs/b/notes.txt", "nothing numeric here\n");
  Write("logs/b/model.bin", "\x01\x02");
  ImportSummary sum;
  ASSERT_TRUE(Import({"logs"}, &sum).ok());
  ASSERT_EQ(sum.runs.size(), 1u);
  EXPECT_EQ(Skipped(sum),
            "duplicate:b/train.csv empty:b/notes.txt unrecognized:a/metrics.csv.bak "
            "unrecognized:b/model.bin");
  for (auto& k : sum.skipped_paths) {
    EXPECT_FALSE(k.detail.empty()) << k.path;
    if (k.reason == "duplicate") {
      EXPECT_NE(k.detail.find("a/train.csv"), std::string::npos) << k.detail;
    }
  }
  std::vector<DirectoryReport> dirs = ByDirectory(sum);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0].dir, dir_ + "/logs/a");
  EXPECT_EQ(dirs[0].runs.size(), 1u);
  EXPECT_EQ(dirs[0].skipped.size(), 1u);
  EXPECT_EQ(dirs[1].dir, dir_ + "/logs/b");
  EXPECT_EQ(dirs[1].runs.size(), 0u);
  EXPECT_EQ(dirs[1].skipped.size(), 3u);
}

// A Caffe MNIST training log as glog writes it, configuration echo included (abridged).
constexpr char kCaffeLog[] =
    "I0402 10:11:10.100000  1234 caffe.cpp:204] Using GPUs 0\n"
    "I0402 10:11:10.200000  1234 solver.cpp:48] Initializing solver from parameters: \n"
    "test_iter: 100\n"
    "test_interval: 500\n"
    "base_lr: 0.01\n"
    "display: 100\n"
    "max_iter: 10000\n"
    "lr_policy: \"inv\"\n"
    "momentum: 0.9\n"
    "weight_decay: 0.0005\n"
    "net: \"examples/mnist/lenet_train_test.prototxt\"\n"
    "I0402 10:11:10.300000  1234 solver.cpp:91] Creating training net from net file: "
    "examples/mnist/lenet_train_test.prototxt\n"
    "I0402 10:11:10.400000  1234 net.cpp:51] Initializing net from parameters: \n"
    "name: \"LeNet\"\n"
    "state {\n"
    "  phase: TRAIN\n"
    "}\n"
    "layer {\n"
    "  name: \"conv1\"\n"
    "  type: \"Convolution\"\n"
    "  param {\n"
    "    lr_mult: 1\n"
    "  }\n"
    "  param {\n"
    "    lr_mult: 2\n"
    "  }\n"
    "  convolution_param {\n"
    "    num_output: 20\n"
    "    kernel_size: 5\n"
    "  }\n"
    "}\n"
    "I0402 10:11:10.500000  1234 net.cpp:84] Creating Layer conv1\n"
    "I0402 10:11:11.000000  1234 solver.cpp:330] Iteration 0, Testing net (#0)\n"
    "I0402 10:11:11.500000  1234 solver.cpp:397]     Test net output #0: accuracy = 0.0961\n"
    "I0402 10:11:11.500000  1234 solver.cpp:397]     Test net output #1: loss = 2.33 (* 1 = "
    "2.33 loss)\n"
    "I0402 10:11:11.600000  1234 solver.cpp:218] Iteration 0 (0 iter/s, 0.5s/100 iters), loss = "
    "2.4\n"
    "I0402 10:11:11.600000  1234 solver.cpp:237]     Train net output #0: loss = 2.4 (* 1 = 2.4 "
    "loss)\n"
    "I0402 10:11:11.600000  1234 sgd_solver.cpp:105] Iteration 0, lr = 0.01\n"
    "I0402 10:11:12.600000  1234 solver.cpp:218] Iteration 100 (98.1 iter/s, 1.02s/100 iters), "
    "loss = 0.21\n"
    "I0402 10:11:12.600000  1234 solver.cpp:237]     Train net output #0: loss = 0.21 (* 1 = "
    "0.21 loss)\n"
    "I0402 10:11:12.600000  1234 sgd_solver.cpp:105] Iteration 100, lr = 0.00992565\n";

TEST_F(RealShapesTest, CaffeLogStepsAndConfigurationParams) {
  ImportBatch b;
  ASSERT_TRUE(ReadLog(Write("caffe.INFO.log", kCaffeLog), &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(Keys(r), "test_accuracy test_loss iter_per_s loss train_loss lr");
  EXPECT_EQ(Points(r, "loss"), "0:2.4 100:0.21");
  EXPECT_EQ(Points(r, "train_loss"), "0:2.4 100:0.21");
  EXPECT_EQ(Points(r, "lr"), "0:0.01 100:0.00992565");
  EXPECT_EQ(Points(r, "test_accuracy"), "0:0.0961");
  EXPECT_EQ(Points(r, "iter_per_s"), "0:0 100:98.1");
  // The echoed solver and net are params, not series.
  EXPECT_EQ(Param(r, "base_lr"), "0.01");
  EXPECT_EQ(Param(r, "max_iter"), "10000");
  EXPECT_EQ(Param(r, "lr_policy"), "inv");
  EXPECT_EQ(Param(r, "net"), "examples/mnist/lenet_train_test.prototxt");
  EXPECT_EQ(Param(r, "net/name"), "LeNet");
  EXPECT_EQ(Param(r, "net/state/phase"), "TRAIN");
  EXPECT_EQ(Param(r, "net/conv1/param/lr_mult"), "2");
  EXPECT_EQ(Param(r, "net/conv1/convolution_param/num_output"), "20");
  for (const char* k : {"base_lr", "max_iter", "lr_mult", "num_output", "test_iter"})
    EXPECT_EQ(Points(r, k), "<none>") << k;
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);
}

TEST_F(RealShapesTest, SettingsBeforeTheFirstStepAreParams) {
  ImportBatch b;
  ASSERT_TRUE(ReadLog(Write("run.log",
                            "batch_size: 64\n"
                            "warmup_steps: 100\n"
                            "step 1 | loss 2.5\n"
                            "step 2 | loss 2.25\n"),
                      &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Keys(b.runs[0]), "loss");
  EXPECT_EQ(Param(b.runs[0], "batch_size"), "64");
  EXPECT_EQ(Param(b.runs[0], "warmup_steps"), "100");

  // No line with a step: the same lines are the log's metrics, in order.
  ImportBatch c;
  ASSERT_TRUE(ReadLog(Write("plain.log", "loss: 2.5\nloss: 2.25\nacc: 0.5\n"), &c).ok());
  ASSERT_EQ(c.runs.size(), 1u);
  EXPECT_EQ(Points(c.runs[0], "loss"), "0:2.5 1:2.25");
  EXPECT_EQ(Points(c.runs[0], "acc"), "0:0.5");
  EXPECT_TRUE(c.runs[0].params.empty());

  // A setting's key logged again before any step: metrics, in order.
  ImportBatch d;
  ASSERT_TRUE(ReadLog(Write("again.log", "loss: 3\nloss: 2.5, acc: 0.25\nstep 5 | loss 2\n"), &d)
                  .ok());
  ASSERT_EQ(d.runs.size(), 1u);
  EXPECT_EQ(Points(d.runs[0], "loss"), "0:3 1:2.5 5:2");
  EXPECT_TRUE(d.runs[0].params.empty());
}

TEST_F(RealShapesTest, TabSeparatedTable) {
  ImportBatch b;
  ASSERT_TRUE(ReadLog(Write("progress.tsv",
                            "step\tloss\tval_acc\n"
                            "100\t2.5\t0.25\n"
                            "200\t2.0\t0.5\n"
                            "training done at step 200\n"),
                      &b)
                  .ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Keys(b.runs[0]), "loss val_acc");
  EXPECT_EQ(Points(b.runs[0], "loss"), "100:2.5 200:2");
  EXPECT_EQ(Points(b.runs[0], "val_acc"), "100:0.25 200:0.5");
  // A .txt log with a table after prose; a row of the wrong width ends it.
  ImportBatch c;
  ASSERT_TRUE(ReadLog(Write("t.txt", "starting\nepoch\tstep\tloss\n0\t10\t1.5\n0\t20\n"), &c).ok());
  ASSERT_EQ(c.runs.size(), 1u);
  EXPECT_EQ(Points(c.runs[0], "loss"), "10:1.5");
  EXPECT_EQ(Points(c.runs[0], "epoch"), "10:0");
}

TEST_F(RealShapesTest, ThousandsOfMetricsOnOneLineAreAllKept) {
  // A per-task evaluation row of 2,000 accuracies (the old cap kept 1,024).
  std::string line = "{\"step\": 3";
  for (int i = 0; i < 2000; ++i) line += fmt::format(", \"task_{}/acc\": {}", i, i / 2000.0);
  line += "}\n";
  ImportBatch b;
  ASSERT_TRUE(ReadJsonl(Write("eval.jsonl", line + line), &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(b.runs[0].series.size(), 2000u);
  EXPECT_EQ(Points(b.runs[0], "task_1999/acc"), "3:0.9995 3:0.9995");
  EXPECT_TRUE(b.issues.empty()) << IssueText(b);

  // Past the documented bound the drop is an issue with its line, never silent.
  std::string huge = "{";
  for (size_t i = 0; i < ingest::kMaxMetricsPerLine + 5; ++i)
    huge += fmt::format("{}\"k{}\": 1", i ? ", " : "", i);
  huge += "}\n";
  ImportBatch h;
  ASSERT_TRUE(ReadJsonl(Write("huge.jsonl", huge), &h).ok());
  ASSERT_EQ(h.runs.size(), 1u);
  EXPECT_EQ(h.runs[0].series.size(), ingest::kMaxMetricsPerLine);
  EXPECT_EQ(IssueLines(h), "huge.jsonl:1");
  EXPECT_EQ(h.skipped["jsonl:metrics past the per-line bound"], 5);
}

}  // namespace
}  // namespace inloop::importers
