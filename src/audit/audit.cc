#include "audit/audit.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "audit/code_scan.h"
#include "audit/pickle_scan.h"
#include "audit/safetensors_check.h"
#include "audit/zip_reader.h"
#include "common/file_io.h"

namespace inloop::audit {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxInflate = 1ull << 30;  // a deflated pickle larger than this is refused
constexpr int kMaxPicklesInSequence = 16;

// A read-only mapping of a whole file.
class Mapped {
 public:
  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Io(fmt::format("{}: cannot open: {}", path, strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::Invalid(fmt::format("{}: not a regular file", path));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return Status::Io(fmt::format("{}: cannot map: {}", path, strerror(errno)));
      }
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return Status::OK();
  }
  ~Mapped() {
    if (data_) munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return {data_ ? data_ : "", size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

bool StartsWith(std::string_view d, std::string_view magic) {
  return d.size() >= magic.size() && d.substr(0, magic.size()) == magic;
}

// Archive formats the audit does not open: refusing is the safe answer (fail closed).
const char* UnopenedArchive(std::string_view d) {
  if (StartsWith(d, std::string_view("7z\xBC\xAF\x27\x1C", 6))) return "7z";
  if (StartsWith(d, "\x1f\x8b")) return "gzip";
  if (StartsWith(d, std::string_view("\xFD" "7zXZ\0", 6))) return "xz";
  if (StartsWith(d, "BZh")) return "bzip2";
  if (StartsWith(d, std::string_view("\x28\xB5\x2F\xFD", 4))) return "zstd";
  if (d.size() > 262 && d.substr(257, 5) == "ustar") return "tar";
  return nullptr;
}

bool IsZip(std::string_view d) {
  return StartsWith(d, "PK\x03\x04") || StartsWith(d, "PK\x05\x06");
}

void Add(FileVerdict* v, std::string file, const char* rule, Severity s, std::string msg,
         std::string fix, int64_t offset = -1) {
  Finding f;
  f.file = std::move(file);
  f.rule = rule;
  f.severity = s;
  f.message = std::move(msg);
  f.fix = std::move(fix);
  f.offset = offset;
  v->findings.push_back(std::move(f));
}

// Scans consecutive pickles from data[0]: up to `max` (0: while the rest still looks like one).
void ScanPickles(std::string_view data, const std::string& label, int max,
                 const AuditOptions& o, FileVerdict* v) {
  size_t at = 0;
  for (int n = 0; at < data.size() && (max == 0 ? n < kMaxPicklesInSequence : n < max); ++n) {
    std::string_view rest = data.substr(at);
    if (n > 0 && max == 0 && !LooksLikePickle(rest)) break;
    PickleScan s = ScanPickle(rest, o.allow);
    ++v->pickles;
    v->globals += static_cast<int>(s.globals.size());
    for (Finding& f : s.findings) {
      f.file = label;
      if (f.offset >= 0) f.offset += static_cast<int64_t>(at);
      v->findings.push_back(std::move(f));
    }
    if (!s.complete) return;
    at += s.end;
  }
}

// torch.save's legacy format starts with a pickled magic number; five pickles follow it in all
// (magic, protocol, sys info, the object, storage keys), then raw storage bytes.
bool IsTorchLegacy(std::string_view d) {
  return StartsWith(d, std::string_view("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14));
}

void AuditZip(std::string_view d, const std::string& path, const AuditOptions& o,
              FileVerdict* v) {
  std::vector<ZipMember> members;
  Status s = ListZip(d, &members);
  if (!s.ok()) {
    v->format = "zip";
    Add(v, path, "archive.damaged", Severity::kHigh, s.message(),
        "do not load this file; re-save it from a trusted source");
    return;
  }
  int data_pkls = 0;
  for (const ZipMember& m : members) {
    std::string label = path + "!" + m.name;
    bool pkl = m.name.size() >= 4 && m.name.substr(m.name.size() - 4) == ".pkl";
    bool raw_storage = m.name.find("/data/") != std::string::npos ||
                       m.name.rfind("data/", 0) == 0 || m.name.find(".data/") != std::string::npos;
    if (m.name == "data.pkl" || (m.name.size() > 9 && m.name.substr(m.name.size() - 9) == "/data.pkl")) {
      ++data_pkls;
    }
    if (!pkl && raw_storage) continue;  // tensor bytes, never unpickled
    std::string storage;
    std::string_view bytes;
    Status r = ReadZipMember(d, m, kMaxInflate, &storage, &bytes);
    if (!r.ok()) {
      Add(v, label, "archive.member", Severity::kHigh, r.message(),
          "do not load this file; re-save it from a trusted source");
      continue;
    }
    if (pkl) {
      ScanPickles(bytes, label, 1, o, v);
    } else if (IsZip(bytes) || UnopenedArchive(bytes)) {
      Add(v, label, "archive.nested", Severity::kHigh,
          fmt::format("{} holds another archive; the audit does not open nested archives",
                      m.name),
          "unpack it and audit its files one by one");
    } else if (LooksLikePickle(bytes) && m.name.find('.') == std::string::npos) {
      ScanPickles(bytes, label, 0, o, v);
    }
  }
  v->format = data_pkls > 0 ? "torch-zip" : "zip";
  if (data_pkls > 1) {
    Add(v, path, "archive.multiple_pickles", Severity::kHigh,
        fmt::format("the archive holds {} data.pkl members; torch.load reads one of them, the "
                    "others can disguise what loads", data_pkls),
        "do not load this file; a torch.save archive has exactly one data.pkl");
  }
}

void AuditNpy(std::string_view d, const std::string& path, const AuditOptions& o,
              FileVerdict* v) {
  v->format = "npy";
  if (d.size() < 10) return;
  int major = static_cast<uint8_t>(d[6]);
  size_t hlen_at = 8, hlen_bytes = major >= 2 ? 4 : 2;
  if (d.size() < hlen_at + hlen_bytes) return;
  size_t hlen = 0;
  for (size_t i = 0; i < hlen_bytes; ++i) hlen |= size_t(static_cast<uint8_t>(d[hlen_at + i])) << (8 * i);
  size_t start = hlen_at + hlen_bytes + hlen;
  if (start > d.size()) {
    Add(v, path, "npy.header", Severity::kHigh, "the .npy header runs past the file",
        "re-save the array with numpy.save from a trusted source");
    return;
  }
  std::string_view header = d.substr(hlen_at + hlen_bytes, hlen);
  if (header.find("'|O'") != std::string_view::npos || header.find("\"|O\"") != std::string_view::npos) {
    ScanPickles(d.substr(start), path, 1, o, v);  // object arrays are pickled
  }
}

}  // namespace

FileVerdict AuditFile(const std::string& path, const AuditOptions& o) {
  FileVerdict v;
  v.file = path;
  Mapped m;
  Status s = m.Open(path);
  if (!s.ok()) {
    v.format = "unreadable";
    Add(&v, path, "file.unreadable", Severity::kHigh, s.message(), "check the path and its permissions");
    return v;
  }
  std::string_view d = m.view();
  if (IsZip(d)) {
    AuditZip(d, path, o, &v);
  } else if (const char* kind = UnopenedArchive(d)) {
    v.format = kind;
    Add(&v, path, "archive.unsupported", Severity::kHigh,
        fmt::format("a {} archive: the audit does not open it, so it cannot vouch for it", kind),
        "unpack it and audit its files one by one");
  } else if (StartsWith(d, "\x93NUMPY")) {
    AuditNpy(d, path, o, &v);
  } else if (IsTorchLegacy(d)) {
    v.format = "torch-legacy";
    ScanPickles(d, path, 5, o, &v);
  } else if (LooksLikeSafetensors(d)) {
    v.format = "safetensors";
    std::vector<Finding> fs;
    CheckSafetensors(d, &fs);
    for (Finding& f : fs) {
      f.file = path;
      v.findings.push_back(std::move(f));
    }
  } else if (LooksLikePickle(d)) {
    v.format = "pickle";
    ScanPickles(d, path, 0, o, &v);
  } else {
    v.format = "unrecognized";
    Add(&v, path, "file.unrecognized", Severity::kInfo,
        "not a pickle, torch, numpy, safetensors or ZIP file: nothing to check",
        "nothing to do, unless you expected a checkpoint here");
  }
  return v;
}

namespace {

bool ModelFileName(const fs::path& p) {
  static const char* kExt[] = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt",
                               ".safetensors", ".npy", ".npz", ".joblib", ".model", ".tar",
                               ".zip", ".7z", ".gz", ".tgz", ".xz", ".bz2", ".zst"};
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  for (const char* e : kExt) {
    if (ext == e) return true;
  }
  return false;
}

}  // namespace

namespace {

enum class Kind { kModel, kPython, kConfig };

Kind KindOf(const std::string& path) {
  if (IsPythonSource(path)) return Kind::kPython;
  if (IsConfigFile(path)) return Kind::kConfig;
  return Kind::kModel;
}

bool SkippedDir(const fs::path& p) {
  std::string n = p.filename().string();
  return n == ".git" || n == "node_modules" || n == "__pycache__" || n == ".venv" || n == "venv" ||
         n == "site-packages" || n == ".inloop";
}

FileVerdict AuditText(const std::string& path, Kind kind,
                      const std::vector<Finding>& bandit, bool bandit_ran) {
  FileVerdict v;
  v.file = path;
  v.format = kind == Kind::kPython ? "python" : "config";
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) {
    Add(&v, path, "file.unreadable", Severity::kHigh, s.message(), "check the path and its permissions");
    return v;
  }
  if (kind == Kind::kPython) v.findings = ScanPythonSource(text, path, bandit_ran);
  for (Finding& f : ScanSecrets(text, path)) v.findings.push_back(std::move(f));
  for (const Finding& f : bandit) {
    if (f.file == path) v.findings.push_back(f);
  }
  std::stable_sort(v.findings.begin(), v.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.line < b.line; });
  return v;
}

}  // namespace

Status AuditPaths(const std::vector<std::string>& paths, const AuditOptions& o,
                  std::vector<FileVerdict>* out) {
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return Status::NotFound(fmt::format("{}: no such file or directory", p));
    if (!fs::is_directory(st)) {
      files.push_back(p);
      continue;
    }
    std::vector<std::string> found;
    for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && SkippedDir(it->path())) {
        it.disable_recursion_pending();
        continue;
      }
      std::string f = it->path().string();
      if (it->is_regular_file() && (ModelFileName(it->path()) || KindOf(f) != Kind::kModel)) {
        found.push_back(f);
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  std::vector<std::string> python;
  for (const std::string& f : files) {
    if (KindOf(f) == Kind::kPython) python.push_back(f);
  }
  std::vector<Finding> bandit;
  bool bandit_ran = false;
  if (o.use_bandit) INLOOP_RETURN_IF_ERROR(RunBandit(python, &bandit, &bandit_ran));
  for (const std::string& f : files) {
    Kind k = KindOf(f);
    out->push_back(k == Kind::kModel ? AuditFile(f, o) : AuditText(f, k, bandit, bandit_ran));
  }
  return Status::OK();
}

}  // namespace inloop::audit
