// TfRecordReader: good records, each kind of damage (bad data CRC, bad length CRC with resync,
// truncation, huge lengths), and random garbage and bit flips that must never crash or read out
// of the buffer (run it under ASan: -DINLOOP_SANITIZE=ON).
#include "importers/tfrecord.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/tfevents_writer.h"

namespace inloop::importers {
namespace {

using tfevents_testing::AppendRecord;
using tfevents_testing::PutLe32;
using tfevents_testing::PutLe64;

struct Seen {
  TfRecordResult result;
  int64_t offset;
  int64_t resume;
  std::string data;
  std::string message;
};

std::vector<Seen> ReadAll(std::string_view buf) {
  TfRecordReader r(buf);
  std::vector<Seen> out;
  for (size_t guard = 0; guard <= buf.size() + 1; ++guard) {
    std::string_view data;
    TfRecordResult res = r.Next(&data);
    if (res == TfRecordResult::kEnd) return out;
    out.push_back({res, r.offset(), r.resume(),
                   res == TfRecordResult::kRecord ? std::string(data) : std::string(),
                   res == TfRecordResult::kRecord ? std::string() : r.message()});
  }
  ADD_FAILURE() << "reader did not reach the end";
  return out;
}

// Five records of different sizes (one empty); offsets[i] is where record i starts.
std::string FiveRecords(std::vector<size_t>* offsets) {
  std::string buf;
  const char* payloads[] = {"alpha", "", "a somewhat longer third record", "delta", "echo!"};
  for (const char* p : payloads) {
    offsets->push_back(buf.size());
    AppendRecord(&buf, p);
  }
  return buf;
}

TEST(TfRecordReader, ReadsEveryRecordWithItsOffset) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 5u);
  const char* payloads[] = {"alpha", "", "a somewhat longer third record", "delta", "echo!"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].result, TfRecordResult::kRecord) << i;
    EXPECT_EQ(seen[i].data, payloads[i]) << i;
    EXPECT_EQ(seen[i].offset, static_cast<int64_t>(off[i])) << i;
  }
}

TEST(TfRecordReader, EmptyBufferEndsAtOnce) {
  EXPECT_TRUE(ReadAll("").empty());
}

TEST(TfRecordReader, BadDataCrcSkipsOnlyThatRecord) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  buf[off[2] + TfRecordReader::kHeaderBytes + 3] ^= 0x01;  // one bit of record 2's data
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[2].result, TfRecordResult::kBadData);
  EXPECT_EQ(seen[2].offset, static_cast<int64_t>(off[2]));
  EXPECT_EQ(seen[2].resume, static_cast<int64_t>(off[3]));
  EXPECT_NE(seen[2].message.find("byte " + std::to_string(off[2])), std::string::npos)
      << seen[2].message;
  EXPECT_NE(seen[2].message.find("data CRC"), std::string::npos) << seen[2].message;
  for (size_t i : {0, 1, 3, 4}) EXPECT_EQ(seen[i].result, TfRecordResult::kRecord) << i;
  EXPECT_EQ(seen[3].data, "delta");
  EXPECT_EQ(seen[4].data, "echo!");
}

TEST(TfRecordReader, BadDataCrcInTheCrcItself) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  buf[off[4] - 1] ^= 0x80;  // the last byte of record 3's data CRC
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[3].result, TfRecordResult::kBadData);
  EXPECT_EQ(seen[4].data, "echo!");
}

TEST(TfRecordReader, BadLengthCrcResyncsToTheNextRecord) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  buf[off[2]] ^= 0x04;  // record 2's length: its CRC no longer checks
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].data, "alpha");
  EXPECT_EQ(seen[1].result, TfRecordResult::kRecord);
  EXPECT_EQ(seen[2].result, TfRecordResult::kResync);
  EXPECT_EQ(seen[2].offset, static_cast<int64_t>(off[2]));
  EXPECT_EQ(seen[2].resume, static_cast<int64_t>(off[3]));
  const std::string range = "[" + std::to_string(off[2]) + ", " + std::to_string(off[3]) + ")";
  EXPECT_NE(seen[2].message.find(range), std::string::npos) << seen[2].message;
  EXPECT_NE(seen[2].message.find("length CRC"), std::string::npos) << seen[2].message;
  EXPECT_EQ(seen[3].result, TfRecordResult::kRecord);
  EXPECT_EQ(seen[3].data, "delta");
  EXPECT_EQ(seen[4].data, "echo!");
}

TEST(TfRecordReader, BadLengthCrcOfTheLastRecordSkipsToTheEnd) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  buf[off[4] + 8] ^= 0x10;  // record 4's length CRC
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[3].data, "delta");
  EXPECT_EQ(seen[4].result, TfRecordResult::kResync);
  EXPECT_EQ(seen[4].offset, static_cast<int64_t>(off[4]));
  EXPECT_EQ(seen[4].resume, static_cast<int64_t>(buf.size()));
}

