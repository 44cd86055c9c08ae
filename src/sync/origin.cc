// The origin id file (origin.h): written whole to a temporary name, then link()ed into place so
// that a concurrent writer's id wins intact or ours does, never a mix.
#include "sync/origin.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/secrets.h"
#include "sync/protocol.h"

namespace inloop::sync {
namespace {

Status ReadId(const std::string& path, std::string* id, bool* found) {
  std::string text;
  Status s = ReadFile(path, &text);
  *found = false;
  if (!s.ok()) return s.code() == Status::Code::kNotFound ? Status::OK() : s;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!ValidOrigin(text)) {
    return Status::Corrupt(fmt::format(
        "{}: not an origin id (delete the file to draw a new one; the server then sees this "
        "store's runs as new runs)",
        path));
  }
  *id = text;
  *found = true;
  return Status::OK();
}

}  // namespace

Status LoadOrCreateOrigin(const std::string& store_dir, std::string* id) {
  std::string path = store_dir + "/sync-origin";
  bool found = false;
  INLOOP_RETURN_IF_ERROR(ReadId(path, id, &found));
  if (found) return Status::OK();
  std::string fresh;
  INLOOP_RETURN_IF_ERROR(RandomHex(16, &fresh));
  std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  INLOOP_RETURN_IF_ERROR(WriteFileAtomically(tmp, fresh + "\n"));
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err != EEXIST) {
    return Status::Io(fmt::format("{}: cannot create: {}", path, std::strerror(err)));
  }
  INLOOP_RETURN_IF_ERROR(ReadId(path, id, &found));
  if (!found) return Status::Io(fmt::format("{}: vanished while being created", path));
  return Status::OK();
}

}  // namespace inloop::sync
