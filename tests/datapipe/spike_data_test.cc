// The data index (data/batch_index.h: the SDK's batch message, the skip-window arithmetic, the
// split into window and normal records) and the analysis of a skipped window's records
// (data/spike_data.h) on planted windows: repeated boilerplate, long records, unusual words, and
// an ordinary window that must come out as "nothing unusual".
#include "data/spike_data.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <unistd.h>

#include "data/batch_index.h"
#include "data/quarantine.h"
#include "ingest/sdk_message.h"

namespace inloop::data {
namespace {

TEST(BatchIndexTest, SdkMessageAndJsonRoundTrip) {
  ingest::SdkMessage m;
  ASSERT_TRUE(ingest::ParseSdkMessage(
      R"({"t":"batches","dataset":"corpus","batches":[[7,[[0,3],[10,11]]],[8,[[3,5],[-1,2],[9,4]]],"x"]})", &m));
  ASSERT_EQ(m.type, ingest::SdkMessage::Type::kBatches);
  EXPECT_EQ(m.batches.dataset, "corpus");
  ASSERT_EQ(m.batches.batches.size(), 2u);  // "x" is not a batch
  EXPECT_EQ(m.batches.batches[0].index, 7);
  EXPECT_EQ(m.batches.batches[0].records, (IdRanges{{0, 3}, {10, 11}}));
  EXPECT_EQ(m.batches.batches[1].records, (IdRanges{{3, 5}}));  // bad ranges skipped
  BatchLog b = m.batches;
  ingest::SdkMessage bad;
  EXPECT_FALSE(ingest::ParseSdkMessage(R"({"t":"batches","dataset":"corpus"})", &bad));

  b.path = "/d/corpus.jsonl";
  BatchLog back;
  ASSERT_TRUE(ParseBatchLog(BatchLogJson(b), &back));
  EXPECT_EQ(back.path, "/d/corpus.jsonl");
  EXPECT_EQ(back.dataset, "corpus");
  ASSERT_EQ(back.batches.size(), 2u);
  EXPECT_EQ(back.batches[1].index, 8);
  EXPECT_EQ(back.batches[1].records, (IdRanges{{3, 5}}));
}

TEST(BatchIndexTest, RangesAndWindows) {
  EXPECT_EQ(ToRanges({5, 3, 4, 9, 10, 1, 4, -2}), (IdRanges{{1, 2}, {3, 6}, {9, 11}}));
  EXPECT_EQ(CountIds({{1, 2}, {3, 6}}), 4);
  EXPECT_TRUE(InRanges({{3, 6}}, 5));
  EXPECT_FALSE(InRanges({{3, 6}}, 6));
  // The SDK's data_index: skipping [31, 41) makes step 31 train on batch 41.
  EXPECT_EQ(DataIndexOf(30, {{31, 41}}), 30);
  EXPECT_EQ(DataIndexOf(31, {{31, 41}}), 41);
  // A second window is in steps of the timeline the first made: steps 35..39 of it train on data
  // indices 45..49.
  EXPECT_EQ(DataIndexOf(35, {{31, 41}, {35, 40}}), 50);
  EXPECT_EQ(SkippedDataRanges({{31, 41}}), (IdRanges{{31, 41}}));
  EXPECT_EQ(SkippedDataRanges({{31, 41}, {35, 40}}), (IdRanges{{31, 41}, {45, 50}}));
  // A later window reaching back over an earlier one: steps 25..34 were indices 25..30 and 41..44.
  EXPECT_EQ(SkippedDataRanges({{31, 41}, {25, 35}}), (IdRanges{{25, 45}}));
}

TEST(BatchIndexTest, SplitRecordsByWindow) {
  BatchLog a{"corpus", "/d/c.jsonl", {{1, {{0, 10}}}, {2, {{10, 20}}}, {3, {{20, 30}}}}};
  // A rerun attempt logs index 3 again with other records: the first one counts.
  BatchLog b{"corpus", "/d/c.jsonl", {{3, {{90, 95}}}, {4, {{25, 40}}}}};
  BatchLog other{"val", "/d/v.jsonl", {{2, {{0, 5}}}}};
  auto splits = SplitRecords({a, b, other}, {{2, 4}});
  ASSERT_EQ(splits.size(), 2u);
  EXPECT_EQ(splits[0].path, "/d/c.jsonl");
  EXPECT_EQ(splits[0].window, (IdRanges{{10, 30}}));
  EXPECT_EQ(splits[0].normal, (IdRanges{{0, 10}, {30, 40}}));  // index 4's 25..29 are window records
  EXPECT_EQ(splits[0].window_indices, (IdRanges{{2, 4}}));
  EXPECT_EQ(splits[0].window_batches, 2);
  EXPECT_EQ(splits[0].normal_batches, 2);
  EXPECT_EQ(splits[1].window, (IdRanges{{0, 5}}));
  EXPECT_EQ(splits[1].normal_batches, 0);
}

// A JSONL corpus of ordinary sentences with `plant(i)` replacing record i's text when it returns
// one; the records of `window` form the skipped window, the rest the normal batches.
class SpikeDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-spike-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/corpus.jsonl";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  template <typename Plant>
  void Write(int n, Plant plant) {
    static const char* kNouns[] = {"river", "stone", "cloud", "lantern", "garden", "harbor", "letter",
                                   "mountain", "window", "orchard", "bridge", "candle", "meadow", "valley"};
    static const char* kVerbs[] = {"carries", "follows", "remembers", "builds", "crosses", "answers",
                                   "gathers", "hides", "opens", "keeps"};
    static const char* kAdjs[] = {"quiet", "bright", "old", "narrow", "distant", "golden", "patient", "hollow"};
    std::mt19937 rng(20);
    auto pick = [&](auto& arr) { return std::string(arr[rng() % (sizeof(arr) / sizeof(arr[0]))]); };
    std::ofstream f(path_);
    for (int i = 0; i < n; ++i) {
      std::string text;
      int sentences = 2 + static_cast<int>(rng() % 4);
      for (int s = 0; s < sentences; ++s) {
        text += (s ? " " : "") + std::string("The ") + pick(kAdjs) + " " + pick(kNouns) + " " + pick(kVerbs) +
                " the " + pick(kAdjs) + " " + pick(kNouns) + ".";
      }
      std::string planted = plant(i);
      f << "{\"id\": " << i << ", \"source\": \"s\", \"text\": \"" << (planted.empty() ? text : planted)
        << "\"}\n";
    }
  }

