// A small recursive-descent JSON reader for W&B values (see wandb_json.h); depth-bounded.
#include "importers/wandb_json.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "common/utf8.h"
#include "ingest/number_scan.h"

namespace inloop::importers {

bool ScanWandbJsonNumber(std::string_view s, size_t* pos, double* v) {
  size_t i = *pos;
  auto Word = [&](std::string_view w) {
    if (s.substr(i, w.size()) != w) return false;
    i += w.size();
    return true;
  };
  size_t b = i;
  bool neg = i < s.size() && s[i] == '-';
  if (neg) ++i;
  if (Word("Infinity")) {
    *v = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    *pos = i;
    return true;
  }
  if (!neg && Word("NaN")) {
    *v = std::numeric_limits<double>::quiet_NaN();
    *pos = i;
    return true;
  }
  size_t digits = i;
  while (i < s.size() && ingest::IsDigit(s[i])) ++i;
  if (i == digits) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t f = i;
    while (i < s.size() && ingest::IsDigit(s[i])) ++i;
    if (i == f) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t x = i;
    while (i < s.size() && ingest::IsDigit(s[i])) ++i;
    if (i == x) return false;
  }
  auto r = std::from_chars(s.data() + b, s.data() + i, *v);
  if (r.ec == std::errc::result_out_of_range) {
    // Past double's range: an overflow is an infinity, an underflow zero.
    bool big = false;
    for (size_t k = b; k < i && s[k] != 'e' && s[k] != 'E'; ++k)
      if (s[k] >= '1' && s[k] <= '9') big = true;
    size_t e = s.find_first_of("eE", b);
    bool tiny = e != std::string_view::npos && e < i && e + 1 < i && s[e + 1] == '-';
    double mag = big && !tiny ? std::numeric_limits<double>::infinity() : 0.0;
    *v = neg ? -mag : mag;
    *pos = i;
    return true;
  }
  *pos = i;
  return r.ec == std::errc() && r.ptr == s.data() + i;
}

namespace {

class Parser {
 public:
  Parser(std::string_view s, std::vector<WandbJsonLeaf>* out) : s_(s), out_(out) {}

  bool Top(std::string_view prefix) {
    std::string path(prefix);
    if (!Value(&path, 0)) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  void Ws() {
    while (i_ < s_.size() && ingest::IsSpace(s_[i_])) ++i_;
  }
  bool Eat(char c) {
    Ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (i_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return false;
      *v = *v << 4 | static_cast<uint32_t>(d);
    }
    return true;
  }

  // At '"': the decoded string into *out (may be null to only skip).
  bool String(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      char e = s_[i_++];
      char plain = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
                   : e == 'f' ? '\f' : (e == '"' || e == '\\' || e == '/') ? e : 0;
      if (plain != 0) {
        if (out) out->push_back(plain);
        continue;
      }
      if (e != 'u') return false;
      uint32_t cp;
      if (!Hex4(&cp)) return false;
      if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(i_, 2) == "\\u") {
        size_t save = i_;
        i_ += 2;
        uint32_t lo;
        if (Hex4(&lo) && lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else {
          i_ = save;
        }
      }
      if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // a lone surrogate
      if (out) AppendUtf8(out, cp);
    }
    return false;
  }

  bool Number(double* v) { return ScanWandbJsonNumber(s_, &i_, v); }

  // Moves past one value, checking its grammar.
  bool Skip(int depth) {
    if (depth > kWandbJsonMaxDepth) return false;
    Ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') return String(nullptr);
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      if (Eat(close)) return true;
      for (;;) {
        if (c == '{') {
          Ws();
          if (!String(nullptr) || !Eat(':')) return false;
        }
        if (!Skip(depth + 1)) return false;
        if (Eat(close)) return true;
        if (!Eat(',')) return false;
      }
    }
    if (Word("true") || Word("false") || Word("null")) return true;
    double v;
    return Number(&v);
  }

  // At '{': whether the object has a string "_type" member (its value into *type). Leaves i_.
  bool MediaType(int depth, std::string* type) {
    size_t save = i_;
    bool found = false;
    ++i_;
    if (!Eat('}')) {
      for (;;) {
        Ws();
        std::string key;
        if (!String(&key) || !Eat(':')) break;
        Ws();
        if (key == "_type" && i_ < s_.size() && s_[i_] == '"') {
          type->clear();
          if (!String(type)) break;
          found = true;
        } else if (!Skip(depth + 1)) {
          break;
        }
        if (Eat('}') || !Eat(',')) break;
      }
    }
    i_ = save;
    return found;
  }

  void Leaf(const std::string& path, WandbJsonKind kind, double number, std::string text) {
    out_->push_back(WandbJsonLeaf{path, kind, number, std::move(text)});
  }

  bool Value(std::string* path, int depth) {
    if (depth > kWandbJsonMaxDepth) return false;
    Ws();
    if (i_ >= s_.size()) return false;
    size_t b = i_;
    char c = s_[i_];
    if (c == '"') {
      std::string str;
      if (!String(&str)) return false;
      Leaf(*path, WandbJsonKind::kString, 0, std::move(str));
      return true;
    }
    if (c == '[') {
      if (!Skip(depth)) return false;
      Leaf(*path, WandbJsonKind::kArray, 0, std::string(s_.substr(b, i_ - b)));
      return true;
    }
    if (c == '{') return Object(path, depth);
    if (Word("true") || Word("false")) {
      Leaf(*path, WandbJsonKind::kBool, s_[b] == 't' ? 1 : 0, std::string(s_.substr(b, i_ - b)));
      return true;
    }
    if (Word("null")) {
      Leaf(*path, WandbJsonKind::kNull, 0, "null");
      return true;
    }
    double v;
    if (!Number(&v)) return false;
    Leaf(*path, WandbJsonKind::kNumber, v, std::string(s_.substr(b, i_ - b)));
    return true;
  }

  bool Object(std::string* path, int depth) {
    size_t b = i_;
    std::string type;
    if (MediaType(depth, &type)) {
      if (!Skip(depth)) return false;
      Leaf(*path, WandbJsonKind::kMedia, 0, std::move(type));
      return true;
    }
    ++i_;
    if (Eat('}')) {
      Leaf(*path, WandbJsonKind::kEmptyObject, 0, std::string(s_.substr(b, i_ - b)));
      return true;
    }
    const size_t base = path->size();
    for (;;) {
      Ws();
      std::string key;
      if (!String(&key) || !Eat(':')) return false;
      if (base > 0) path->push_back('.');
      path->append(key);
      bool ok = Value(path, depth + 1);
      path->resize(base);
      if (!ok) return false;
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::vector<WandbJsonLeaf>* out_;
};

}  // namespace

bool FlattenWandbJson(std::string_view json, std::string_view prefix,
                      std::vector<WandbJsonLeaf>* out) {
  Parser p(json, out);
  return p.Top(prefix);
}

std::string WandbJsonKindName(const WandbJsonLeaf& leaf) {
  switch (leaf.kind) {
    case WandbJsonKind::kNumber: return "number";
    case WandbJsonKind::kBool: return "bool";
    case WandbJsonKind::kString: return "string";
    case WandbJsonKind::kNull: return "null";
    case WandbJsonKind::kArray: return "list";
    case WandbJsonKind::kMedia: return "dict:" + leaf.text;
    case WandbJsonKind::kEmptyObject: return "dict";
  }
  return "?";
}

std::string WandbJsonParamText(const WandbJsonLeaf& leaf) {
  if (leaf.kind == WandbJsonKind::kMedia) return "<" + leaf.text + ">";
  return leaf.text;
}

}  // namespace inloop::importers
