// M4 downsampling over chunks and over a plain vector (the reference). Owns the choice between
// merging a chunk's summary and decoding it; never drops a point that draws differently (first,
// last, min, max of every column, and its first non-finite point) and never emits one twice.
#include "query/m4.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace inloop::query {
namespace {

using i128 = __int128;

// A selected point and its position in the concatenated input (orders and deduplicates).
struct Cand {
  uint64_t pos = 0;
  Point p;
};

// Pixel-column geometry of [lo, hi] split into `width` columns, overflow-free.
class Columns {
 public:
  Columns(int64_t lo, int64_t hi, int width)
      : lo_(lo), span_(static_cast<i128>(hi) - lo + 1), width_(width) {}
  // Column of a step in [lo, hi]: (step - lo) * width / (hi - lo + 1).
  int64_t Of(int64_t step) const {
    return static_cast<int64_t>((static_cast<i128>(step) - lo_) * width_ / span_);
  }
  // First step of column c (may lie past hi for c == width).
  i128 Start(int64_t c) const {
    i128 num = static_cast<i128>(c) * span_;
    return lo_ + (num + width_ - 1) / width_;
  }

 private:
  int64_t lo_;
  i128 span_;
  int width_;
};

// The M4 state of one pixel column.
class ColumnAccumulator {
 public:
  void Reset() { *this = ColumnAccumulator(); }

  // Adds pts[a, b) (a < b); the position of pts[i] is base + i. all_finite: no NaN or Inf
  // among them (from the chunk summary), which allows a faster scan.
  void AddRange(const Point* pts, size_t a, size_t b, uint64_t base, bool all_finite) {
    if (!any_) {
      first_ = {base + a, pts[a]};
      any_ = true;
    }
    last_ = {base + b - 1, pts[b - 1]};
    if (all_finite) {
      AddFinite(pts, a, b, base);
      return;
    }
    // Track positions only; the comparisons below keep the first holder of min and max.
    double minv = has_min_ ? min_.p.value : HUGE_VAL;
    double maxv = has_max_ ? max_.p.value : -HUGE_VAL;
    size_t imin = b, imax = b;
    for (size_t i = a; i < b; ++i) {
      double v = pts[i].value;
      if (std::isfinite(v)) [[likely]] {
        if (v < minv) {
          minv = v;
          imin = i;
        }
        if (v > maxv) {
          maxv = v;
          imax = i;
        }
      } else if (!has_nonfinite_) {
        nonfinite_ = {base + i, pts[i]};
        has_nonfinite_ = true;
      }
    }
    // A finite value equal to +-HUGE_VAL cannot exist, so imin/imax < b means "improved".
    if (imin < b) {
      min_ = {base + imin, pts[imin]};
      has_min_ = true;
    }
    if (imax < b) {
      max_ = {base + imax, pts[imax]};
      has_max_ = true;
    }
  }

  // Min and max of finite values without tracking positions in the hot loop: blocks of 256
  // with independent accumulators, remembering the first block that holds each extreme; then
  // one short scan of that block for the first position holding it.
  void AddFinite(const Point* pts, size_t a, size_t b, uint64_t base) {
    constexpr size_t kBlock = 256;
    double mn = HUGE_VAL, mx = -HUGE_VAL;
    size_t mn_block = a, mx_block = a;
    for (size_t lo = a; lo < b; lo += kBlock) {
      const size_t hi = std::min(lo + kBlock, b);
      double n0 = pts[lo].value, n1 = n0, x0 = n0, x1 = n0;
      size_t i = lo;
      for (; i + 2 <= hi; i += 2) {
        const double v0 = pts[i].value, v1 = pts[i + 1].value;
        n0 = v0 < n0 ? v0 : n0;
        n1 = v1 < n1 ? v1 : n1;
        x0 = v0 > x0 ? v0 : x0;
        x1 = v1 > x1 ? v1 : x1;
      }
      if (i < hi) {
        const double v = pts[i].value;
        n0 = v < n0 ? v : n0;
        x0 = v > x0 ? v : x0;
      }
      const double bmin = n1 < n0 ? n1 : n0, bmax = x1 > x0 ? x1 : x0;
      if (bmin < mn) {
        mn = bmin;
        mn_block = lo;
      }
      if (bmax > mx) {
        mx = bmax;
        mx_block = lo;
      }
    }
    if (!has_min_ || mn < min_.p.value) {
      size_t i = mn_block;
      while (pts[i].value != mn) ++i;
      min_ = {base + i, pts[i]};
      has_min_ = true;
    }
    if (!has_max_ || mx > max_.p.value) {
      size_t i = mx_block;
      while (pts[i].value != mx) ++i;
      max_ = {base + i, pts[i]};
      has_max_ = true;
    }
  }

