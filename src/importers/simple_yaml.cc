// The YAML subset reader: lines are classified once, then maps are read with an explicit stack
// of (indent, key prefix) so that hostile nesting cannot exhaust the call stack.
#include "importers/simple_yaml.h"

#include <fmt/format.h>

#include "common/utf8.h"
#include "importers/text_input.h"
#include "ingest/number_scan.h"

namespace inloop::importers {
namespace {

struct Line {
  int64_t no = 0;
  std::string_view raw;      // without the line end
  int indent = 0;            // leading spaces
  std::string_view content;  // after the indent, comment removed, trailing space trimmed
  bool bad_indent = false;   // a tab in the indentation
};

std::string_view RTrim(std::string_view s) {
  while (!s.empty() && ingest::IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Removes a comment: '#' at the start or after whitespace, outside quotes.
std::string_view StripComment(std::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if ((c == '"' || c == '\'') && (i == 0 || s[i - 1] == ' ' || s[i - 1] == ':' ||
                                           s[i - 1] == '[' || s[i - 1] == ',' ||
                                           s[i - 1] == '{' || s[i - 1] == '-')) {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return RTrim(s.substr(0, i));
    }
  }
  return RTrim(s);
}

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  text = StripBom(text);
  size_t i = 0;
  int64_t no = 0;
  while (i < text.size()) {
    size_t e = i;
    while (e < text.size() && text[e] != '\n' && text[e] != '\r') ++e;
    Line l;
    l.no = ++no;
    l.raw = text.substr(i, e - i);
    size_t k = 0;
    while (k < l.raw.size() && (l.raw[k] == ' ' || l.raw[k] == '\t')) {
      if (l.raw[k] == '\t') l.bad_indent = true;
      ++k;
    }
    l.indent = static_cast<int>(k);
    l.content = StripComment(l.raw.substr(k));
    lines.push_back(l);
    if (e < text.size() && text[e] == '\r' && e + 1 < text.size() && text[e + 1] == '\n') ++e;
    i = e + 1;
  }
  return lines;
}

bool IsListItem(std::string_view c) { return c == "-" || c.substr(0, 2) == "- "; }

// Reads a quoted scalar starting at s[0] (a quote). Sets *end past the closing quote; false when
// it does not close within `s`.
bool Unquote(std::string_view s, std::string* out, size_t* end) {
  out->clear();
  const char q = s[0];
  size_t i = 1;
  while (i < s.size()) {
    char c = s[i];
    if (q == '\'' && c == '\'') {
      if (i + 1 < s.size() && s[i + 1] == '\'') {
        out->push_back('\'');
        i += 2;
        continue;
      }
      *end = i + 1;
      return true;
    }
    if (q == '"' && c == '"') {
      *end = i + 1;
      return true;
    }
    if (q == '"' && c == '\\' && i + 1 < s.size()) {
      char e = s[i + 1];
      i += 2;
      size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      if (digits > 0) {
        uint32_t cp = 0;
        size_t k = 0;
        for (; k < digits && i + k < s.size(); ++k) {
          char h = ingest::ToLower(s[i + k]);
          if (ingest::IsDigit(h)) {
            cp = cp * 16 + static_cast<uint32_t>(h - '0');
          } else if (h >= 'a' && h <= 'f') {
            cp = cp * 16 + static_cast<uint32_t>(h - 'a' + 10);
          } else {
            break;
          }
        }
        if (k == digits) {
          AppendUtf8(out, cp);
          i += digits;
        }
        continue;
      }
      switch (e) {
        case 'n': out->push_back('\n'); break;
        case 't': out->push_back('\t'); break;
        case 'r': out->push_back('\r'); break;
        case '0': out->push_back('\0'); break;
        case ' ': out->push_back(' '); break;
        default: out->push_back(e);
      }
      continue;
    }
    out->push_back(c);
    ++i;
  }
  return false;
}

// Whether brackets in a flow collection balance (strings respected).
int FlowDepth(std::string_view s) {
  int depth = 0;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return depth;
}

// Splits "key: rest" (key plain or quoted). False when the line has no key.
bool SplitKey(std::string_view c, std::string* key, std::string_view* rest) {
  if (c.empty()) return false;
  size_t after;
  if (c[0] == '"' || c[0] == '\'') {
    size_t end;
    if (!Unquote(c, key, &end)) return false;
    after = end;
    while (after < c.size() && c[after] == ' ') ++after;
    if (after >= c.size() || c[after] != ':') return false;
  } else {
    size_t i = 0;
    for (; i < c.size(); ++i)
      if (c[i] == ':' && (i + 1 == c.size() || c[i + 1] == ' ')) break;
    if (i == c.size()) return false;
    *key = std::string(RTrim(c.substr(0, i)));
    after = i;
    if (key->empty() || (*key)[0] == '?' || (*key)[0] == '-' || (*key)[0] == '[' ||
        (*key)[0] == '{') {
      return false;
    }
  }
  *rest = ingest::TrimSpace(c.substr(after + 1));
  return true;
}

class Reader {
 public:
  Reader(std::string_view text, std::vector<YamlEntry>* entries,
         std::vector<YamlProblem>* problems)
      : lines_(SplitLines(text)), entries_(entries), problems_(problems) {}

