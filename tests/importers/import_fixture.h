// Test helpers for the importers: a temp directory per test, files written into it, and compact
// text forms of series, params and issues so that tests assert exact results in one line.
#pragma once

#include <stdlib.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "importers/imported_run.h"

namespace inloop::importers {

class ImportFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inloop-import-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to dir_/rel (folders created); returns the full path.
  std::string Write(const std::string& rel, std::string_view content) {
    std::filesystem::path p = std::filesystem::path(dir_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    return p.string();
  }

  std::string dir_;
};

// "step:value" per point, "step@wall:value" when the wall time is not 0; "<none>" when the run
// has no such series.
inline std::string Points(const ImportedRun& run, std::string_view key) {
  for (const ImportedSeries& s : run.series) {
    if (s.key != key) continue;
    std::string out;
    for (const Point& p : s.points) {
      if (!out.empty()) out += ' ';
      out += p.wall_time != 0 ? fmt::format("{}@{}:{}", p.step, p.wall_time, p.value)
                              : fmt::format("{}:{}", p.step, p.value);
    }
    return out;
  }
  return "<none>";
}

// The series keys in order of creation, space-separated.
inline std::string Keys(const ImportedRun& run) {
  std::string out;
  for (const ImportedSeries& s : run.series) out += (out.empty() ? "" : " ") + s.key;
  return out;
}

inline std::string Param(const ImportedRun& run, std::string_view key) {
  for (const auto& p : run.params)
    if (p.key == key) return p.value;
  return "<none>";
}

// "file:line" of every issue (the file's name only), space-separated.
inline std::string IssueLines(const ImportBatch& b) {
  std::string out;
  for (const ImportIssue& i : b.issues) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}:{}", std::filesystem::path(i.path).filename().string(), i.line);
  }
  return out;
}

inline std::string IssueText(const ImportBatch& b) {
  std::string out;
  for (const ImportIssue& i : b.issues) out += fmt::format("{}:{}: {}\n", i.path, i.line, i.message);
  return out;
}

}  // namespace inloop::importers
