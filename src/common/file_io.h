// Writing whole buffers to files: WriteAll retries short writes and EINTR; WriteFileAtomically
// replaces a file so that a reader sees the old content or the new, never a part (temp file,
// fsync, rename). Errors name the file. Shared by the store's WAL and the remedy control file.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace inloop {

Status WriteAll(int fd, std::string_view data, const std::string& path);
Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace inloop