  void Run() {
    // Stack of open maps: indent and key prefix. The top-level map's indent is the first line's.
    struct Level {
      int indent;
      std::string prefix;
    };
    std::vector<Level> stack;
    size_t i = 0;
    while ((i = NextSignificant(i)) < lines_.size()) {
      const Line& l = lines_[i];
      if (l.content == "---" || l.content.substr(0, 4) == "--- ") {
        if (seen_document_) {
          Problem(l.no, "a second YAML document; only the first is read");
          return;
        }
        seen_document_ = true;
        ++i;
        continue;
      }
      if (l.content == "...") return;
      seen_document_ = true;
      if (l.bad_indent) {
        Problem(l.no, "tab in indentation; line skipped");
        i = SkipChildren(i, l.indent);
        continue;
      }
      if (stack.empty()) stack.push_back({l.indent, ""});
      while (stack.size() > 1 && l.indent < stack.back().indent) stack.pop_back();
      if (l.indent != stack.back().indent) {
        Problem(l.no, l.indent > stack.back().indent
                          ? "unexpected indentation; line skipped"
                          : "indentation matches no enclosing key; line skipped");
        i = SkipChildren(i, l.indent);
        continue;
      }
      if (IsListItem(l.content)) {
        Problem(l.no, "a list item where a key was expected; skipped");
        i = SkipChildren(i, l.indent);
        continue;
      }
      std::string key;
      std::string_view rest;
      if (!SplitKey(l.content, &key, &rest)) {
        Problem(l.no, fmt::format("'{}' is not a 'key: value' line; skipped", Excerpt(l.content)));
        i = SkipChildren(i, l.indent);
        continue;
      }
      std::string full = stack.back().prefix.empty() ? key : stack.back().prefix + "/" + key;
      const int indent = l.indent;
      const int64_t no = l.no;
      ++i;
      if (!rest.empty() && (rest[0] == '&' || rest[0] == '*' || rest[0] == '!')) {
        Problem(no, fmt::format("'{}': YAML anchors, aliases and tags are not read; skipped",
                                Excerpt(full)));
        i = SkipChildren(i - 1, indent);
        continue;
      }
      if (rest.empty()) {
        size_t n = NextSignificant(i);
        if (n < lines_.size() && IsListItem(lines_[n].content) &&
            lines_[n].indent >= indent && !lines_[n].bad_indent) {
          i = BlockList(n, &full, no);
        } else if (n < lines_.size() && lines_[n].indent > indent) {
          stack.push_back({lines_[n].indent, full});
        } else {
          Emit(std::move(full), "", no);
        }
        continue;
      }
      std::string value;
      if (rest[0] == '|' || rest[0] == '>') {
        i = BlockScalar(i, indent, rest[0] == '|', &value);
      } else if (rest[0] == '"' || rest[0] == '\'') {
        i = Quoted(i, indent, rest, &value, no);
      } else if (rest[0] == '[' || rest[0] == '{') {
        value = std::string(rest);
        int depth = FlowDepth(rest);
        while (depth > 0 && (i = NextSignificant(i)) < lines_.size() &&
               lines_[i].indent > indent) {
          value += " ";
          value += lines_[i].content;
          depth += FlowDepth(lines_[i].content);
          ++i;
        }
        if (depth != 0) Problem(no, fmt::format("'{}': unbalanced brackets; read as text",
                                                Excerpt(full)));
      } else {
        value = std::string(rest);  // a plain scalar, maybe folded over more-indented lines
        size_t n;
        std::string k;
        std::string_view r;
        while ((n = NextSignificant(i)) < lines_.size() && lines_[n].indent > indent &&
               !lines_[n].bad_indent && !SplitKey(lines_[n].content, &k, &r)) {
          value += " ";
          value += lines_[n].content;
          i = n + 1;
        }
      }
      Emit(std::move(full), std::move(value), no);
    }
  }

