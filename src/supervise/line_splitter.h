// LineSplitter: cuts a byte stream into lines on '\n' or '\r' (so carriage-return progress
// redraws become lines of their own), carrying partial lines across reads. A line longer than
// the limit is delivered truncated to the limit, once, and counted; the rest is skipped up to
// the next terminator. Empty lines are not delivered. Not thread-safe; one per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace inloop::supervise {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 1u << 20) : max_line_(max_line) {}

  // Calls on_line(std::string_view) for every complete line in data.
  template <class F>
  void Feed(std::string_view data, F&& on_line) {
    size_t start = 0;
    for (size_t i = 0; i < data.size(); ++i) {
      char c = data[i];
      if (c != '\n' && c != '\r') continue;
      std::string_view piece = data.substr(start, i - start);
      start = i + 1;
      if (skipping_) {
        skipping_ = false;
        continue;
      }
      if (partial_.empty()) {
        if (piece.size() > max_line_) {
          ++truncated_;
          piece = piece.substr(0, max_line_);
        }
        if (!piece.empty()) Deliver(piece, on_line);
      } else {
        Append(piece, on_line);
        if (!skipping_ && !partial_.empty()) Deliver(partial_, on_line);
        partial_.clear();
        skipping_ = false;
      }
    }
    if (start < data.size()) Append(data.substr(start), on_line);
  }

  // Delivers a pending partial line (at end of stream).
  template <class F>
  void Finish(F&& on_line) {
    if (!skipping_ && !partial_.empty()) Deliver(partial_, on_line);
    partial_.clear();
    skipping_ = false;
  }

  int64_t lines() const { return lines_; }
  int64_t truncated() const { return truncated_; }

 private:
  template <class F>
  void Deliver(std::string_view line, F& on_line) {
    ++lines_;
    on_line(line);
  }
  template <class F>
  void Append(std::string_view piece, F& on_line) {
    if (skipping_) return;
    if (partial_.size() + piece.size() > max_line_) {
      partial_.append(piece.substr(0, max_line_ - partial_.size()));
      ++truncated_;
      Deliver(partial_, on_line);
      partial_.clear();
      skipping_ = true;
      return;
    }
    partial_.append(piece);
  }

  size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
  int64_t lines_ = 0;
  int64_t truncated_ = 0;
};

}  // namespace inloop::supervise
