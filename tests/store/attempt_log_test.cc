// Attempt log format (store/attempt_log.h): round trips through many frames, tails and ranges
// that decode only the frames they need, a crash between flushes, torn and corrupt frames,
// a valid zstd stream for standard tools, and raw logs of stores made before compression.
#include "store/attempt_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace inloop::store {
namespace {

namespace fs = std::filesystem;

class AttemptLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-log-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/attempt-1.stdout.zst";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // n lines of varied length, "line K ..." so any line names its own number.
  static std::string Text(int n, uint32_t seed = 7) {
    std::mt19937 rng(seed);
    std::string s;
    for (int i = 0; i < n; ++i) {
      s += "line " + std::to_string(i) + " loss=" + std::to_string(rng() % 1000) + " ";
      s.append(rng() % 40, 'x');
      s += '\n';
    }
    return s;
  }
  static std::vector<std::string> Split(const std::string& s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      if (nl == std::string::npos) {
        out.push_back(s.substr(pos));
        break;
      }
      out.push_back(s.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }
  // Writes `text` in uneven pieces with frames of `frame` bytes, then closes.
  void Write(const std::string& text, size_t frame) {
    std::unique_ptr<LogWriter> w;
    LogWriterOptions o;
    o.frame_bytes = frame;
    ASSERT_TRUE(LogWriter::Open(path_, o, &w).ok());
    std::mt19937 rng(3);
    for (size_t pos = 0; pos < text.size();) {
      size_t n = std::min<size_t>(text.size() - pos, 1 + rng() % 700);
      ASSERT_TRUE(w->Append(std::string_view(text).substr(pos, n)).ok());
      pos += n;
    }
    ASSERT_TRUE(w->Close().ok());
  }
  std::unique_ptr<LogReader> Read() {
    std::unique_ptr<LogReader> r;
    Status s = LogReader::Open(path_, &r);
    EXPECT_TRUE(s.ok()) << s.message();
    return r;
  }
  std::string FileBytes() {
    std::ifstream f(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  std::string dir_, path_;
};

TEST_F(AttemptLogTest, RoundTripLinesTailAndBytesAcrossFrames) {
  std::string text = Text(3000);
  Write(text, 4096);
  auto r = Read();
  ASSERT_TRUE(r);
  std::vector<std::string> lines = Split(text);
  EXPECT_TRUE(r->info().compressed);
  EXPECT_EQ(r->info().raw_bytes, static_cast<int64_t>(text.size()));
  EXPECT_EQ(r->info().lines, 3000);
  EXPECT_GT(r->info().frames, 20);
  EXPECT_LT(r->info().file_bytes, r->info().raw_bytes);
  std::string all;
  ASSERT_TRUE(r->Bytes(0, r->info().raw_bytes, &all).ok());
  EXPECT_EQ(all, text);
  for (int64_t first : {0, 1, 17, 1499, 2990, 2999}) {
    std::vector<std::string> got;
    ASSERT_TRUE(r->Lines(first, 25, &got).ok());
    std::vector<std::string> want(lines.begin() + first,
                                  lines.begin() + std::min<int64_t>(3000, first + 25));
    EXPECT_EQ(got, want) << "from line " << first;
  }
  std::vector<std::string> tail;
  ASSERT_TRUE(r->Tail(100, &tail).ok());
  EXPECT_EQ(tail, std::vector<std::string>(lines.end() - 100, lines.end()));
  std::string mid;
  ASSERT_TRUE(r->Bytes(12345, 9000, &mid).ok());
  EXPECT_EQ(mid, text.substr(12345, 9000));
  std::vector<std::string> past;
  ASSERT_TRUE(r->Lines(3000, 5, &past).ok());
  EXPECT_TRUE(past.empty());
}

TEST_F(AttemptLogTest, TailDecodesOnlyTheLastFrames) {
  Write(Text(20000), 4096);
  auto r = Read();
  ASSERT_TRUE(r);
  ASSERT_GT(r->info().frames, 100);
  std::vector<std::string> tail;
  ASSERT_TRUE(r->Tail(10, &tail).ok());
  ASSERT_EQ(tail.size(), 10u);
  EXPECT_EQ(tail.back().rfind("line 19999 ", 0), 0u) << tail.back();
  // Opening decodes the last frame (does the log end with '\n'?); the tail then decodes the
  // frames that hold its lines: a handful out of more than a hundred.
  EXPECT_LE(r->frames_decoded(), 3);
  std::vector<std::string> range;
  ASSERT_TRUE(r->Lines(10000, 3, &range).ok());
  EXPECT_EQ(range[0].rfind("line 10000 ", 0), 0u) << range[0];
  EXPECT_LE(r->frames_decoded(), 5);
}

TEST_F(AttemptLogTest, LongLinesAndAnUnterminatedLastLine) {
  std::string text = "short\n" + std::string(10000, 'a') + "\nmid\n" + std::string(5000, 'b');
  Write(text, 1024);
  auto r = Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->info().lines, 4);
  std::vector<std::string> got;
  ASSERT_TRUE(r->Lines(0, 10, &got).ok());
  EXPECT_EQ(got, Split(text));
  ASSERT_TRUE(r->Tail(1, &got).ok());
  EXPECT_EQ(got, std::vector<std::string>{std::string(5000, 'b')});
  ASSERT_TRUE(r->Lines(1, 1, &got).ok());
  EXPECT_EQ(got, std::vector<std::string>{std::string(10000, 'a')});
}

TEST_F(AttemptLogTest, IsAValidZstdStream) {
  std::string text = Text(2000);
  Write(text, 8192);
  std::string file = FileBytes();
  std::string out(text.size() + 1, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), file.data(), file.size());
  ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(n);
  EXPECT_EQ(out, text);
}

TEST_F(AttemptLogTest, FlushedTextSurvivesAWriterThatNeverCloses) {
  std::unique_ptr<LogWriter> w;
  LogWriterOptions o;
  o.frame_bytes = 4096;
  ASSERT_TRUE(LogWriter::Open(path_, o, &w).ok());
  std::string text = Text(500);
  ASSERT_TRUE(w->Append(text.substr(0, 10000)).ok());
  ASSERT_TRUE(w->Flush().ok());
  ASSERT_TRUE(w->Append(text.substr(10000, 100)).ok());
  ASSERT_TRUE(w->Flush().ok());  // rewrites the open frame, larger
  ASSERT_TRUE(w->Append("never flushed\n").ok());
  {
    // A reader while the writer is live sees everything flushed.
    auto r = Read();
    ASSERT_TRUE(r);
    std::string all;
    ASSERT_TRUE(r->Bytes(0, 1 << 20, &all).ok());
    EXPECT_EQ(all, text.substr(0, 10100));
    EXPECT_FALSE(r->info().torn_tail);
  }
  w->Abandon();  // kill -9: the unflushed line is lost, nothing before it
  auto r = Read();
  ASSERT_TRUE(r);
  std::string all;
  ASSERT_TRUE(r->Bytes(0, 1 << 20, &all).ok());
  EXPECT_EQ(all, text.substr(0, 10100));
}

TEST_F(AttemptLogTest, TornLastFrameIsSkippedByReadersAndCutByTheNextWriter) {
  std::string text = Text(400);
  Write(text, 2048);
  auto whole = Read();
  ASSERT_TRUE(whole);
  int64_t frames = whole->info().frames;
  whole.reset();
  // Tear the last frame: its payload ends early.
  struct stat sb;
  ASSERT_EQ(::stat(path_.c_str(), &sb), 0);
  ASSERT_EQ(::truncate(path_.c_str(), sb.st_size - 5), 0);
  auto r = Read();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->info().torn_tail);
  EXPECT_EQ(r->info().frames, frames - 1);
  std::string kept;
  ASSERT_TRUE(r->Bytes(0, 1 << 20, &kept).ok());
  ASSERT_LT(kept.size(), text.size());
  EXPECT_EQ(kept, text.substr(0, kept.size()));
  std::vector<std::string> tail;
  ASSERT_TRUE(r->Tail(1, &tail).ok());
  ASSERT_EQ(tail.size(), 1u);
  // A writer reopening the log cuts the torn frame and appends after the kept ones.
  std::unique_ptr<LogWriter> w;
  ASSERT_TRUE(LogWriter::Open(path_, LogWriterOptions{}, &w).ok());
  EXPECT_EQ(w->raw_bytes(), static_cast<int64_t>(kept.size()));
  ASSERT_TRUE(w->Append("after recovery\n").ok());
  ASSERT_TRUE(w->Close().ok());
  auto again = Read();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->info().torn_tail);
  std::string all;
  ASSERT_TRUE(again->Bytes(0, 1 << 20, &all).ok());
  EXPECT_EQ(all, kept + "after recovery\n");
}

