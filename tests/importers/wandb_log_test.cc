// The W&B importer on inputs built here: the .wandb framing (blocks, chunk joins, checksums,
// damage, truncation), the Record decoding, and how history/config/summary/run records become a
// run (wandb-core nested keys, split media dicts, NaN, steps, wall times).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <string>
#include <vector>

#include "import_fixture.h"
#include "importers/detect_format.h"
#include "importers/wandb_json.h"
#include "importers/wandb_log.h"
#include "importers/wandb_reader.h"
#include "importers/wandb_record.h"
#include "wandb_encode.h"

namespace inloop::importers {
namespace {

using namespace wandb_test;

struct Read {
  std::vector<std::string> records;
  std::vector<int64_t> offsets;
  std::vector<WandbLogProblem> problems;
  WandbLogCounts counts;
};

Read ReadAll(std::string_view bytes) {
  Read r;
  WandbLogReader log(bytes);
  if (log.ReadHeader()) {
    std::string_view rec;
    int64_t off;
    while (log.Next(&rec, &off)) {
      r.records.emplace_back(rec);
      r.offsets.push_back(off);
    }
  }
  r.problems = log.TakeProblems();
  r.counts = log.counts();
  return r;
}

std::string Offsets(const std::vector<WandbLogProblem>& ps) {
  std::string out;
  for (auto& p : ps) out += (out.empty() ? "" : " ") + std::to_string(p.offset);
  return out;
}

TEST(WandbLogTest, Crc32IsZlibs) {
  EXPECT_EQ(Crc32Ieee(0, "123456789", 9), 0xCBF43926u);
  EXPECT_EQ(Crc32Ieee(Crc32Ieee(0, "1234", 4), "56789", 5), 0xCBF43926u);
  // Every length and alignment around the folded path's bounds (64 bytes, multiples of 16),
  // chained from several starting values, against zlib's byte-at-a-time function.
  std::string buf(5000, '\0');
  uint32_t rng = 7;
  for (char& c : buf) {
    rng = rng * 1664525u + 1013904223u;
    c = static_cast<char>(rng >> 24);
  }
  const auto* u = reinterpret_cast<const unsigned char*>(buf.data());
  for (uint32_t start : {0u, 0xCBF43926u, 0xFFFFFFFFu}) {
    for (size_t off = 0; off < 17; off += 3) {
      for (size_t n : {0, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 200, 1000, 4096, 4983}) {
        uLong want = start;
        for (size_t i = 0; i < n; ++i) want = crc32(want, u + off + i, 1);
        ASSERT_EQ(Crc32Ieee(start, u + off, n), static_cast<uint32_t>(want))
            << "start " << start << " offset " << off << " length " << n;
      }
    }
  }
}

TEST(WandbLogTest, JoinsRecordsAcrossBlocks) {
  std::vector<std::string> recs = {"a", std::string(40000, 'b'), "", std::string(100000, 'c'),
                                   "tail"};
  // One record that ends with fewer than 7 bytes left in its block: the rest is padding.
  recs.insert(recs.begin() + 1, std::string(WandbLogReader::kBlockSize - 15 - 7 - 3, 'p'));
  std::vector<int64_t> offsets;
  std::string bytes = Framed(recs, &offsets);
  Read r = ReadAll(bytes);
  EXPECT_EQ(Offsets(r.problems), "");
  ASSERT_EQ(r.records.size(), recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(r.records[i], recs[i]) << i;
    EXPECT_EQ(r.offsets[i], offsets[i]) << i;
  }
  EXPECT_EQ(offsets[0], 7);
  EXPECT_EQ(offsets[2], static_cast<int64_t>(WandbLogReader::kBlockSize));  // after the padding
  EXPECT_GE(r.counts.middle, 2);
  EXPECT_EQ(r.counts.records, static_cast<int64_t>(recs.size()));
  EXPECT_EQ(r.counts.bytes, static_cast<int64_t>(bytes.size()));
}

TEST(WandbLogTest, BadHeaderReadsNothing) {
  std::string bytes = Framed({"x"});
  bytes[1] = 'X';
  Read r = ReadAll(bytes);
  EXPECT_TRUE(r.records.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("not a W&B .wandb file"), std::string::npos);
  EXPECT_EQ(ReadAll(std::string(":W&B", 4)).problems.size(), 1u);
  std::string v1 = Framed({"x"});
  v1[6] = 1;
  EXPECT_NE(ReadAll(v1).problems.at(0).message.find("version 1"), std::string::npos);
}

TEST(WandbLogTest, DamagedChunkSkipsTheRestOfItsBlockOnly) {
  std::vector<std::string> recs;
  for (int i = 0; i < 60; ++i) recs.push_back(std::string(2000, static_cast<char>('A' + i % 26)));
  std::vector<int64_t> offsets;
  std::string bytes = Framed(recs, &offsets);
  // Record 3 lies wholly in block 0: flip a data byte.
  ASSERT_LT(offsets[4], static_cast<int64_t>(WandbLogReader::kBlockSize));
  bytes[static_cast<size_t>(offsets[3]) + 100] ^= 0x40;
  Read r = ReadAll(bytes);
  ASSERT_EQ(r.problems.size(), 2u) << r.problems[0].message;
  EXPECT_EQ(r.problems[0].offset, offsets[3]);
  EXPECT_NE(r.problems[0].message.find("checksum mismatch"), std::string::npos);
  EXPECT_NE(r.problems[0].message.find(fmt::format("bytes {}..32768", offsets[3])),
            std::string::npos);
  // Block 0 ended inside a record that goes on in block 1: its rest is reported once.
  EXPECT_EQ(r.problems[1].offset, static_cast<int64_t>(WandbLogReader::kBlockSize));
  EXPECT_NE(r.problems[1].message.find("start is missing"), std::string::npos);
  // Records 0-2 and every record that starts in block 1 or later are kept.
  EXPECT_EQ(r.records[0], recs[0]);
  EXPECT_EQ(r.records[2], recs[2]);
  EXPECT_EQ(r.records.back(), recs.back());
  size_t later = 0;
  for (int64_t o : offsets) later += o >= static_cast<int64_t>(WandbLogReader::kBlockSize);
  EXPECT_EQ(r.records.size(), 3 + later);
  EXPECT_EQ(r.counts.damaged_chunks, 1);
}

TEST(WandbLogTest, DamageInsideAJoinedRecordDropsThatRecord) {
  std::vector<int64_t> offsets;
  std::string bytes = Framed({"first", std::string(70000, 'x'), "after"}, &offsets);
  // The big record's MIDDLE chunk is in block 1: break its length so it runs past the block.
  size_t middle = WandbLogReader::kBlockSize;
  bytes[middle + 5] = static_cast<char>(0xFF);
  Read r = ReadAll(bytes);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0], "first");
  EXPECT_EQ(r.records[1], "after");
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].offset, static_cast<int64_t>(middle));
  EXPECT_NE(r.problems[0].message.find("runs past its block"), std::string::npos);
  EXPECT_EQ(r.problems[1].offset, offsets[1]);  // the record, at its FIRST chunk
  EXPECT_NE(r.problems[1].message.find("lost a chunk"), std::string::npos);
  EXPECT_EQ(r.problems[2].offset, static_cast<int64_t>(2 * WandbLogReader::kBlockSize));
}

