// Word-level textual diff of two outputs (Myers' O((N+M)D) shortest edit script over tokens).
// Tokens are maximal runs of non-space characters and maximal runs of whitespace, so the equal
// and deleted segments concatenate back to the old text and the equal and inserted ones to the
// new text, exactly. Long or very different inputs do not blow up: when the word-level edit
// distance exceeds a cap the diff falls back to lines, and past that to one delete + one insert.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::compare {

enum class DiffOp { kEqual, kDelete, kInsert };
const char* DiffOpName(DiffOp op);  // "equal", "delete", "insert"

struct DiffSegment {
  DiffOp op;
  std::string text;
};

struct TextDiffOptions {
  // Edit distance (in tokens) past which the word level gives up; Myers' memory is O(D^2).
  size_t max_edits = 2000;
};

struct TextDiff {
  std::vector<DiffSegment> segments;  // adjacent segments never share an op
  const char* granularity = "word";   // "word", "line" or "whole"
};

TextDiff DiffWords(std::string_view old_text, std::string_view new_text,
                   const TextDiffOptions& options = {});

// The tokens DiffWords works on (exposed for tests).
std::vector<std::string_view> TokenizeWords(std::string_view s);
std::vector<std::string_view> TokenizeLines(std::string_view s);  // each line keeps its '\n'

}  // namespace inloop::compare
