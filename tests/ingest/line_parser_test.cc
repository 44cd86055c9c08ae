// LineParser: one test per recognised shape (from a real-looking line), prose that must yield
// nothing, custom patterns, the step rules, cross-line state, and hostile input.
#include "ingest/line_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "parsed_line_text.h"

namespace inloop::ingest {
namespace {

class LineParserTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(LineParser::Create({}, &parser_).ok()); }

  std::string P(std::string_view line) {
    bool parsed = parser_->Parse(line, &out_);
    return ParsedLineText(parsed, out_);
  }

  double Value(std::string_view key) const {
    for (const Metric& m : out_.metrics) {
      if (m.key == key) return m.value;
    }
    ADD_FAILURE() << "no metric " << key;
    return 0;
  }

  std::unique_ptr<LineParser> parser_;
  ParsedLine out_;
};

TEST_F(LineParserTest, JsonFlat) {
  EXPECT_EQ(P(R"({"step": 10, "loss": 2.31, "lr": 3e-4})"), "step=10 loss=2.31 lr=0.0003");
  EXPECT_TRUE(out_.has_step);
  EXPECT_EQ(out_.step, 10);
  EXPECT_DOUBLE_EQ(Value("lr"), 3e-4);
}

TEST_F(LineParserTest, JsonNestedKeepsKeysAsWritten) {
  EXPECT_EQ(P(R"({"train": {"loss": 1.2, "Top1 Acc": 0.5}, "Eval/Loss": 1.5})"),
            "train/loss=1.2 train/Top1 Acc=0.5 Eval/Loss=1.5");
  EXPECT_FALSE(out_.has_step);
}

TEST_F(LineParserTest, JsonNonFiniteBareAndQuoted) {
  EXPECT_EQ(P(R"({"step": 7, "loss": NaN, "a": Infinity, "b": -Infinity, "c": nan, "d": inf})"),
            "step=7 loss=nan a=inf b=-inf c=nan d=inf");
  EXPECT_TRUE(std::isnan(Value("loss")));
  EXPECT_EQ(P(R"({"loss": "nan", "gn": "Infinity", "x": "-inf"})"), "loss=nan gn=inf x=-inf");
}

TEST_F(LineParserTest, JsonNumericStringsAndIgnoredValues) {
  EXPECT_EQ(P(R"({"loss": "2.34", "name": "gpt2", "ok": true, "none": null, "a": [1, 2]})"),
            "loss=2.34");
}

TEST_F(LineParserTest, HuggingFaceTrainerDict) {
  EXPECT_EQ(P("{'loss': 2.3142, 'grad_norm': 1.93, 'learning_rate': 4.9e-05, 'epoch': 0.12}"),
            "loss=2.3142 grad_norm=1.93 learning_rate=4.9e-05 epoch=0.12");
  EXPECT_EQ(P("{'loss': nan, 'grad_norm': inf, 'epoch': 0.2}"), "loss=nan grad_norm=inf epoch=0.2");
  EXPECT_EQ(P("{'loss': tensor(2.31, device='cuda:0'), 'epoch': 0.3}"), "loss=2.31 epoch=0.3");
}

TEST_F(LineParserTest, KeyValueProse) {
  EXPECT_EQ(P("step 100 | loss 2.34 | lr 3.0e-04"), "step=100 loss=2.34 lr=0.0003");
  EXPECT_EQ(P("step=100 loss=2.34"), "step=100 loss=2.34");
  EXPECT_EQ(P("loss: 2.34, acc: 0.81"), "loss=2.34 acc=0.81");
  EXPECT_EQ(P("Step: 100, Train Loss: 2.34, Val Acc: 0.81"),
            "step=100 train_loss=2.34 val_acc=0.81");
}

TEST_F(LineParserTest, NanoGpt) {
  EXPECT_EQ(P("iter 100: loss 2.3456, time 12.34ms, mfu 1.23%"),
            "step=100 loss=2.3456 time_ms=12.34 mfu=1.23");
  EXPECT_EQ(P("step 500: train loss 1.95, val loss 2.01"),
            "step=500 train_loss=1.95 val_loss=2.01");
}