TEST_F(AttemptLogTest, ACorruptMiddleFrameIsAnError) {
  Write(Text(400), 2048);
  std::string file = FileBytes();
  // Flip a payload byte of the first frame (header 16 + frame header 28 + a few).
  file[16 + 28 + 10] ^= 0x5a;
  std::ofstream(path_, std::ios::binary | std::ios::trunc) << file;
  auto r = Read();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->info().torn_tail);
  std::vector<std::string> lines;
  Status s = r->Lines(0, 5, &lines);
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_NE(s.message().find("fails its checksum"), std::string::npos) << s.message();
  // The tail does not need that frame.
  EXPECT_TRUE(r->Tail(3, &lines).ok());
}

TEST_F(AttemptLogTest, RawLogsOfOldStoresStillRead) {
  std::string raw_path = dir_ + "/attempt-1.stdout";
  std::string text = Text(300) + "no newline at the end";
  std::ofstream(raw_path, std::ios::binary) << text;
  std::unique_ptr<LogReader> r;
  ASSERT_TRUE(LogReader::Open(raw_path, &r).ok());
  EXPECT_FALSE(r->info().compressed);
  EXPECT_EQ(r->info().lines, 301);
  EXPECT_EQ(r->info().raw_bytes, static_cast<int64_t>(text.size()));
  std::vector<std::string> lines = Split(text), got;
  ASSERT_TRUE(r->Tail(2, &got).ok());
  EXPECT_EQ(got, std::vector<std::string>(lines.end() - 2, lines.end()));
  ASSERT_TRUE(r->Lines(150, 3, &got).ok());
  EXPECT_EQ(got, std::vector<std::string>(lines.begin() + 150, lines.begin() + 153));
  std::string bytes;
  ASSERT_TRUE(r->Bytes(100, 50, &bytes).ok());
  EXPECT_EQ(bytes, text.substr(100, 50));
  // A raw log is not appended to as if it were compressed.
  std::unique_ptr<LogWriter> w;
  EXPECT_EQ(LogWriter::Open(raw_path, LogWriterOptions{}, &w).code(), Status::Code::kInvalid);
  // An empty log (an attempt that printed nothing) reads as empty, both ways.
  std::ofstream(dir_ + "/empty", std::ios::binary).flush();
  ASSERT_TRUE(LogReader::Open(dir_ + "/empty", &r).ok());
  EXPECT_EQ(r->info().lines, 0);
  ASSERT_TRUE(LogWriter::Open(path_, LogWriterOptions{}, &w).ok());
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(LogReader::Open(path_, &r).ok());
  EXPECT_TRUE(r->info().compressed);
  EXPECT_EQ(r->info().lines, 0);
  ASSERT_TRUE(r->Tail(5, &got).ok());
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(LogReader::Open(dir_ + "/missing", &r).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace inloop::store
