// start_run's limit checks: pure functions of the request and the [mcp] limits.
#include "mcp/run_limits.h"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace inloop::mcp {
namespace fs = std::filesystem;

namespace {

std::string Argv(const std::vector<std::string>& argv) {
  std::string out = "[";
  for (size_t i = 0; i < argv.size(); ++i) out += fmt::format("{}\"{}\"", i ? ", " : "", argv[i]);
  return out + "]";
}

}  // namespace

Status CheckCommand(const std::vector<std::vector<std::string>>& allowed,
                    const std::vector<std::string>& argv) {
  if (allowed.empty()) {
    return Status::Invalid("no [mcp] allowed_commands in inloop.toml: the human must allow "
                           "commands first (argv prefixes, e.g. allowed_commands = "
                           "[[\"python3\", \"train.py\"]])");
  }
  if (argv.empty()) return Status::Invalid("command is empty: give the program and its arguments");
  for (const auto& prefix : allowed) {
    if (prefix.empty() || prefix.size() > argv.size()) continue;
    bool match = true;
    for (size_t i = 0; i < prefix.size() && match; ++i) match = prefix[i] == argv[i];
    if (match) return Status::OK();
  }
  std::string list;
  for (const auto& p : allowed) list += (list.empty() ? "" : ", ") + Argv(p);
  return Status::Invalid(fmt::format("command {} is not allowed: it starts with none of [mcp] "
                                     "allowed_commands in inloop.toml ({})",
                                     Argv(argv), list));
}

Status CheckBudget(int64_t max_budget_s, std::optional<int64_t> asked, int64_t* budget) {
  if (!asked) {
    *budget = max_budget_s;
    return Status::OK();
  }
  if (*asked < 1) return Status::Invalid(fmt::format("budget_s {} is below 1 second", *asked));
  if (*asked > max_budget_s) {
    return Status::Invalid(fmt::format("budget_s {} is over [mcp] max_budget_s = {} in "
                                       "inloop.toml: ask for at most {} seconds",
                                       *asked, max_budget_s, max_budget_s));
  }
  *budget = *asked;
  return Status::OK();
}

Status CheckConcurrency(int running, int max_concurrent) {
  if (running < max_concurrent) return Status::OK();
  return Status::Invalid(fmt::format("{} runs started through this server are still running, "
                                     "the most [mcp] max_concurrent_runs allows: wait_run or "
                                     "stop_run one first", running));
}

Status ConfineDir(const std::string& root, const std::string& dir, std::string* out) {
  std::error_code ec;
  fs::path base = fs::canonical(root, ec);
  if (ec) return Status::NotFound(fmt::format("{}: the server's directory is gone", root));
  fs::path p = fs::path(dir).is_absolute() ? fs::path(dir) : base / dir;
  fs::path real = fs::canonical(p, ec);
  if (ec) return Status::NotFound(fmt::format("cwd {}: no such directory", dir));
  auto rel = real.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") {
    return Status::Invalid(fmt::format("cwd {}: outside the project directory this server serves "
                                       "({})", dir, base.string()));
  }
  if (!fs::is_directory(real, ec)) return Status::Invalid(fmt::format("cwd {}: not a directory", dir));
  *out = real.string();
  return Status::OK();
}

}  // namespace inloop::mcp
