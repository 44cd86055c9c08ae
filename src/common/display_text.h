// Text of times and command lines for people and models, shared by the CLI views, the run report
// and the assistant's tools: local or UTC timestamps, and a command line quoted as a shell shows it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inloop {

// Local "YYYY-MM-DD HH:MM:SS"; empty for t <= 0 (not recorded).
std::string LocalTimeText(double t);
// UTC ISO 8601 "YYYY-MM-DDTHH:MM:SSZ"; empty for t <= 0.
std::string UtcTimeText(double t);
// A command line as a shell would show it (arguments that are empty or hold spaces, quotes, `$`,
// backquotes or backslashes are single-quoted).
std::string JoinCommand(const std::vector<std::string>& cmd);
// "FILE:LINE" as compilers and editors read it; FILE alone when line <= 0 (no line known).
std::string FileAndLine(std::string_view file, int64_t line);

}  // namespace inloop
