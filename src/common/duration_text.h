// Human text for a duration in seconds ("4.2s", "3m07s", "2h05m"), shared by the CLI views and
// the supervisor's end-of-run summary. Pure, header-only.
#pragma once

#include <string>

#include <fmt/format.h>

namespace inloop {

inline std::string DurationText(double s) {
  if (s < 0) return "-";
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", int(s) / 60, int(s) % 60);
  return fmt::format("{}h{:02}m", int(s) / 3600, (int(s) % 3600) / 60);
}

}  // namespace inloop
