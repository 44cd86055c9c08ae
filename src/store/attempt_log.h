// Attempt logs: a child's stdout or stderr, compressed with zstd in independent frames that a
// reader can seek (the last N lines, a line or byte range) without decompressing the whole file.
//
// Format (runs/<run>/attempt-N.stdout.zst, .stderr.zst), little-endian throughout. The file is a
// valid zstd stream (`zstdcat` prints the log): our headers are zstd skippable frames.
//   file header   u32 0x184D2A5E (skippable-frame magic)  u32 8  "INLLOG01"
//   then frames   u32 0x184D2A5E  u32 20
//                 u32 payload_len   bytes of the zstd frame that follows
//                 u32 raw_len       bytes of log it decompresses to (1 .. kLogMaxFrameRaw)
//                 u32 newlines      '\n' bytes among them
//                 u32 payload_crc   masked CRC-32C of the payload
//                 u32 header_crc    masked CRC-32C of the 16 bytes above
//                 payload           one zstd frame (content size set) of exactly raw_len bytes
// The log is the concatenation of the frames' raw bytes; line i (0-based) follows the i-th '\n'.
// The index (raw offset and first line of each frame) is rebuilt by reading the 28-byte frame
// headers only; a payload is read and checked when its bytes are asked for.
//
// Writing: raw bytes gather in the open frame, cut at the last '\n' once frame_bytes are
// buffered (at frame_bytes when a line is longer). Flush() writes the open frame as it stands
// at the end of the file; the next Flush or cut rewrites it in place, larger, and truncates
// what a shorter rewrite left behind. So a crash loses at most what was appended since the last
// Flush, never a frame before the last one. FlushDue() flushes at most once per
// flush_interval_s, so that a writer called on every read of a busy pipe does not recompress
// the open frame each time: what a crash can lose is then the last interval's output.
// Frames are compressed and written by the writer's own thread, in order, so that Append (the
// supervisor's read loop) never waits for zstd unless kMaxQueuedFrames wait already; Flush and
// Close wait until everything queued is written, FlushDue does not.
// Recovery: the index stops at the first frame header that is incomplete or fails its CRC, or
// whose payload runs past the end of the file; the last indexed frame is dropped too when its
// payload fails its CRC. That is a torn write: readers ignore it (LogInfo::torn_tail), the next
// LogWriter::Open cuts it off. A payload of an earlier frame that fails its CRC is Corrupt when
// it is read.
// Files without the header (stores made before compression) are raw logs and read as such.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace inloop::store {

inline constexpr size_t kLogFrameBytes = 256u << 10;  // raw bytes per frame, default
inline constexpr size_t kLogMaxFrameRaw = 16u << 20;  // a reader refuses larger frames
inline constexpr size_t kMaxQueuedFrames = 4;         // waiting for the writer's thread

enum class LogStream { kStdout, kStderr };

// "stdout" / "stderr".
const char* LogStreamName(LogStream s);

// Where a log's bytes live: a file of its own (the embedded store) or rows of a table (the
// PostgreSQL store). Writes only ever go to the end or rewrite the tail (the open frame), so a
// backend may keep each write as one piece. Used by one thread at a time.
class LogFile {
 public:
  virtual ~LogFile() = default;
  // Exactly n bytes at offset; fewer there is Corrupt (a truncated log).
  virtual Status Read(int64_t offset, size_t n, std::string* out) = 0;
  virtual Status Write(int64_t offset, std::string_view data) = 0;
  virtual Status Truncate(int64_t size) = 0;
  virtual Status Size(int64_t* size) = 0;
  virtual const std::string& name() const = 0;  // for messages
};

struct LogWriterOptions {
  size_t frame_bytes = kLogFrameBytes;  // 1 .. kLogMaxFrameRaw
  int level = 1;  // zstd level: 1 compresses ~150 MB/s of log a core; 3 saves only ~4% more
  double flush_interval_s = 1.0;        // FlushDue()
};

