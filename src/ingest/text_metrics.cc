// TextMetrics: segments, items, the acceptance rules, Megatron continuation and progress bars.
// The rules themselves are documented in line_parser.cc, next to the dispatch that uses them.
#include "ingest/text_metrics.h"

#include <algorithm>

#include "ingest/number_scan.h"
#include "ingest/text_scan.h"

namespace inloop::ingest {
namespace {

constexpr size_t kMaxSegments = 512;
constexpr int kMaxStrongKeyWords = 6;
constexpr int kMaxWeakKeyWords = 2;
constexpr size_t kMaxParenUnit = 24;

// Character classes as tables: the segment and item scanners look at every byte.
struct CharTables {
  bool word[256] = {};       // continues a key word
  bool separator[256] = {};  // may end a segment or change bracket depth
  constexpr CharTables() {
    for (int c = 0; c < 256; ++c) {
      word[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '/' || c == '@' || c == '-';
    }
    for (char c : std::string_view("()[]{}|;\t,-")) separator[static_cast<unsigned char>(c)] = true;
  }
};
constexpr CharTables kTables;

bool IsWordStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsWordChar(char c) { return kTables.word[static_cast<unsigned char>(c)]; }
// Letters, '/', and the two bytes of U+00B5 MICRO SIGN.
bool IsUnitByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return IsAlpha(c) || c == '/' || u == 0xC2 || u == 0xB5;
}

bool IsSpecialWord(std::string_view w) {
  return EqualsIgnoreCase(w, "nan") || EqualsIgnoreCase(w, "inf") ||
         EqualsIgnoreCase(w, "infinity");
}

// Words that make a whitespace-separated key prose ("finished in 12s", "Step 5 of 10").
bool IsStopWord(std::string_view w) {
  static constexpr std::string_view kWords[] = {
      "a",          "an",       "the",     "of",       "in",      "on",          "at",
      "to",         "for",      "from",    "by",       "with",    "and",         "or",
      "is",         "was",      "are",     "were",     "be",      "as",          "than",
      "after",      "before",   "into",    "over",     "about",   "using",       "loading",
      "loaded",     "found",    "saving",  "saved",    "running", "downloading", "processed",
      "processing", "starting", "waiting", "retrying", "attempt", "got",         "has",
      "have"};
  return InLowerList(w, kWords);
}

bool HasStopWord(std::string_view key) {
  size_t i = 0;
  while (i < key.size()) {
    while (i < key.size() && IsSpace(key[i])) ++i;
    size_t b = i;
    while (i < key.size() && !IsSpace(key[i])) ++i;
    if (i > b && IsStopWord(key.substr(b, i - b))) return true;
  }
  return false;
}

// Keys that name an identifier rather than a measurement, by their last word (words end at
// '_' or whitespace); `key` may be raw ("Local Rank") or normalised ("local_rank").
bool IsIdentifierKey(std::string_view key) {
  if (EqualsIgnoreCase(key, "v_num")) return true;
  size_t b = key.size();
  while (b > 0 && key[b - 1] != '_' && !IsSpace(key[b - 1])) --b;
  std::string_view last = key.substr(b);
  static constexpr std::string_view kWords[] = {"version", "pid",  "port", "line",
                                                "lineno",  "rank", "id",   "seed"};
  return InLowerList(last, kWords);
}

// "it/s" -> "it_per_s", "µs" -> "us", "%" -> "pct", "TFLOP/s/GPU" -> "tflop_per_s_per_gpu".
void AppendUnit(std::string* out, std::string_view unit) {
  for (size_t i = 0; i < unit.size(); ++i) {
    char c = unit[i];
    auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      out->append("_per_");
    } else if (c == '%') {
      out->append("pct");
    } else if (IsSpace(c)) {
      if (!out->empty() && out->back() != '_') out->push_back('_');
    } else if (u == 0xC2 && i + 1 < unit.size() &&
               static_cast<unsigned char>(unit[i + 1]) == 0xB5) {
      out->push_back('u');
      ++i;
    } else {
      out->push_back(ToLower(c));
    }
  }
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Keys only Megatron-LM prints; a '|' table with them but without "iteration N/M" in front is
// a fragment of a wrapped record.
bool HasMegatronMarker(std::string_view s) {
  static constexpr std::string_view kMarkers[] = {"consumed samples:",
                                                  "global batch size:",
                                                  "lm loss:",
                                                  "grad norm:",
                                                  "loss scale:",
                                                  "number of skipped iterations:",
                                                  "number of nan iterations:",
                                                  "samples per second:",
                                                  "elapsed time per iteration",
                                                  "learning rate:",
                                                  "TFLOPs:",
                                                  "consumed tokens:"};
  for (std::string_view m : kMarkers) {
    if (s.find(m) != std::string_view::npos) return true;
  }
  return false;
}

bool IsLevelWord(std::string_view w) {
  static constexpr std::string_view kLevels[] = {"INFO",  "WARNING",  "WARN",  "ERROR",
                                                 "DEBUG", "CRITICAL", "FATAL", "TRACE"};
  for (std::string_view l : kLevels) {
    if (w == l) return true;
  }
  return false;
}

// "YYYY-MM-DD" or "YYYY/MM/DD" at i; returns its length or 0.
size_t DateAt(std::string_view s, size_t i) {
  if (DigitsAt(s, i) == 4 && i + 10 <= s.size() && (s[i + 4] == '-' || s[i + 4] == '/') &&
      DigitsAt(s, i + 5) == 2 && s[i + 7] == s[i + 4] && DigitsAt(s, i + 8) == 2) {
    return 10;
  }
  return 0;
}

// "HH:MM:SS[.,fff][Z|+hh:mm]" at i; returns its length or 0.
size_t TimeAt(std::string_view s, size_t i) {
  if (!(DigitsAt(s, i) == 2 && i + 8 <= s.size() && s[i + 2] == ':' && DigitsAt(s, i + 3) == 2 &&
        s[i + 5] == ':' && DigitsAt(s, i + 6) == 2)) {
    return 0;
  }
  size_t j = i + 8;
  if (j + 1 < s.size() && (s[j] == '.' || s[j] == ',') && IsDigit(s[j + 1])) {
    j += 1 + DigitsAt(s, j + 1);
  }
  if (j < s.size() && s[j] == 'Z') {
    ++j;
  } else if (j + 3 <= s.size() && (s[j] == '+' || s[j] == '-') && DigitsAt(s, j + 1) == 2) {
    size_t k = j + 3;
    if (k < s.size() && s[k] == ':') ++k;
    if (DigitsAt(s, k) == 2) j = k + 2;
  }
  return j - i;
}

// glog's "I0402 10:11:12.345678  1234 solver.cpp:218] " (Caffe and other C++ trainers) at i:
// its length, or 0.
size_t GlogPrefixAt(std::string_view s, size_t i) {
  const size_t n = s.size();
  char c = i < n ? s[i] : '\0';
  if (!(c == 'I' || c == 'W' || c == 'E' || c == 'F') || DigitsAt(s, i + 1) != 4 ||
      i + 5 >= n || s[i + 5] != ' ') {
    return 0;
  }
  size_t t = TimeAt(s, i + 6);
  if (t == 0) return 0;
  size_t j = i + 6 + t;
  while (j < n && s[j] == ' ') ++j;
  if (DigitsAt(s, j) == 0) return 0;  // the thread id
  j += DigitsAt(s, j);
  if (j >= n || s[j] != ' ') return 0;
  ++j;
  size_t close = s.find(']', j);  // "file.cc:123]"
  if (close == std::string_view::npos || close == j || close - j > 80) return 0;
  std::string_view where = s.substr(j, close - j);
  size_t colon = where.rfind(':');
  if (colon == std::string_view::npos || DigitsAt(where, colon + 1) != where.size() - colon - 1 ||
      where.find(' ') != std::string_view::npos) {
    return 0;
  }
  return close + 1 - i;
}

// A first word of a key that says which pass a metric belongs to ("val_loss").
bool IsPassWord(std::string_view w) {
  static constexpr std::string_view kWords[] = {"val", "valid", "validation", "eval",
                                                "test", "dev"};
  return InLowerList(w, kWords);
}

}  // namespace

bool IsKnownUnit(std::string_view unit) {
  static constexpr std::string_view kUnits[] = {
      // time
      "ns", "us", "\xC2\xB5s", "ms", "s", "sec", "secs", "min", "mins", "h", "hr", "hrs",
      // rates
      "it/s", "s/it", "tok/s", "toks/s", "tokens/s", "token/s", "samples/s", "sample/s", "seq/s",
      "seqs/s", "img/s", "imgs/s", "ex/s", "examples/s", "steps/s", "step/s", "batch/s",
      "batches/s", "ms/step", "s/step", "ms/it", "ms/iter", "s/iter", "ms/batch", "s/batch",
      // memory
      "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib",
      // compute
      "tflops", "gflops", "pflops", "tflop/s", "gflop/s", "pflop/s"};
  return InLowerList(unit, kUnits);
}

std::string_view StripLogPrefix(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  for (int round = 0; round < 16; ++round) {
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n) break;
    char c = s[i];
    if (c == '[') {  // "[default7]:", "[2024-01-01 12:00:00,123]", "[INFO]"
      size_t close = s.find(']', i + 1);
      if (close == std::string_view::npos || close == i + 1 || close - i > 80) break;
      if (s.substr(i + 1, close - i - 1).find('[') != std::string_view::npos) break;
      i = close + 1;
      if (i < n && s[i] == ':') ++i;
      continue;
    }
    if (size_t d = DateAt(s, i)) {
      i += d;
      if (i < n && (s[i] == 'T' || s[i] == ' ') && TimeAt(s, i + 1) > 0) i += 1 + TimeAt(s, i + 1);
      continue;
    }
    if (size_t t = TimeAt(s, i)) {
      i += t;
      continue;
    }
    if (size_t g = GlogPrefixAt(s, i)) {
      i += g;
      continue;
    }
    if (IsAlpha(c)) {
      size_t j = i;
      while (j < n && (IsAlnum(s[j]) || s[j] == '_')) ++j;
      std::string_view word = s.substr(i, j - i);
      if (IsLevelWord(word) && (j == n || !IsWordChar(s[j]))) {
        i = j;
        // Python's default "INFO:logger.name:" format.
        if (i < n && s[i] == ':') {
          size_t k = i + 1;
          while (k < n && (IsAlnum(s[k]) || s[k] == '_' || s[k] == '.' || s[k] == '<' ||
                           s[k] == '>' || s[k] == '-')) {
            ++k;
          }
          i = (k > i + 1 && k < n && s[k] == ':') ? k + 1 : i + 1;
        }
        continue;
      }
      // "rank0:" / "rank 3:"
      if (StartsWithIgnoreCase(word, "rank")) {
        size_t k = i + 4;
        while (k < n && s[k] == ' ') ++k;
        size_t d = DigitsAt(s, k);
        if (d > 0 && k + d < n && s[k + d] == ':') {
          i = k + d + 1;
          continue;
        }
      }
      break;
    }
    if (c == '|' || (c == '-' && i + 1 < n && s[i + 1] == ' ') ||
        (c == '>' && i + 1 < n && s[i + 1] == '>')) {
      i += (c == '>') ? 2 : 1;
      continue;
    }
    break;
  }
  while (i < n && IsSpace(s[i])) ++i;
  return s.substr(i);
}

