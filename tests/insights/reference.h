// Test support for tests/insights: the stdlib-only Python reference (reference.py, run with
// `python3` at test time) and seeded Gaussian noise for synthetic data.
#pragma once

#include "source_paths.h"
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "stats/rng.h"

namespace inloop::insights::testing {

inline double Uniform(stats::Rng& r) { return static_cast<double>(r.Next() >> 11) * 0x1.0p-53; }
inline double Gaussian(stats::Rng& r) {
  double u1 = Uniform(r), u2 = Uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

inline std::string JsonArray(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.17g}", i ? "," : "", v[i]);
  return s + "]";
}

// Runs reference.py with `args` and `input` on stdin; the numbers it printed, empty on failure.
inline std::vector<double> Reference(const std::string& args, const std::string& input) {
  char path[] = "/tmp/inloop-insights-ref-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return {};
  if (write(fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    close(fd);
    return {};
  }
  close(fd);
  std::string cmd = fmt::format("python3 {}/tests/insights/reference.py {} < {}", INLOOP_SOURCE_DIR,
                                args, path);
  std::vector<double> out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
    if (pclose(p) == 0) {
      std::istringstream in(text);
      double v;
      while (in >> v) out.push_back(v);
    }
  }
  unlink(path);
  return out;
}

}  // namespace inloop::insights::testing
