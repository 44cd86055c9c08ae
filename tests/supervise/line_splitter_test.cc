// LineSplitter: terminators, partial lines across reads, carriage-return redraws, huge lines.
#include "supervise/line_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace inloop::supervise {
namespace {

std::vector<std::string> Split(LineSplitter& s, const std::vector<std::string>& chunks,
                               bool finish = true) {
  std::vector<std::string> out;
  auto cb = [&](std::string_view l) { out.emplace_back(l); };
  for (auto& c : chunks) s.Feed(c, cb);
  if (finish) s.Finish(cb);
  return out;
}

TEST(LineSplitterTest, SplitsOnNewlinesAcrossReads) {
  LineSplitter s;
  auto lines = Split(s, {"step 1 lo", "ss 2.0\nstep 2", " loss 1.9\n", "tail"});
  EXPECT_EQ(lines, (std::vector<std::string>{"step 1 loss 2.0", "step 2 loss 1.9", "tail"}));
}

TEST(LineSplitterTest, CarriageReturnRedrawsAreLines) {
  LineSplitter s;
  auto lines = Split(s, {"Epoch 0:  10%|  | 10/100 [loss=2.3]\rEpoch 0:  20%|  | 20/100 "
                         "[loss=2.1]\r\nnext\r\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"Epoch 0:  10%|  | 10/100 [loss=2.3]",
                                             "Epoch 0:  20%|  | 20/100 [loss=2.1]", "next"}));
}

TEST(LineSplitterTest, HugeLineKeptTruncatedAndCounted) {
  LineSplitter s(1024);
  std::string big(5000, 'x');
  auto lines = Split(s, {"a\n", big.substr(0, 700), big.substr(700), "\nb\n"});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a");
  EXPECT_EQ(lines[1].size(), 1024u);
  EXPECT_EQ(lines[2], "b");
  EXPECT_EQ(s.truncated(), 1);
}

TEST(LineSplitterTest, HugeLineInOneRead) {
  LineSplitter s(100);
  auto lines = Split(s, {std::string(1000, 'y') + "\nok\n"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), 100u);
  EXPECT_EQ(lines[1], "ok");
  EXPECT_EQ(s.truncated(), 1);
}

TEST(LineSplitterTest, BinaryNoiseDoesNotBreakIt) {
  LineSplitter s;
  std::string noise;
  for (int i = 0; i < 4096; ++i) noise.push_back(static_cast<char>((i * 131) & 0xff));
  size_t n = 0;
  s.Feed(noise, [&](std::string_view l) { n += l.size(); });
  s.Finish([&](std::string_view l) { n += l.size(); });
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace inloop::supervise
