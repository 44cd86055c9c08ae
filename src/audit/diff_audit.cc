#include "audit/diff_audit.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include <fmt/format.h>

#include "audit/code_scan.h"

namespace inloop::audit {
namespace {

// Budgets and time limits: an agent that edits them changes the experiment, not the model.
constexpr std::array kBudget = {
    std::string_view("budget"), std::string_view("BUDGET"), std::string_view("deadline"),
    std::string_view("DEADLINE"), std::string_view("TIME_LIMIT"), std::string_view("time_limit"),
    std::string_view("max_time"), std::string_view("MAX_TIME"), std::string_view("signal.alarm("),
    std::string_view("setitimer("), std::string_view("max_seconds"), std::string_view("MAX_SECONDS")};
// Clock reads: timing code changes how fast the run looks.
constexpr std::array kClock = {
    std::string_view("time.time("), std::string_view("perf_counter("),
    std::string_view("monotonic("), std::string_view("process_time("),
    std::string_view("datetime.now("), std::string_view("time.sleep(")};
constexpr std::array kNetwork = {
    std::string_view("import socket"), std::string_view("import requests"),
    std::string_view("import urllib"), std::string_view("from urllib"),
    std::string_view("http.client"), std::string_view("socket.socket("),
    std::string_view("requests."), std::string_view("urlopen("), std::string_view("curl "),
    std::string_view("wget ")};
constexpr std::array kSubprocess = {
    std::string_view("import subprocess"), std::string_view("subprocess."),
    std::string_view("os.system("), std::string_view("os.popen("), std::string_view("os.exec"),
    std::string_view("pty.spawn("), std::string_view("Popen(")};
constexpr std::array kLogPaths = {
    std::string_view("INLOOP_METRICS_FD"), std::string_view(".inloop/"),
    std::string_view("INLOOP_LOOP_HISTORY"), std::string_view("stdout.log"),
    std::string_view("stderr.log")};

template <size_t N>
std::string_view FindAny(std::string_view line, const std::array<std::string_view, N>& words) {
  for (std::string_view w : words) {
    if (line.find(w) != std::string_view::npos) return w;
  }
  return {};
}

bool Writes(std::string_view line) {
  return line.find("open(") != line.npos &&
         (line.find("\"w") != line.npos || line.find("'w") != line.npos ||
          line.find("\"a") != line.npos || line.find("'a") != line.npos);
}

// A string literal in `line` that names a path outside the repository: absolute (not /tmp or
// /dev), under the home directory, or climbing out with ../
std::string OutsidePath(std::string_view line) {
  if (line.find("open(") == line.npos && line.find("Path(") == line.npos &&
      line.find("load(") == line.npos && line.find("read_") == line.npos) {
    return "";
  }
  for (size_t q = line.find_first_of("\"'"); q != line.npos; q = line.find_first_of("\"'", q + 1)) {
    size_t e = line.find(line[q], q + 1);
    if (e == line.npos) break;
    std::string_view lit = line.substr(q + 1, e - q - 1);
    bool abs = !lit.empty() && lit[0] == '/' && lit.rfind("/tmp", 0) != 0 && lit.rfind("/dev/", 0) != 0;
    if (abs || lit.rfind("~/", 0) == 0 || lit.find("../") != lit.npos) return std::string(lit);
    q = e;
  }
  return "";
}

struct Hunk {
  std::string file;
  int new_line = 0;
};

void CheckLine(const std::string& file, int line, bool added, std::string_view code,
               const DiffAuditOptions& o, std::vector<Finding>* out) {
  const char* verb = added ? "adds" : "removes";
  if (std::string_view w = FindAny(code, kBudget); !w.empty()) {
    out->push_back(LineFinding(file, line, "loop.budget_edit", Severity::kCritical,
                        fmt::format("the change {} a line with '{}': it edits the experiment's "
                                    "time or budget, not the model", verb, w),
                        "keep budgets and limits in protected files; change the model instead"));
    return;
  }
  if (std::string_view w = FindAny(code, kLogPaths); !w.empty() || (added && Writes(code) &&
      (code.find("metric") != code.npos || code.find(".log") != code.npos))) {
    out->push_back(LineFinding(file, line, "loop.log_write", Severity::kCritical,
                        fmt::format("the change {} a line that touches the metric or log channel "
                                    "the loop reads ({})", verb, w.empty() ? "a metric/log file" : w),
                        "the metric must come from the evaluation's own output"));
    return;
  }
  if (!added) return;
  if (std::string_view w = FindAny(code, kClock); !w.empty()) {
    out->push_back(LineFinding(file, line, "loop.clock", Severity::kHigh,
                        fmt::format("the change reads the clock ('{}'): timing code can change how "
                                    "fast or long the run looks", w),
                        "approve only if this is logging, not a budget"));
  }
  if (std::string_view w = FindAny(code, kNetwork); !w.empty()) {
    out->push_back(LineFinding(file, line, "loop.network", Severity::kHigh,
                        fmt::format("the change adds network use ('{}')", w),
                        "experiments read local data only; approve only a reviewed download"));
  }
  if (std::string_view w = FindAny(code, kSubprocess); !w.empty()) {
    out->push_back(LineFinding(file, line, "loop.subprocess", Severity::kHigh,
                        fmt::format("the change starts programs ('{}')", w),
                        "approve only if the command is fixed and reviewed"));
  }
  if (std::string p = OutsidePath(code); !p.empty()) {
    out->push_back(LineFinding(file, line, "loop.outside_read", Severity::kHigh,
                        fmt::format("the change reads {} outside the repository", p),
                        "keep the experiment's inputs inside the repository"));
  }
  if (!o.metric_key.empty() && code.find(o.metric_key) != code.npos &&
      (code.find("print(") != code.npos || code.find(".log(") != code.npos ||
       code.find("write(") != code.npos)) {
    out->push_back(LineFinding(file, line, "loop.metric_print", Severity::kHigh,
                        fmt::format("the change prints or logs the loop's metric '{}' itself",
                                    o.metric_key),
                        "the metric must come from the evaluation; approve only a format change"));
  }
}

}  // namespace

std::vector<Finding> AuditDiff(std::string_view diff, const DiffAuditOptions& o) {
  std::vector<Finding> out;
  Hunk h;
  std::string added_py;  // the added lines of the current .py file, for the code rules
  std::vector<int> added_py_lines;
  auto flush_py = [&] {
    if (added_py.empty()) return;
    for (Finding f : ScanPythonSource(added_py, h.file, /*bandit_covers=*/false)) {
      if (f.line > 0 && static_cast<size_t>(f.line) <= added_py_lines.size()) {
        f.line = added_py_lines[f.line - 1];
      }
      out.push_back(std::move(f));
    }
    added_py.clear();
    added_py_lines.clear();
  };
  size_t at = 0;
  while (at < diff.size()) {
    size_t nl = diff.find('\n', at);
    std::string_view line = diff.substr(at, nl == diff.npos ? diff.npos : nl - at);
    at = nl == diff.npos ? diff.size() : nl + 1;
    if (line.rfind("+++ ", 0) == 0) {
      flush_py();
      std::string_view p = line.substr(4);
      if (p.rfind("b/", 0) == 0) p.remove_prefix(2);
      h.file = std::string(p);
      continue;
    }
    if (line.rfind("--- ", 0) == 0 || line.rfind("diff ", 0) == 0 || line.rfind("index ", 0) == 0) {
      continue;
    }
    if (line.rfind("@@", 0) == 0) {
      size_t plus = line.find('+');
      h.new_line = plus == line.npos ? 0 : std::atoi(std::string(line.substr(plus + 1)).c_str());
      continue;
    }
    if (h.file.empty() || h.file == "/dev/null" || line.empty()) continue;
    char kind = line[0];
    std::string_view code = line.substr(1);
    if (IsPythonSource(h.file)) code = StripPythonComment(code);  // a comment is not code
    if (kind == '+') {
      CheckLine(h.file, h.new_line, true, code, o, &out);
      if (IsPythonSource(h.file)) {
        added_py.append(line.substr(1)).push_back('\n');
        added_py_lines.push_back(h.new_line);
      }
      ++h.new_line;
    } else if (kind == '-') {
      CheckLine(h.file, h.new_line, false, code, o, &out);
    } else {
      ++h.new_line;
    }
  }
  flush_py();
  return out;
}

}  // namespace inloop::audit