TextMetrics::TextMetrics() {
  segments_.reserve(64);
  pairs_.reserve(64);
  key_.reserve(64);
}

void TextMetrics::SplitSegments(std::string_view s) {
  segments_.clear();
  bars_ = 0;
  const size_t n = s.size();
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < n; ++i) {
    while (i < n && !kTables.separator[static_cast<unsigned char>(s[i])]) ++i;
    if (i >= n) break;
    char c = s[i];
    if (c == '|') ++bars_;
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
      continue;
    }
    if (c == ')' || c == ']' || c == '}') {
      if (depth > 0) --depth;
      continue;
    }
    if (depth > 0) continue;
    bool sep = false;
    switch (c) {
      case '|':
      case ';':
        sep = true;
        break;
      case '\t': {  // a separator, except right after "key:" / "key="
        size_t k = i;
        while (k > start && (s[k - 1] == ' ' || s[k - 1] == '\t')) --k;
        sep = !(k > start && (s[k - 1] == ':' || s[k - 1] == '='));
        break;
      }
      case ',':  // not inside "25,000"
        sep = !(i > 0 && IsDigit(s[i - 1]) && i + 1 < n && IsDigit(s[i + 1]));
        break;
      case '-':  // " - " as in Keras and many logging formats
        sep = i > 0 && s[i - 1] == ' ' && i + 1 < n && s[i + 1] == ' ';
        break;
      default:
        break;
    }
    if (!sep) continue;
    segments_.push_back(s.substr(start, i - start));
    start = i + 1;
    if (segments_.size() >= kMaxSegments) return;
  }
  segments_.push_back(s.substr(start));
}