// The single writer of one log file. Its methods are called from one thread at a time; the
// compression runs on a thread of its own (above).
class LogWriter {
 public:
  ~LogWriter();  // Close(), or Abandon() after a failure
  // Opens `path` for appending, creating it with its header when missing or empty. An existing
  // log keeps its complete frames; a torn last frame is cut off. A raw (old) log is Invalid.
  static Status Open(const std::string& path, LogWriterOptions options,
                     std::unique_ptr<LogWriter>* out);
  // The same over any LogFile (the compression thread is the only one that writes it).
  static Status Open(std::unique_ptr<LogFile> file, LogWriterOptions options,
                     std::unique_ptr<LogWriter>* out);
  // Buffers data; queues every frame that fills up. Returns a write error of an earlier frame.
  Status Append(std::string_view data);
  // Writes the open frame and waits until every queued frame is written: after OK, everything
  // appended so far survives kill -9.
  Status Flush();
  // Queues the open frame when flush_interval_s passed since it was last queued (or cut);
  // does not wait for it.
  Status FlushDue();
  // Closes the file without writing what is buffered (the store failed: nothing more is written).
  void Abandon();
  // Flush, then close the file. The writer is done after (Append fails).
  Status Close();

  int64_t raw_bytes() const { return raw_bytes_; }  // appended so far
  int64_t file_bytes() const;                       // written to disk so far

 private:
  struct Job {
    std::string raw;
    bool final = false;  // a complete frame; else the provisional open frame
  };
  LogWriter() = default;
  Status Enqueue(std::string raw, bool final);
  Status Drain();                                      // waits for the queue to be written
  void Stop(bool drop_queued);                         // ends the thread
  void Work();                                         // the thread
  Status WriteFrame(std::string_view raw, bool final,  // the thread only
                    int64_t* committed_end, int64_t* open_on_disk);
  std::string path_;
  LogWriterOptions options_;
  std::unique_ptr<LogFile> file_;
  // The caller's side.
  std::string open_;         // raw bytes of the open frame
  bool open_dirty_ = false;  // open_ changed since it was last queued
  int64_t raw_bytes_ = 0;
  double last_queued_s_ = 0;  // steady clock
  bool closed_ = false;
  // Shared with the thread, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool busy_ = false;  // the thread is writing a job it took off the queue
  bool stop_ = false;
  Status failed_;
  int64_t committed_end_ = 0;  // file offset after the last final frame
  int64_t open_on_disk_ = 0;   // bytes of the provisional frame written after committed_end_
  std::thread thread_;
};

struct LogInfo {
  bool compressed = false;  // false: a raw log of a store made before compression
  int64_t raw_bytes = 0;    // of log text
  int64_t file_bytes = 0;   // on disk
  int64_t lines = 0;        // a last line without '\n' counts
  int64_t frames = 0;
  bool torn_tail = false;  // a torn last frame was skipped (a writer died mid-write)
};

// Reads one log file, compressed or raw. Not thread-safe; cheap to open (reads frame headers).
class LogReader {
 public:
  ~LogReader();
  static Status Open(const std::string& path, std::unique_ptr<LogReader>* out);
  static Status Open(std::unique_ptr<LogFile> file, std::unique_ptr<LogReader>* out);
  const LogInfo& info() const { return info_; }
  // `count` lines from line `first` (0-based; fewer at the end of the log), without their '\n'.
  Status Lines(int64_t first, int64_t count, std::vector<std::string>* out);
  // The last n lines.
  Status Tail(int64_t n, std::vector<std::string>* out);
  // Raw bytes [offset, offset + n) (fewer at the end of the log).
  Status Bytes(int64_t offset, int64_t n, std::string* out);
  // Frames decompressed so far (a tail reads the last ones only).
  int64_t frames_decoded() const { return frames_decoded_; }

 private:
  struct Frame {
    int64_t file_offset = 0;  // of the payload
    uint32_t payload_len = 0, raw_len = 0, newlines = 0, payload_crc = 0;
    int64_t raw_start = 0;   // log offset of its first byte
    int64_t line_start = 0;  // '\n' bytes before it
  };
  LogReader() = default;
  Status Index();
  Status Decode(size_t i, std::string* out);  // frame i's raw bytes (the last one is cached)
  std::string path_;
  std::unique_ptr<LogFile> file_;
  LogInfo info_;
  std::vector<Frame> frames_;
  bool ends_with_newline_ = true;
  int64_t frames_decoded_ = 0;
  int64_t cached_frame_ = -1;
  std::string cache_;
};

// What Store::ReadAttemptLog reads: a line range, or the last `tail` lines when tail is set.
struct LogLinesQuery {
  std::string run_id;
  int attempt = 0;  // 0: the last attempt
  LogStream stream = LogStream::kStdout;
  std::optional<int64_t> tail;  // the last N lines; else first_line/max_lines
  int64_t first_line = 0;       // 0-based
  int64_t max_lines = 1000;
};

struct LogLines {
  int attempt = 0;
  int64_t first_line = 0;  // 0-based number of lines[0]
  std::vector<std::string> lines;
  LogInfo info;
};

}  // namespace inloop::store
