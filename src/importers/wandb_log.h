// The framing of a W&B `.wandb` file (run-<id>.wandb): a 7-byte header (":W&B", uint16 LE 0xBEE1,
// uint8 version 0), then LevelDB's log format: 32 KiB blocks of chunks, each with a 7-byte header
// (uint32 LE checksum, uint16 LE length, uint8 type: 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST) and its
// data; a block's tail shorter than a chunk header is padding. The header counts against block 0.
// Unlike LevelDB the checksum is plain CRC-32 (zlib/IEEE) over the type byte then the data.
// A record is one FULL chunk, or FIRST, MIDDLE..., LAST joined.
//
// The reader never stops at the first bad chunk; each problem is kept with its byte offset:
//  - a chunk whose checksum fails, whose type is unknown, or whose length runs past its block:
//    reported, and reading resumes at the next block (the rest of the block is not trusted);
//    a record that chunk belonged to is dropped and reported with the offset of its first chunk;
//  - a MIDDLE or LAST chunk with no FIRST before it (its record's start was damaged): skipped,
//    reported once per run of such chunks;
//  - a FIRST or FULL chunk while a record is open: the open record lacks its end and is reported;
//  - a zero chunk header (type 0, length 0: preallocated space) skips the rest of its block;
//  - the file ends inside a chunk, or inside a record: reported, reading stops.
// Memory is one block plus the record being joined (at most kMaxRecordBytes: a longer one is
// dropped and reported). Reads only inside what the source returns.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace inloop::importers {

// CRC-32 (IEEE 802.3, as zlib's crc32) of `n` bytes, continuing from `crc` (0 to start).
uint32_t Crc32Ieee(uint32_t crc, const void* data, size_t n);

struct WandbLogProblem {
  int64_t offset = 0;   // byte offset in the file of the damaged chunk or record
  std::string message;  // one line: what is wrong and what was skipped
};

struct WandbLogCounts {
  int64_t full = 0, first = 0, middle = 0, last = 0;  // chunks whose checksum matched
  int64_t damaged_chunks = 0;
  int64_t padding_blocks = 0;  // blocks cut short by a zero chunk header
  int64_t records = 0;         // records returned
  int64_t bytes = 0;           // bytes read from the source
};

class WandbLogReader {
 public:
  static constexpr size_t kBlockSize = 32768;
  static constexpr size_t kHeaderSize = 7;       // the file header
  static constexpr size_t kChunkHeaderSize = 7;  // checksum, length, type
  static constexpr size_t kMaxRecordBytes = 256u << 20;

  // Reads the whole of `bytes` (which must outlive the reader).
  explicit WandbLogReader(std::string_view bytes);
  // Reads `file` from its current position (the start of the .wandb file); not closed here.
  explicit WandbLogReader(std::FILE* file);

  // Checks the file header. False (with a problem at offset 0) when the file is not a W&B log:
  // too short, another magic, or a version other than 0; Next then returns false at once.
  bool ReadHeader();

  // The next whole record whose chunks all checked. *record stays valid until the next call;
  // *offset is the byte offset of its first chunk. False at the end of the file.
  bool Next(std::string_view* record, int64_t* offset);

  // Problems met so far, in file order; Take empties the list.
  std::vector<WandbLogProblem> TakeProblems() { return std::move(problems_); }
  const WandbLogCounts& counts() const { return counts_; }

 private:
  enum class Step { kChunk, kSkipped, kEnd };
  // The next chunk whose header and checksum check (kChunk), or past padding or a damaged chunk
  // (kSkipped, the damage reported), or the end of the file (kEnd, a cut-off chunk reported).
  Step NextChunk(uint8_t* type, std::string_view* data, int64_t* at);
  // Adds a good chunk to the record being joined. True when a whole record is ready.
  bool Join(uint8_t type, std::string_view data, int64_t at, std::string_view* record,
            int64_t* offset);
  // Reads the next block into block_. False at the end of the file.
  bool LoadBlock();
  void Problem(int64_t offset, std::string message);
  void DropOpenRecord(const char* why);
  // Skips the rest of the current block.
  void SkipBlock() { pos_ = block_.size(); }

  std::function<size_t(char*, size_t)> read_;
  std::string block_;        // the current block (shorter at the end of the file)
  int64_t block_start_ = 0;  // stream offset of block_[0]
  size_t pos_ = 0;           // position in block_
  bool started_ = false;     // the first block was loaded
  bool eof_ = false;         // the source has no more bytes
  bool header_ok_ = false;

  std::string record_;       // the record being joined (FIRST/MIDDLE seen)
  int64_t record_start_ = -1;  // -1: no record open
  bool record_too_long_ = false;
  bool in_orphans_ = false;  // inside a run of MIDDLE/LAST chunks without a FIRST
  std::string out_;          // the record handed out by Next
  std::vector<WandbLogProblem> problems_;
  WandbLogCounts counts_;
};

}  // namespace inloop::importers
