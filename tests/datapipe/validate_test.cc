// Each validation check on small files with known answers (data/validate.h), MinHash recall on a
// planted set (data/minhash.h), the CheckResult JSON form, and drift (data/profile.h).
#include "data/validate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>

#include "data/minhash.h"

namespace inloop::data {
namespace {

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-validate-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
    return dir_ + "/" + name;
  }
  std::map<std::string, CheckResult> Run(const std::string& path, const ValidationSpec& spec,
                                         const Profile* prev = nullptr, Profile* prof = nullptr) {
    std::vector<CheckResult> rs;
    EXPECT_TRUE(ValidateOutput(path, spec, prev, &rs, prof).ok());
    std::map<std::string, CheckResult> m;
    for (auto& r : rs) m[r.check + (r.field.empty() ? "" : "." + r.field)] = r;
    return m;
  }
  std::string dir_;
};

CheckSpec On(std::string field = "", std::optional<double> max_rate = std::nullopt) {
  CheckSpec c;
  c.enabled = true;
  c.field = std::move(field);
  c.max_rate = max_rate;
  return c;
}

TEST_F(ValidateTest, JsonlSchemaNullsEmptyRows) {
  std::string p = Write("a.jsonl",
                        "{\"id\": 1, \"text\": \"alpha beta\"}\n"
                        "{\"id\": \"2\", \"text\": \"gamma\"}\n"    // wrong type
                        "{\"id\": 3}\n"                             // missing text
                        "{\"id\": 4, \"text\": null}\n"             // null
                        "\n"                                        // blank: skipped
                        "{\"id\": 5, \"text\": \"\"}\n"             // empty
                        "not json\n"
                        "{\"id\": 6, \"text\": \"a\"} trailing\n");
  ValidationSpec s;
  s.output = "a.jsonl";
  s.format = "jsonl";
  s.schema = {{"id", "integer"}, {"text", "string"}};
  s.rows = On();
  s.rows.min = 10;
  s.nulls = On("", 0.5);
  s.empty = On();
  auto m = Run(p, s);
  EXPECT_FALSE(m["parse"].passed);
  EXPECT_EQ(m["parse"].value, 2);
  EXPECT_NE(m["parse"].message.find("(lines 7, 8)"), std::string::npos) << m["parse"].message;
  EXPECT_FALSE(m["schema.id"].passed);
  EXPECT_EQ(m["schema.id"].value, 1);
  EXPECT_EQ(m["schema.id"].examples, (std::vector<std::string>{"line 2"}));
  // text: missing once (schema); the null belongs to the nulls check when it is on.
  EXPECT_EQ(m["schema.text"].value, 1);
  EXPECT_DOUBLE_EQ(m["nulls.text"].value, 2.0 / 5);  // one missing + one null of 5 records
  EXPECT_TRUE(m["nulls.text"].passed);
  EXPECT_DOUBLE_EQ(m["empty.text"].value, 1.0 / 5);
  EXPECT_FALSE(m["empty.text"].passed);
  EXPECT_FALSE(m["rows"].passed);
  EXPECT_EQ(m["rows"].value, 5);
}

TEST_F(ValidateTest, ExactDuplicatesAndLength) {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "{\"t\": \"row " + std::to_string(i % 15) + "\"}\n";
  std::string p = Write("d.jsonl", text);
  ValidationSpec s;
  s.output = "d.jsonl";
  s.format = "jsonl";
  s.duplicates = On("t");
  s.length = On("t");
  s.length.max = 5;  // "row 1" is 5 bytes, "row 10".."row 14" are 6
  auto m = Run(p, s);
  EXPECT_FALSE(m["duplicates.t"].passed);
  EXPECT_DOUBLE_EQ(m["duplicates.t"].value, 5.0 / 20);
  EXPECT_EQ(m["duplicates.t"].examples[0], "lines 1, 16");
  EXPECT_FALSE(m["length.t"].passed);
  EXPECT_DOUBLE_EQ(m["length.t"].value, 5.0 / 20);
}

