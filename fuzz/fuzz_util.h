// Helpers shared by the fuzz targets: a scratch file per process for readers that take a path,
// and a check that aborts with a message (libFuzzer then saves the input as a crash).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace inloop::fuzz {

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
