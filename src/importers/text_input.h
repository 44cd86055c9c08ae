// Shared plumbing for the text importers: a streaming line reader that accepts LF, CRLF and
// CR-only line ends and a leading UTF-8 BOM, whole-file reads, wall-time text (epoch numbers or
// ISO-8601), and the per-series step counter `inloop run` uses for lines without a step.
// Nothing here interprets metrics; it never throws and never reads past what it was given.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace inloop::importers {

// Lines longer than this are not returned whole: Next() reports them as too long and skips them.
inline constexpr size_t kMaxLineBytes = 64u << 20;

// Reads a file one physical line at a time. Not thread-safe.
class LineReader {
 public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // NotFound when the file does not exist, Io when it cannot be opened; messages name the path.
  Status Open(const std::string& path);

  // Sets *line to the next line without its terminator (valid until the next call) and
  // *line_no to its 1-based number. Returns false at the end of the file or after a read error
  // (see status()). *too_long is set when the line exceeded kMaxLineBytes; *line is then empty.
  bool Next(std::string_view* line, int64_t* line_no, bool* too_long);

  int64_t bytes() const { return bytes_; }  // bytes read from the file so far
  const Status& status() const { return status_; }

 private:
  bool Fill();  // reads more into buf_; false at EOF or error

  std::FILE* file_ = nullptr;
  std::string path_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  bool skip_lf_ = false;  // the previous line ended in '\r': a '\n' right after belongs to it
  bool at_start_ = true;  // a BOM is only skipped at the start of the file
  int64_t line_no_ = 0;
  int64_t bytes_ = 0;
  Status status_;
};

// Reads all of `path` into *out. NotFound/Io name the path; Invalid when it exceeds max_bytes.
Status ReadWholeFile(const std::string& path, std::string* out, size_t max_bytes = 1u << 30);

// Drops a leading UTF-8 byte order mark.
std::string_view StripBom(std::string_view s);

// The 1-based line of byte `offset` in `text`, counting LF, CRLF and CR line ends. Calls must
// come with non-decreasing offsets (the counter only moves forward).
class LineCounter {
 public:
  explicit LineCounter(std::string_view text) : text_(text) {}
  int64_t LineAt(size_t offset);

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

// Parses a wall time into seconds since the Unix epoch. Accepts a number (seconds; values above
// 1e11 are read as milliseconds, above 1e14 as microseconds, above 1e17 as nanoseconds) or
// ISO-8601 text "YYYY-MM-DD[(T| )hh:mm[:ss[(.|,)fff]]][Z|(+|-)hh[:mm]| UTC]", read as UTC when
// it names no offset. Returns false for anything else (and for negative or non-finite numbers).
bool ParseWallTime(std::string_view text, double* seconds);

// The numeric half of ParseWallTime: `v` in seconds, milliseconds, microseconds or nanoseconds.
bool WallTimeFromNumber(double v, double* seconds);

// Whether `key` names a wall-time field: time, timestamp, wall_time, _timestamp (any case).
bool IsWallTimeKey(std::string_view key);

// Assigns steps the way `inloop run` does: a point with a step keeps it; one without takes the
// series' previous step + 1, or 0 for the series' first point.
class StepCounter {
 public:
  int64_t Assign(std::string_view key, bool has_step, int64_t step);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> last_;
};

// `s` made fit for a one-line message: control characters and bytes that are not valid UTF-8
// become '?', and text past `max` bytes becomes "...".
std::string Excerpt(std::string_view s, size_t max = 60);

// The last component of a path's parent directory, made absolute first ("" when none).
std::string ParentDirName(const std::string& path);

}  // namespace inloop::importers