TEST(WandbLogTest, TruncatedFileKeepsWhatCameBefore) {
  std::vector<int64_t> offsets;
  std::string bytes = Framed({"one", "two", std::string(50000, 'z')}, &offsets);
  // Cut inside the third record's second chunk, inside a chunk header, at a chunk boundary.
  Read r = ReadAll(bytes.substr(0, 40000));
  EXPECT_EQ(r.records, (std::vector<std::string>{"one", "two"}));
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_NE(r.problems[0].message.find("file ends inside a chunk ("), std::string::npos);
  EXPECT_EQ(r.problems[1].offset, offsets[2]);
  r = ReadAll(bytes.substr(0, static_cast<size_t>(offsets[1]) + 3));
  EXPECT_EQ(r.records, (std::vector<std::string>{"one"}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].offset, offsets[1]);
  EXPECT_NE(r.problems[0].message.find("inside a chunk header"), std::string::npos);
  r = ReadAll(bytes.substr(0, static_cast<size_t>(offsets[2])));
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_TRUE(r.problems.empty());
}

TEST(WandbLogTest, EveryPrefixAndEveryByteFlipIsSafe) {
  std::string bytes = Framed({HistoryRecord({Item("_step", "0"), Item("loss", "1.5")}),
                              std::string(33000, 'q'), RunRecord("id", "p", "n", 1700000000)});
  for (size_t cut = 0; cut <= bytes.size(); cut += 97) {
    ImportBatch b;
    ReadWandbBytes(std::string_view(bytes).substr(0, cut), "x.wandb", &b, nullptr);
    EXPECT_EQ(b.runs.size(), cut >= 7 ? 1u : 0u) << cut;
  }
  for (size_t at = 0; at < bytes.size(); at += 89) {
    std::string bad = bytes;
    bad[at] ^= 0x5A;
    ImportBatch b;
    ReadWandbBytes(bad, "x.wandb", &b, nullptr);
    EXPECT_FALSE(b.issues.empty()) << at;
    for (auto& i : b.issues) EXPECT_GE(i.offset, 0);
  }
}

