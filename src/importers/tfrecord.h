// TFRecord framing, the container of TensorBoard event files, read from a byte buffer. Each record
// is: uint64 little-endian length, uint32 masked CRC-32C of those 8 bytes, `length` data bytes,
// uint32 masked CRC-32C of the data. The reader never stops at the first bad record:
//  - length CRC good, data CRC bad: that record is reported and skipped, the next one is read;
//  - length CRC bad: reported, then the reader scans forward byte by byte for the next offset whose
//    length CRC checks and whose length fits in what remains, and reports the range it skipped;
//  - the buffer ends inside a record (short header, or a length past the end): reported, stop.
// It only ever reads inside the buffer and never allocates on a length field, however large.
// A file can be read in pieces: a reader over a piece that starts at byte `base` of a stream of
// `stream_size` bytes judges lengths against the whole stream, exactly as over the whole file,
// and answers kNeedMore where the piece ends inside a record that the stream completes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace inloop::importers {

enum class TfRecordResult {
  kRecord,     // a record whose two CRCs check; its data is returned
  kBadData,    // the data CRC does not match: the record is skipped, reading goes on after it
  kResync,     // the length CRC does not match: [offset, resume) is skipped, reading goes on there
  kTruncated,  // the buffer ends inside the record at offset: reading stops
  kEnd,        // no more bytes
  kNeedMore,   // the piece ends inside a record the stream completes: resume() is its start
};

class TfRecordReader {
 public:
  static constexpr size_t kHeaderBytes = 12;  // length + length CRC
  static constexpr size_t kFooterBytes = 4;   // data CRC

  explicit TfRecordReader(std::string_view buffer)
      : buf_(buffer), stream_left_(buffer.size()) {}
  // A piece of a stream: `buffer` holds bytes [base, base + buffer.size()) of a stream of
  // `stream_size` bytes (>= base + buffer.size()). Offsets and messages are stream offsets.
  TfRecordReader(std::string_view buffer, int64_t base, int64_t stream_size)
      : buf_(buffer),
        base_(static_cast<size_t>(base)),
        stream_left_(static_cast<size_t>(stream_size - base)) {}

  // Returns what is at the current position and moves past it. On kRecord, *data points into the
  // buffer. For every result but kEnd, offset() is the byte offset of the record or problem and
  // resume() where reading goes on; for problems, message() says what was wrong and what was done
  // in one line (e.g. "byte 1234: data CRC mismatch in a 57-byte record; record skipped").
  TfRecordResult Next(std::string_view* data);

  int64_t offset() const { return static_cast<int64_t>(base_ + offset_); }
  int64_t resume() const { return static_cast<int64_t>(base_ + pos_); }
  // Bytes of the piece taken so far (where the next call starts, relative to the piece).
  size_t consumed() const { return pos_; }
  const std::string& message() const { return message_; }

 private:
  // The record header at `at` has a good length CRC (needs at + kHeaderBytes <= size).
  bool LengthCrcOk(size_t at) const;
  uint64_t LengthAt(size_t at) const;

  bool Partial() const { return stream_left_ > buf_.size(); }

  std::string_view buf_;
  size_t base_ = 0;         // stream offset of buf_[0]
  size_t stream_left_ = 0;  // stream bytes from buf_[0] on (buf_.size() when it is the whole)
  size_t pos_ = 0;
  size_t offset_ = 0;
  std::string message_;
};

}  // namespace inloop::importers