// The reader's 8 MiB blocks: records that straddle a block boundary, a record longer than a
// block, and a last line without a newline all count exactly once.
TEST_F(ValidateTest, StreamsAcrossBlocks) {
  std::string text;
  const int n = 120000;  // ~11 MB
  for (int i = 0; i < n; ++i) {
    text += "{\"id\": " + std::to_string(i) + ", \"text\": \"record number " + std::to_string(i % 100000) +
            " with some padding to make it longer than fifty bytes\"}\n";
    if (i == n / 2) text += "{\"id\": -1, \"text\": \"" + std::string(9 << 20, 'x') + "\"}\n";
  }
  text += "{\"id\": 7, \"text\": \"tail\"}";  // no final newline
  std::string p = Write("big.jsonl", text);
  ValidationSpec s;
  s.output = "big.jsonl";
  s.format = "jsonl";
  s.schema = {{"id", "integer"}, {"text", "string"}};
  s.rows = On();
  s.duplicates = On("text");
  s.length = On("text");
  s.length.max = 1000;
  auto m = Run(p, s);
  EXPECT_TRUE(m["parse"].passed) << m["parse"].message;
  EXPECT_EQ(m["rows"].value, n + 2);
  EXPECT_TRUE(m["schema.id"].passed);
  EXPECT_EQ(m["duplicates.text"].numbers[0].second, n - 100000);  // ids 100000.. repeat texts
  EXPECT_EQ(m["length.text"].numbers.back().second, 1);  // the 9 MiB record
}

TEST_F(ValidateTest, CsvAndText) {
  std::string p = Write("c.csv", "id,name,score\n1,\"a, b\",0.5\n2,,x\n3,c,1\n3,c,1\n");
  ValidationSpec s;
  s.output = "c.csv";
  s.format = "csv";
  s.schema = {{"id", "integer"}, {"score", "number"}, {"name", "string"}};
  s.duplicates = On();
  auto m = Run(p, s);
  EXPECT_TRUE(m["parse"].passed);
  EXPECT_TRUE(m["schema.id"].passed);
  EXPECT_FALSE(m["schema.score"].passed);  // "x"
  EXPECT_FALSE(m["schema.name"].passed);   // empty is null in CSV
  EXPECT_DOUBLE_EQ(m["duplicates"].value, 1.0 / 4);

  std::string t = Write("t.txt", "one\n\ntwo\none\n");
  ValidationSpec ts;
  ts.output = "t.txt";
  ts.format = "text";
  ts.empty = On();
  ts.duplicates = On();
  auto tm = Run(t, ts);
  EXPECT_DOUBLE_EQ(tm["empty"].value, 1.0 / 4);
  EXPECT_DOUBLE_EQ(tm["duplicates"].value, 1.0 / 4);
}

TEST_F(ValidateTest, TokenShards) {
  std::vector<uint16_t> toks;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) toks.push_back(static_cast<uint16_t>(rng() % 60));
  std::string clean(reinterpret_cast<const char*>(toks.data()), toks.size() * 2);
  ValidationSpec s;
  s.output = "t.bin";
  s.format = "tokens";
  s.vocab_size = 65;
  s.repeated_ngrams = On("", 0.05);
  auto m = Run(Write("t.bin", clean), s);
  EXPECT_TRUE(m["tokens"].passed) << m["tokens"].message;
  EXPECT_TRUE(m["repeated_ngrams"].passed) << m["repeated_ngrams"].message;
  // A block repeated 20 times: most of its windows were seen before.
  std::vector<uint16_t> rep(toks.begin(), toks.begin() + 500);
  for (int k = 0; k < 20; ++k) toks.insert(toks.end(), rep.begin(), rep.end());
  toks.push_back(70);  // out of vocabulary
  std::string bad(reinterpret_cast<const char*>(toks.data()), toks.size() * 2);
  m = Run(Write("t.bin", bad), s);
  EXPECT_FALSE(m["tokens"].passed);
  EXPECT_EQ(m["tokens"].value, 1);
  EXPECT_FALSE(m["repeated_ngrams"].passed) << m["repeated_ngrams"].message;
  m = Run(Write("t.bin", bad + "x"), s);  // odd size
  EXPECT_NE(m["tokens"].message.find("not a whole number"), std::string::npos);
}

