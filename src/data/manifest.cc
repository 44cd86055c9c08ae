// The manifest's JSON form (simdjson in, JsonWriter out) and the stat-keyed content hashes.
#include "data/manifest.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "common/hex.h"
#include "common/json_fields.h"
#include "common/json_writer.h"

namespace inloop::data {

std::string JoinPath(const std::string& dir, const std::string& path) {
  return path.empty() || path[0] == '/' || dir.empty() || dir == "." ? path : dir + "/" + path;
}

Status MakeDirs(const std::string& dir) {
  std::string cur;
  size_t pos = 0;
  while (pos <= dir.size()) {
    size_t next = dir.find('/', pos);
    if (next == std::string::npos) next = dir.size();
    cur = dir.substr(0, next);
    pos = next + 1;
    if (cur.empty() || cur == ".") continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Io(fmt::format("{}: cannot create the directory", cur));
    }
  }
  return Status::OK();
}

std::string DataDir(const std::string& project_dir) {
  return JoinPath(project_dir.empty() ? "." : project_dir, ".inloop/data");
}

Status Sha256File(const std::string& path, std::string* hex, int64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(fmt::format("{}: no such file", path));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return Status::Io("SHA-256 is not available from OpenSSL");
  }
  std::string buf(1 << 20, '\0');
  int64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Io(fmt::format("{}: cannot read", path));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    total += n;
  }
  ::close(fd);
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), d, &len);
  *hex = LowerHex(d, len);
  if (size) *size = total;
  return Status::OK();
}

Status HashFile(const std::string& project_dir, const std::string& path, Manifest* m,
                FileVersion* out) {
  std::string full = JoinPath(project_dir, path);
  struct stat sb;
  if (::stat(full.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    return Status::NotFound(fmt::format("{}: no such file", path));
  }
  int64_t mtime = int64_t(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
  auto it = m->files.find(path);
  if (it != m->files.end() && it->second.size == sb.st_size && it->second.mtime_ns == mtime &&
      it->second.inode == int64_t(sb.st_ino) && !it->second.sha256.empty()) {
    *out = it->second;
    return Status::OK();
  }
  FileVersion v;
  v.path = path;
  v.mtime_ns = mtime;
  v.inode = int64_t(sb.st_ino);
  INLOOP_RETURN_IF_ERROR(Sha256File(full, &v.sha256, &v.size));
  m->files[path] = v;
  *out = v;
  return Status::OK();
}

Status LoadManifest(const std::string& data_dir, Manifest* m) {
  *m = Manifest{};
  std::string path = data_dir + "/manifest.json";
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s.code() == Status::Code::kNotFound ? Status::OK() : s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) || !doc.is_object()) {
    return Status::Corrupt(fmt::format("{}: not a valid manifest; delete it to rebuild every step", path));
  }
  simdjson::dom::array files, steps;
  if (!doc["files"].get_array().get(files)) {
    for (auto f : files) {
      FileVersion v{JsonString(f, "path"), JsonString(f, "sha256"), JsonInt(f, "size"),
                    JsonInt(f, "mtime_ns"), JsonInt(f, "inode")};
      if (!v.path.empty()) m->files[v.path] = v;
    }
  }
  if (!doc["steps"].get_array().get(steps)) {
    for (auto st : steps) {
      StepRecord r;
      std::string name = JsonString(st, "name");
      r.key = JsonString(st, "key");
      r.command_hash = JsonString(st, "command_hash");
      r.env_hash = JsonString(st, "env_hash");
      r.run_id = JsonString(st, "run_id");
      r.status = JsonString(st, "status");
      r.message = JsonString(st, "message");
      r.finished_at = JsonDouble(st, "finished_at");
      simdjson::dom::array a;
      if (!st["inputs"].get_array().get(a)) {
        for (auto i : a) r.inputs.emplace_back(JsonString(i, "path"), JsonString(i, "sha256"));
      }
      if (!st["outputs"].get_array().get(a)) {
        for (auto o : a) {
          r.outputs.push_back({JsonString(o, "path"), JsonString(o, "sha256"), JsonInt(o, "size"),
                               JsonString(o, "previous_sha256")});
        }
      }
      if (!name.empty()) m->steps[name] = std::move(r);
    }
  }
  return Status::OK();
}

Status SaveManifest(const std::string& data_dir, const Manifest& m) {
  JsonWriter w;
  w.BeginObject().Key("version").Int(1).Key("files").BeginArray();
  for (auto& [p, f] : m.files) {
    w.BeginObject().Key("path").String(f.path).Key("sha256").String(f.sha256).Key("size").Int(f.size);
    w.Key("mtime_ns").Int(f.mtime_ns).Key("inode").Int(f.inode).EndObject();
  }
  w.EndArray().Key("steps").BeginArray();
  for (auto& [name, r] : m.steps) {
    w.BeginObject().Key("name").String(name).Key("key").String(r.key);
    w.Key("command_hash").String(r.command_hash).Key("env_hash").String(r.env_hash);
    w.Key("run_id").String(r.run_id).Key("status").String(r.status).Key("message").String(r.message);
    w.Key("finished_at").Number(r.finished_at).Key("inputs").BeginArray();
    for (auto& [p, h] : r.inputs) w.BeginObject().Key("path").String(p).Key("sha256").String(h).EndObject();
    w.EndArray().Key("outputs").BeginArray();
    for (auto& o : r.outputs) {
      w.BeginObject().Key("path").String(o.path).Key("sha256").String(o.sha256).Key("size").Int(o.size);
      w.Key("previous_sha256").String(o.previous_sha256).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir));
  return WriteFileAtomically(data_dir + "/manifest.json", w.str() + "\n");
}

Status WithDataLock(const std::string& data_dir, const std::function<Status()>& fn) {
  INLOOP_RETURN_IF_ERROR(MakeDirs(data_dir));
  std::string path = data_dir + "/manifest.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Io(fmt::format("{}: cannot open the data lock", path));
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    ::close(fd);
    return Status::Io(fmt::format("{}: cannot lock", path));
  }
  Status s = fn();
  ::close(fd);  // releases the lock
  return s;
}

namespace {

void MergeFiles(const std::map<std::string, FileVersion>& files, Manifest* m) {
  for (auto& [p, f] : files) m->files[p] = f;
}

}  // namespace

Status CommitStep(const std::string& data_dir, const std::string& name, const StepRecord& rec,
                  const std::map<std::string, FileVersion>& files) {
  return WithDataLock(data_dir, [&] {
    Manifest disk;
    INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir, &disk));
    MergeFiles(files, &disk);
    disk.steps[name] = rec;
    return SaveManifest(data_dir, disk);
  });
}

Status CommitFiles(const std::string& data_dir, const std::map<std::string, FileVersion>& files) {
  return WithDataLock(data_dir, [&] {
    Manifest disk;
    INLOOP_RETURN_IF_ERROR(LoadManifest(data_dir, &disk));
    MergeFiles(files, &disk);
    return SaveManifest(data_dir, disk);
  });
}

}  // namespace inloop::data