TEST(TfRecordReader, ResyncNeedsALengthThatFits) {
  // Garbage, then a header whose CRC checks but whose length runs past the end, then a good
  // record: the resync must not stop at the header that does not fit.
  std::string buf = "0123456789abcdefXYZ";
  std::string bogus;
  PutLe64(&bogus, 1000);
  std::string header = bogus;
  PutLe32(&header, crc32c::Mask(crc32c::Value(bogus)));
  buf += header;
  const size_t good = buf.size();
  AppendRecord(&buf, "kept");
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].result, TfRecordResult::kResync);
  EXPECT_EQ(seen[0].offset, 0);
  EXPECT_EQ(seen[0].resume, static_cast<int64_t>(good));
  EXPECT_EQ(seen[1].data, "kept");
}

TEST(TfRecordReader, TruncatedHeaderStops) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  const size_t end = buf.size();
  AppendRecord(&buf, "lost");
  buf.resize(end + 7);  // 7 of the 12 header bytes
  auto seen = ReadAll(buf);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[4].data, "echo!");
  EXPECT_EQ(seen[5].result, TfRecordResult::kTruncated);
  EXPECT_EQ(seen[5].offset, static_cast<int64_t>(end));
  EXPECT_NE(seen[5].message.find("byte " + std::to_string(end)), std::string::npos);
}

TEST(TfRecordReader, TruncatedDataStops) {
  std::vector<size_t> off;
  std::string buf = FiveRecords(&off);
  for (size_t cut : {off[4] + 12, off[4] + 14, buf.size() - 1}) {
    auto seen = ReadAll(std::string_view(buf).substr(0, cut));
    ASSERT_EQ(seen.size(), 5u) << cut;
    EXPECT_EQ(seen[3].data, "delta");
    EXPECT_EQ(seen[4].result, TfRecordResult::kTruncated) << cut;
    EXPECT_EQ(seen[4].offset, static_cast<int64_t>(off[4])) << cut;
  }
}

TEST(TfRecordReader, HugeLengthsNeitherAllocateNorReadPastTheEnd) {
  for (uint64_t length : {uint64_t{1} << 62, ~uint64_t{0}, ~uint64_t{0} - 11, uint64_t{1} << 32,
                          uint64_t{5}}) {
    std::string buf;
    AppendRecord(&buf, "first");
    const size_t at = buf.size();
    std::string len;
    PutLe64(&len, length);
    buf += len;
    PutLe32(&buf, crc32c::Mask(crc32c::Value(len)));
    buf += "abc";  // fewer bytes than any of the lengths plus the data CRC
    auto seen = ReadAll(buf);
    ASSERT_EQ(seen.size(), 2u) << length;
    EXPECT_EQ(seen[0].data, "first");
    EXPECT_EQ(seen[1].result, TfRecordResult::kTruncated) << length;
    EXPECT_EQ(seen[1].offset, static_cast<int64_t>(at));
  }
}

// Checks what must hold whatever the input: the reader ends, moves forward on every call, and
// returns data that lies inside the buffer and whose CRC checks.
void ReadAnything(std::string_view buf) {
  TfRecordReader r(buf);
  int64_t last = -1;
  for (size_t calls = 0;; ++calls) {
    ASSERT_LE(calls, buf.size() + 1) << "no progress";
    std::string_view data;
    TfRecordResult res = r.Next(&data);
    if (res == TfRecordResult::kEnd) break;
    ASSERT_GT(r.offset(), last);
    ASSERT_GT(r.resume(), r.offset());
    ASSERT_LE(r.resume(), static_cast<int64_t>(buf.size()));
    last = r.offset();
    if (res == TfRecordResult::kRecord) {
      ASSERT_GE(data.data(), buf.data());
      ASSERT_LE(data.data() + data.size(), buf.data() + buf.size());
      uint32_t stored;
      std::memcpy(&stored, data.data() + data.size(), 4);
      ASSERT_EQ(crc32c::Unmask(stored), crc32c::Value(data));
    } else {
      ASSERT_FALSE(r.message().empty());
    }
  }
}

TEST(TfRecordReader, RandomGarbageAndBitFlipsNeverCrash) {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 300; ++round) {
    // Pure garbage of random length, read from an exactly sized heap buffer so ASan sees overreads.
    const size_t n = rng() % 600;
    std::vector<char> garbage(n);
    for (char& c : garbage) c = static_cast<char>(rng());
    ReadAnything(std::string_view(garbage.data(), garbage.size()));
  }
  std::string good;
  for (int i = 0; i < 40; ++i) AppendRecord(&good, std::string(rng() % 50, static_cast<char>('a' + i % 26)));
  int records_after_flips = 0;
  for (int round = 0; round < 500; ++round) {
    std::string buf = good;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) buf[rng() % buf.size()] ^= static_cast<char>(1 << (rng() % 8));
    if (rng() % 4 == 0) buf.resize(rng() % buf.size());
    std::vector<char> exact(buf.begin(), buf.end());
    ReadAnything(std::string_view(exact.data(), exact.size()));
    for (const Seen& s : ReadAll(buf)) records_after_flips += s.result == TfRecordResult::kRecord;
  }
  // A few flipped bits cost a few records, not the file: most of the 40 per round survive.
  EXPECT_GT(records_after_flips, 500 * 20);
}

}  // namespace
}  // namespace inloop::importers
