// W&B's LevelDB-style log framing, block by block (see wandb_log.h for the contract).
#include "importers/wandb_log.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace inloop::importers {
namespace {

constexpr uint8_t kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4;

uint32_t Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

const char* TypeName(uint8_t type) {
  switch (type) {
    case kFull: return "FULL";
    case kFirst: return "FIRST";
    case kMiddle: return "MIDDLE";
    case kLast: return "LAST";
  }
  return "?";
}

}  // namespace

// zlib's CRC-32 is the same function (IEEE polynomial, inverted in and out, chained the same
// way) computed several bytes at a time: the byte-table loop was a tenth of a W&B import.
uint32_t Crc32Ieee(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

WandbLogReader::WandbLogReader(std::string_view bytes) {
  read_ = [bytes, at = size_t{0}](char* dst, size_t n) mutable {
    size_t k = std::min(n, bytes.size() - at);
    if (k > 0) std::memcpy(dst, bytes.data() + at, k);
    at += k;
    return k;
  };
}

WandbLogReader::WandbLogReader(std::FILE* file) {
  read_ = [file](char* dst, size_t n) { return std::fread(dst, 1, n, file); };
}

bool WandbLogReader::LoadBlock() {
  if (eof_) return false;
  if (started_) block_start_ += static_cast<int64_t>(block_.size());
  started_ = true;
  block_.resize(kBlockSize);
  size_t got = 0;
  while (got < kBlockSize) {
    size_t n = read_(block_.data() + got, kBlockSize - got);
    if (n == 0) break;
    got += n;
  }
  block_.resize(got);
  counts_.bytes += static_cast<int64_t>(got);
  pos_ = 0;
  if (got < kBlockSize) eof_ = true;
  return got > 0;
}

void WandbLogReader::Problem(int64_t offset, std::string message) {
  problems_.push_back(WandbLogProblem{offset, std::move(message)});
}

void WandbLogReader::DropOpenRecord(const char* why) {
  if (record_start_ < 0) return;
  Problem(record_start_, fmt::format("byte {}: the record there {}; record skipped",
                                     record_start_, why));
  record_start_ = -1;
  record_.clear();
  record_too_long_ = false;
}

bool WandbLogReader::ReadHeader() {
  if (!LoadBlock() || block_.size() < kHeaderSize) {
    Problem(0, fmt::format("file too short for a W&B header ({} bytes); nothing read",
                           block_.size()));
    return false;
  }
  const auto* u = reinterpret_cast<const unsigned char*>(block_.data());
  if (std::memcmp(block_.data(), ":W&B", 4) != 0 || u[4] != 0xE1 || u[5] != 0xBE) {
    Problem(0, "not a W&B .wandb file (no ':W&B' header); nothing read");
    return false;
  }
  if (u[6] != 0) {
    Problem(0, fmt::format("W&B log version {} (this reader knows version 0); nothing read",
                           u[6]));
    return false;
  }
  pos_ = kHeaderSize;
  header_ok_ = true;
  return true;
}

WandbLogReader::Step WandbLogReader::NextChunk(uint8_t* type, std::string_view* data,
                                               int64_t* at) {
  if (pos_ + kChunkHeaderSize > block_.size()) {
    if (block_.size() == kBlockSize && LoadBlock()) return Step::kSkipped;  // a block's tail
    // The file ends here: in a block's padding, or inside a chunk header.
    size_t left = block_.size() - std::min(pos_, block_.size());
    const char* tail = block_.data() + std::min(pos_, block_.size());
    if (left > 0 && std::any_of(tail, tail + left, [](char c) { return c != 0; })) {
      int64_t where = block_start_ + static_cast<int64_t>(pos_);
      Problem(where, fmt::format("byte {}: file ends inside a chunk header ({} of {} bytes); "
                                 "stopped there",
                                 where, left, kChunkHeaderSize));
    }
    return Step::kEnd;
  }
  const char* h = block_.data() + pos_;
  const auto* u = reinterpret_cast<const unsigned char*>(h);
  *at = block_start_ + static_cast<int64_t>(pos_);
  uint32_t crc = Le32(h);
  size_t len = size_t{u[4]} | size_t{u[5]} << 8;
  *type = u[6];
  if (*type == 0 && len == 0 && crc == 0) {  // preallocated zeros: nothing more in this block
    ++counts_.padding_blocks;
    SkipBlock();
    return Step::kSkipped;
  }
  size_t end = pos_ + kChunkHeaderSize + len;
  std::string why;
  if (end > block_.size()) {
    if (block_.size() < kBlockSize) {  // the last block: the file ends inside this chunk
      Problem(*at, fmt::format("byte {}: file ends inside a chunk ({} of {} data bytes); "
                               "stopped there",
                               *at, block_.size() - pos_ - kChunkHeaderSize, len));
      return Step::kEnd;
    }
    why = fmt::format("length {} runs past its block", len);
  } else if (*type < kFull || *type > kLast) {
    why = fmt::format("unknown chunk type {}", *type);
  } else {
    uint32_t got = Crc32Ieee(Crc32Ieee(0, &u[6], 1), h + kChunkHeaderSize, len);
    if (got != crc)
      why = fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, got);
  }
  if (!why.empty()) {
    ++counts_.damaged_chunks;
    int64_t block_end = block_start_ + static_cast<int64_t>(block_.size());
    Problem(*at, fmt::format("byte {}: damaged chunk: {}; bytes {}..{} (the rest of its block) "
                             "skipped",
                             *at, why, *at, block_end));
    DropOpenRecord("lost a chunk to damage");
    in_orphans_ = false;
    SkipBlock();
    return Step::kSkipped;
  }
  *data = std::string_view(h + kChunkHeaderSize, len);
  pos_ = end;
  return Step::kChunk;
}

