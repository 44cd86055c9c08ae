// Write-ahead log of one run's points (docs/store_format.md). A point is acknowledged once the
// batch holding it has been written to the file: it then survives kill -9 of inloop. Records
// carry a CRC-32C; a reader stops at the first torn or corrupt record, and recovery truncates
// there, never earlier. The WAL is single-writer; any number of readers may read it meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/point.h"
#include "common/status.h"

namespace inloop::store {

class WalWriter {
 public:
  ~WalWriter();
  // Creates (truncates) the WAL at `path` and writes its header and the base ordinals: for each
  // series id, how many of its points precede this WAL (they are all in sealed chunks).
  static Status Create(const std::string& path, const std::vector<std::pair<int64_t, int64_t>>& bases,
                       std::unique_ptr<WalWriter>* out);

  // Buffers one point. Cheap; no syscall.
  void Add(int64_t series_id, const Point& p);
  // Writes the buffered points as one record. After OK they survive kill -9.
  Status Flush();
  size_t file_size() const { return file_size_; }
  size_t buffered() const { return buf_.size(); }

 private:
  WalWriter() = default;
  int fd_ = -1;
  std::string path_;
  std::string buf_;  // record payload being built
  int64_t last_series_ = -1;
  int64_t last_step_ = 0;
  size_t file_size_ = 0;
};

struct WalContents {
  std::vector<std::pair<int64_t, int64_t>> bases;  // series id -> base ordinal
  // Points in order of writing, with their series id.
  std::vector<std::pair<int64_t, Point>> points;
  size_t valid_bytes = 0;   // length of the readable prefix
  size_t file_bytes = 0;
  std::string tail_error;   // why reading stopped early, empty when the file ended cleanly
};

// Reads a WAL from an open descriptor (or path). A missing file yields empty contents and OK.
Status ReadWal(int fd, WalContents* out);
Status ReadWalFile(const std::string& path, WalContents* out);

}  // namespace inloop::store
