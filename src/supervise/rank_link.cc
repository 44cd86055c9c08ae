#include "supervise/rank_link.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "common/secrets.h"

namespace inloop::supervise {

namespace {

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The largest count of "N", "MIN:MAX" or "MIN-MAX" (0 when it is none of these).
int64_t LargestCount(std::string_view v) {
  size_t sep = v.find_first_of(":-");
  int64_t n = 0;
  if (sep != std::string_view::npos && sep > 0) v = v.substr(sep + 1);
  return ParseInt(v, &n) ? n : 0;
}

bool IsProgram(std::string_view arg, std::string_view name) {
  return arg == name || (arg.size() > name.size() && arg.ends_with(name) &&
                         arg[arg.size() - name.size() - 1] == '/');
}

}  // namespace

Status ParseRanksListen(std::string_view text, RanksListen* out) {
  *out = RanksListen{};
  if (text == "auto" || text.empty()) return Status::OK();
  if (text == "off") {
    out->mode = RanksListen::Mode::kOff;
    return Status::OK();
  }
  auto bad = [&] {
    return Status::Invalid(fmt::format(
        "run.ranks_listen must be \"auto\", \"off\", \"HOST\", \"HOST:PORT\" or \":PORT\" (got "
        "\"{}\")",
        text.substr(0, 200)));
  };
  std::string_view host = text, port;
  if (text.front() == '[') {  // [IPv6]:PORT
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad();
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
      if (port.empty()) return bad();
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) return bad();  // a bare IPv6 address needs brackets
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return bad();
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return bad();
  }
  int64_t p = 0;
  if (!port.empty() && (!ParseInt(port, &p) || p < 0 || p > 65535)) return bad();
  out->mode = RanksListen::Mode::kAddress;
  out->host = std::string(host);
  out->port = static_cast<int>(p);
  return Status::OK();
}

bool MultiNodeJob(const std::vector<std::string>& command,
                  const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* name) -> const char* {
    return getenv_fn ? getenv_fn(name) : std::getenv(name);
  };
  for (const char* name : {"SLURM_JOB_NUM_NODES", "SLURM_NNODES"}) {
    const char* v = get(name);
    int64_t n = 0;
    if (v && ParseInt(v, &n) && n > 1) return true;
  }
  bool srun = false;
  for (size_t i = 0; i < command.size(); ++i) {
    std::string_view a = command[i];
    if (IsProgram(a, "srun")) srun = true;
    std::string_view value;
    bool counts = false;
    for (std::string_view flag : {"--nnodes", "--num_machines", "--num_nodes", "--nodes"}) {
      if (flag == "--nodes" && !srun) continue;
      if (a == flag && i + 1 < command.size()) {
        value = command[i + 1];
        counts = true;
      } else if (a.size() > flag.size() && a.starts_with(flag) && a[flag.size()] == '=') {
        value = a.substr(flag.size() + 1);
        counts = true;
      }
    }
    if (srun && !counts) {
      if (a == "-N" && i + 1 < command.size()) {
        value = command[i + 1];
        counts = true;
      } else if (a.size() > 2 && a.starts_with("-N")) {
        value = a.substr(2);
        counts = true;
      }
    }
    if (counts && LargestCount(value) > 1) return true;
  }
  return false;
}

bool SecretMatches(std::string_view presented, std::string_view secret) {
  return !secret.empty() && ConstantTimeEqual(presented, secret);
}

bool RankConnection::Line(std::string_view line,
                          const std::function<void(std::string_view)>& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (authenticated_) {
    if (!line.empty()) {
      ++lines_;
      on_line(line);
    }
    return true;
  }
  std::string_view secret;
  if (line.size() > kRanksHello.size() && line.starts_with(kRanksHello) &&
      line[kRanksHello.size()] == ' ') {
    secret = line.substr(kRanksHello.size() + 1);
  } else {
    reason_ = "it is not an inloop rank (no hello line)";
    return false;
  }
  if (!SecretMatches(secret, secret_)) {
    reason_ = "it did not present this run's INLOOP_RANKS_TOKEN";
    return false;
  }
  authenticated_ = true;
  return true;
}

bool RankConnection::Feed(std::string_view data,
                          const std::function<void(std::string_view)>& on_line) {
  if (!reason_.empty()) return false;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
    size_t limit = authenticated_ ? max_line_ : kMaxHelloBytes;
    if (!skipping_ && partial_.size() + piece.size() > limit) {
      if (!authenticated_) {
        reason_ = fmt::format("its hello line is longer than {} bytes", kMaxHelloBytes);
        return false;
      }
      ++dropped_;
      skipping_ = true;
      partial_.clear();
    }
    if (nl == std::string_view::npos) {
      if (!skipping_) partial_.append(piece);
      break;
    }
    if (skipping_) {  // the end of a line over the limit
      skipping_ = false;
      continue;
    }
    bool ok;
    if (partial_.empty()) {
      ok = Line(piece, on_line);
    } else {
      partial_.append(piece);
      std::string line = std::move(partial_);
      partial_.clear();
      ok = Line(line, on_line);
    }
    if (!ok) return false;
  }
  return true;
}

void RankConnection::Finish(const std::function<void(std::string_view)>& on_line) {
  if (authenticated_ && !skipping_ && !partial_.empty()) {
    std::string line = std::move(partial_);
    Line(line, on_line);
  }
  partial_.clear();
  skipping_ = false;
}

}  // namespace inloop::supervise
