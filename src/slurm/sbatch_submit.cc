// Submitting a script with sbatch (sbatch_submit.h).
#include "slurm/sbatch_submit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/file_io.h"
#include "common/subprocess.h"

namespace inloop::slurm {
namespace {

Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Io(fmt::format("cannot create {}: {}", part, std::strerror(errno)));
    }
  }
  return Status::OK();
}

}  // namespace

std::string ParseJobId(std::string out) {
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  auto nl = out.find_last_of('\n');
  if (nl != std::string::npos) out = out.substr(nl + 1);
  auto semi = out.find(';');
  return semi == std::string::npos ? out : out.substr(0, semi);
}

Status SubmitScript(const std::string& dir, const std::string& job_name, const std::string& script,
                    const std::vector<std::string>& sbatch_args, SubmittedJob* out) {
  INLOOP_RETURN_IF_ERROR(MakeDirs(dir));
  // One process may submit several scripts within a second (a pipeline's steps).
  static std::atomic<int> serial{0};
  int n = serial++;
  std::string path = fmt::format("{}/{}-{}-{}{}.sbatch", dir, job_name,
                                 static_cast<long long>(std::time(nullptr)), getpid(),
                                 n == 0 ? std::string() : fmt::format("-{}", n));
  // Readable by its owner only: with --server the script holds the token.
  mode_t old_mask = ::umask(077);
  Status s = WriteFileAtomically(path, script);
  ::umask(old_mask);
  INLOOP_RETURN_IF_ERROR(s);

  SubprocessSpec spec;
  spec.argv = {"sbatch", "--parsable", "--output=" + dir + "/slurm-%j.out"};
  spec.argv.insert(spec.argv.end(), sbatch_args.begin(), sbatch_args.end());
  spec.argv.push_back(path);
  CapturedOutput captured;
  s = RunCaptured(spec, &captured);
  if (!s.ok()) return Status::Io(fmt::format("cannot run sbatch: {}", s.message()));
  std::string job_id = ParseJobId(captured.out);
  if (captured.exit_code != 0 || job_id.empty()) {
    std::string err = captured.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Status::Io(fmt::format("sbatch refused {} (exit code {}): {}", path, captured.exit_code, err));
  }
  out->job_id = job_id;
  out->script = path;
  out->output = dir + "/slurm-" + job_id + ".out";
  return Status::OK();
}

}  // namespace inloop::slurm