bool TextMetrics::ParseItem(std::string_view s, size_t* pos, bool head_allowed, Pair* p) {
  // "number of nan iterations: 0" has "nan" in its key, "loss nan" has it as the value: try
  // the first reading, then the second.
  return ParseItemAs(s, pos, head_allowed, /*nan_ends_key=*/false, p) ||
         ParseItemAs(s, pos, head_allowed, /*nan_ends_key=*/true, p);
}

bool TextMetrics::ParseItemAs(std::string_view s, size_t* pos, bool head_allowed, bool nan_ends_key,
                              Pair* p) {
  *p = Pair();
  const size_t n = s.size();
  size_t i = *pos;
  while (i < n && IsSpace(s[i])) ++i;
  const size_t key_begin = i;
  size_t key_end = i;
  int words = 0;
  bool saw_special = false;
  while (i < n && IsWordStart(s[i])) {
    size_t w = i;
    while (i < n && IsWordChar(s[i])) ++i;
    if (IsSpecialWord(s.substr(w, i - w))) {
      saw_special = true;
      if (nan_ends_key) break;
    }
    if (++words > kMaxStrongKeyWords) return false;
    key_end = i;
    while (i < n && IsSpace(s[i])) ++i;
  }
  if (words == 0 || (nan_ends_key && !saw_special)) return false;
  i = key_end;

  std::string_view paren;
  size_t j = i;
  while (j < n && IsSpace(s[j])) ++j;
  if (j < n && s[j] == '(') {  // "elapsed time per iteration (ms): 812.3"
    size_t close = s.substr(0, std::min(n, j + 2 + kMaxParenUnit)).find(')', j + 1);
    if (close == std::string_view::npos || close == j + 1) return false;
    paren = s.substr(j + 1, close - j - 1);
    for (char c : paren) {
      if (!(IsAlnum(c) || c == '/' || c == '%' || c == '_' || c == '-' || c == ' ' || c == '.')) {
        return false;
      }
    }
    i = close + 1;
  }

  j = i;
  while (j < n && IsSpace(s[j])) ++j;
  bool strong = false;
  if (j < n && (s[j] == ':' || s[j] == '=')) {
    strong = true;
    ++j;
    while (j < n && IsSpace(s[j])) ++j;
  } else if (j == i || !paren.empty()) {
    return false;
  }
  std::string_view key = s.substr(key_begin, key_end - key_begin);
  if (!strong && (words > kMaxWeakKeyWords || HasStopWord(key))) return false;
  i = j;

  double v = 0;
  size_t len = ScanNumber(s.substr(i), &v, /*allow_groups=*/true);
  if (len == 0) return false;
  i += len;

  // Step keys and "epoch" are at most 11 bytes ("global step"); skip normalising longer keys.
  int rank = 0;
  bool is_epoch = false;
  if (key.size() <= 11) {
    key_.clear();
    AppendWords(&key_, key);
    rank = StepKeyRank(key_);
    is_epoch = key_ == "epoch";
  }
  if ((rank > 0 || is_epoch) && paren.empty()) {  // "iteration 100/ 500000"
    j = i;
    while (j < n && s[j] == ' ') ++j;
    if (j < n && s[j] == '/') {
      ++j;
      while (j < n && s[j] == ' ') ++j;
      if (j < n && IsDigit(s[j])) {
        while (j < n && IsDigit(s[j])) ++j;
        i = j;
        p->has_total = true;
      }
    }
  }

  std::string_view unit;
  if (i < n && s[i] == '%') {
    unit = s.substr(i, 1);
    ++i;
  } else if (i < n && IsUnitByte(s[i])) {  // "12.34ms"
    size_t u = i;
    while (i < n && IsUnitByte(s[i])) ++i;
    unit = s.substr(u, i - u);
    if (!IsKnownUnit(unit)) return false;
  } else if (i < n && IsSpace(s[i])) {  // "12.34 ms"
    j = i;
    while (j < n && IsSpace(s[j])) ++j;
    size_t u = j;
    while (j < n && IsUnitByte(s[j])) ++j;
    if (j > u && (j == n || IsSpace(s[j])) && IsKnownUnit(s.substr(u, j - u))) {
      unit = s.substr(u, j - u);
      i = j;
    }
  }

  // "loss: 6.9 (6.9)": a running average in parentheses after the value is skipped.
  j = i;
  while (j < n && IsSpace(s[j])) ++j;
  if (j < n && s[j] == '(') {
    size_t k = j + 1;
    double avg = 0;
    size_t len2 = ScanNumber(s.substr(k), &avg, /*allow_groups=*/false);
    if (len2 > 0) {
      k += len2;
      while (k < n && (IsUnitByte(s[k]) || s[k] == '%')) ++k;
      if (k < n && s[k] == ')') i = k + 1;
    }
  }

  if (i < n) {
    if (s[i] == ':' && head_allowed && (rank > 0 || is_epoch) && unit.empty()) {
      ++i;  // "iter 100:" heads a nanoGPT line
      p->closed_head = true;
    } else if (!IsSpace(s[i])) {
      return false;
    }
  }

  p->key = key;
  p->paren = paren;
  p->unit = unit;
  p->value = v;
  p->strong = strong;
  p->first_item = head_allowed;
  const bool plain = paren.empty() && unit.empty();
  p->is_epoch = is_epoch && plain;
  int64_t step = 0;
  if (rank > 0 && plain && AsStep(v, &step)) {
    p->step_rank = rank;
    p->step = step;
  }
  // A step key with a fractional or negative value is neither the step nor a metric.
  p->ignored = p->step_rank == 0 && ((rank > 0 && plain) || (plain && IsIdentifierKey(key)));
  *pos = i;
  return true;
}