  SpikeData Analyze(int n, int64_t lo, int64_t hi) {
    RecordSplit s;
    s.dataset = "corpus";
    s.path = path_;
    s.window = {{lo, hi}};
    s.normal = {{0, lo}, {hi, n}};
    s.window_indices = {{lo / 10, hi / 10}};
    s.window_batches = (hi - lo) / 10;
    s.normal_batches = (n - (hi - lo)) / 10;
    return AnalyzeSpikeData(s);
  }

  static const SpikeMeasure& Measure(const SpikeData& d, const std::string& name) {
    for (auto& m : d.measures) {
      if (m.name == name) return m;
    }
    static SpikeMeasure none;
    ADD_FAILURE() << "no measure " << name;
    return none;
  }

  std::string dir_, path_;
};

TEST_F(SpikeDataTest, RepeatedBoilerplateStandsOut) {
  const std::string spam = "Subscribe now to read the full story. All rights reserved. Click here to "
                           "accept cookies and continue reading.";
  Write(1000, [&](int i) {
    if (i < 500 || i >= 550) return std::string();
    return i % 2 ? spam : spam + " Page " + std::to_string(i) + ".";
  });
  SpikeData d = Analyze(1000, 500, 550);
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.format, "jsonl");
  EXPECT_EQ(d.field, "text");
  EXPECT_EQ(d.window_records, 50);
  EXPECT_EQ(d.window_analysed, 50);
  EXPECT_EQ(d.normal_analysed, 950);
  const SpikeMeasure& near = Measure(d, "near_duplicates");
  EXPECT_TRUE(near.stands_out);
  EXPECT_GE(near.window, 0.9);
  EXPECT_LT(near.normal, 0.1);
  EXPECT_TRUE(Measure(d, "duplicates").stands_out);  // half of them verbatim
  EXPECT_FALSE(Measure(d, "length").stands_out);
  EXPECT_TRUE(Measure(d, "unusual_words").stands_out);  // "subscribe", "cookies", ...
  EXPECT_TRUE(Measure(d, "repeated_ngrams").stands_out);
  EXPECT_FALSE(Measure(d, "near_duplicates_elsewhere").stands_out);  // the boilerplate is only here
  EXPECT_NE(d.summary.find("near duplicates"), std::string::npos) << d.summary;
  EXPECT_EQ(d.summary.find("nothing unusual"), std::string::npos);
  // Every planted record is flagged, nothing else is.
  EXPECT_EQ(LineRangesText(d.flagged), "501-550");
  // The same validation the pipeline runs, on both sides.
  ASSERT_FALSE(d.window_checks.empty());
  EXPECT_FALSE(d.normal_checks.empty());
  // What quarantine --from-run takes.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  ASSERT_TRUE(ParseLineRanges(LineRangesText(d.flagged), &ranges).ok());
  EXPECT_EQ(ranges, (std::vector<std::pair<int64_t, int64_t>>{{501, 550}}));
  JsonWriter w;
  WriteSpikeDataJson(d, &w);
  EXPECT_NE(w.str().find("\"flagged_lines\":\"501-550\""), std::string::npos);
}