TEST(WandbRecordTest, DecodesTheFieldsItUsesAndSkipsTheRest) {
  WandbRecord rec;  // its views point into the payload: each payload is kept while checked
  std::string unknown = Bytes(19, "uuid") + Bytes(200, "info") + VarintField(150, 5);
  std::string history = HistoryRecord({Item("a", "1"), NestedItem({"b", "c"}, "2")}) + unknown;
  ASSERT_TRUE(DecodeWandbRecord(history, &rec));
  EXPECT_EQ(rec.type, WandbRecord::kHistory);
  ASSERT_EQ(rec.items.size(), 2u);
  EXPECT_EQ(rec.items[1].nested_key, (std::vector<std::string_view>{"b", "c"}));
  std::string run = RunRecord("abc", "proj", "nice", 1700000000);
  ASSERT_TRUE(DecodeWandbRecord(run, &rec));
  EXPECT_EQ(rec.type, WandbRecord::kRun);
  EXPECT_EQ(rec.run.run_id, "abc");
  EXPECT_EQ(rec.run.display_name, "nice");
  EXPECT_DOUBLE_EQ(rec.run.start_time, 1700000000.5);
  ASSERT_TRUE(DecodeWandbRecord(ExitRecord(-1, 30), &rec));
  EXPECT_EQ(rec.exit_code, -1);
  EXPECT_EQ(rec.runtime, 30);
  std::string other = Bytes(26, "system metadata, wandb-core");
  ASSERT_TRUE(DecodeWandbRecord(other, &rec));
  EXPECT_EQ(rec.type, WandbRecord::kOther);
  EXPECT_EQ(rec.field, 26);
  EXPECT_FALSE(DecodeWandbRecord("\x12\x05" "ab", &rec));        // length past the end
  EXPECT_FALSE(DecodeWandbRecord("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", &rec));
  EXPECT_FALSE(DecodeWandbRecord("\x0b", &rec));               // a group
  EXPECT_TRUE(DecodeWandbRecord("", &rec));
  EXPECT_EQ(rec.type, WandbRecord::kOther);
}

TEST(WandbJsonTest, FlattensLikeWandbNamesThem) {
  std::vector<WandbJsonLeaf> l;
  ASSERT_TRUE(FlattenWandbJson(
      R"({"a": NaN, "b": {"c": -Infinity, "d": [1, {"x": 2}]}, "img": {"_type": "image-file",
          "path": "m.png"}, "s": "t\u00e9\ud83d\ude00", "t": true, "n": null, "e": {},
          "big": 1e999})",
      "", &l));
  ASSERT_EQ(l.size(), 9u);
  EXPECT_TRUE(std::isnan(l[0].number));
  EXPECT_EQ(l[1].path, "b.c");
  EXPECT_EQ(l[1].number, -INFINITY);
  EXPECT_EQ(l[2].path, "b.d");
  EXPECT_EQ(WandbJsonKindName(l[2]), "list");
  EXPECT_EQ(WandbJsonKindName(l[3]), "dict:image-file");
  EXPECT_EQ(l[4].text, "t\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(WandbJsonKindName(l[5]), "bool");
  EXPECT_EQ(WandbJsonKindName(l[6]), "null");
  EXPECT_EQ(WandbJsonKindName(l[7]), "dict");
  EXPECT_EQ(l[8].number, INFINITY);
  l.clear();
  EXPECT_FALSE(FlattenWandbJson("{\"a\": 1,", "", &l));
  EXPECT_FALSE(FlattenWandbJson("1 2", "", &l));
  EXPECT_FALSE(FlattenWandbJson(std::string(100, '[') + std::string(100, ']'), "", &l));
  EXPECT_FALSE(FlattenWandbJson("nan", "", &l));
}

