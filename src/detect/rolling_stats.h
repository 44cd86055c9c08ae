// Fixed-size rolling statistics for the streaming detectors: a sorted ring (trailing median and
// MAD of the last W values) and a block history (means of blocks of recent values, from a ring of
// prefix sums). Both allocate once at construction and never per value; callers must only push
// finite values.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace inloop::detect {

// The last `capacity` values, kept both in arrival order (a ring) and sorted, so the median is
// O(1) and a push is two binary searches plus one memmove of the values between the evicted
// value's rank and the new value's rank (O(W) worst case, a few dozen bytes typically). The MAD is
// O(W) and meant to be asked for rarely (on candidate anomalies).
class SortedWindow {
 public:
  explicit SortedWindow(int capacity)
      : cap_(capacity > 0 ? capacity : 1), ring_(cap_), sorted_(cap_) {}

  int size() const { return count_; }
  int capacity() const { return cap_; }
  bool full() const { return count_ == cap_; }
  void Clear() { head_ = count_ = 0; }

  // Appends v (REQUIRES: finite), evicting the oldest value when full.
  void Push(double v) {
    double* b = sorted_.data();
    if (count_ < cap_) {
      ring_[(head_ + count_) % cap_] = v;
      double* end = b + count_;
      double* pos = std::upper_bound(b, end, v);
      std::memmove(pos + 1, pos, static_cast<size_t>(end - pos) * sizeof(double));
      *pos = v;
      ++count_;
      return;
    }
    const double old = ring_[head_];
    ring_[head_] = v;
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    // Replace `old` by `v`, shifting only the values ranked between them. i: first index with
    // sorted >= old (sorted[i] == old; equal values are interchangeable); j: first index with
    // sorted > v.
    int i, j;
    Ranks(b, count_, old, v, &i, &j);
    if (v > old) {
      std::memmove(b + i, b + i + 1, static_cast<size_t>(j - i - 1) * sizeof(double));
      b[j - 1] = v;
    } else if (v < old) {
      std::memmove(b + j + 1, b + j, static_cast<size_t>(i - j) * sizeof(double));
      b[j] = v;
    }
  }

  // REQUIRES: size() > 0.
  double Median() const {
    int n = count_;
    return (n & 1) ? sorted_[n / 2] : 0.5 * (sorted_[n / 2 - 1] + sorted_[n / 2]);
  }
  // The median absolute deviation from Median(). REQUIRES: size() > 0.
  double Mad() const;
  // The k-th smallest value, 0-based. REQUIRES: 0 <= k < size().
  double Sorted(int k) const { return sorted_[k]; }
  // The value the next Push evicts. REQUIRES: full().
  double Oldest() const { return ring_[head_]; }
  // The most recent value. REQUIRES: size() > 0.
  double Newest() const { return ring_[(head_ + count_ - 1) % cap_]; }

 private:
  // Counts, in one pass over a[0, n), the values < lt (into *i) and <= le (into *j). A linear
  // SIMD count beats two binary searches here: the comparisons of noisy data mispredict half the
  // time and a binary search is one long dependency chain; this is ~4x faster at W = 128.
  static void Ranks(const double* a, int n, double lt, double le, int* i, int* j) {
    typedef double V2d __attribute__((vector_size(16)));
    typedef long long V2l __attribute__((vector_size(16)));
    const V2d vlt = {lt, lt}, vle = {le, le};
    V2l c0 = {0, 0}, c1 = {0, 0}, c2 = {0, 0}, c3 = {0, 0};
    const int n4 = n & ~3;
    for (int k = 0; k < n4; k += 4) {
      V2d x, y;
      std::memcpy(&x, a + k, sizeof(x));
      std::memcpy(&y, a + k + 2, sizeof(y));
      c0 -= static_cast<V2l>(x < vlt);  // a true lane is -1
      c1 -= static_cast<V2l>(x <= vle);
      c2 -= static_cast<V2l>(y < vlt);
      c3 -= static_cast<V2l>(y <= vle);
    }
    c0 += c2;
    c1 += c3;
    int ci = static_cast<int>(c0[0] + c0[1]);
    int cj = static_cast<int>(c1[0] + c1[1]);
    for (int k = n4; k < n; ++k) {
      ci += a[k] < lt;
      cj += a[k] <= le;
    }
    *i = ci;
    *j = cj;
  }

  int cap_;
  int head_ = 0;  // index of the oldest value in ring_
  int count_ = 0;
  std::vector<double> ring_;
  std::vector<double> sorted_;  // the first count_ entries, ascending
};

// The last `capacity` (step, value) pairs as a ring of prefix sums, so the mean of any block of
// consecutive recent values is O(1). Sums are in double: the error of a block mean is about
// (points seen / block length) * 1e-16 relative, negligible for any real run.
class BlockHistory {
 public:
  explicit BlockHistory(int capacity)
      : cap_(capacity > 0 ? capacity + 1 : 1), sums_(cap_), steps_(cap_) {}

  void Clear() {
    count_ = 0;
    total_ = 0;
    sums_[head_] = 0;
  }
  void Push(int64_t step, double v) {
    total_ += v;
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    sums_[head_] = total_;
    steps_[head_] = step;
    if (count_ < cap_ - 1) ++count_;
  }
  // How many values are available (at most the capacity).
  int size() const { return count_; }
  // Mean of the `len` values that end `lag` values before the newest (lag 0: the newest block).
  // REQUIRES: lag + len <= size(), len > 0.
  double Mean(int lag, int len) const { return (SumAt(lag) - SumAt(lag + len)) / len; }
  // Step of the value `lag` values before the newest. REQUIRES: lag < size().
  int64_t StepAt(int lag) const { return steps_[Index(lag)]; }

 private:
  int Index(int lag) const {
    int i = head_ - lag;
    return i < 0 ? i + cap_ : i;
  }
  // Prefix sum up to and including the value `lag` before the newest; lag == size() is the sum
  // before the oldest value kept.
  double SumAt(int lag) const { return sums_[Index(lag)]; }

  int cap_;  // one more slot than values, to hold the prefix sum before the oldest value
  int head_ = 0;
  int count_ = 0;
  double total_ = 0;
  std::vector<double> sums_;
  std::vector<int64_t> steps_;
};

}  // namespace inloop::detect