// "valid loss at iteration 45000", "saving checkpoint at step 100": the step of the line.
bool TextMetrics::ParseAtStep(std::string_view seg) {
  seg = TrimSpace(seg);
  size_t d = seg.size();
  while (d > 0 && IsDigit(seg[d - 1])) --d;
  if (d == seg.size() || d == 0 || !IsSpace(seg[d - 1])) return false;
  size_t we = d;
  while (we > 0 && IsSpace(seg[we - 1])) --we;
  size_t wb = we;
  while (wb > 0 && (IsAlpha(seg[wb - 1]) || seg[wb - 1] == '_')) --wb;
  int rank = StepKeyRank(seg.substr(wb, we - wb));
  if (rank == 0 || wb == 0 || !IsSpace(seg[wb - 1])) return false;
  size_t ae = wb;
  while (ae > 0 && IsSpace(seg[ae - 1])) --ae;
  if (ae < 2 || !EqualsIgnoreCase(seg.substr(ae - 2, 2), "at") ||
      (ae > 2 && !IsSpace(seg[ae - 3]))) {
    return false;
  }
  int64_t step = 0;
  if (!ParseInt(seg.substr(d), &step)) return false;
  Pair p;
  p.key = seg.substr(wb, we - wb);
  p.step_rank = rank;
  p.step = step;
  p.value = static_cast<double>(step);
  pairs_.push_back(p);
  return true;
}

