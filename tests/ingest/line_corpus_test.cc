// Data-driven LineParser tests: every tests/data/lines/NAME.txt is fed line by line to one
// parser (so state across lines, e.g. wrapped Megatron records, is exercised) and each result
// must equal the same line of NAME.expected (format: parsed_line_text.h). NAME.patterns, when
// present, holds custom patterns as "name<TAB>regex" lines. To regenerate the expectations
// after a deliberate change, run with INLOOP_UPDATE_EXPECTED=1 and review the diff.
#include "source_paths.h"
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ingest/line_parser.h"
#include "parsed_line_text.h"

namespace inloop::ingest {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::vector<CustomPattern> ReadPatterns(const fs::path& path) {
  std::vector<CustomPattern> patterns;
  if (!fs::exists(path)) return patterns;
  for (const std::string& line : ReadLines(path)) {
    size_t tab = line.find('\t');
    if (line.empty() || tab == std::string::npos) continue;
    patterns.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return patterns;
}

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(INLOOP_TEST_DATA) / "lines")) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(LineCorpusTest, EveryFileMatchesItsExpectation) {
  std::vector<fs::path> files = CorpusFiles();
  ASSERT_GE(files.size(), 8u) << "corpus missing under " << INLOOP_TEST_DATA << "/lines";
  const bool update = std::getenv("INLOOP_UPDATE_EXPECTED") != nullptr;
  size_t checked = 0;
  for (const fs::path& input : files) {
    SCOPED_TRACE(input.filename().string());
    fs::path expected_path = input;
    expected_path.replace_extension(".expected");
    fs::path patterns_path = input;
    patterns_path.replace_extension(".patterns");
    std::unique_ptr<LineParser> parser;
    Status st = LineParser::Create(ReadPatterns(patterns_path), &parser);
    ASSERT_TRUE(st.ok()) << st.ToString();

    std::vector<std::string> lines = ReadLines(input);
    std::vector<std::string> actual;
    ParsedLine out;
    for (const std::string& line : lines) {
      bool parsed = parser->Parse(line, &out);
      actual.push_back(ParsedLineText(parsed, out));
    }
    if (update) {
      std::ofstream o(expected_path, std::ios::binary | std::ios::trunc);
      for (const std::string& a : actual) o << a << '\n';
      continue;
    }
    std::vector<std::string> expected = ReadLines(expected_path);
    ASSERT_EQ(expected.size(), lines.size()) << expected_path << " must have one line per input";
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(actual[i], expected[i])
          << input.filename().string() << ":" << i + 1 << ": " << lines[i];
      ++checked;
    }
  }
  if (!update) {
    EXPECT_GT(checked, 100u);
  }
}

}  // namespace
}  // namespace inloop::ingest
