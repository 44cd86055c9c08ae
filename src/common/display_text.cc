#include "common/display_text.h"

#include <ctime>

#include <fmt/format.h>

namespace inloop {
namespace {

std::string TimeText(double t, bool utc, const char* format) {
  if (t <= 0) return "";
  time_t s = static_cast<time_t>(t);
  struct tm tm;
  if (utc) {
    gmtime_r(&s, &tm);
  } else {
    localtime_r(&s, &tm);
  }
  char buf[32];
  strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

}  // namespace

std::string LocalTimeText(double t) { return TimeText(t, false, "%Y-%m-%d %H:%M:%S"); }

std::string UtcTimeText(double t) { return TimeText(t, true, "%Y-%m-%dT%H:%M:%SZ"); }

std::string JoinCommand(const std::vector<std::string>& cmd) {
  std::string out;
  for (auto& a : cmd) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\"'\\$`") == std::string::npos;
    out += plain ? a : "'" + a + "'";
  }
  return out;
}

std::string FileAndLine(std::string_view file, int64_t line) {
  return line > 0 ? fmt::format("{}:{}", file, line) : std::string(file);
}

}  // namespace inloop