TEST_F(LineParserTest, MegatronLm) {
  EXPECT_EQ(P(" iteration      100/  500000 | consumed samples: 51200 | elapsed time per iteration "
              "(ms): 812.3 | learning rate: 3.000E-04 | global batch size:   512 | lm loss: "
              "2.345678E+00 | loss scale: 65536.0 | grad norm: 1.234 |"),
            "step=100 consumed_samples=51200 elapsed_time_per_iteration_ms=812.3 "
            "learning_rate=0.0003 global_batch_size=512 lm_loss=2.345678 loss_scale=65536 "
            "grad_norm=1.234");
}

TEST_F(LineParserTest, MegatronWithLauncherPrefix) {
  EXPECT_EQ(P("[default7]: iteration    31214/  115311 | consumed samples:     47768496 | "
              "lm loss: 2.198845E+00 | grad norm: 0.242 | number of nan iterations:   0 |"),
            "step=31214 consumed_samples=47768496 lm_loss=2.198845 grad_norm=0.242 "
            "number_of_nan_iterations=0");
}

TEST_F(LineParserTest, MegatronFragmentWithoutItsHeadYieldsNothing) {
  EXPECT_EQ(P(" rate: 4.475E-05 | global batch size: 2048 | lm loss: 2.117073E+00 | grad norm: "
              "0.150 | num zeros: 0.0 | number of skipped iterations:  0 | number of nan"),
            "-");
  EXPECT_EQ(P("iterations:  0 | samples per second: 19.474 | TFLOPs: 149.10 |"), "-");
}

TEST_F(LineParserTest, MegatronWrappedRecordIsJoined) {
  EXPECT_EQ(P("[default7]: iteration   42780/ 115311 | consumed samples:    71455664 | elapsed "
              "time per iteration (s): 105.16 | learning"),
            "step=42780 consumed_samples=71455664 elapsed_time_per_iteration_s=105.16");
  // The break "learning| rate" is visibly between words: the key is rebuilt.
  EXPECT_EQ(P(" rate: 4.475E-05 | grad norm: 0.150 | number of nan"),
            "step=42780 learning_rate=4.475e-05 grad_norm=0.15");
  // "nan|iterations" could be one word cut in two: that segment is dropped, nothing invented.
  EXPECT_EQ(P("iterations:  0 | samples per second: 19.474 | TFLOPs: 149.10 |"),
            "step=42780 samples_per_second=19.474 tflops=149.1");
  // The record is complete: the same fragment again is headless.
  EXPECT_EQ(P("iterations:  0 | samples per second: 19.474 | TFLOPs: 149.10 |"), "-");
}

TEST_F(LineParserTest, MegatronValueCutInHalfIsNotInvented) {
  P(" iteration 5/ 10 | lm loss: 2.5 | grad norm: 0.9");
  EXPECT_EQ(out_.metrics.size(), 1u);  // "grad norm: 0.9" may continue on the next line
  EXPECT_EQ(P("12 | loss scale: 1.0 |"), "step=5 loss_scale=1");
}

TEST_F(LineParserTest, MegatronPendingRecordIsDroppedByAnUnrelatedLine) {
  P(" iteration 5/ 10 | lm loss: 2.5 | learning");
  EXPECT_EQ(P("Saving checkpoint"), "-");
  EXPECT_EQ(P(" rate: 0.1 | global batch size: 8 |"), "-");
}

TEST_F(LineParserTest, FairseqJsonWithLogPrefix) {
  EXPECT_EQ(P("2021-03-01 12:00:00 | INFO | train_inner | {\"epoch\": 1, \"update\": 100, "
              "\"loss\": \"2.34\", \"ppl\": \"5.07\", \"wps\": \"41123\", \"lr\": \"0.0003\"}"),
            "step=100 epoch=1 loss=2.34 ppl=5.07 wps=41123 lr=0.0003");
}

