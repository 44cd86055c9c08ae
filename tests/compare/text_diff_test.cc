// Word diff: a known example, exact reconstruction of both texts, minimality against an
// independent LCS dynamic program, and the line/whole fallbacks for very different inputs.
#include "compare/text_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace inloop::compare {
namespace {

std::string Side(const TextDiff& d, DiffOp skip) {
  std::string s;
  for (auto& seg : d.segments)
    if (seg.op != skip) s += seg.text;
  return s;
}

size_t LcsLength(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
  return t[a.size()][b.size()];
}

size_t EditedTokens(const TextDiff& d) {
  size_t n = 0;
  for (auto& seg : d.segments)
    if (seg.op != DiffOp::kEqual) n += TokenizeWords(seg.text).size();
  return n;
}

TEST(TextDiffTest, KnownExample) {
  TextDiff d = DiffWords("the cat sat on the mat", "the dog sat on a mat");
  ASSERT_EQ(d.granularity, std::string("word"));
  std::vector<std::pair<std::string, std::string>> got;
  for (auto& s : d.segments) got.emplace_back(DiffOpName(s.op), s.text);
  std::vector<std::pair<std::string, std::string>> want = {
      {"equal", "the "}, {"delete", "cat"}, {"insert", "dog"}, {"equal", " sat on "},
      {"delete", "the"}, {"insert", "a"}, {"equal", " mat"}};
  EXPECT_EQ(got, want);
}

TEST(TextDiffTest, ReconstructsAndIsMinimal) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""}, {"", "new words here"}, {"old words", ""}, {"a b c a b b a", "c b a b a c"},
      {"x  y\tz\n", "x y z"}, {"same same same", "same same same"},
      {"1 2 3 4 5 6 7 8 9", "0 1 2 4 5 7 8 9 10"}};
  for (auto& [a, b] : cases) {
    TextDiff d = DiffWords(a, b);
    EXPECT_EQ(Side(d, DiffOp::kInsert), a) << a << " | " << b;
    EXPECT_EQ(Side(d, DiffOp::kDelete), b) << a << " | " << b;
    auto ta = TokenizeWords(a), tb = TokenizeWords(b);
    EXPECT_EQ(EditedTokens(d), ta.size() + tb.size() - 2 * LcsLength(ta, tb)) << a << " | " << b;
    for (size_t i = 1; i < d.segments.size(); ++i)
      EXPECT_NE(d.segments[i].op, d.segments[i - 1].op);
  }
}

TEST(TextDiffTest, FallsBackToLinesThenWhole) {
  std::string a, b;
  for (int i = 0; i < 300; ++i) {
    a += "line " + std::to_string(i) + " alpha beta\n";
    b += (i % 3 ? "line " + std::to_string(i) + " alpha beta\n" : "changed gamma delta eps\n");
  }
  TextDiffOptions small;
  small.max_edits = 150;  // ~400 word edits needed, ~200 line edits
  TextDiff d = DiffWords(a, b, small);
  EXPECT_STREQ(d.granularity, "whole");
  small.max_edits = 250;
  d = DiffWords(a, b, small);
  EXPECT_STREQ(d.granularity, "line");
  EXPECT_EQ(Side(d, DiffOp::kInsert), a);
  EXPECT_EQ(Side(d, DiffOp::kDelete), b);
  d = DiffWords(a, b);
  EXPECT_STREQ(d.granularity, "word");
  EXPECT_EQ(Side(d, DiffOp::kDelete), b);
}

TEST(TextDiffTest, LongSimilarOutputsStayFast) {
  std::string a, b;
  for (int i = 0; i < 50000; ++i) {
    a += "w" + std::to_string(i) + " ";
    b += (i == 25000 ? std::string("CHANGED ") : "w" + std::to_string(i) + " ");
  }
  TextDiff d = DiffWords(a, b);
  EXPECT_STREQ(d.granularity, "word");
  ASSERT_EQ(d.segments.size(), 4u);
  EXPECT_EQ(d.segments[1].text, "w25000");
  EXPECT_EQ(d.segments[2].text, "CHANGED");
}

}  // namespace
}  // namespace inloop::compare