  // Merges a whole chunk from its summary; its points have positions base .. base+count-1.
  void Merge(const store::ChunkSummary& s, uint64_t base) {
    if (s.count == 0) return;
    if (!any_) {
      first_ = {base, s.first};
      any_ = true;
    }
    last_ = {base + s.count - 1, s.last};
    if (s.nonfinite < s.count) {
      if (!has_min_ || s.min.value < min_.p.value) {
        min_ = {base + s.min_index, s.min};
        has_min_ = true;
      }
      if (!has_max_ || s.max.value > max_.p.value) {
        max_ = {base + s.max_index, s.max};
        has_max_ = true;
      }
    }
    if (s.has_nonfinite_point && !has_nonfinite_) {
      nonfinite_ = {base + s.first_nonfinite_index, s.first_nonfinite};
      has_nonfinite_ = true;
    }
  }

  // Appends the selected points in position order, each once.
  void Emit(std::vector<Point>* out) const {
    if (!any_) return;
    Cand c[5];
    int n = 0;
    c[n++] = first_;
    c[n++] = last_;
    if (has_min_) c[n++] = min_;
    if (has_max_) c[n++] = max_;
    if (has_nonfinite_) c[n++] = nonfinite_;
    std::sort(c, c + n, [](const Cand& x, const Cand& y) { return x.pos < y.pos; });
    for (int i = 0; i < n; ++i) {
      if (i > 0 && c[i].pos == c[i - 1].pos) continue;
      out->push_back(c[i].p);
    }
  }

 private:
  bool any_ = false, has_min_ = false, has_max_ = false, has_nonfinite_ = false;
  Cand first_, last_, min_, max_, nonfinite_;
};

// Streams points and summaries, in step order, into columns; emits each column when done.
class M4Builder {
 public:
  M4Builder(int64_t lo, int64_t hi, int width, std::vector<Point>* out)
      : lo_(lo), hi_(hi), cols_(lo, hi, width), out_(out) {}

  // Adds the points of pts[0, n) that lie in [lo, hi]; the position of pts[i] is base + i.
  // REQUIRES: steps non-decreasing. all_finite: pts holds no NaN or Inf.
  void AddPoints(const Point* pts, size_t n, uint64_t base, bool all_finite) {
    size_t i = 0;
    while (i < n) {
      int64_t step = pts[i].step;
      if (step < lo_) {
        ++i;
        continue;
      }
      if (step > hi_) break;
      if (cur_ < 0 || step < cur_start_ || step >= next_start_) Switch(cols_.Of(step));
      const i128 limit = std::min<i128>(next_start_, static_cast<i128>(hi_) + 1);
      size_t j = RunEnd(pts, i, n, limit);
      acc_.AddRange(pts, i, j, base, all_finite);
      i = j;
    }
  }

  void AddSummary(const store::ChunkSummary& s, int64_t col, uint64_t base) {
    Switch(col);
    acc_.Merge(s, base);
  }

  void Finish() {
    if (cur_ >= 0) acc_.Emit(out_);
    cur_ = -1;
  }

 private:
  // The first index after i whose step is >= limit (galloping search: runs may be short).
  static size_t RunEnd(const Point* pts, size_t i, size_t n, i128 limit) {
    size_t lo = i + 1, step = 1;
    size_t hi = lo;
    while (hi < n && pts[hi].step < limit) {
      lo = hi + 1;
      hi += step;
      step *= 2;
    }
    hi = std::min(hi, n);
    return std::partition_point(pts + lo, pts + hi,
                                [&](const Point& p) { return p.step < limit; }) -
           pts;
  }

  void Switch(int64_t col) {
    if (col == cur_) return;
    if (cur_ >= 0) acc_.Emit(out_);
    acc_.Reset();
    cur_ = col;
    cur_start_ = cols_.Start(col);
    next_start_ = cols_.Start(col + 1);
  }

  int64_t lo_, hi_;
  Columns cols_;
  std::vector<Point>* out_;
  ColumnAccumulator acc_;
  int64_t cur_ = -1;
  i128 cur_start_ = 0, next_start_ = 0;
};

}  // namespace