TEST_F(SpikeDataTest, AnOrdinaryWindowIsNothingUnusual) {
  Write(1000, [](int) { return std::string(); });
  SpikeData d = Analyze(1000, 300, 400);
  ASSERT_EQ(d.error, "");
  for (auto& m : d.measures) EXPECT_FALSE(m.stands_out) << m.name << ": " << m.text;
  EXPECT_EQ(d.summary.rfind("nothing unusual found", 0), 0u) << d.summary;
  EXPECT_TRUE(d.flagged.empty());
}

TEST_F(SpikeDataTest, LongRecordsAndUnusualWords) {
  std::string lng;
  for (int k = 0; k < 30; ++k) lng += "The quiet river carries the old stone. ";
  Write(600, [&](int i) { return i >= 200 && i < 230 ? lng + std::to_string(i) : std::string(); });
  SpikeData d = Analyze(600, 200, 230);
  ASSERT_EQ(d.error, "");
  const SpikeMeasure& len = Measure(d, "length");
  EXPECT_TRUE(len.stands_out) << len.text;
  EXPECT_GE(len.window / len.normal, 4.0);
  EXPECT_EQ(LineRangesText(d.flagged), "201-230");

  Write(600, [&](int i) {
    return i >= 100 && i < 130 ? "zxqv krrbl " + std::to_string(i) + " vvomp qqtr flarn" : std::string();
  });
  d = Analyze(600, 100, 130);
  const SpikeMeasure& unusual = Measure(d, "unusual_words");
  EXPECT_TRUE(unusual.stands_out) << unusual.text;
  ASSERT_FALSE(d.unusual_words.empty());
  EXPECT_NE(unusual.text.find("'zxqv'"), std::string::npos) << unusual.text;
  EXPECT_EQ(LineRangesText(d.flagged), "101-130");
}

