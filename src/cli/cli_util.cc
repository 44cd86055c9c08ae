#include "cli/cli_util.h"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include "cli/exit_codes.h"
#include "common/json_writer.h"
#include "supervise/run_context.h"

namespace inloop::cli {

bool UseColor(int fd) { return isatty(fd) && getenv("NO_COLOR") == nullptr; }

std::string ResolveStore(const std::string& flag, const std::string& from_config) {
  if (!flag.empty()) return flag;
  if (const char* env = getenv("INLOOP_STORE"); env && *env) return env;
  if (!from_config.empty()) return from_config;
  return ".inloop";
}

int Fail(const Status& s) {
  fmt::print(stderr, "inloop: error: {}\n", s.message());
  return ExitCodeFor(s);
}

std::string NumberText(double v) {
  std::string s = JsonNumber(v);
  if (!s.empty() && s.front() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

Status OpenStore(const std::string& dir, std::unique_ptr<store::Store>* st) {
  return store::Store::Open(dir, false, st);
}

std::string CliUser() {
  const char* u = getenv("USER");
  std::string host = supervise::HostName();
  return fmt::format("{}@{}", u && *u ? u : "unknown", host.empty() ? "unknown" : host);
}

}  // namespace inloop::cli
