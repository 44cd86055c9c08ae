// JsonMetrics: simdjson On-Demand walk over one object, and the tolerant scanner for Python
// dict prints and JSON with bare NaN/Infinity. Both emit through the same rules (EmitNumber).
#include "ingest/json_metrics.h"

#include <simdjson.h>

#include <cstring>
#include <utility>

#include "common/utf8.h"
#include "ingest/number_scan.h"

namespace inloop::ingest {
namespace {

// Nested objects deeper than this are skipped (bounds recursion on hostile input).
constexpr int kMaxDepth = 32;
// Longer objects go to the tolerant scanner, which needs no buffers sized to the line.
constexpr size_t kMaxStrictBytes = 64 * 1024;

void EmitNumber(MetricSink* sink, std::string_view key, int depth, double v) {
  if (depth == 0) {
    int rank = StepKeyRank(key);
    int64_t step = 0;
    if (rank > 0) {  // a step key is never a metric; a fractional or negative one is dropped
      if (AsStep(v, &step)) sink->OfferStep(rank, step);
      return;
    }
  }
  sink->Add(key, v);
}

bool ValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool HasControlChar(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// Appends the key segment to the path in *key; false when the result would be unusable.
// `utf8_checked`: simdjson has already validated the whole document.
bool PushKey(std::string* key, size_t prefix_len, std::string_view part, bool utf8_checked) {
  if (part.empty() || prefix_len + 1 + part.size() > kMaxKeyLength || HasControlChar(part) ||
      (!utf8_checked && !ValidUtf8(part))) {
    return false;
  }
  key->resize(prefix_len);
  if (prefix_len > 0) key->push_back('/');
  key->append(part.data(), part.size());
  return true;
}

bool WalkStrict(simdjson::ondemand::object obj, int depth, std::string* key, MetricSink* sink) {
  const size_t prefix_len = key->size();
  for (auto field_or : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_or).get(field) != simdjson::SUCCESS) return false;
    std::string_view k;
    if (field.unescaped_key().get(k) != simdjson::SUCCESS) return false;
    simdjson::ondemand::value value = field.value();
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    if (!PushKey(key, prefix_len, k, /*utf8_checked=*/true))
      continue;  // the value is skipped by the iterator
    switch (type) {
      case simdjson::ondemand::json_type::number: {
        double v;
        if (value.get_double().get(v) != simdjson::SUCCESS) return false;
        EmitNumber(sink, *key, depth, v);
        break;
      }
      case simdjson::ondemand::json_type::string: {
        std::string_view s;
        if (value.get_string().get(s) != simdjson::SUCCESS) return false;
        double v;
        if (ParseNumericString(s, &v)) EmitNumber(sink, *key, depth, v);
        break;
      }
      case simdjson::ondemand::json_type::object: {
        if (depth + 1 >= kMaxDepth) break;
        simdjson::ondemand::object child;
        if (value.get_object().get(child) != simdjson::SUCCESS) return false;
        if (!WalkStrict(child, depth + 1, key, sink)) return false;
        break;
      }
      default:  // arrays, booleans, null
        break;
    }
  }
  key->resize(prefix_len);
  return true;
}

bool IsScalarWrapper(std::string_view ident) {
  size_t dot = ident.rfind('.');
  if (dot != std::string_view::npos) ident = ident.substr(dot + 1);
  static constexpr std::string_view kNames[] = {
      "tensor", "float", "int",   "float16", "float32", "float64", "bfloat16",
      "int8",   "int16", "int32", "int64",   "uint8",   "array",   "Tensor"};
  for (std::string_view n : kNames) {
    if (ident == n) return true;
  }
  return false;
}

bool ReadHex(std::string_view s, size_t i, size_t digits, uint32_t* v) {
  if (i + digits > s.size()) return false;
  uint32_t r = 0;
  for (size_t k = 0; k < digits; ++k) {
    char c = s[i + k];
    uint32_t d;
    if (IsDigit(c)) {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    r = r * 16 + d;
  }
  *v = r;
  return true;
}

// Decodes the escapes of a JSON or Python string body. Unknown escapes are kept verbatim
// (Python's rule); a lone surrogate becomes U+FFFD.
void DecodeEscapes(std::string_view raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out->push_back(c);
      continue;
    }
    char e = raw[++i];
    uint32_t cp;
    switch (e) {
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case '"':
      case '\'':
      case '\\':
      case '/':
        out->push_back(e);
        break;
      case 'x':
        if (ReadHex(raw, i + 1, 2, &cp)) {
          AppendUtf8(out, cp);
          i += 2;
        } else {
          out->append("\\x");
        }
        break;
      case 'u':
        if (ReadHex(raw, i + 1, 4, &cp)) {
          i += 4;
          uint32_t lo;
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < raw.size() && raw[i + 1] == '\\' &&
              raw[i + 2] == 'u' && ReadHex(raw, i + 3, 4, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          AppendUtf8(out, cp);
        } else {
          out->append("\\u");
        }
        break;
      default:
        out->push_back('\\');
        out->push_back(e);
    }
  }
}

}  // namespace

