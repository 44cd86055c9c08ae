// Data reads: matching a run's command and the SDK's datasets against the manifest.
#include "data/data_read.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <simdjson.h>

#include "common/json_writer.h"
#include "data/manifest.h"

namespace inloop::data {
namespace {


void Describe(const Manifest& m, const std::string& project, DataRead* r) {
  for (auto& [name, rec] : m.steps) {
    for (auto& o : rec.outputs) {
      if (AbsolutePath(o.path, project) != r->path) continue;
      r->step = name;
      if (r->name.empty()) r->name = o.path;
      auto it = m.files.find(o.path);
      struct stat sb;
      if (it != m.files.end() && ::stat(r->path.c_str(), &sb) == 0 && sb.st_size == it->second.size &&
          int64_t(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec == it->second.mtime_ns &&
          int64_t(sb.st_ino) == it->second.inode) {
        r->sha256 = it->second.sha256;
      }
      return;
    }
  }
}

}  // namespace

std::string AbsolutePath(const std::string& path, const std::string& cwd) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = std::filesystem::path(cwd.empty() ? "." : cwd) / p;
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return (ec ? p : abs).lexically_normal().string();
}

std::string DataReadJson(const DataRead& r) {
  JsonWriter w;
  w.BeginObject().Key("name").String(r.name).Key("path").String(r.path);
  w.Key("sha256").String(r.sha256).Key("step").String(r.step).Key("size").Int(r.size);
  w.Key("source").String(r.source).EndObject();
  return w.Take();
}

bool ParseDataRead(std::string_view json, DataRead* out) {
  *out = DataRead{};
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  if (parser.parse(padded).get(doc)) return false;
  std::string_view s;
  if (doc["path"].get_string().get(s)) return false;
  out->path = std::string(s);
  if (!doc["name"].get_string().get(s)) out->name = std::string(s);
  if (!doc["sha256"].get_string().get(s)) out->sha256 = std::string(s);
  if (!doc["step"].get_string().get(s)) out->step = std::string(s);
  if (!doc["source"].get_string().get(s)) out->source = std::string(s);
  int64_t n;
  if (!doc["size"].get_int64().get(n)) out->size = n;
  return true;
}

namespace {

// CommandDataReads against a manifest already read.
std::vector<DataRead> ReadsOf(const Manifest& m, const std::vector<std::string>& command,
                              const std::string& cwd) {
  std::vector<DataRead> out;
  if (m.steps.empty()) return out;
  std::set<std::string> seen;
  // A data step's run (runner.cc sets INLOOP_DATA_STEP) does not read what it writes.
  const char* self = std::getenv("INLOOP_DATA_STEP");
  for (size_t i = 1; i < command.size(); ++i) {
    std::string arg = command[i];
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) arg = arg.substr(arg.find('=') + 1);
    if (arg.empty() || arg[0] == '-') continue;
    DataRead r;
    r.path = AbsolutePath(arg, cwd);
    r.source = "command";
    Describe(m, cwd, &r);
    if (r.step.empty() || (self && r.step == self) || !seen.insert(r.path).second) continue;
    struct stat sb;
    if (::stat(r.path.c_str(), &sb) == 0) r.size = sb.st_size;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<DataRead> CommandDataReads(const std::vector<std::string>& command, const std::string& cwd) {
  Manifest m;
  if (!LoadManifest(DataDir(cwd), &m).ok()) return {};
  return ReadsOf(m, command, cwd);
}

std::vector<RefusedData> RefusedCommandData(const std::vector<std::string>& command,
                                            const std::string& cwd) {
  std::vector<RefusedData> out;
  Manifest m;
  if (!LoadManifest(DataDir(cwd), &m).ok()) return out;
  for (DataRead& r : ReadsOf(m, command, cwd)) {
    auto it = m.steps.find(r.step);
    if (it == m.steps.end() || it->second.status == "ok") continue;
    // An invalid step's outputs were hashed: refused while the file is that version. A failed
    // command's were not: refused unless the file is still a version the pipeline recorded (the
    // last build's, its stat key unchanged), i.e. when the failed command may have written it.
    const bool refused = it->second.status == "invalid" ? !r.sha256.empty() : r.sha256.empty();
    if (!refused) continue;
    out.push_back({std::move(r), it->second.status, it->second.message});
  }
  return out;
}

DataRead DescribeDataset(const std::string& name, const std::string& path, const std::string& cwd) {
  DataRead r;
  r.name = name;
  r.path = AbsolutePath(path, cwd);
  r.source = "sdk";
  struct stat sb;
  if (::stat(r.path.c_str(), &sb) == 0) r.size = sb.st_size;
  Manifest m;
  if (LoadManifest(DataDir(cwd), &m).ok()) Describe(m, cwd, &r);
  return r;
}

}  // namespace inloop::data
