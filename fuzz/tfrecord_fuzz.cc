// TfRecordReader: TFRecord framing over arbitrary bytes, whole and in pieces.
// The first byte picks a mode; with bit 0 set the harness writes the input as records with good
// CRCs (2-byte length prefixes), so the reader's paths past the CRC checks are reached too.
// Contract: every call makes progress or ends; offsets stay inside the stream; a record's data
// lies inside the buffer.
#include <cstring>
#include <string>
#include <string_view>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "importers/tfrecord.h"

namespace {
using inloop::importers::TfRecordReader;
using inloop::importers::TfRecordResult;

std::string Framed(std::string_view in) { return inloop::fuzz::TfRecordFramed(in, 512); }

void ReadAll(std::string_view buf, int64_t base, int64_t stream) {
  TfRecordReader r(buf, base, stream);
  for (int guard = 0;; ++guard) {
    FUZZ_CHECK(guard <= static_cast<int>(buf.size()) + 2, "reader does not progress");
    size_t before = r.consumed();
    std::string_view rec;
    TfRecordResult res = r.Next(&rec);
    if (res == TfRecordResult::kEnd || res == TfRecordResult::kTruncated ||
        res == TfRecordResult::kNeedMore)
      break;
    FUZZ_CHECK(r.consumed() > before, "a record or problem did not move the reader");
    FUZZ_CHECK(r.consumed() <= buf.size(), "reader moved past its buffer");
    FUZZ_CHECK(r.offset() >= base && r.resume() <= stream, "offset outside the stream");
    if (res == TfRecordResult::kRecord) {
      FUZZ_CHECK(rec.data() >= buf.data() && rec.data() + rec.size() <= buf.data() + buf.size(),
                 "record data outside the buffer");
    } else {
      FUZZ_CHECK(!r.message().empty(), "a problem without a message");
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes = (data[0] & 1) ? Framed(in) : std::string(in);
  int64_t n = static_cast<int64_t>(bytes.size());
  ReadAll(bytes, 0, n);
  // A piece of the same stream: its first half, judged against the whole length.
  size_t cut = (data[0] >> 1) % (bytes.size() + 1);
  ReadAll(std::string_view(bytes).substr(0, cut), 0, n);
  return 0;
}