// "epoch 001:    100 / 1000 loss=2.34": the key=value tokens of a segment that is otherwise
// not a list of items.
bool TextMetrics::ParseKeyValueTokens(std::string_view seg) {
  bool any = false;
  size_t i = 0;
  const size_t n = seg.size();
  while (i < n) {
    while (i < n && IsSpace(seg[i])) ++i;
    size_t b = i;
    while (i < n && !IsSpace(seg[i])) ++i;
    std::string_view tok = seg.substr(b, i - b);
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos || eq == 0 || !IsWordStart(tok[0])) continue;
    std::string_view key = tok.substr(0, eq);
    bool ok = true;
    for (char c : key) ok = ok && IsWordChar(c);
    if (!ok) continue;
    std::string_view val = tok.substr(eq + 1);
    double v = 0;
    size_t len = ScanNumber(val, &v, /*allow_groups=*/true);
    if (len == 0) continue;
    std::string_view unit = val.substr(len);
    if (!unit.empty() && unit != "%" && !IsKnownUnit(unit)) continue;
    Pair p;
    p.key = key;
    p.unit = unit;
    p.value = v;
    p.strong = true;
    key_.clear();
    AppendWords(&key_, key);
    int64_t step = 0;
    int rank = StepKeyRank(key_);
    if (rank > 0 && unit.empty() && AsStep(v, &step)) {
      p.step_rank = rank;
      p.step = step;
    }
    p.is_epoch = key_ == "epoch" && unit.empty();
    p.ignored = p.step_rank == 0 && ((rank > 0 && unit.empty()) || IsIdentifierKey(key_));
    pairs_.push_back(p);
    any = true;
    if (pairs_.size() >= kMaxMetricsPerLine) break;
  }
  return any;
}

