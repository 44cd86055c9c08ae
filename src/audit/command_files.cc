#include "audit/command_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace inloop::audit {

std::vector<std::string> FilesNamedBy(const std::vector<std::string>& argv, const std::string& cwd) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (i == 0 && arg.find('/') == std::string::npos) continue;  // a program found on PATH
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq == std::string::npos) continue;
      arg = arg.substr(eq + 1);
    }
    if (arg.empty() || arg.find('{') != std::string::npos || arg.find("://") != std::string::npos) {
      continue;
    }
    fs::path p(arg);
    if (p.is_relative() && !cwd.empty()) p = fs::path(cwd) / p;
    std::error_code ec;
    if (!fs::exists(p, ec) || ec) continue;
    if (fs::is_directory(p, ec)) {
      // A model directory is read; the whole machine or a home directory is not.
      fs::path canon = fs::weakly_canonical(p, ec);
      const char* home = getenv("HOME");
      if (canon == canon.root_path() || (home && canon == fs::path(home))) continue;
    }
    if (i == 0 && fs::is_regular_file(p, ec)) {
      // The program itself: a script is audited as code, a binary is not ours to read.
      std::string ext = p.extension().string();
      if (ext != ".py" && ext != ".sh") continue;
    }
    std::string s = p.lexically_normal().string();
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

Status AuditCommandFiles(const std::vector<std::vector<std::string>>& commands,
                         const std::vector<std::string>& allow, std::vector<FileVerdict>* out) {
  out->clear();
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  std::vector<std::string> files;
  for (const std::vector<std::string>& argv : commands) {
    for (std::string& f : FilesNamedBy(argv, cwd)) {
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(std::move(f));
    }
  }
  if (files.empty()) return Status::OK();
  AuditOptions o;
  o.allow.extra = allow;
  return AuditPaths(files, o, out);
}

}  // namespace inloop::audit