// A run as wandb-core writes it, with the older client's ways mixed in.
TEST(WandbReaderTest, RecordsBecomeOneRun) {
  std::vector<std::string> recs = {
      RunRecord("r1d", "proj", "", 1700000000),
      ConfigRecord({Item("_wandb", "{}"), Item("lr", "0.001"), Item("model", R"({"depth": 4})"),
                    Item("gone", "1")},
                   {Item("gone", "")}),
      HistoryRecord({NestedItem({"_step"}, "0"), NestedItem({"train", "loss"}, "2.5"),
                     NestedItem({"img", "_type"}, "\"image-file\""),
                     NestedItem({"img", "path"}, "\"media/a.png\""), Item("_runtime", "1.5"),
                     Item("note", "\"hi\"")}),
      HistoryRecord({Item("_step", "1"), Item("train.loss", "NaN"), Item("acc", "true"),
                     Item("_timestamp", "1700000010.25")}),
      HistoryRecord({Item("train.loss", "1.5"), Item("bad", "{")}),  // no _step: previous + 1
      SummaryRecord({Item("train.loss", "1.5"), NestedItem({"_wandb", "runtime"}, "12"),
                     Item("best", "\"epoch 3\"")}),
      ExitRecord(0, 12),
  };
  std::vector<int64_t> offsets;
  std::string bytes = Framed(recs, &offsets);
  ImportBatch b;
  WandbNonNumeric nn;
  ReadWandbBytes(bytes, "run-r1d.wandb", &b, &nn);
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "r1d");
  EXPECT_EQ(r.format, "wandb");
  EXPECT_EQ(Keys(r), "train.loss");
  EXPECT_EQ(Points(r, "train.loss"), "0@1700000002:2.5 1@1700000010.25:nan 2:1.5");
  EXPECT_EQ(Param(r, "lr"), "0.001");
  EXPECT_EQ(Param(r, "model.depth"), "4");
  EXPECT_EQ(Param(r, "gone"), "<none>");
  EXPECT_EQ(Param(r, "_wandb"), "<none>");
  EXPECT_EQ(Param(r, "summary/train.loss"), "1.5");
  EXPECT_EQ(Param(r, "summary/best"), "epoch 3");
  EXPECT_EQ(Param(r, "summary/_wandb.runtime"), "<none>");
  EXPECT_EQ(Param(r, "wandb/run_id"), "r1d");
  EXPECT_EQ(Param(r, "wandb/project"), "proj");
  EXPECT_EQ(Param(r, "wandb/exit_code"), "0");
  EXPECT_EQ(r.tags, std::vector<std::string>{"tag-a"});
  EXPECT_DOUBLE_EQ(r.started_at, 1700000000.5);
  EXPECT_DOUBLE_EQ(r.ended_at, 1700000012.5);
  EXPECT_EQ(r.status, "finished");
  EXPECT_EQ(nn.by_key["img"]["dict:image-file"], 1);
  EXPECT_EQ(nn.by_key["note"]["string"], 1);
  EXPECT_EQ(nn.by_key["acc"]["bool"], 1);
  EXPECT_EQ(nn.by_key.size(), 3u);
  EXPECT_EQ(b.skipped["wandb:dict:image-file"], 1);
  ASSERT_EQ(b.issues.size(), 1u);
  EXPECT_EQ(b.issues[0].offset, offsets[4]);
  EXPECT_NE(b.issues[0].message.find("'bad' is not JSON"), std::string::npos);
  EXPECT_EQ(b.records, static_cast<int64_t>(recs.size()));
}

TEST(WandbReaderTest, AnUndecodableRecordIsReportedAndSkipped) {
  std::vector<int64_t> offsets;
  std::string bytes = Framed({HistoryRecord({Item("_step", "0"), Item("x", "1")}), "\x12\x09zz",
                              HistoryRecord({Item("_step", "1"), Item("x", "2")})},
                             &offsets);
  ImportBatch b;
  ReadWandbBytes(bytes, "f.wandb", &b, nullptr);
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(Points(b.runs[0], "x"), "0:1 1:2");
  EXPECT_EQ(b.runs[0].status, "");  // no run record, no exit record: the driver's default
  ASSERT_EQ(b.issues.size(), 1u);
  EXPECT_EQ(b.issues[0].offset, offsets[1]);
  EXPECT_NE(b.issues[0].message.find("not a valid W&B record"), std::string::npos);
}

class WandbDirTest : public ImportFixture {};

