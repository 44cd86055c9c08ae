// git via fork/exec (loop/program.h). Identity: the user's own when configured, else
// "inloop <inloop@localhost>" for the loop's commits only (-c, nothing is written to config).
#include "loop/git_repo.h"

#include <fnmatch.h>

#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "loop/program.h"

namespace inloop::loop {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Split on NUL.
std::vector<std::string> SplitZ(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a < s.size()) {
    size_t b = s.find('\0', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

}  // namespace

Status GitRepo::Open(const std::string& dir, GitRepo* out) {
  ProgramResult r;
  INLOOP_RETURN_IF_ERROR(RunCaptured({"git", "rev-parse", "--show-toplevel", "--absolute-git-dir"},
                                     dir, {}, &r));
  if (r.exit_code != 0) {
    return Status::NotFound(fmt::format("{} is not inside a git work tree (run `git init` and "
                                        "commit first)", dir));
  }
  std::istringstream in(r.out);
  std::getline(in, out->top_);
  std::getline(in, out->git_dir_);
  if (out->top_.empty() || out->git_dir_.empty()) {
    return Status::NotFound(fmt::format("{}: a bare repository has no work tree", dir));
  }
  return Status::OK();
}

Status GitRepo::Git(const std::vector<std::string>& args, std::string* out) const {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProgramResult r;
  // No pager, no prompts, no locale surprises in what we parse.
  INLOOP_RETURN_IF_ERROR(RunCaptured(
      argv, top_, {{"GIT_TERMINAL_PROMPT", "0"}, {"GIT_PAGER", "cat"}, {"LC_ALL", "C"}}, &r));
  if (r.exit_code != 0) {
    return Status::Io(fmt::format("git {} failed ({}): {}", args.empty() ? "" : args[0],
                                  r.exit_code, Trim(r.err)));
  }
  if (out) *out = std::move(r.out);
  return Status::OK();
}

Status GitRepo::Head(std::string* sha) const {
  INLOOP_RETURN_IF_ERROR(Git({"rev-parse", "--verify", "HEAD"}, sha));
  *sha = Trim(*sha);
  return Status::OK();
}

Status GitRepo::CurrentBranch(std::string* name) const {
  std::vector<std::string> argv = {"git", "symbolic-ref", "-q", "--short", "HEAD"};
  ProgramResult r;
  INLOOP_RETURN_IF_ERROR(RunCaptured(argv, top_, {}, &r));
  *name = r.exit_code == 0 ? Trim(r.out) : "";
  return Status::OK();
}

Status GitRepo::Dirt(std::vector<std::string>* lines) const {
  std::string out;
  INLOOP_RETURN_IF_ERROR(Git({"status", "--porcelain=v1", "-z", "--untracked-files=all"}, &out));
  *lines = SplitZ(out);
  return Status::OK();
}

bool GitRepo::IsIgnored(const std::string& path) const {
  std::vector<std::string> argv = {"git", "check-ignore", "-q", "--no-index", path};
  ProgramResult r;
  return RunCaptured(argv, top_, {}, &r).ok() && r.exit_code == 0;
}

Status GitRepo::ResetTo(const std::string& branch, const std::string& commit) const {
  INLOOP_RETURN_IF_ERROR(Git({"checkout", "-q", "-f", branch}));
  INLOOP_RETURN_IF_ERROR(Git({"reset", "-q", "--hard", commit}));
  // -d: untracked directories too; no -x: ignored files stay.
  return Git({"clean", "-q", "-f", "-d"});
}

Status GitRepo::StageAgainst(const std::string& base, std::vector<std::string>* paths,
                             int64_t* lines) const {
  INLOOP_RETURN_IF_ERROR(Git({"reset", "-q", "--soft", base}));
  INLOOP_RETURN_IF_ERROR(Git({"add", "-A"}));
  std::string names;
  INLOOP_RETURN_IF_ERROR(Git({"diff", "--cached", "--name-only", "-z", "--no-renames", base}, &names));
  *paths = SplitZ(names);
  std::string numstat;
  INLOOP_RETURN_IF_ERROR(Git({"diff", "--cached", "--numstat", "--no-renames", base}, &numstat));
  *lines = 0;
  std::istringstream in(numstat);
  std::string line;
  while (std::getline(in, line)) {
    long long a = 0, d = 0;
    if (sscanf(line.c_str(), "%lld\t%lld", &a, &d) == 2) *lines += a + d;
  }
  return Status::OK();
}

Status GitRepo::StagedDiff(const std::string& base, std::string* diff) const {
  return Git({"diff", "--cached", "--binary", "--no-renames", base}, diff);
}

Status GitRepo::Commit(const std::string& message, std::string* sha) const {
  std::vector<std::string> args;
  std::string email;
  if (!Git({"config", "user.email"}, &email).ok() || Trim(email).empty()) {
    args = {"-c", "user.name=inloop", "-c", "user.email=inloop@localhost"};
  }
  for (const char* a : {"commit", "-q", "--no-verify", "--allow-empty", "-m"}) args.push_back(a);
  args.push_back(message);
  INLOOP_RETURN_IF_ERROR(Git(args));
  return Head(sha);
}

bool MatchesProtected(const std::string& path, const std::vector<std::string>& globs,
                      std::string* which) {
  for (const auto& g0 : globs) {
    std::string g = g0;
    while (g.size() > 1 && g.back() == '/') g.pop_back();
    if (g.rfind("./", 0) == 0) g = g.substr(2);
    bool hit = fnmatch(g.c_str(), path.c_str(), 0) == 0 ||
               fnmatch((g + "/*").c_str(), path.c_str(), 0) == 0;
    if (hit) {
      if (which) *which = g0;
      return true;
    }
  }
  return false;
}

}  // namespace inloop::loop
