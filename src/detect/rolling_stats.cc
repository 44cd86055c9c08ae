// The O(W) part of SortedWindow: the median absolute deviation, found by walking outwards from the
// median over the sorted values (deviations on each side are already sorted). Must never allocate.
#include "detect/rolling_stats.h"

namespace inloop::detect {

double SortedWindow::Mad() const {
  const int n = count_;
  const double m = Median();
  const double* s = sorted_.data();
  // Deviations to the left of the median grow as l goes down, to the right as r goes up: merge the
  // two ascending sequences until the middle one(s).
  int r = static_cast<int>(std::lower_bound(s, s + n, m) - s);
  int l = r - 1;
  const int want_hi = n / 2;  // 0-based rank of the (upper) middle deviation
  const int want_lo = (n & 1) ? want_hi : want_hi - 1;
  double lo_val = 0;
  double cur = 0;
  for (int k = 0; k <= want_hi; ++k) {
    double dl = l >= 0 ? m - s[l] : -1;
    double dr = r < n ? s[r] - m : -1;
    if (dr < 0 || (dl >= 0 && dl <= dr)) {
      cur = dl;
      --l;
    } else {
      cur = dr;
      ++r;
    }
    if (k == want_lo) lo_val = cur;
  }
  return 0.5 * (lo_val + cur);
}

}  // namespace inloop::detect