bool WandbLogReader::Join(uint8_t type, std::string_view data, int64_t at,
                          std::string_view* record, int64_t* offset) {
  if (type == kFull || type == kFirst) {
    (type == kFull ? counts_.full : counts_.first)++;
    DropOpenRecord("lacks its last chunk (a new record starts)");
    in_orphans_ = false;
    if (type == kFirst) {
      record_.assign(data);
      record_start_ = at;
      record_too_long_ = false;
      return false;
    }
    out_.assign(data);
    *record = out_;
    *offset = at;
    ++counts_.records;
    return true;
  }
  (type == kMiddle ? counts_.middle : counts_.last)++;
  if (record_start_ < 0) {
    if (!in_orphans_)
      Problem(at, fmt::format("byte {}: a {} chunk continues a record whose start is missing; "
                              "skipped with the chunks that follow it",
                              at, TypeName(type)));
    in_orphans_ = true;
    return false;
  }
  if (!record_too_long_ && record_.size() + data.size() > kMaxRecordBytes) {
    record_too_long_ = true;
    record_.clear();
    record_.shrink_to_fit();
  }
  if (!record_too_long_) record_.append(data);
  if (type == kMiddle) return false;
  if (record_too_long_) {
    DropOpenRecord("is longer than the 256 MiB this reader joins");
    return false;
  }
  out_.swap(record_);
  record_.clear();
  *record = out_;
  *offset = record_start_;
  record_start_ = -1;
  ++counts_.records;
  return true;
}

bool WandbLogReader::Next(std::string_view* record, int64_t* offset) {
  if (!header_ok_) return false;
  for (;;) {
    uint8_t type = 0;
    std::string_view data;
    int64_t at = 0;
    Step step = NextChunk(&type, &data, &at);
    if (step == Step::kEnd) {
      DropOpenRecord("lacks its last chunk (the file ends first)");
      header_ok_ = false;
      return false;
    }
    if (step == Step::kChunk && Join(type, data, at, record, offset)) return true;
  }
}

}  // namespace inloop::importers
