#include "sdk/python_sdk.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/crc32c.h"
#include "common/file_io.h"

namespace inloop::sdk {
namespace {

// Makes the directory `path` with mode 0700 (its missing parents too when `parents`); an existing
// one must be a directory of ours: the SDK in it is code the training process will run.
Status MakePrivateDir(const std::string& path, bool parents) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Status::Io(fmt::format("{} is not a directory", path));
    }
    if (st.st_uid != geteuid()) {
      return Status::Io(fmt::format("{} belongs to another user; not using it", path));
    }
    return Status::OK();
  }
  if (parents) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Io(fmt::format("cannot create {}: {}", path, strerror(errno)));
  }
  return Status::OK();
}

bool SameContent(const std::string& path, std::string_view want) {
  std::string have;
  if (!ReadFile(path, &have).ok()) return false;
  return have == want;
}

}  // namespace

std::string PythonSdkKey() {
  uint32_t crc = 0;
  for (const SdkFile& f : PythonSdkFiles()) {
    crc = crc32c::Extend(crc, f.path.data(), f.path.size());
    crc = crc32c::Extend(crc, f.body.data(), f.body.size());
  }
  return fmt::format("{:08x}", crc);
}

std::string DefaultSdkRoot() {
  if (const char* x = getenv("XDG_CACHE_HOME"); x && *x == '/') return std::string(x) + "/inloop";
  if (const char* h = getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/inloop";
  return "";
}

Status MaterializePythonSdk(const std::string& root, std::string* dir) {
  if (root.empty()) return Status::Invalid("no directory to write the Python SDK to");
  std::string base = root + "/python-sdk-" + PythonSdkKey();
  std::string pkg = base + "/inloop";
  INLOOP_RETURN_IF_ERROR(MakePrivateDir(root, /*parents=*/true));
  INLOOP_RETURN_IF_ERROR(MakePrivateDir(base, false));
  INLOOP_RETURN_IF_ERROR(MakePrivateDir(pkg, false));
  for (const SdkFile& f : PythonSdkFiles()) {
    std::string path = pkg + std::string(f.path);
    if (SameContent(path, f.body)) continue;
    INLOOP_RETURN_IF_ERROR(WriteFileAtomically(path, f.body));
  }
  *dir = base;
  return Status::OK();
}

Status EnsurePythonSdk(const std::string& fallback_root, std::string* dir) {
  std::string root = DefaultSdkRoot();
  Status first = root.empty() ? Status::Invalid("neither XDG_CACHE_HOME nor HOME is set")
                              : MaterializePythonSdk(root, dir);
  if (first.ok() || fallback_root.empty()) return first;
  Status second = MaterializePythonSdk(fallback_root, dir);
  if (second.ok()) return second;
  return Status::Io(fmt::format("{}; {}", first.message(), second.message()));
}

std::string PrependToPythonPath(const std::string& dir, const char* existing) {
  if (!existing || !*existing) return dir;
  return dir + ":" + existing;
}

std::vector<std::pair<std::string, std::string>> PythonSdkEnv(const std::string& fallback_root,
                                                              std::string* warning) {
  warning->clear();
  if (const char* off = getenv("INLOOP_PYTHON_SDK"); off && std::string_view(off) == "0") return {};
  std::string dir;
  Status s = EnsurePythonSdk(fallback_root, &dir);
  if (!s.ok()) {
    *warning = fmt::format("the Python SDK is not importable by the command ({}); install it with "
                           "`pip install` from python/ or fix the directory", s.message());
    return {};
  }
  return {{"PYTHONPATH", PrependToPythonPath(dir, getenv("PYTHONPATH"))}};
}

}  // namespace inloop::sdk
