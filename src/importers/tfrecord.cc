#include "importers/tfrecord.h"

#include <fmt/format.h>

#include <endian.h>

#include <cstring>

#include "common/crc32c.h"

namespace inloop::importers {
namespace {

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return le32toh(v);
}

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return le64toh(v);
}

}  // namespace

bool TfRecordReader::LengthCrcOk(size_t at) const {
  const char* p = buf_.data() + at;
  return crc32c::Unmask(Load32(p + 8)) == crc32c::Value(p, 8);
}

uint64_t TfRecordReader::LengthAt(size_t at) const { return Load64(buf_.data() + at); }

TfRecordResult TfRecordReader::Next(std::string_view* data) {
  const size_t size = buf_.size();     // bytes at hand
  const size_t total = stream_left_;  // bytes of the stream from buf_[0] on
  offset_ = pos_;
  if (pos_ >= total) return TfRecordResult::kEnd;
  const size_t left = total - pos_;
  if (left < kHeaderBytes) {
    if (size - pos_ < left) return TfRecordResult::kNeedMore;
    message_ = fmt::format("byte {}: the file ends inside a record header ({} of {} bytes); "
                           "truncated final record ignored",
                           base_ + pos_, left, kHeaderBytes);
    pos_ = size;
    return TfRecordResult::kTruncated;
  }
  if (size - pos_ < kHeaderBytes) return TfRecordResult::kNeedMore;
  if (!LengthCrcOk(pos_)) {
    // Resynchronise: the first later offset whose header checks and whose record fits in the
    // stream. A piece that ends before one is found is read again with more bytes.
    size_t q = pos_ + 1;
    for (; q + kHeaderBytes + kFooterBytes <= total; ++q) {
      if (q + kHeaderBytes > size) return TfRecordResult::kNeedMore;
      if (LengthCrcOk(q) && LengthAt(q) <= total - q - kHeaderBytes - kFooterBytes) break;
    }
    if (q + kHeaderBytes + kFooterBytes > total) {
      if (Partial()) return TfRecordResult::kNeedMore;
      q = size;
    }
    message_ = fmt::format("byte {}: record length CRC mismatch; skipped bytes [{}, {}) ({} "
                           "bytes) to {}",
                           base_ + pos_, base_ + pos_, base_ + q, q - pos_,
                           q < total ? "the next record whose header checks"
                                     : "the end of the file (no later record header checks)");
    pos_ = q;
    return TfRecordResult::kResync;
  }
  const uint64_t length = LengthAt(pos_);
  if (length > left - kHeaderBytes || left - kHeaderBytes - length < kFooterBytes) {
    // The stream ends inside this record: report it from the piece that holds the whole tail.
    if (Partial()) return TfRecordResult::kNeedMore;
    message_ = fmt::format("byte {}: record of {} bytes but only {} bytes follow its header; "
                           "truncated final record ignored",
                           base_ + pos_, length, left - kHeaderBytes);
    pos_ = size;
    return TfRecordResult::kTruncated;
  }
  const size_t n = static_cast<size_t>(length);
  if (size - pos_ < kHeaderBytes + n + kFooterBytes) return TfRecordResult::kNeedMore;
  const char* body = buf_.data() + pos_ + kHeaderBytes;
  const uint32_t stored = crc32c::Unmask(Load32(body + n));
  const uint32_t actual = crc32c::Value(body, n);
  pos_ += kHeaderBytes + n + kFooterBytes;
  if (stored != actual) {
    message_ = fmt::format("byte {}: data CRC mismatch in a {}-byte record; record skipped",
                           base_ + offset_, n);
    return TfRecordResult::kBadData;
  }
  *data = std::string_view(body, n);
  return TfRecordResult::kRecord;
}

}  // namespace inloop::importers
