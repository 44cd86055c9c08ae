// Run context: argv params, git, host, cwd, default names.
#include "supervise/run_context.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "supervise/process.h"

namespace inloop::supervise {
namespace {

bool LooksNumeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool IsOption(const std::string& a) {
  if (a.size() < 2 || a[0] != '-') return false;
  if (LooksNumeric(a)) return false;  // "-1" is a value, not an option
  return a != "--";
}

std::string BaseName(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<store::Param> ParamsFromArgv(const std::vector<std::string>& argv) {
  std::vector<store::Param> out;
  auto put = [&](std::string key, std::string value) {
    for (auto& p : out) {
      if (p.key == key) {
        p.value = std::move(value);  // a repeated flag: the last one wins, as argparse does
        return;
      }
    }
    out.push_back(store::Param{std::move(key), std::move(value), "argv"});
  };
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") break;
    if (!IsOption(a)) continue;
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    if (body.empty()) continue;
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      put(body.substr(0, eq), body.substr(eq + 1));
    } else if (i + 1 < argv.size() && !IsOption(argv[i + 1])) {
      put(body, argv[i + 1]);
      ++i;
    } else {
      put(body, "true");
    }
  }
  return out;
}

GitInfo ReadGitInfo(const std::string& cwd) {
  GitInfo g;
  int code = -1;
  std::string head = CaptureOutput({"git", "-C", cwd, "rev-parse", "HEAD"}, &code);
  if (code != 0) return g;
  while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
  g.commit = head;
  std::string st = CaptureOutput(
      {"git", "-C", cwd, "status", "--porcelain", "--untracked-files=no"}, &code);
  if (code == 0) g.dirty = st.empty() ? 0 : 1;
  return g;
}

std::string HostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string CurrentDir() {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof(buf))) return ".";
  return buf;
}

std::string DefaultRunName(const std::vector<std::string>& argv) {
  if (argv.empty()) return "run";
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.empty() || a[0] == '-') continue;
    for (const char* ext : {".py", ".sh", ".lua", ".jl", ".rb"}) {
      std::string e(ext);
      if (a.size() > e.size() && a.compare(a.size() - e.size(), e.size(), e) == 0) {
        std::string b = BaseName(a);
        return b.substr(0, b.size() - e.size());
      }
    }
    break;
  }
  return BaseName(argv[0]);
}

}  // namespace inloop::supervise
