// Point: the unit of metric data, one (step, wall time, value) sample of one series.
// wall_time is seconds since the Unix epoch; value may be NaN or +/-Inf (kept, never dropped).
#pragma once

#include <cstdint>

namespace inloop {

struct Point {
  int64_t step = 0;
  double wall_time = 0;
  double value = 0;
};

inline bool operator==(const Point& a, const Point& b) {
  // Bitwise-ish equality so that NaN == NaN for round-trip tests.
  auto same = [](double x, double y) { return x == y || (x != x && y != y); };
  return a.step == b.step && same(a.wall_time, b.wall_time) && same(a.value, b.value);
}

}  // namespace inloop