TEST_F(LineParserTest, FairseqFractionalUpdateDefersToNumUpdates) {
  EXPECT_EQ(P(R"({"epoch": 1, "update": 1.003, "loss": "14.477", "num_updates": "100"})"),
            "step=100 epoch=1 loss=14.477");
}

TEST_F(LineParserTest, LightningProgressBar) {
  EXPECT_EQ(P("Epoch 0:  12%|\xE2\x96\x88\xE2\x96\x8F  | 120/1000 [00:10<01:15, 11.7it/s, "
              "loss=2.34, v_num=0]"),
            "step=120 it_per_s=11.7 loss=2.34 epoch=0");
  // Later epochs continue the step instead of restarting at 0.
  EXPECT_EQ(P("Epoch 2:  12%|\xE2\x96\x88\xE2\x96\x8F  | 120/1000 [00:10<01:15, 11.7it/s, "
              "loss=2.1, v_num=0]"),
            "step=2120 it_per_s=11.7 loss=2.1 epoch=2");
}

TEST_F(LineParserTest, OtherProgressBarsGiveOnlyTheirPostfix) {
  EXPECT_EQ(P("  5%|\xE2\x96\x8C         | 50/1000 [00:10<03:10,  5.00it/s]"), "-");
  EXPECT_EQ(P("Validation DataLoader 0:  50%|#####     | 5/10 [00:00<00:00, 20.0it/s]"), "-");
  EXPECT_EQ(P("100%|##########| 50/50 [00:05<00:00, 10.0it/s, loss=0.5]"), "loss=0.5");
}

TEST_F(LineParserTest, OrdinaryProseYieldsNothing) {
  const char* prose[] = {
      "Loading 3 shards",
      "Downloading model (2.3 GB)",
      "Epoch 3 finished in 12 minutes",
      "Using 8 GPUs",
      "Saved checkpoint to ckpt-100.pt",
      "2024-01-01 12:00:00 INFO starting",
      "Traceback (most recent call last):",
      "  File \"train.py\", line 12, in <module>",
      "  File \"/usr/lib/python3.10/site-packages/torch/nn/modules/module.py\", line 1501, in "
      "_call_impl",
      "See https://pytorch.org/docs/stable/notes/cuda.html#env?x=1&y=2",
      "torch 2.1.0",
      "Python 3.10.12",
      "CUDA version: 12.1",
      "Step 5 of 10",
      "Processed 1000 samples in 12.3 s",
      "Namespace(lr=0.001, batch_size=32, model='gpt2')",
      "python train.py --lr=0.001 --max_iters=5000",
      "Running on host gpu-node-17 with pid 12345",
      "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total "
      "capacity; 70.00 GiB already allocated)",
      "The quick brown fox jumps over 13 lazy dogs in 2 minutes.",
  };
  for (const char* line : prose) EXPECT_EQ(P(line), "-") << line;
  EXPECT_FALSE(out_.has_step);
  EXPECT_TRUE(out_.metrics.empty());
}

TEST_F(LineParserTest, DuplicateKeysInJsonLastValueWins) {
  EXPECT_EQ(P(R"({"loss": 1, "loss": 2})"), "loss=2");
  EXPECT_EQ(P("{'loss': 1, 'loss': 2}"), "loss=2");
}

TEST_F(LineParserTest, DuplicateKeysInTextAreDistinctSeries) {
  // Train, then val on one line: the second Token Acc follows a val_ key, so it is val's.
  EXPECT_EQ(P("Epoch 3 | Train Loss: 1.25 | Token Acc: 0.61 | Val Loss: 1.5 | Token Acc: 0.58"),
            "epoch=3 train_loss=1.25 token_acc=0.61 val_loss=1.5 val_token_acc=0.58");
  // The pass-named key is taken already: numbered instead.
  EXPECT_EQ(P("step 10 | eval_loss: 2 | loss: 1 | loss: 3"), "step=10 eval_loss=2 loss=1 loss_2=3");
  // No pass named between them: numbered in order, every value kept.
  EXPECT_EQ(P("loss: 1.0, loss: 2.0, acc: 0.5, loss: 3.0"), "loss=1 loss_2=2 acc=0.5 loss_3=3");
  EXPECT_EQ(P("val_loss: 1, val_loss: 2"), "val_loss=1 val_loss_2=2");
}

