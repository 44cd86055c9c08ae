#include "compare/text_diff.h"

#include <algorithm>
#include <cstdint>

namespace inloop::compare {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

void Append(std::vector<DiffSegment>* out, DiffOp op, std::string_view text) {
  if (text.empty()) return;
  if (!out->empty() && out->back().op == op) {
    out->back().text.append(text);
  } else {
    out->push_back({op, std::string(text)});
  }
}

void AppendTokens(std::vector<DiffSegment>* out, DiffOp op,
                  const std::vector<std::string_view>& t, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) Append(out, op, t[i]);
}

// Myers' greedy shortest edit script between a[lo_a, hi_a) and b[lo_b, hi_b); false when the
// distance exceeds max_edits. Keeps one V vector per d (O(D^2) memory) to walk the path back.
bool Myers(const std::vector<std::string_view>& a, size_t lo_a, size_t hi_a,
           const std::vector<std::string_view>& b, size_t lo_b, size_t hi_b, size_t max_edits,
           std::vector<DiffSegment>* out) {
  const int64_t n = static_cast<int64_t>(hi_a - lo_a), m = static_cast<int64_t>(hi_b - lo_b);
  const int64_t max_d = std::min<int64_t>(n + m, static_cast<int64_t>(max_edits));
  auto A = [&](int64_t i) -> std::string_view { return a[lo_a + static_cast<size_t>(i)]; };
  auto B = [&](int64_t j) -> std::string_view { return b[lo_b + static_cast<size_t>(j)]; };
  // trace[d][k + d] = furthest x on diagonal k after d edits.
  std::vector<std::vector<int64_t>> trace;
  std::vector<int64_t> prev;
  int64_t found_d = -1;
  for (int64_t d = 0; d <= max_d && found_d < 0; ++d) {
    std::vector<int64_t> v(static_cast<size_t>(2 * d + 1));
    for (int64_t k = -d; k <= d; k += 2) {
      int64_t x;
      auto at = [&](int64_t kk) { return prev[static_cast<size_t>(kk + d - 1)]; };
      if (d == 0) {
        x = 0;
      } else if (k == -d || (k != d && at(k - 1) < at(k + 1))) {
        x = at(k + 1);  // down: insert b[y]
      } else {
        x = at(k - 1) + 1;  // right: delete a[x]
      }
      int64_t y = x - k;
      while (x < n && y < m && A(x) == B(y)) ++x, ++y;
      v[static_cast<size_t>(k + d)] = x;
      if (x >= n && y >= m) {
        found_d = d;
        break;
      }
    }
    trace.push_back(v);
    prev = std::move(v);
  }
  if (found_d < 0) return false;
  // Walk back from (n, m), collecting the ops in reverse.
  struct Step { DiffOp op; int64_t index; };  // index into a (equal/delete) or b (insert)
  std::vector<Step> rev;
  int64_t x = n, y = m;
  for (int64_t d = found_d; d > 0; --d) {
    const auto& pv = trace[static_cast<size_t>(d - 1)];
    auto at = [&](int64_t kk) { return pv[static_cast<size_t>(kk + d - 1)]; };
    int64_t k = x - y;
    bool down = k == -d || (k != d && at(k - 1) < at(k + 1));
    int64_t pk = down ? k + 1 : k - 1;
    int64_t px = at(pk), py = px - pk;
    int64_t sx = down ? px : px + 1;  // where the snake after this edit starts
    while (x > sx) rev.push_back({DiffOp::kEqual, --x}), --y;
    if (down) rev.push_back({DiffOp::kInsert, py});
    else rev.push_back({DiffOp::kDelete, px});
    x = px;
    y = py;
  }
  while (x > 0) rev.push_back({DiffOp::kEqual, --x}), --y;
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) {
    Append(out, it->op, it->op == DiffOp::kInsert ? B(it->index) : A(it->index));
  }
  return true;
}

// Diff of two token lists: common prefix and suffix first, Myers on the middle.
bool DiffTokens(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
                size_t max_edits, std::vector<DiffSegment>* out) {
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf])
    ++suf;
  std::vector<DiffSegment> segs;
  AppendTokens(&segs, DiffOp::kEqual, a, 0, pre);
  if (!Myers(a, pre, a.size() - suf, b, pre, b.size() - suf, max_edits, &segs)) return false;
  AppendTokens(&segs, DiffOp::kEqual, a, a.size() - suf, a.size());
  *out = std::move(segs);
  return true;
}

}  // namespace

const char* DiffOpName(DiffOp op) {
  switch (op) {
    case DiffOp::kEqual: return "equal";
    case DiffOp::kDelete: return "delete";
    case DiffOp::kInsert: return "insert";
  }
  return "equal";
}

std::vector<std::string_view> TokenizeWords(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    bool space = IsSpace(s[i]);
    size_t j = i + 1;
    while (j < s.size() && IsSpace(s[j]) == space) ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string_view> TokenizeLines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t nl = s.find('\n', i);
    size_t j = nl == std::string_view::npos ? s.size() : nl + 1;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

TextDiff DiffWords(std::string_view old_text, std::string_view new_text,
                   const TextDiffOptions& options) {
  TextDiff r;
  if (DiffTokens(TokenizeWords(old_text), TokenizeWords(new_text), options.max_edits,
                 &r.segments)) {
    r.granularity = "word";
    return r;
  }
  if (DiffTokens(TokenizeLines(old_text), TokenizeLines(new_text), options.max_edits,
                 &r.segments)) {
    r.granularity = "line";
    return r;
  }
  r.segments.clear();
  Append(&r.segments, DiffOp::kDelete, old_text);
  Append(&r.segments, DiffOp::kInsert, new_text);
  r.granularity = "whole";
  return r;
}

}  // namespace inloop::compare