TEST_F(WandbDirTest, OldLayoutAndSideFiles) {
  Write("run-20200101_000000-abc123/wandb-history.jsonl",
        "{\"loss\": 2.0, \"_step\": 0, \"_timestamp\": 1577836801.0, \"_runtime\": 1}\n"
        "not json\n"
        "{\"loss\": NaN, \"h\": {\"_type\": \"histogram\", \"values\": [1]}, \"_step\": 1}\n");
  Write("run-20200101_000000-abc123/wandb-summary.json", "{\"loss\": 1.0, \"_step\": 1}");
  Write("run-20200101_000000-abc123/config.yaml",
        "wandb_version: 1\n_wandb:\n  desc: null\n  value:\n    cli_version: 0.8.0\n"
        "lr:\n  desc: null\n  value: 0.1\nopt:\n  desc: null\n  value:\n    name: adam\n");
  Write("run-20200101_000000-abc123/wandb-metadata.json",
        "{\"startedAt\": \"2020-01-01T00:00:00.5\", \"project\": \"p\", \"program\": \"t.py\", "
        "\"state\": \"killed\"}");
  std::string dir = dir_ + "/run-20200101_000000-abc123";
  EXPECT_TRUE(IsWandbRunDir(dir));
  EXPECT_FALSE(IsWandbRunDir(dir_));
  EXPECT_EQ(DetectFormat(dir + "/wandb-history.jsonl"), "wandb");
  ImportBatch b;
  ASSERT_TRUE(ReadWandbRun(dir, &b).ok());
  ASSERT_EQ(b.runs.size(), 1u);
  const ImportedRun& r = b.runs[0];
  EXPECT_EQ(r.name, "abc123");
  EXPECT_EQ(Points(r, "loss"), "0@1577836801:2 1:nan");
  EXPECT_EQ(Param(r, "lr"), "0.1");
  EXPECT_EQ(Param(r, "opt.name"), "adam");
  EXPECT_EQ(Param(r, "_wandb.cli_version"), "<none>");
  EXPECT_EQ(Param(r, "summary/loss"), "1.0");
  EXPECT_EQ(Param(r, "wandb/project"), "p");
  EXPECT_EQ(Param(r, "wandb/program"), "t.py");
  EXPECT_DOUBLE_EQ(r.started_at, 1577836800.5);
  EXPECT_EQ(r.status, "stopped");
  EXPECT_EQ(IssueLines(b), "wandb-history.jsonl:2");
  EXPECT_EQ(b.skipped["wandb:dict:histogram"], 1);
}

TEST_F(WandbDirTest, DotWandbFileWithFilesFolder) {
  std::string dir = dir_ + "/wandb/offline-run-20240101_000000-zz9";
  Write("wandb/offline-run-20240101_000000-zz9/run-zz9.wandb",
        Framed({RunRecord("zz9", "p", "shown", 1700000000),
                HistoryRecord({Item("_step", "5"), Item("m", "3")})}));
  Write("wandb/offline-run-20240101_000000-zz9/files/wandb-summary.json",
        "{\"m\": 3, \"x\": \"y\"}");
  Write("wandb/offline-run-20240101_000000-zz9/files/config.yaml",
        "lr:\n  desc: null\n  value: 0.5\n");
  EXPECT_TRUE(IsWandbRunDir(dir));
  EXPECT_EQ(WandbSideFiles(dir).size(), 2u);
  EXPECT_EQ(DetectFormat(dir), "wandb");
  EXPECT_EQ(DetectFormat(dir + "/run-zz9.wandb"), "wandb");
  EXPECT_EQ(DetectFormat(dir_ + "/wandb"), "");  // the folder of runs is walked, not a run
  for (const std::string& path : {dir, dir + "/run-zz9.wandb"}) {
    ImportBatch b;
    ASSERT_TRUE(ReadWandbRun(path, &b).ok());
    ASSERT_EQ(b.runs.size(), 1u) << path;
    EXPECT_EQ(b.runs[0].name, "shown");
    EXPECT_EQ(b.runs[0].status, "interrupted");  // no exit record
    EXPECT_EQ(b.runs[0].source, dir + "/run-zz9.wandb");
    EXPECT_EQ(Points(b.runs[0], "m"), "5:3");
    EXPECT_EQ(Param(b.runs[0], "summary/x"), "y");
    EXPECT_EQ(Param(b.runs[0], "lr"), "0.5");  // no config record: config.yaml
    EXPECT_TRUE(b.issues.empty()) << IssueText(b);
  }
  ImportBatch missing;
  EXPECT_FALSE(ReadWandbRun(dir_ + "/nope", &missing).ok());
}

}  // namespace
}  // namespace inloop::importers
