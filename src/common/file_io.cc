// Whole-buffer and atomic file writes, whole-file reads (file_io.h).
#include "common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace inloop {

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::Io(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  Status s = WriteAll(fd, data, tmp);
  if (!s.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::Io(fmt::format("{}: cannot sync: {}", tmp, std::strerror(e)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::Io(fmt::format("{}: cannot rename into place: {}", path, std::strerror(e)));
  }
  return Status::OK();
}

Status OpenForReading(const std::string& path, int* fd) {
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd >= 0) return Status::OK();
  int e = errno;
  std::string m = fmt::format("{}: cannot open: {}", path, std::strerror(e));
  return e == ENOENT ? Status::NotFound(std::move(m)) : Status::Io(std::move(m));
}

Status ReadFile(const std::string& path, std::string* out) {
  out->clear();
  int fd = -1;
  if (Status s = OpenForReading(path, &fd); !s.ok()) return s;
  struct stat st {};
  size_t capacity = 0;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) capacity = static_cast<size_t>(st.st_size);
  size_t used = 0;
  out->resize(capacity + 1);  // one byte more than expected, to see the end in one read
  for (;;) {
    if (used == out->size()) out->resize(out->size() * 2);
    ssize_t r = ::read(fd, out->data() + used, out->size() - used);
    if (r < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      out->clear();
      return Status::Io(fmt::format("{}: read failed: {}", path, std::strerror(e)));
    }
    if (r == 0) break;
    used += static_cast<size_t>(r);
  }
  ::close(fd);
  out->resize(used);
  return Status::OK();
}

}  // namespace inloop