TEST_F(LineParserTest, CaffeGlogSolverLines) {
  // As Caffe's solver.cpp / sgd_solver.cpp log them (glog prefix: level, date, time, thread, file).
  EXPECT_EQ(P("I0402 10:11:12.345678  1234 solver.cpp:218] Iteration 100 (12.3 iter/s, 8.1s/100 "
              "iters), loss = 2.3"),
            "step=100 iter_per_s=12.3 loss=2.3");
  EXPECT_EQ(P("I0402 10:11:12.345700  1234 solver.cpp:237]     Train net output #0: loss = 2.25 "
              "(* 1 = 2.25 loss)"),
            "step=100 train_loss=2.25");
  EXPECT_EQ(P("I0402 10:11:12.345800  1234 sgd_solver.cpp:105] Iteration 100, lr = 0.01"),
            "step=100 lr=0.01");
  // Testing carries the step to the test outputs that follow.
  EXPECT_EQ(P("I0402 10:11:20.000000  1234 solver.cpp:330] Iteration 500, Testing net (#0)"), "-");
  EXPECT_EQ(P("I0402 10:11:21.000000  1234 solver.cpp:397]     Test net output #0: accuracy = "
              "0.9127"),
            "step=500 test_accuracy=0.9127");
  EXPECT_EQ(P("I0402 10:11:21.000000  1234 solver.cpp:397]     Test net output #1: loss = 0.3 "
              "(* 1 = 0.3 loss)"),
            "step=500 test_loss=0.3");
  // Older Caffe: no rate in parentheses.
  EXPECT_EQ(P("I0402 10:11:30.000000  1234 solver.cpp:228] Iteration 600, loss = 0.25"),
            "step=600 loss=0.25");
  // Not Caffe's shapes: read as before.
  EXPECT_EQ(P("Iteration 5 of 10 finished"), "-");
  EXPECT_EQ(P("Iteration 7, loss: 2.5, acc 0.5"), "step=7 loss=2.5 acc=0.5");
  EXPECT_EQ(P("I0402 10:11:12.345678  1234 caffe.cpp:204] Using GPUs 0"), "-");
}

TEST_F(LineParserTest, StepKeysRankAndAreNeverMetrics) {
  EXPECT_EQ(P(R"({"iter": 5, "global_step": 9, "step": 7, "loss": 1})"), "step=9 loss=1");
  EXPECT_EQ(P(R"({"step": 2.5, "loss": 1})"), "loss=1");
  EXPECT_FALSE(out_.has_step);
  EXPECT_EQ(P("step 100 | step 200 | loss 1"), "step=200 loss=1");
  EXPECT_EQ(P(R"({"step": 100})"), "-");  // a step and no metric: nothing to record
  EXPECT_FALSE(out_.has_step);
}

TEST_F(LineParserTest, EpochIsAMetric) {
  EXPECT_EQ(P("Epoch 3 | loss 2.3 | acc 0.9"), "epoch=3 loss=2.3 acc=0.9");
  EXPECT_EQ(P("epoch: 3, step: 40, loss: 2.3"), "step=40 epoch=3 loss=2.3");
}

TEST_F(LineParserTest, StrayCarriageReturnsAndWhitespace) {
  EXPECT_EQ(P("step 1 | loss 2.5\r"), "step=1 loss=2.5");
  EXPECT_EQ(P("\r{\"loss\": 1}\r\n"), "loss=1");
  EXPECT_EQ(P("loss:\r2.5"), "loss=2.5");
  EXPECT_EQ(P(""), "-");
  EXPECT_EQ(P("   \t "), "-");
  EXPECT_EQ(P("\r"), "-");
}

