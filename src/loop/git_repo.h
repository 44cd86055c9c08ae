// The research loop's use of git: one repository's work tree, driven by running `git` with argv
// vectors (never a shell). It reads state, stages, commits and resets. Reset restores tracked
// files and removes untracked ones that are not ignored; it never touches ignored files (the
// store, data, caches) or anything under .git.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace inloop::loop {

class GitRepo {
 public:
  // Finds the repository containing `dir`. NotFound when `dir` is not in a git work tree.
  static Status Open(const std::string& dir, GitRepo* out);

  const std::string& top() const { return top_; }      // work tree root, absolute
  const std::string& git_dir() const { return git_dir_; }  // absolute

  // Runs `git ARGS...` in the work tree root; Io with git's stderr when it exits non-zero.
  Status Git(const std::vector<std::string>& args, std::string* out = nullptr) const;

  Status Head(std::string* sha) const;
  // Branch HEAD is on ("" when detached).
  Status CurrentBranch(std::string* name) const;
  // `git status --porcelain` lines of tracked changes and untracked, not ignored files.
  Status Dirt(std::vector<std::string>* lines) const;
  // Whether `path` (absolute or relative to top) is ignored by git.
  bool IsIgnored(const std::string& path) const;

  // Forces the tree back to `commit` on `branch`: checkout -f, reset --hard, clean -fd.
  Status ResetTo(const std::string& branch, const std::string& commit) const;
  // Stages every change (git add -A) on top of `base` (a commit the proposer may have made is
  // folded back into the index) and lists the changed paths and added+deleted lines.
  Status StageAgainst(const std::string& base, std::vector<std::string>* paths,
                      int64_t* lines) const;
  // The staged diff against base (binary-safe).
  Status StagedDiff(const std::string& base, std::string* diff) const;
  // Commits the index (empty allowed) with `message`; *sha = the new commit.
  Status Commit(const std::string& message, std::string* sha) const;

 private:
  std::string top_;
  std::string git_dir_;
};

// Whether `path` (relative to the tree root) matches a protected glob: fnmatch over the whole
// path (`*` crosses `/`), or the glob names a directory above it (`data`, `data/`).
bool MatchesProtected(const std::string& path, const std::vector<std::string>& globs,
                      std::string* which);

}  // namespace inloop::loop
