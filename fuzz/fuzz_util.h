// Helpers shared by the fuzz targets: a scratch file per process for readers that take a path,
// and a check that aborts with a message (libFuzzer then saves the input as a crash).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/crc32c.h"

namespace inloop::fuzz {

// Wraps fuzzed bytes in TFRecord framing with valid CRCs, so the fuzzer reaches the payload
// decoding: each record is a 2-byte little-endian length (mod max_len) and that many bytes; what
// is left at the end stays as a torn tail.
inline std::string TfRecordFramed(std::string_view in, size_t max_len) {
  std::string out;
  while (in.size() >= 2) {
    size_t len = (static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8) % max_len;
    in.remove_prefix(2);
    len = std::min(len, in.size());
    uint64_t len64 = len;
    char head[8];
    std::memcpy(head, &len64, 8);
    uint32_t hcrc = inloop::crc32c::Mask(inloop::crc32c::Value(head, 8));
    uint32_t dcrc = inloop::crc32c::Mask(inloop::crc32c::Value(in.data(), len));
    out.append(head, 8);
    out.append(reinterpret_cast<const char*>(&hcrc), 4);
    out.append(in.data(), len);
    out.append(reinterpret_cast<const char*>(&dcrc), 4);
    in.remove_prefix(len);
  }
  out.append(in);
  return out;
}

// Fails the run (abort -> libFuzzer reports a crash and writes the input) when `ok` is false.
#define FUZZ_CHECK(ok, what)                                                           \
  do {                                                                                 \
    if (!(ok)) {                                                                       \
      std::fprintf(stderr, "fuzz contract violated: %s (%s:%d)\n", what, __FILE__, __LINE__); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// Where the file-based targets write their input: $TMPDIR/inloop-fuzz when TMPDIR is set (the
// runners give each run a folder of its own, and a fixed path keeps runs alike), else
// /tmp/inloop-fuzz-PID. Made once; the runners remove their folders afterwards.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::filesystem::path d = t && *t ? std::filesystem::path(t) / "inloop-fuzz"
                                      : std::filesystem::path("/tmp") /
                                            ("inloop-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes `data` to `path` (creating its directories), replacing what was there.
inline void WriteFile(const std::filesystem::path& path, std::string_view data) {
  std::filesystem::create_directories(path.parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f) != data.size()) std::abort();
  std::fclose(f);
}

}  // namespace inloop::fuzz