TEST_F(ValidateTest, DriftAgainstPreviousVersion) {
  std::mt19937 rng(3);
  std::normal_distribution<double> n0(0, 1), n1(1, 1);
  std::string a, b;
  for (int i = 0; i < 2000; ++i) {
    a += "{\"x\": " + std::to_string(n0(rng)) + ", \"c\": \"" + (i % 2 ? "p" : "q") + "\"}\n";
    b += "{\"x\": " + std::to_string(n1(rng)) + ", \"c\": \"" + (i % 10 ? "p" : "q") + "\"}\n";
  }
  ValidationSpec s;
  s.output = "v.jsonl";
  s.format = "jsonl";
  s.drift.enabled = true;
  s.drift.numeric = {"x"};
  s.drift.categorical = {"c"};
  Profile p1, p2, p3;
  Run(Write("v.jsonl", a), s, nullptr, &p1);
  ASSERT_EQ(p1.numeric["x"].values().size(), 2000u);
  auto same = Run(Write("v.jsonl", a), s, &p1, &p2);
  EXPECT_TRUE(same["drift.x"].passed);
  EXPECT_EQ(same["drift.x"].value, 0);
  auto moved = Run(Write("v.jsonl", b), s, &p1, &p3);
  EXPECT_FALSE(moved["drift.x"].passed);
  EXPECT_GT(moved["drift.x"].value, 0.3);  // KS D of N(0,1) vs N(1,1) is ~0.38
  EXPECT_FALSE(moved["drift.c"].passed);   // 50/50 -> 90/10: Cramer's V ~0.44
  // The profile survives its JSON form.
  ASSERT_TRUE(SaveProfile(dir_ + "/p.json", p3).ok());
  Profile back;
  ASSERT_TRUE(LoadProfile(dir_ + "/p.json", &back).ok());
  EXPECT_EQ(back.numeric["x"].values(), p3.numeric["x"].values());
  EXPECT_EQ(back.categorical["c"], p3.categorical["c"]);
}

TEST(CheckResultTest, OneJsonForm) {
  CheckResult r;
  r.output = "o.jsonl";
  r.check = "near_duplicates";
  r.field = "text";
  r.severity = Severity::kWarn;
  r.passed = false;
  r.value = 0.25;
  r.limit = 0.01;
  r.has_limit = true;
  r.message = "m";
  r.numbers = {{"groups", 3}};
  r.examples = {"lines 1, 2"};
  CheckResult back;
  ASSERT_TRUE(ParseCheckResult(CheckResultJson(r), &back));
  EXPECT_EQ(CheckResultJson(back), CheckResultJson(r));
  EXPECT_FALSE(ParseCheckResult("{}", &back));
}

// Planted near duplicates: 2000 random 60-word documents, 300 of them copied with 1 or 2 words
// replaced (3-shingle Jaccard ~0.85-0.95). Recall must be >= 0.99 and unrelated documents must
// not be grouped.
TEST(MinHashTest, RecallOnPlantedSet) {
  std::mt19937 rng(11);
  auto word = [&] { return "w" + std::to_string(rng() % 5000); };
  std::vector<std::string> docs;
  for (int i = 0; i < 2000; ++i) {
    std::string d;
    for (int w = 0; w < 60; ++w) d += word() + " ";
    docs.push_back(d);
  }
  const int planted = 300;
  for (int i = 0; i < planted; ++i) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : docs[i]) {
      if (c == ' ') {
        words.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    int edits = 1 + i % 2;
    for (int e = 0; e < edits; ++e) words[rng() % words.size()] = "edit" + std::to_string(rng());
    std::string d;
    for (auto& w : words) d += w + " ";
    docs.push_back(d);
  }
  NearDuplicateIndex idx;
  for (auto& d : docs) idx.Add(d);
  NearDuplicateGroups g = idx.Find(0.7);
  EXPECT_GE(g.duplicate_records, planted * 0.99);
  EXPECT_LE(g.duplicate_records, planted + 2);  // no false groups among random documents
  MinHashSignature a, b;
  ComputeMinHash("The quick brown fox jumps", &a);
  ComputeMinHash("the QUICK brown fox, jumps!", &b);
  EXPECT_EQ(EstimatedJaccard(a, b), 1.0);  // case and punctuation do not matter
}

}  // namespace
}  // namespace inloop::data