Status M4(const std::vector<ChunkView>& chunks, int64_t lo, int64_t hi, int width,
          std::vector<Point>* out, M4Stats* stats) {
  if (width < 1) return Status::Invalid(fmt::format("M4: width must be >= 1, got {}", width));
  M4Stats local;
  M4Stats* st = stats ? stats : &local;
  if (hi < lo) return Status::OK();
  const Columns cols(lo, hi, width);

  // Pass 1: classify chunks and count the points in range. A chunk straddling lo or hi is
  // loaded here (its count in range is unknown otherwise) and kept for pass 2.
  enum class Kind { kSkip, kSummary, kInside, kPartial };
  std::vector<Kind> kind(chunks.size(), Kind::kSkip);
  std::vector<std::vector<Point>> partial(chunks.size());
  std::vector<uint64_t> base(chunks.size(), 0);
  uint64_t next_base = 0;
  uint64_t total = 0;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const store::ChunkSummary& s = chunks[k].summary;
    base[k] = next_base;
    next_base += s.count;
    if (s.count == 0 || s.last.step < lo || s.first.step > hi) continue;
    if (s.first.step >= lo && s.last.step <= hi) {
      kind[k] = cols.Of(s.first.step) == cols.Of(s.last.step) ? Kind::kSummary : Kind::kInside;
      total += s.count;
      continue;
    }
    kind[k] = Kind::kPartial;
    INLOOP_RETURN_IF_ERROR(chunks[k].load(&partial[k]));
    ++st->chunks_decoded;
    if (partial[k].size() != s.count) {
      return Status::Corrupt(fmt::format("M4: chunk {} holds {} points, its summary says {}", k,
                                         partial[k].size(), s.count));
    }
    for (const Point& p : partial[k]) total += (p.step >= lo && p.step <= hi) ? 1 : 0;
  }

  std::vector<Point> buf;
  auto load = [&](size_t k) -> Status {
    buf.clear();
    INLOOP_RETURN_IF_ERROR(chunks[k].load(&buf));
    ++st->chunks_decoded;
    if (buf.size() != chunks[k].summary.count) {
      return Status::Corrupt(fmt::format("M4: chunk {} holds {} points, its summary says {}", k,
                                         buf.size(), chunks[k].summary.count));
    }
    return Status::OK();
  };

  // Few enough points: all of them, exactly.
  if (total <= 4 * static_cast<uint64_t>(width)) {
    for (size_t k = 0; k < chunks.size(); ++k) {
      if (kind[k] == Kind::kSkip) continue;
      if (kind[k] == Kind::kPartial) {
        for (const Point& p : partial[k]) {
          if (p.step >= lo && p.step <= hi) out->push_back(p);
        }
        continue;
      }
      INLOOP_RETURN_IF_ERROR(load(k));
      out->insert(out->end(), buf.begin(), buf.end());
    }
    return Status::OK();
  }

  // Pass 2: stream chunks into columns.
  M4Builder m4(lo, hi, width, out);
  for (size_t k = 0; k < chunks.size(); ++k) {
    switch (kind[k]) {
      case Kind::kSkip:
        break;
      case Kind::kSummary:
        m4.AddSummary(chunks[k].summary, cols.Of(chunks[k].summary.first.step), base[k]);
        ++st->chunks_summarized;
        break;
      case Kind::kInside:
        INLOOP_RETURN_IF_ERROR(load(k));
        m4.AddPoints(buf.data(), buf.size(), base[k], chunks[k].summary.nonfinite == 0);
        break;
      case Kind::kPartial:
        m4.AddPoints(partial[k].data(), partial[k].size(), base[k],
                     chunks[k].summary.nonfinite == 0);
        break;
    }
  }
  m4.Finish();
  return Status::OK();
}

std::vector<Point> M4Points(const std::vector<Point>& pts, int64_t lo, int64_t hi, int width) {
  std::vector<Point> out;
  if (width < 1 || hi < lo) return out;
  std::vector<size_t> in_range;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (pts[i].step >= lo && pts[i].step <= hi) in_range.push_back(i);
  }
  if (in_range.size() <= 4 * static_cast<size_t>(width)) {
    for (size_t i : in_range) out.push_back(pts[i]);
    return out;
  }
  // Straightforward on purpose: group indices by column, pick, sort, deduplicate.
  const i128 span = static_cast<i128>(hi) - lo + 1;
  std::map<int64_t, std::vector<size_t>> by_column;
  for (size_t i : in_range) {
    by_column[static_cast<int64_t>((static_cast<i128>(pts[i].step) - lo) * width / span)].push_back(
        i);
  }
  for (const auto& [col, idx] : by_column) {
    std::vector<size_t> pick = {idx.front(), idx.back()};
    size_t imin = SIZE_MAX, imax = SIZE_MAX, inf = SIZE_MAX;
    for (size_t i : idx) {
      double v = pts[i].value;
      if (!std::isfinite(v)) {
        if (inf == SIZE_MAX) inf = i;
        continue;
      }
      if (imin == SIZE_MAX || v < pts[imin].value) imin = i;
      if (imax == SIZE_MAX || v > pts[imax].value) imax = i;
    }
    for (size_t i : {imin, imax, inf}) {
      if (i != SIZE_MAX) pick.push_back(i);
    }
    std::sort(pick.begin(), pick.end());
    pick.erase(std::unique(pick.begin(), pick.end()), pick.end());
    for (size_t i : pick) out.push_back(pts[i]);
  }
  return out;
}

}  // namespace inloop::query