bool TextMetrics::ParseSegment(std::string_view seg, bool first_of_line) {
  if (pairs_.size() >= kMaxMetricsPerLine) return false;
  const size_t mark = pairs_.size();
  size_t i = 0;
  bool any = false;
  for (;;) {
    while (i < seg.size() && IsSpace(seg[i])) ++i;
    if (i >= seg.size()) return any;
    Pair p;
    if (!ParseItem(seg, &i, first_of_line && !any, &p)) break;
    if (p.first_item && TrimSpace(seg.substr(i)).empty()) p.closed_head = true;  // "Epoch 3 |"
    pairs_.push_back(p);
    any = true;
    if (pairs_.size() >= kMaxMetricsPerLine) return true;
  }
  pairs_.resize(mark);
  // Not a list of items as a whole. Aligned logs (torchvision's MetricLogger, detectron2,
  // mmengine, timm) separate items by two or more spaces: each such part that is a list of
  // items counts on its own; the others still give "at step N" and key=value tokens.
  if (seg.find("  ") == std::string_view::npos) return ParsePart(seg, /*try_items=*/false);
  bool found = false;
  size_t b = 0;
  int depth = 0;
  const size_t n = seg.size();
  for (size_t k = 0; k <= n; ++k) {
    if (k < n) {
      char c = seg[k];
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      if (!(depth == 0 && c == ' ' && k + 1 < n && seg[k + 1] == ' ')) continue;
    }
    std::string_view part = seg.substr(b, k - b);
    while (k < n && seg[k] == ' ') ++k;
    b = k;
    if (TrimSpace(part).empty()) continue;
    // A part that is the whole segment was just tried as a list of items.
    found = ParsePart(part, /*try_items=*/part.size() != n) || found;
    if (pairs_.size() >= kMaxMetricsPerLine) break;
  }
  return found;
}

bool TextMetrics::ParsePart(std::string_view part, bool try_items) {
  const size_t mark = pairs_.size();
  size_t i = 0;
  while (try_items) {
    while (i < part.size() && IsSpace(part[i])) ++i;
    if (i >= part.size()) return pairs_.size() > mark;
    Pair p;
    if (!ParseItem(part, &i, /*head_allowed=*/false, &p)) break;
    pairs_.push_back(p);
    if (pairs_.size() >= kMaxMetricsPerLine) return true;
  }
  pairs_.resize(mark);
  if (ParseAtStep(part)) return true;
  return ParseKeyValueTokens(part);
}

void TextMetrics::BuildKey(const Pair& p) {
  key_.clear();
  AppendWords(&key_, p.key);
  if (!p.paren.empty()) {
    key_.push_back('_');
    AppendUnit(&key_, p.paren);
  }
  if (!p.unit.empty() && p.unit != "%") {
    size_t base = key_.size();
    key_.push_back('_');
    AppendUnit(&key_, p.unit);
    // "time_ms 12ms" stays "time_ms".
    std::string_view k(key_);
    std::string_view suffix = k.substr(base);
    if (EndsWith(k.substr(0, base), suffix)) key_.resize(base);
  }
}