bool IsUsableJsonKey(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKeyLength && !HasControlChar(key) && ValidUtf8(key);
}

struct JsonMetrics::Strict {
  simdjson::ondemand::parser parser;
  std::string buf;  // the object, copied with simdjson's padding after it
};

// The tolerant grammar: objects of key/value pairs where keys are quoted (either quote) or bare
// identifiers, values are objects, arrays/tuples (skipped), strings, numbers including
// NaN/Infinity/nan/inf, bare words (True/None/null: skipped) and calls such as tensor(2.31, ...)
// whose first argument is a number. Trailing commas are accepted.
class JsonMetrics::Loose {
 public:
  Loose(std::string_view s, std::string* key, std::string* decoded, MetricSink* sink)
      : s_(s), key_(key), decoded_(decoded), sink_(sink) {}

  bool Run() {
    key_->clear();
    SkipWs();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    if (!Object(0)) return false;
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() && IsSpace(s_[i_])) ++i_;
  }

  bool AtValueEnd() const {
    if (i_ >= s_.size()) return true;
    char c = s_[i_];
    return IsSpace(c) || c == ',' || c == '}' || c == ']' || c == ')';
  }

  // At a quote: sets *body to the text between the quotes.
  bool String(std::string_view* body, bool* escaped) {
    char q = s_[i_];
    size_t b = ++i_;
    *escaped = false;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\') {
        *escaped = true;
        i_ += 2;
        continue;
      }
      if (c == q) {
        *body = s_.substr(b, i_ - b);
        ++i_;
        return true;
      }
      ++i_;
    }
    return false;
  }

  // Skips one value of any kind, iteratively (no recursion on deep input).
  bool Skip() {
    int depth = 0;
    do {
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == '"' || c == '\'') {
        std::string_view body;
        bool escaped;
        if (!String(&body, &escaped)) return false;
      } else if (c == '{' || c == '[' || c == '(') {
        ++depth;
        ++i_;
      } else if (c == '}' || c == ']' || c == ')') {
        if (depth == 0) return false;
        --depth;
        ++i_;
      } else if (depth == 0) {
        size_t b = i_;
        while (!AtValueEnd()) ++i_;
        return i_ > b;
      } else {
        ++i_;
      }
    } while (depth > 0);
    return true;
  }

  bool Object(int depth) {
    ++i_;  // '{'
    const size_t prefix_len = key_->size();
    for (;;) {
      SkipWs();
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == '}') {
        ++i_;
        key_->resize(prefix_len);
        return true;
      }
      std::string_view k;
      if (c == '"' || c == '\'') {
        bool escaped;
        if (!String(&k, &escaped)) return false;
        if (escaped) {
          DecodeEscapes(k, decoded_);
          k = *decoded_;
        }
      } else if (IsAlpha(c) || c == '_') {
        size_t b = i_;
        while (i_ < s_.size() && (IsAlnum(s_[i_]) || s_[i_] == '_')) ++i_;
        k = s_.substr(b, i_ - b);
      } else if (IsDigit(c) || c == '-') {  // {1: ...}: not a name
        while (i_ < s_.size() && s_[i_] != ':' && !IsSpace(s_[i_])) ++i_;
        k = std::string_view();
      } else {
        return false;
      }
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != ':') return false;
      ++i_;
      SkipWs();
      if (i_ >= s_.size()) return false;
      bool usable = PushKey(key_, prefix_len, k, /*utf8_checked=*/false);
      if (!Value(depth, usable)) return false;
      key_->resize(prefix_len);
      SkipWs();
      if (i_ >= s_.size()) return false;
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == '}') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  // A value for the path in *key_ (meaningful only when `usable`).
  bool Value(int depth, bool usable) {
    char c = s_[i_];
    if (c == '{') {
      if (usable && depth + 1 < kMaxDepth) return Object(depth + 1);
      return Skip();
    }
    if (c == '[' || c == '(') return Skip();
    if (c == '"' || c == '\'') {
      std::string_view body;
      bool escaped;
      if (!String(&body, &escaped)) return false;
      double v;
      if (usable && !escaped && ParseNumericString(body, &v)) EmitNumber(sink_, *key_, depth, v);
      return true;
    }
    double v = 0;
    size_t len = ScanNumber(s_.substr(i_), &v, /*allow_groups=*/false);
    if (len > 0) {
      i_ += len;
      if (!AtValueEnd()) return false;
      if (usable) EmitNumber(sink_, *key_, depth, v);
      return true;
    }
    if (!IsAlpha(c) && c != '_') return false;
    size_t b = i_;
    while (i_ < s_.size() && (IsAlnum(s_[i_]) || s_[i_] == '_' || s_[i_] == '.')) ++i_;
    std::string_view ident = s_.substr(b, i_ - b);
    if (i_ < s_.size() && s_[i_] == '(') {
      bool found = false;
      if (IsScalarWrapper(ident)) {
        size_t j = i_ + 1;
        while (j < s_.size() && IsSpace(s_[j])) ++j;
        len = ScanNumber(s_.substr(j), &v, /*allow_groups=*/false);
        if (len > 0) {
          j += len;
          while (j < s_.size() && IsSpace(s_[j])) ++j;
          found = j < s_.size() && (s_[j] == ',' || s_[j] == ')');
        }
      }
      if (!Skip()) return false;  // the argument list
      if (found && usable) EmitNumber(sink_, *key_, depth, v);
      return true;
    }
    return AtValueEnd();  // True, False, None, null, ...: not metrics
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string* key_;
  std::string* decoded_;
  MetricSink* sink_;
};