 private:
  size_t NextSignificant(size_t i) const {
    while (i < lines_.size() && lines_[i].content.empty()) ++i;
    return i;
  }
  // The index after line i and every following line indented deeper than `indent`.
  size_t SkipChildren(size_t i, int indent) const {
    ++i;
    size_t n;
    while ((n = NextSignificant(i)) < lines_.size() && lines_[n].indent > indent) i = n + 1;
    return i;
  }
  void Problem(int64_t line, std::string message) {
    problems_->push_back(YamlProblem{line, std::move(message)});
  }
  void Emit(std::string key, std::string value, int64_t line) {
    entries_->push_back(YamlEntry{std::move(key), std::move(value), line});
  }

  // A block list whose first item is line i: scalars become "[a, b]", anything else its text.
  size_t BlockList(size_t i, std::string* key, int64_t key_line) {
    const int li = lines_[i].indent;
    std::vector<std::string_view> items;
    bool simple = true;
    size_t first = i, end = i;
    size_t n;
    while ((n = NextSignificant(end)) < lines_.size() && lines_[n].indent >= li &&
           (lines_[n].indent > li || IsListItem(lines_[n].content))) {
      const Line& l = lines_[n];
      if (l.indent > li) {
        simple = false;
      } else {
        std::string_view item = ingest::TrimSpace(l.content.substr(1));
        std::string k;
        std::string_view r;
        if (item.empty() || IsListItem(item) || SplitKey(item, &k, &r)) simple = false;
        items.push_back(item);
      }
      end = n + 1;
    }
    std::string value;
    if (simple) {
      value = "[";
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) value += ", ";
        value += items[k];
      }
      value += "]";
    } else {
      for (size_t k = first; k < end; ++k) {
        std::string_view raw = lines_[k].raw;
        if (RTrim(raw).empty()) continue;
        if (!value.empty()) value += "\n";
        value += raw.substr(std::min(raw.size(), static_cast<size_t>(li)));
      }
    }
    Emit(std::move(*key), std::move(value), key_line);
    return end;
  }

  size_t BlockScalar(size_t i, int indent, bool literal, std::string* value) {
    int block_indent = -1;
    std::string pending_blank;
    while (i < lines_.size()) {
      const Line& l = lines_[i];
      bool blank = RTrim(l.raw).empty();
      if (!blank && l.indent <= indent) break;
      if (blank) {
        pending_blank += "\n";
      } else {
        if (block_indent < 0) block_indent = l.indent;
        std::string_view body = l.raw.substr(std::min(l.raw.size(),
                                                      static_cast<size_t>(block_indent)));
        if (!value->empty()) *value += pending_blank.empty() ? (literal ? "\n" : " ")
                                                             : "\n" + pending_blank;
        pending_blank.clear();
        *value += RTrim(body);
      }
      ++i;
    }
    return i;
  }

  size_t Quoted(size_t i, int indent, std::string_view rest, std::string* value, int64_t no) {
    std::string text(rest);
    size_t end;
    while (!Unquote(text, value, &end)) {
      if (i >= lines_.size() || (!RTrim(lines_[i].raw).empty() && lines_[i].indent <= indent)) {
        Problem(no, "a quoted value is never closed; read up to the end of its lines");
        return i;
      }
      std::string_view more = ingest::TrimSpace(lines_[i].raw);
      text += more.empty() ? "\n" : " ";
      text += more;
      ++i;
    }
    return i;
  }

  std::vector<Line> lines_;
  std::vector<YamlEntry>* entries_;
  std::vector<YamlProblem>* problems_;
  bool seen_document_ = false;
};

}  // namespace

void ReadSimpleYaml(std::string_view text, std::vector<YamlEntry>* entries,
                    std::vector<YamlProblem>* problems) {
  Reader(text, entries, problems).Run();
}

}  // namespace inloop::importers