// tqdm: "DESC:  12%|█▏  | 120/1000 [00:10<01:15, 11.7it/s, loss=2.34, v_num=0]".
// With DESC "Epoch N" (PyTorch Lightning's training bar): epoch, step and it_per_s as well as
// the postfix values; any other bar yields only its postfix values.
bool TextMetrics::ParseProgressBar(std::string_view s, MetricSink* sink, bool* is_bar) {
  *is_bar = false;
  const size_t bar = s.find("%|");
  if (bar == std::string_view::npos) return false;
  size_t q = bar;
  while (q > 0 && (IsDigit(s[q - 1]) || s[q - 1] == '.')) --q;
  if (q == bar) return false;
  const size_t close = s.find('|', bar + 2);
  if (close == std::string_view::npos) return false;
  size_t i = close + 1;
  const size_t n = s.size();
  while (i < n && IsSpace(s[i])) ++i;
  size_t d = DigitsAt(s, i);
  if (d == 0) return false;
  int64_t count = 0;
  if (!ParseInt(s.substr(i, d), &count)) return false;
  i += d;
  if (i >= n || s[i] != '/') return false;
  ++i;
  int64_t total = -1;
  d = DigitsAt(s, i);
  if (d > 0) {
    if (!ParseInt(s.substr(i, d), &total)) return false;
    i += d;
  } else if (i < n && s[i] == '?') {
    ++i;
  } else {
    return false;
  }
  while (i < n && IsSpace(s[i])) ++i;
  if (i >= n || s[i] != '[') return false;
  *is_bar = true;
  size_t end = s.find(']', i);
  std::string_view inner = s.substr(i + 1, (end == std::string_view::npos ? n : end) - i - 1);

  // "Epoch 3" at the end of the description.
  std::string_view desc = TrimSpace(s.substr(0, q));
  if (!desc.empty() && desc.back() == ':') desc = TrimSpace(desc.substr(0, desc.size() - 1));
  bool has_epoch = false;
  int64_t epoch = 0;
  {
    size_t e = desc.size();
    size_t slash = desc.rfind('/');  // "Epoch 3/10"
    if (slash != std::string_view::npos && DigitsAt(desc, slash + 1) == e - slash - 1 &&
        e > slash + 1) {
      e = slash;
    }
    size_t b = e;
    while (b > 0 && IsDigit(desc[b - 1])) --b;
    if (b < e) {
      size_t we = b;
      while (we > 0 && desc[we - 1] == ' ') --we;
      if (we >= 5 && we < b && EqualsIgnoreCase(desc.substr(we - 5, 5), "epoch") &&
          (we == 5 || !IsAlpha(desc[we - 6])) && ParseInt(desc.substr(b, e - b), &epoch)) {
        has_epoch = true;
      }
    }
  }

  size_t k = 0, part = 0;
  while (k <= inner.size()) {
    size_t comma = inner.find(',', k);
    if (comma == std::string_view::npos) comma = inner.size();
    std::string_view item = TrimSpace(inner.substr(k, comma - k));
    k = comma + 1;
    ++part;
    if (part == 1) continue;  // "00:10<01:15"
    double v = 0;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (part != 2 || !has_epoch) continue;
      size_t len = ScanNumber(item, &v, /*allow_groups=*/false);  // "11.7it/s", "?it/s"
      if (len == 0) continue;
      std::string_view unit = item.substr(len);
      if (unit == "it/s" || unit == "s/it") {
        key_.clear();
        AppendUnit(&key_, unit);
        sink->Add(key_, v);
      }
      continue;
    }
    std::string_view key = TrimSpace(item.substr(0, eq));
    if (key.empty() || !IsWordStart(key[0])) continue;
    if (!ParseNumericString(item.substr(eq + 1), &v)) continue;
    key_.clear();
    AppendWords(&key_, key);
    if (key_ == "v_num" || key_.size() > kMaxKeyLength) continue;
    int64_t step = 0;
    int rank = StepKeyRank(key_);
    if (rank > 0 && AsStep(v, &step)) {
      sink->OfferStep(rank, step);
    } else {
      sink->Add(key_, v);
    }
  }
  if (has_epoch) {
    sink->Add("epoch", static_cast<double>(epoch));
    // The bar counts batches within the epoch; adding the epochs before it keeps the step
    // increasing across epochs (a restart at 0 would read as a rewind).
    if (total >= 0 || epoch == 0) {
      int64_t base = total >= 0 ? epoch * total : 0;
      sink->OfferStep(StepKeyRank("step"), base + count);
    }
  }
  return sink->size() > 0;
}

// key_ is already on the line: the same name again, later in the line, is another measurement
// ("Token Acc: 0.5 ... Val Loss: 2.1 | Token Acc: 0.4" is train, then val). It becomes
// "<pass>_<key>" when a key before it on the line named a pass (val_, eval_, test_, dev_) and
// that name is free, else "<key>_2", "<key>_3", ...
void TextMetrics::DistinctKey(MetricSink* sink) {
  if (!pass_.empty() && key_.compare(0, pass_.size() + 1, pass_ + "_") != 0) {
    std::string with_pass = pass_ + "_" + key_;
    if (!sink->Has(with_pass)) {
      key_.swap(with_pass);
      return;
    }
  }
  // The next free number for this key; a line of many repeats stays linear.
  int& n = repeats_[key_];
  if (n == 0) n = 1;
  const size_t base = key_.size();
  do {
    key_.resize(base);
    key_.push_back('_');
    key_.append(std::to_string(++n));
  } while (sink->Has(key_));
}

