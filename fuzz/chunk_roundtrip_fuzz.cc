// EncodeChunk -> DecodeChunk on points made from the input (24 bytes each: step delta, wall
// time, value as raw bits, so NaN payloads, -0.0, subnormals and huge values all occur).
// Contract: decoding gives the points back bit for bit, and the summary matches Summarize().
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "store/chunk_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop;
  std::vector<Point> pts;
  int64_t step = 0;
  for (size_t off = 0; off + 24 <= size && pts.size() < 65536; off += 24) {
    uint64_t delta;
    Point p;
    std::memcpy(&delta, data + off, 8);
    std::memcpy(&p.wall_time, data + off + 8, 8);
    std::memcpy(&p.value, data + off + 16, 8);
    // Steps must not decrease: small deltas mostly (strides), a huge one now and then.
    uint64_t d = (delta & 0x8000000000000000ull) ? (delta & 0x7fffffffffffffffull) : (delta & 0xff);
    int64_t next = 0;
    if (pts.empty()) next = static_cast<int64_t>(delta);
    else if (__builtin_add_overflow(step, static_cast<int64_t>(d), &next)) next = step;
    step = next;
    p.step = step;
    pts.push_back(p);
  }
  if (pts.empty()) return 0;
  std::string bytes = store::EncodeChunk(pts);
  std::vector<Point> back;
  Status s = store::DecodeChunk(bytes, &back);
  FUZZ_CHECK(s.ok(), "a chunk EncodeChunk wrote does not decode");
  FUZZ_CHECK(back.size() == pts.size(), "round trip changed the count");
  FUZZ_CHECK(std::memcmp(back.data(), pts.data(), pts.size() * sizeof(Point)) == 0,
             "round trip is not bit-exact");
  store::ChunkSummary sum;
  FUZZ_CHECK(store::ReadChunkSummary(bytes, &sum).ok(), "summary does not read");
  store::ChunkSummary want = store::Summarize(pts);
  FUZZ_CHECK(sum.count == want.count && sum.nonfinite == want.nonfinite &&
                 sum.min_index == want.min_index && sum.max_index == want.max_index,
             "stored summary differs from Summarize()");
  return 0;
}