JsonMetrics::JsonMetrics() : strict_(std::make_unique<Strict>()) {}
JsonMetrics::~JsonMetrics() = default;

bool JsonMetrics::ParseStrict(std::string_view object, MetricSink* sink) {
  if (object.size() > kMaxStrictBytes) return false;
  std::string& buf = strict_->buf;
  const size_t need = object.size() + simdjson::SIMDJSON_PADDING;
  if (buf.size() < need) buf.resize(need);
  std::memcpy(buf.data(), object.data(), object.size());
  simdjson::ondemand::document doc;
  if (strict_->parser.iterate(buf.data(), object.size(), buf.size()).get(doc) !=
      simdjson::SUCCESS) {
    return false;
  }
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  key_.clear();
  if (!WalkStrict(obj, 0, &key_, sink)) return false;
  // Anything after the object ("{...} {...}") makes it something other than one object.
  const char* rest = nullptr;
  return doc.current_location().get(rest) != simdjson::SUCCESS;
}

bool JsonMetrics::ParseLoose(std::string_view object, MetricSink* sink) {
  Loose loose(object, &key_, &decoded_, sink);
  return loose.Run();
}

bool JsonMetrics::Parse(std::string_view object, MetricSink* sink) {
  size_t i = 1;
  while (i < object.size() && IsSpace(object[i])) ++i;
  const bool json_like = i < object.size() && (object[i] == '"' || object[i] == '}');
  if (json_like && object.size() <= kMaxStrictBytes) {
    if (ParseStrict(object, sink)) return true;
    sink->Reset();
  }
  if (ParseLoose(object, sink)) return true;
  sink->Reset();
  return false;
}

}  // namespace inloop::ingest