bool TextMetrics::Parse(std::string_view line, MetricSink* sink) {
  const bool leading_space = !line.empty() && IsSpace(line[0]);
  const bool had_pending = pending_;
  const int64_t carried_step = pending_step_;
  pending_ = false;

  std::string_view s = StripLogPrefix(line);
  if (s.empty()) return false;
  if (s[0] == 'I' || s[0] == 'T') {
    bool handled = false;
    bool found = ParseCaffe(s, sink, &handled);
    if (handled) return found;
    sink->Reset();
  }
  if (s.find("%|") != std::string_view::npos) {
    bool is_bar = false;
    bool found = ParseProgressBar(s, sink, &is_bar);
    if (is_bar) return found;
    sink->Reset();
  }

  SplitSegments(s);
  pairs_.clear();
  const bool ends_with_bar = s.back() == '|';
  const size_t nseg = segments_.size();
  const size_t bars = bars_;

  ParseSegment(segments_[0], /*first_of_line=*/true);
  const bool starts_with_step = !pairs_.empty() && pairs_[0].first_item && pairs_[0].step_rank > 0;

  // A line that continues a wrapped Megatron record: its first segment completes the record's
  // unfinished last segment, when the break is visibly between two words.
  const bool continuation = had_pending && !starts_with_step && bars > 0;
  if (continuation) {
    pairs_.clear();
    if (pending_tail_ends_space_ || leading_space) {
      joined_.assign(pending_tail_);
      joined_.push_back(' ');
      joined_.append(segments_[0]);
      ParseSegment(joined_, /*first_of_line=*/false);
    }
  }
  const bool megatron = continuation || (starts_with_step && pairs_[0].has_total &&
                                         EqualsIgnoreCase(pairs_[0].key, "iteration"));
  size_t last = nseg;
  if (megatron && !ends_with_bar && nseg > 1) {
    // Megatron closes every record with '|'; without it the last segment is cut off and
    // waits for the next line.
    last = nseg - 1;
    pending_ = true;
    pending_step_ = continuation ? carried_step : pairs_[0].step;
    std::string_view tail = segments_.back();
    pending_tail_.assign(tail.data(), tail.size());
    pending_tail_ends_space_ = !tail.empty() && IsSpace(tail.back());
  }
  for (size_t k = 1; k < last; ++k) ParseSegment(segments_[k], /*first_of_line=*/false);

  int strong = 0, weak = 0;
  bool has_step = continuation, epoch_head = false, closed_epoch_head = false;
  for (const Pair& p : pairs_) {
    if (p.ignored) continue;
    if (p.step_rank > 0) {
      has_step = true;
    } else if (p.is_epoch && p.first_item && !p.strong) {
      epoch_head = true;
      closed_epoch_head = p.closed_head;
    } else if (p.strong) {
      ++strong;
    } else {
      ++weak;
    }
  }
  if (!has_step && bars >= 2 && HasMegatronMarker(s)) return false;  // a headless fragment
  bool accept = continuation ? strong + weak > 0
                             : strong >= 1 || (has_step && weak >= 1) ||
                                   (closed_epoch_head && weak >= 1) || (epoch_head && weak >= 2);
  if (!accept) return false;

  if (continuation) sink->OfferStep(StepKeyRank("iteration"), carried_step);
  pass_.clear();
  if (!repeats_.empty()) repeats_.clear();
  for (const Pair& p : pairs_) {
    if (p.ignored) continue;
    if (p.step_rank > 0) {
      sink->OfferStep(p.step_rank, p.step);
      continue;
    }
    BuildKey(p);
    if (key_.empty() || key_.size() > kMaxKeyLength) continue;
    if (sink->Has(key_)) {
      DistinctKey(sink);
    } else {
      size_t w = key_.find('_');
      std::string_view first = std::string_view(key_).substr(0, w);
      if (w != std::string::npos && IsPassWord(first)) pass_.assign(first.data(), first.size());
    }
    if (key_.size() > kMaxKeyLength) continue;
    sink->Add(key_, p.value);
  }
  return sink->size() > 0;
}

}  // namespace inloop::ingest