TEST_F(LineParserTest, ParsedLineIsClearedBetweenLines) {
  EXPECT_EQ(P("step 1 | loss 2.5 | acc 0.5"), "step=1 loss=2.5 acc=0.5");
  EXPECT_EQ(P("loss: 3"), "loss=3");
  EXPECT_FALSE(out_.has_step);
  EXPECT_EQ(out_.metrics.size(), 1u);
  EXPECT_EQ(P("Using 8 GPUs"), "-");
  EXPECT_TRUE(out_.metrics.empty());
}

TEST_F(LineParserTest, KeyStringsAreReusedAcrossLines) {
  const std::string line = "elapsed time per iteration (ms): 812.3, samples per second: 19.2";
  ASSERT_EQ(P(line), "elapsed_time_per_iteration_ms=812.3 samples_per_second=19.2");
  std::vector<const char*> buffers;
  for (const Metric& m : out_.metrics) buffers.push_back(m.key.data());
  ASSERT_EQ(P(line), "elapsed_time_per_iteration_ms=812.3 samples_per_second=19.2");
  size_t reused = 0;
  for (const Metric& m : out_.metrics) {
    for (const char* b : buffers) reused += m.key.data() == b;
  }
  EXPECT_EQ(reused, 2u);  // both heap-allocated keys kept their buffers
}

TEST_F(LineParserTest, InvalidUtf8AndBinaryNoise) {
  EXPECT_EQ(P("\xff\xfe\xfd | loss: 2.5"), "loss=2.5");
  EXPECT_EQ(P("{\"lo\xffss\": 1, \"acc\": 2}"), "acc=2");
  std::mt19937 rng(42);
  for (int round = 0; round < 2000; ++round) {
    std::string noise(rng() % 300, '\0');
    for (char& c : noise) c = static_cast<char>(rng() & 0xFF);
    if (round % 3 == 0) noise = "{" + noise + "}";
    if (round % 5 == 0) noise = "step 1 | " + noise;
    parser_->Parse(noise, &out_);  // must not crash or trip the sanitizers
    for (const Metric& m : out_.metrics) {
      EXPECT_FALSE(m.key.empty());
      EXPECT_LE(m.key.size(), 256u);
    }
  }
}

TEST_F(LineParserTest, OneMebibyteLines) {
  const size_t mib = 1 << 20;
  EXPECT_EQ(P(std::string(mib, 'a')), "-");
  EXPECT_EQ(P(std::string(mib, '7')), "-");
  EXPECT_EQ(P(std::string(mib, '|')), "-");
  EXPECT_EQ(P(std::string(mib, '{')), "-");
  std::string json = "{";
  while (json.size() < mib) json += "\"k" + std::to_string(json.size()) + "\": 1.5, ";
  json += "\"last\": 2}";
  EXPECT_TRUE(parser_->Parse(json, &out_));
  ASSERT_GT(out_.metrics.size(), 60000u);  // every key is kept (the bound is 100,000)
  EXPECT_EQ(out_.metrics.back().key, "last");
  EXPECT_EQ(out_.dropped, 0u);
  std::string kv;
  while (kv.size() < mib) kv += "loss: 1.5, ";
  // A repeated key is numbered, every value kept (up to the 512 segments a line is cut into).
  EXPECT_TRUE(parser_->Parse(kv, &out_));
  ASSERT_EQ(out_.metrics.size(), 512u);
  EXPECT_EQ(out_.metrics.front().key, "loss");
  EXPECT_EQ(out_.metrics.back().key, "loss_512");
  std::string pipes = "step 1 | loss 2";
  while (pipes.size() < mib) pipes += " | x";
  EXPECT_EQ(P(pipes), "step=1 loss=2");
  // Shapes that would make a careless scanner quadratic: a regression shows as this test's
  // time (bench/ measures parse speed; no wall-clock assertion here).
  for (const char* unit : {"a: 1 (", "loss (", "x  ", "{'a': [", "Epoch 1: 5%| ", "a=1 ", "[a] ",
                           "1,000,", "loss nan ", "\"a\": "}) {
    std::string line;
    while (line.size() < mib) line += unit;
    parser_->Parse(line, &out_);
    EXPECT_LE(out_.metrics.size(), 100000u) << unit;
  }
}