TEST_F(SpikeDataTest, RepeatedPhrasesInOtherwiseDifferentRecords) {
  // Each window record is its own text with one boilerplate phrase inside: not near duplicates of
  // each other, but their word 8-grams repeat.
  const std::string phrase = "click here to accept the cookies and continue reading the full story now";
  std::vector<std::string> own;
  Write(800, [](int) { return std::string(); });
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) own.push_back(line.substr(line.find("\"text\": \"") + 9));
  }
  Write(800, [&](int i) {
    if (i < 400 || i >= 440) return std::string();
    std::string t = own[i].substr(0, own[i].size() - 2);  // without the closing quote and brace
    return t + " " + phrase;
  });
  SpikeData d = Analyze(800, 400, 440);
  ASSERT_EQ(d.error, "");
  EXPECT_FALSE(Measure(d, "near_duplicates").stands_out) << Measure(d, "near_duplicates").text;
  const SpikeMeasure& m = Measure(d, "repeated_ngrams");
  EXPECT_TRUE(m.stands_out) << m.text;
  EXPECT_LT(m.normal, 0.05);
  EXPECT_FALSE(d.flagged.empty());
  for (int64_t r : d.flagged) EXPECT_TRUE(r >= 400 && r < 440) << r;
}

TEST_F(SpikeDataTest, DuplicatesOfTheRestOfTheFile) {
  // The window repeats records that sit elsewhere in the file (a shard concatenated twice).
  std::vector<std::string> texts;
  Write(400, [](int) { return std::string(); });
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) texts.push_back(line);
  }
  {
    std::ofstream out(path_, std::ios::app);
    for (int i = 0; i < 40; ++i) out << texts[i] << "\n";  // records 400..439 repeat 0..39
  }
  RecordSplit s;
  s.path = path_;
  s.window = {{400, 440}};
  s.normal = {{40, 400}};
  s.window_batches = 4;
  SpikeData d = AnalyzeSpikeData(s);
  ASSERT_EQ(d.error, "");
  const SpikeMeasure& m = Measure(d, "duplicates_elsewhere");
  EXPECT_TRUE(m.stands_out) << m.text;
  EXPECT_DOUBLE_EQ(m.window, 1.0);
  // Near duplicates of records elsewhere: the copies of 0..39 are not in the normal sample
  // (40..399), so no; the exact measure reads the whole file.
  EXPECT_FALSE(Measure(d, "near_duplicates_elsewhere").stands_out);
  EXPECT_EQ(LineRangesText(d.flagged), "401-440");
}

TEST_F(SpikeDataTest, NearDuplicatesOfRecordsElsewhere) {
  // The window's records are edited copies of normal records: each unique in the window.
  std::vector<std::string> own;
  Write(600, [](int) { return std::string(); });
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) own.push_back(line.substr(line.find("\"text\": \"") + 9));
  }
  Write(600, [&](int i) {
    if (i < 500) return std::string();
    std::string t = own[(i - 500) * 4].substr(0, own[(i - 500) * 4].size() - 2);  // records 0, 4, 8, ...
    return t + " Edited.";
  });
  SpikeData d = Analyze(600, 500, 600);
  ASSERT_EQ(d.error, "");
  const SpikeMeasure& m = Measure(d, "near_duplicates_elsewhere");
  EXPECT_TRUE(m.stands_out) << m.text;
  EXPECT_GE(m.window, 0.3);  // those whose original fell in half A of the sample
  EXPECT_FALSE(Measure(d, "near_duplicates").stands_out);
  for (int64_t r : d.flagged) EXPECT_GE(r, 500);
}

TEST_F(SpikeDataTest, UnreadableDataSaysWhy) {
  RecordSplit s;
  s.path = dir_ + "/gone.jsonl";
  s.window = {{0, 5}};
  SpikeData d = AnalyzeSpikeData(s);
  EXPECT_NE(d.error.find("cannot read the dataset"), std::string::npos) << d.error;
  Write(10, [](int) { return std::string(); });
  s.path = path_;
  s.window = {{50, 60}};
  d = AnalyzeSpikeData(s);
  EXPECT_NE(d.error.find("past its end"), std::string::npos) << d.error;
  s.window.clear();
  EXPECT_EQ(AnalyzeSpikeData(s).error, "the skipped batches recorded no records");
}

}  // namespace
}  // namespace inloop::data
