// TFRecord framing, the container of TensorBoard event files, read from a byte buffer. Each record
// is: uint64 little-endian length, uint32 masked CRC-32C of those 8 bytes, `length` data bytes,
// uint32 masked CRC-32C of the data. The reader never stops at the first bad record:
//  - length CRC good, data CRC bad: that record is reported and skipped, the next one is read;
//  - length CRC bad: reported, then the reader scans forward byte by byte for the next offset whose
//    length CRC checks and whose length fits in what remains, and reports the range it skipped;
//  - the buffer ends inside a record (short header, or a length past the end): reported, stop.
// It only ever reads inside the buffer and never allocates on a length field, however large.
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
};

class TfRecordReader {
 public:
  static constexpr size_t kHeaderBytes = 12;  // length + length CRC
  static constexpr size_t kFooterBytes = 4;   // data CRC

  explicit TfRecordReader(std::string_view buffer) : buf_(buffer) {}

  // Returns what is at the current position and moves past it. On kRecord, *data points into the
  // buffer. For every result but kEnd, offset() is the byte offset of the record or problem and
  // resume() where reading goes on; for problems, message() says what was wrong and what was done
  // in one line (e.g. "byte 1234: data CRC mismatch in a 57-byte record; record skipped").
  TfRecordResult Next(std::string_view* data);

  int64_t offset() const { return static_cast<int64_t>(offset_); }
  int64_t resume() const { return static_cast<int64_t>(pos_); }
  const std::string& message() const { return message_; }

 private:
  // The record header at `at` has a good length CRC (needs at + kHeaderBytes <= size).
  bool LengthCrcOk(size_t at) const;
  uint64_t LengthAt(size_t at) const;

  std::string_view buf_;
  size_t pos_ = 0;
  size_t offset_ = 0;
  std::string message_;
};

}  // namespace inloop::importers