TEST(LineParserPatternsTest, NamedGroupsBecomeMetrics) {
  std::unique_ptr<LineParser> parser;
  ASSERT_TRUE(
      LineParser::Create({{"eval", R"(^EVAL (?<step>\d+) acc=(?<eval_acc>[0-9.]+))"}}, &parser)
          .ok());
  ParsedLine out;
  ASSERT_TRUE(parser->Parse("EVAL 1200 acc=0.8125", &out));
  EXPECT_EQ(ParsedLineText(true, out), "step=1200 eval_acc=0.8125");
  // Built-in shapes still apply to other lines.
  ASSERT_TRUE(parser->Parse("step 3 | loss 1.5", &out));
  EXPECT_EQ(ParsedLineText(true, out), "step=3 loss=1.5");
}

TEST(LineParserPatternsTest, TriedBeforeBuiltInsInOrder) {
  std::unique_ptr<LineParser> parser;
  ASSERT_TRUE(LineParser::Create({{"none", R"(loss (?<never>x+))"},
                                  {"custom", R"(loss (?<custom_loss>\S+))"},
                                  {"later", R"(loss (?<later>\S+))"}},
                                 &parser)
                  .ok());
  ParsedLine out;
  ASSERT_TRUE(parser->Parse("step 3 | loss 1.5", &out));
  EXPECT_EQ(ParsedLineText(true, out), "custom_loss=1.5");
}

TEST(LineParserPatternsTest, MatchWithoutANumberFallsThrough) {
  std::unique_ptr<LineParser> parser;
  ASSERT_TRUE(LineParser::Create({{"p", R"(loss (?<loss>\S+))"}}, &parser).ok());
  ParsedLine out;
  ASSERT_TRUE(parser->Parse("loss abc | acc: 0.5", &out));
  EXPECT_EQ(ParsedLineText(true, out), "acc=0.5");
}

TEST(LineParserPatternsTest, BadRegexIsInvalidWithNameAndOffset) {
  std::unique_ptr<LineParser> parser;
  Status s = LineParser::Create({{"ok", "a(?<x>b)"}, {"broken", "loss=(?<loss>[0-9"}}, &parser);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("pattern 'broken': "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(" at offset 17"), std::string::npos) << s.message();
  EXPECT_EQ(parser, nullptr);
}

TEST(LineParserPatternsTest, PatternWithoutMetricGroupsIsInvalid) {
  std::unique_ptr<LineParser> parser;
  Status s = LineParser::Create({{"nogroups", R"(loss=([0-9.]+))"}}, &parser);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
  EXPECT_NE(s.message().find("pattern 'nogroups'"), std::string::npos);
  s = LineParser::Create({{"steponly", R"(step (?<step>\d+))"}}, &parser);
  EXPECT_EQ(s.code(), Status::Code::kInvalid);
}

TEST(LineParserPatternsTest, InvalidUtf8SubjectAndBacktrackingAreSafe) {
  std::unique_ptr<LineParser> parser;
  ASSERT_TRUE(
      LineParser::Create({{"u", R"(é=(?<e>\d+))"}, {"slow", R"((a+)+(?<b>\d)$)"}}, &parser).ok());
  ParsedLine out;
  ASSERT_TRUE(parser->Parse("\xff\xfe \xc3\xa9=5", &out));
  EXPECT_EQ(ParsedLineText(true, out), "e=5");
  std::string evil(5000, 'a');
  evil += "!";
  EXPECT_FALSE(parser->Parse(evil, &out));  // stopped by the match limit, not hung
}

}  // namespace
}  // namespace inloop::ingest
