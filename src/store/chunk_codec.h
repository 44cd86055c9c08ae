// Chunk codec: the on-disk encoding of a run of points of one series (docs/chunk_format.md).
// Steps as bit-packed deltas (a constant stride costs 0 bits); wall times and values as scaled
// decimals (as training logs print them), Gorilla XOR or raw, whichever is smallest, each block
// zstd-compressed when that helps; a fixed header with the summary (so M4 can skip decoding) and
// CRC-32C checksums. Pure functions, thread-safe; decoding never trusts its input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/point.h"
#include "common/status.h"

namespace inloop::store {

// Summary of a chunk, readable without decoding its points.
struct ChunkSummary {
  uint32_t count = 0;      // points in the chunk
  uint32_t nonfinite = 0;  // points whose value is NaN or +-Inf
  Point first;             // first point (by position)
  Point last;              // last point (by position)
  // Over finite values only; when every value is non-finite, min/max hold the first point.
  Point min;       // the first point holding the minimum value
  Point max;       // the first point holding the maximum value
  double sum = 0;  // sum of finite values
  bool has_nonfinite_point = false;
  Point first_nonfinite;  // valid when has_nonfinite_point
  // Positions within the chunk (0-based) of min, max and first_nonfinite, so that a merge of
  // summaries orders and deduplicates points exactly as a scan of the points would.
  uint32_t min_index = 0;
  uint32_t max_index = 0;
  uint32_t first_nonfinite_index = 0;
};

// Computes the summary of pts (count must be > 0).
ChunkSummary Summarize(std::span<const Point> pts);

// Encodes pts (1 <= size <= 65536; steps non-decreasing) into a self-describing chunk. Every
// value (NaN payloads and -0.0 included) decodes bit-exactly.
std::string EncodeChunk(std::span<const Point> pts);

// Decodes a chunk; verifies both CRCs. Appends the points to *out. On any truncated or corrupt
// input returns Status::Corrupt naming what failed (Status::Incompatible for a chunk of another
// format version), and leaves *out as it was.
Status DecodeChunk(std::string_view bytes, std::vector<Point>* out);

// Reads only the header and summary (verifies the header CRC). Cheap: no decompression.
Status ReadChunkSummary(std::string_view bytes, ChunkSummary* summary);

// Size of the fixed header, so callers can read a header without the body.
size_t ChunkHeaderSize();

}  // namespace inloop::store
