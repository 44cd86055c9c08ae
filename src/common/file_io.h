// Writing whole buffers to files: WriteAll retries short writes and EINTR; WriteFileAtomically
// replaces a file so that a reader sees the old content or the new, never a part (temp file,
// fsync, rename). ReadFile reads a whole file into memory (importers). Errors name the file.
// Shared by the store's WAL, the remedy control file and the importers.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop {

Status WriteAll(int fd, std::string_view data, const std::string& path);
Status WriteFileAtomically(const std::string& path, std::string_view data);
// Replaces *out with the whole content of `path`, read to its end even if it grows meanwhile.
// NotFound when it does not exist, Io when it cannot be read.
// Opens for reading (O_CLOEXEC); a missing file is NotFound, other failures Io, both naming path.
Status OpenForReading(const std::string& path, int* fd);
Status ReadFile(const std::string& path, std::string* out);

}  // namespace inloop
