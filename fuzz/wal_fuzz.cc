// ReadWal on arbitrary bytes (through a memfd, as the store reads an open descriptor). With bit 0
// of the first byte set the harness writes the magic and frames the rest as records with good
// CRCs (2-byte length prefixes), so the bases/points decoding is reached.
// Contract: valid_bytes <= file_bytes; a clean end has no tail_error; every point decoded lies
// in the readable prefix (at most one point per 17 bytes of it).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>

#include "common/crc32c.h"
#include "fuzz_util.h"
#include "store/wal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inloop;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string bytes;
  if (data[0] & 1) {
    bytes = "INLWAL01";
    while (in.size() >= 2) {
      size_t len = (static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8) % 4096;
      in.remove_prefix(2);
      len = std::min(len, in.size());
      uint32_t len32 = static_cast<uint32_t>(len);
      uint32_t crc = crc32c::Mask(crc32c::Value(in.data(), len));
      bytes.append(reinterpret_cast<const char*>(&len32), 4);
      bytes.append(reinterpret_cast<const char*>(&crc), 4);
      bytes.append(in.data(), len);
      in.remove_prefix(len);
    }
    bytes.append(in);
  } else {
    bytes.assign(in);
  }
  static int fd = ::memfd_create("wal_fuzz", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "memfd_create");
  FUZZ_CHECK(::ftruncate(fd, 0) == 0, "ftruncate");
  FUZZ_CHECK(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()), "pwrite");
  store::WalContents wc;
  Status s = store::ReadWal(fd, &wc);
  FUZZ_CHECK(s.ok(), "ReadWal failed on a readable descriptor");
  FUZZ_CHECK(wc.file_bytes == bytes.size(), "file_bytes is not the file's size");
  FUZZ_CHECK(wc.valid_bytes <= wc.file_bytes, "valid prefix longer than the file");
  if (wc.tail_error.empty() && !bytes.empty()) FUZZ_CHECK(wc.valid_bytes == wc.file_bytes, "stopped early without saying why");
  FUZZ_CHECK(wc.points.size() * 17 <= wc.valid_bytes, "more points than the prefix can hold");
  return 0;
}
