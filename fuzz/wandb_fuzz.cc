// The W&B .wandb reader (framing, Record decoding, history/config/summary into a run) over
// arbitrary bytes. The first byte picks a mode: with bit 0 set the rest is framed as records with
// good checksums (2-byte length prefixes, split over 32 KiB blocks as the client does), so the
// protobuf and JSON paths are reached; otherwise the bytes are the file itself, header included.
// Contract: no crash, no leak; every issue has a byte offset inside the input; a run comes out
// exactly when the header checks.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "importers/wandb_log.h"
#include "importers/wandb_reader.h"

namespace {
using inloop::importers::Crc32Ieee;
using inloop::importers::WandbLogReader;

void Chunk(std::string* out, uint8_t type, std::string_view data) {
  uint32_t crc = Crc32Ieee(Crc32Ieee(0, &type, 1), data.data(), data.size());
  for (int k = 0; k < 4; ++k) out->push_back(static_cast<char>(crc >> (8 * k)));
  out->push_back(static_cast<char>(data.size() & 0xFF));
  out->push_back(static_cast<char>(data.size() >> 8));
  out->push_back(static_cast<char>(type));
  out->append(data);
}

std::string Framed(std::string_view in) {
  constexpr size_t kBlock = WandbLogReader::kBlockSize;
  std::string out(":W&B\xE1\xBE\x00", 7);
  while (in.size() >= 2) {
    const auto* u = reinterpret_cast<const unsigned char*>(in.data());
    size_t len = size_t{u[0]} | size_t{u[1]} << 8;
    in.remove_prefix(2);
    std::string_view rec = in.substr(0, std::min(len, in.size()));
    in.remove_prefix(rec.size());
    bool first = true;
    do {
      size_t room = kBlock - out.size() % kBlock;
      if (room < 7) {
        out.append(room, '\0');
        room = kBlock;
      }
      size_t n = std::min(rec.size(), room - 7);
      bool end = n == rec.size();
      Chunk(&out, first && end ? 1 : first ? 2 : end ? 4 : 3, rec.substr(0, n));
      rec.remove_prefix(n);
      first = false;
    } while (!rec.empty());
  }
  out.append(in);  // a torn tail
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop::importers;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes = (data[0] & 1) ? Framed(in) : std::string(in);
  ImportBatch out;
  WandbNonNumeric nn;
  ReadWandbBytes(bytes, "fuzz.wandb", &out, &nn);
  bool header = bytes.size() >= 7 && std::memcmp(bytes.data(), ":W&B\xE1\xBE\x00", 7) == 0;
  FUZZ_CHECK(out.runs.size() == (header ? 1u : 0u), "a run without a header, or none with one");
  for (const ImportIssue& i : out.issues) {
    FUZZ_CHECK(i.offset >= 0 && i.offset <= static_cast<int64_t>(bytes.size()),
               "an issue offset outside the input");
    FUZZ_CHECK(!i.message.empty(), "an issue without a message");
  }
  return 0;
}
