// DecodeChunk / ReadChunkSummary on arbitrary bytes. With bit 0 of the first byte set the
// harness fixes the magic, version and both CRCs, so the column decoders (bit-packing, decimal,
// Gorilla, zstd) see corrupt bodies rather than stopping at a checksum.
// Contract: OK only with exactly the header's count of points; on error *out is untouched and
// the status is Corrupt or Incompatible; a decoded chunk re-encodes and decodes to itself.
#include <cstring>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "store/chunk_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop;
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t h = store::ChunkHeaderSize();  // 192; CRCs at 184 (body) and 188 (header)
  if ((data[0] & 1) && bytes.size() >= h) {
    std::memcpy(bytes.data(), "ILCK", 4);
    bytes[4] = 1;
    uint32_t body = crc32c::Mask(crc32c::Value(bytes.data() + h, bytes.size() - h));
    std::memcpy(bytes.data() + 184, &body, 4);
    uint32_t head = crc32c::Mask(crc32c::Value(bytes.data(), 188));
    std::memcpy(bytes.data() + 188, &head, 4);
  }
  store::ChunkSummary sum;
  Status hs = store::ReadChunkSummary(bytes, &sum);
  std::vector<Point> pts(1);  // a point already there must stay
  Status s = store::DecodeChunk(bytes, &pts);
  if (!s.ok()) {
    FUZZ_CHECK(pts.size() == 1, "a failed decode changed *out");
    FUZZ_CHECK(s.code() == Status::Code::kCorrupt || s.code() == Status::Code::kIncompatible,
               "decode error is not Corrupt/Incompatible");
    return 0;
  }
  FUZZ_CHECK(hs.ok(), "decoded a chunk whose summary does not read");
  FUZZ_CHECK(pts.size() == 1 + sum.count, "decoded count differs from the header's");
  pts.erase(pts.begin());
  if (!pts.empty() && pts.size() <= 65536) {
    bool sorted = true;
    for (size_t i = 1; i < pts.size(); ++i) sorted &= pts[i - 1].step <= pts[i].step;
    if (sorted) {
      std::vector<Point> again;
      FUZZ_CHECK(store::DecodeChunk(store::EncodeChunk(pts), &again).ok(), "re-encode fails to decode");
      FUZZ_CHECK(again.size() == pts.size() &&
                     std::memcmp(again.data(), pts.data(), pts.size() * sizeof(Point)) == 0,
                 "re-encoded chunk differs");
    }
  }
  return 0;
}
