// GraphQL request documents and projected answers (graphql.h).
#include "http/graphql.h"

#include <cmath>
#include <map>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

namespace inloop::http::graphql {
namespace {

bool NameStart(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

std::string Short(std::string_view s) { return std::string(s.substr(0, 60)); }

// Appends code point cp as UTF-8.
void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A fragment definition: its selection, still unexpanded (as parsed).
struct RawField {
  std::string alias, name;
  std::vector<std::pair<std::string, Value>> args;  // variables as kEnum named "$NAME"
  std::vector<RawField> selection;
  std::string spread;  // "...Name": the fragment's name (name/alias empty)
  bool inline_fragment = false;  // "... on T { }": selection only
};

struct RawOperation {
  std::string type, name;
  std::vector<std::pair<std::string, Value>> defaults;  // variable -> default value
  std::vector<RawField> selection;
};

class Parser {
 public:
  explicit Parser(std::string_view doc) : s_(doc) {}

  Status Document(std::vector<RawOperation>* ops, std::map<std::string, RawField>* fragments) {
    Skip();
    if (pos_ >= s_.size()) return Fail("the document is empty");
    while (pos_ < s_.size()) {
      if (Peek('{')) {
        RawOperation op;
        op.type = "query";
        INLOOP_RETURN_IF_ERROR(Selection(0, &op.selection));
        ops->push_back(std::move(op));
      } else {
        std::string word;
        INLOOP_RETURN_IF_ERROR(Name(&word));
        if (word == "fragment") {
          RawField f;
          std::string name;
          INLOOP_RETURN_IF_ERROR(Name(&name));
          std::string on, type;
          INLOOP_RETURN_IF_ERROR(Name(&on));
          INLOOP_RETURN_IF_ERROR(Name(&type));
          INLOOP_RETURN_IF_ERROR(Directives());
          INLOOP_RETURN_IF_ERROR(Selection(0, &f.selection));
          (*fragments)[name] = std::move(f);
        } else if (word == "query" || word == "mutation" || word == "subscription") {
          RawOperation op;
          op.type = word;
          if (pos_ < s_.size() && NameStart(s_[pos_])) INLOOP_RETURN_IF_ERROR(Name(&op.name));
          if (Eat('(')) INLOOP_RETURN_IF_ERROR(VariableDefinitions(&op.defaults));
          INLOOP_RETURN_IF_ERROR(Directives());
          INLOOP_RETURN_IF_ERROR(Selection(0, &op.selection));
          ops->push_back(std::move(op));
        } else {
          return Fail(fmt::format("'{}' does not start a query, mutation or fragment", Short(word)));
        }
      }
    }
    return Status::OK();
  }

 private:
  Status Fail(std::string_view what) const {
    return Status::Invalid(fmt::format("GraphQL document: {} (at byte {})", what, pos_));
  }

  // White space, commas, comments and a byte order mark.
  void Skip() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else if (s_.substr(pos_, 3) == "\xEF\xBB\xBF") {
        pos_ += 3;
      } else {
        break;
      }
    }
  }
  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  bool Eat(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    Skip();
    return true;
  }
  Status Expect(char c) {
    if (Eat(c)) return Status::OK();
    return Fail(fmt::format("expected '{}'", c));
  }
  Status Name(std::string* out) {
    if (pos_ >= s_.size() || !NameStart(s_[pos_])) return Fail("expected a name");
    size_t b = pos_;
    while (pos_ < s_.size() && NameChar(s_[pos_])) ++pos_;
    *out = std::string(s_.substr(b, pos_ - b));
    Skip();
    return Status::OK();
  }

  // ($a: T = default, ...)
  Status VariableDefinitions(std::vector<std::pair<std::string, Value>>* defaults) {
    while (!Eat(')')) {
      if (pos_ >= s_.size()) return Fail("unterminated variable definitions");
      INLOOP_RETURN_IF_ERROR(Expect('$'));
      std::string name;
      INLOOP_RETURN_IF_ERROR(Name(&name));
      INLOOP_RETURN_IF_ERROR(Expect(':'));
      INLOOP_RETURN_IF_ERROR(Type(0));
      if (Eat('=')) {
        Value v;
        INLOOP_RETURN_IF_ERROR(ValueLiteral(0, &v));
        defaults->emplace_back(name, std::move(v));
      }
      INLOOP_RETURN_IF_ERROR(Directives());
    }
    return Status::OK();
  }
  Status Type(int depth) {
    if (depth > kMaxDepth) return Fail("a type nested too deeply");
    if (Eat('[')) {
      INLOOP_RETURN_IF_ERROR(Type(depth + 1));
      INLOOP_RETURN_IF_ERROR(Expect(']'));
    } else {
      std::string name;
      INLOOP_RETURN_IF_ERROR(Name(&name));
    }
    Eat('!');
    return Status::OK();
  }
  // @name(args) ... : read and ignored.
  Status Directives() {
    while (Eat('@')) {
      std::string name;
      INLOOP_RETURN_IF_ERROR(Name(&name));
      std::vector<std::pair<std::string, Value>> ignored;
      if (Eat('(')) INLOOP_RETURN_IF_ERROR(Arguments(0, &ignored));
    }
    return Status::OK();
  }
  Status Arguments(int depth, std::vector<std::pair<std::string, Value>>* out) {
    while (!Eat(')')) {
      if (pos_ >= s_.size()) return Fail("unterminated arguments");
      std::string name;
      INLOOP_RETURN_IF_ERROR(Name(&name));
      INLOOP_RETURN_IF_ERROR(Expect(':'));
      Value v;
      INLOOP_RETURN_IF_ERROR(ValueLiteral(depth + 1, &v));
      out->emplace_back(std::move(name), std::move(v));
    }
    return Status::OK();
  }

  Status Selection(int depth, std::vector<RawField>* out) {
    if (depth > kMaxDepth) return Fail("selections nested too deeply");
    INLOOP_RETURN_IF_ERROR(Expect('{'));
    while (!Eat('}')) {
      if (pos_ >= s_.size()) return Fail("unterminated selection set");
      RawField f;
      if (s_.substr(pos_, 3) == "...") {
        pos_ += 3;
        Skip();
        std::string word;
        if (Peek('{') || Peek('@')) {
          word.clear();
        } else {
          INLOOP_RETURN_IF_ERROR(Name(&word));
        }
        if (word.empty() || word == "on") {
          if (word == "on") {
            std::string type;
            INLOOP_RETURN_IF_ERROR(Name(&type));
          }
          INLOOP_RETURN_IF_ERROR(Directives());
          f.inline_fragment = true;
          INLOOP_RETURN_IF_ERROR(Selection(depth + 1, &f.selection));
        } else {
          f.spread = word;
          INLOOP_RETURN_IF_ERROR(Directives());
        }
      } else {
        INLOOP_RETURN_IF_ERROR(Name(&f.name));
        if (Eat(':')) {
          f.alias = std::move(f.name);
          INLOOP_RETURN_IF_ERROR(Name(&f.name));
        }
        if (Eat('(')) INLOOP_RETURN_IF_ERROR(Arguments(depth, &f.args));
        INLOOP_RETURN_IF_ERROR(Directives());
        if (Peek('{')) INLOOP_RETURN_IF_ERROR(Selection(depth + 1, &f.selection));
      }
      out->push_back(std::move(f));
    }
    return Status::OK();
  }

  Status StringLiteral(std::string* out) {
    if (s_.substr(pos_, 3) == "\"\"\"") {  // a block string: raw up to the closing """
      size_t end = s_.find("\"\"\"", pos_ + 3);
      if (end == std::string_view::npos) return Fail("unterminated block string");
      *out = std::string(s_.substr(pos_ + 3, end - pos_ - 3));
      pos_ = end + 3;
      Skip();
      return Status::OK();
    }
    ++pos_;  // the opening quote
    out->clear();
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') return Fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') break;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return Fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return Fail("a bad \\u escape");
          uint32_t cp = 0;
          for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
            else return Fail("a bad \\u escape");
          }
          AppendUtf8(out, cp);
          break;
        }
        default: return Fail("a bad escape in a string");
      }
    }
    Skip();
    return Status::OK();
  }

  Status ValueLiteral(int depth, Value* out) {
    if (depth > kMaxDepth) return Fail("a value nested too deeply");
    if (pos_ >= s_.size()) return Fail("expected a value");
    char c = s_[pos_];
    if (c == '$') {
      ++pos_;
      std::string name;
      INLOOP_RETURN_IF_ERROR(Name(&name));
      out->kind = Value::Kind::kEnum;
      out->text = "$" + name;  // substituted later
      return Status::OK();
    }
    if (c == '"') {
      out->kind = Value::Kind::kString;
      return StringLiteral(&out->text);
    }
    if (c == '[') {
      Eat('[');
      *out = Value::List();
      while (!Eat(']')) {
        if (pos_ >= s_.size()) return Fail("unterminated list");
        Value v;
        INLOOP_RETURN_IF_ERROR(ValueLiteral(depth + 1, &v));
        out->list.push_back(std::move(v));
      }
      return Status::OK();
    }
    if (c == '{') {
      Eat('{');
      *out = Value::Object();
      while (!Eat('}')) {
        if (pos_ >= s_.size()) return Fail("unterminated object");
        std::string name;
        INLOOP_RETURN_IF_ERROR(Name(&name));
        INLOOP_RETURN_IF_ERROR(Expect(':'));
        Value v;
        INLOOP_RETURN_IF_ERROR(ValueLiteral(depth + 1, &v));
        out->fields.push_back(Member{std::move(name), std::move(v)});
      }
      return Status::OK();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t b = pos_;
      ++pos_;
      while (pos_ < s_.size() && (NameChar(s_[pos_]) || s_[pos_] == '.' || s_[pos_] == '+' ||
                                  s_[pos_] == '-')) {
        ++pos_;
      }
      std::string text(s_.substr(b, pos_ - b));
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size() || !std::isfinite(d)) return Fail("a bad number");
      *out = Value::Number(d);
      Skip();
      return Status::OK();
    }
    std::string name;
    INLOOP_RETURN_IF_ERROR(Name(&name));
    if (name == "true" || name == "false") *out = Value::Bool(name == "true");
    else if (name == "null") *out = Value::Null();
    else {
      out->kind = Value::Kind::kEnum;
      out->text = name;
    }
    return Status::OK();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

class Expander {
 public:
  Expander(const std::map<std::string, RawField>& fragments, const Value& variables,
           const std::vector<std::pair<std::string, Value>>& defaults)
      : fragments_(fragments), variables_(variables), defaults_(defaults) {}

  // Expands `raw` into *out; `index` finds a field of *out by its key (fragments add to the same
  // selection, so they share it).
  Status Expand(const std::vector<RawField>& raw, int depth, std::vector<Field>* out,
                std::unordered_map<std::string, size_t>* index) {
    if (depth > kMaxDepth) {
      return Status::Invalid("GraphQL document: fragments nested too deeply (or a cycle)");
    }
    for (const RawField& r : raw) {
      if (r.inline_fragment) {
        INLOOP_RETURN_IF_ERROR(Expand(r.selection, depth + 1, out, index));
        continue;
      }
      if (!r.spread.empty()) {
        auto it = fragments_.find(r.spread);
        if (it == fragments_.end()) {
          return Status::Invalid(
              fmt::format("GraphQL document: unknown fragment '{}'", Short(r.spread)));
        }
        INLOOP_RETURN_IF_ERROR(Expand(it->second.selection, depth + 1, out, index));
        continue;
      }
      if (++fields_ > kMaxFields) {
        return Status::Invalid(
            fmt::format("GraphQL document: more than {} fields once fragments are expanded",
                        kMaxFields));
      }
      Field f;
      f.name = r.name;
      f.alias = r.alias.empty() ? r.name : r.alias;
      for (const auto& [name, v] : r.args) {
        // A large variable (or literal) repeated through fragments must not multiply memory.
        arg_bytes_ += SizeOf(v);
        if (arg_bytes_ > kMaxArgumentBytes) {
          return Status::Invalid(fmt::format(
              "GraphQL document: arguments of more than {} MiB once variables are substituted",
              kMaxArgumentBytes >> 20));
        }
        f.args.emplace_back(name, Substitute(v));
      }
      std::unordered_map<std::string, size_t> sub_index;
      INLOOP_RETURN_IF_ERROR(Expand(r.selection, depth + 1, &f.selection, &sub_index));
      // Two selections of one key (a field asked twice, or again through a fragment) merge.
      auto [it, fresh] = index->emplace(f.alias, out->size());
      if (fresh) {
        out->push_back(std::move(f));
      } else {
        Field& same = (*out)[it->second];
        for (Field& sub : f.selection) same.selection.push_back(std::move(sub));
      }
    }
    return Status::OK();
  }

 private:
  // The bytes `v` holds once substituted (strings and names, and a few per value). Stops counting
  // past the limit, so that it never walks much more than it would copy.
  const Value* VariableOf(const Value& v) const {
    if (v.kind != Value::Kind::kEnum || v.text.empty() || v.text[0] != '$') return nullptr;
    std::string_view name = std::string_view(v.text).substr(1);
    if (const Value* given = variables_.Get(name)) return given;
    for (const auto& [n, d] : defaults_) {
      if (n == name) return &d;
    }
    return nullptr;
  }
  size_t SizeOf(const Value& v) const {
    if (v.kind == Value::Kind::kEnum && !v.text.empty() && v.text[0] == '$') {
      const Value* bound = VariableOf(v);
      return bound == nullptr ? 16 : SizeOf(*bound);
    }
    size_t n = 16 + v.text.size();
    for (const Value& e : v.list) {
      if (n > kMaxArgumentBytes) break;
      n += SizeOf(e);
    }
    for (const auto& [name, e] : v.fields) {
      if (n > kMaxArgumentBytes) break;
      n += name.size() + SizeOf(e);
    }
    return n;
  }
  Value Substitute(const Value& v) const {
    if (v.kind == Value::Kind::kEnum && !v.text.empty() && v.text[0] == '$') {
      const Value* bound = VariableOf(v);
      return bound == nullptr ? Value::Null() : *bound;
    }
    Value out = v;
    for (auto& e : out.list) e = Substitute(e);
    for (auto& [n, e] : out.fields) e = Substitute(e);
    return out;
  }

  const std::map<std::string, RawField>& fragments_;
  const Value& variables_;
  const std::vector<std::pair<std::string, Value>>& defaults_;
  size_t fields_ = 0;
  size_t arg_bytes_ = 0;
};

Status FromJson(simdjson::dom::element e, int depth, Value* out) {
  if (depth > kMaxDepth * 2) return Status::Invalid("JSON nested too deeply");
  simdjson::dom::array arr;
  simdjson::dom::object obj;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view str;
  bool b = false;
  if (!e.get(arr)) {
    *out = Value::List();
    for (simdjson::dom::element x : arr) {
      Value v;
      INLOOP_RETURN_IF_ERROR(FromJson(x, depth + 1, &v));
      out->list.push_back(std::move(v));
    }
  } else if (!e.get(obj)) {
    *out = Value::Object();
    for (simdjson::dom::key_value_pair field : obj) {
      Value v;
      INLOOP_RETURN_IF_ERROR(FromJson(field.value, depth + 1, &v));
      out->fields.push_back(Member{std::string(field.key), std::move(v)});
    }
  } else if (!e.get(i)) {
    *out = Value::Number(static_cast<double>(i));
  } else if (!e.get(u)) {
    *out = Value::Number(static_cast<double>(u));
  } else if (!e.get(d)) {
    *out = Value::Number(d);
  } else if (!e.get(str)) {
    *out = Value::String(std::string(str));
  } else if (!e.get(b)) {
    *out = Value::Bool(b);
  } else {
    *out = Value::Null();
  }
  return Status::OK();
}

}  // namespace

Value::Value() = default;
Value::~Value() = default;
Value::Value(const Value&) = default;
Value::Value(Value&&) noexcept = default;
Value& Value::operator=(const Value&) = default;
Value& Value::operator=(Value&&) noexcept = default;

Value Value::Object() {
  Value v;
  v.kind = Kind::kObject;
  return v;
}

Value Value::List() {
  Value v;
  v.kind = Kind::kList;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind = Kind::kBool;
  v.boolean = b;
  return v;
}

Value Value::Number(double d) {
  Value v;
  v.kind = Kind::kNumber;
  v.number = d;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind = Kind::kString;
  v.text = std::move(s);
  return v;
}

Value& Value::Set(std::string name, Value v) {
  for (auto& [n, e] : fields) {
    if (n == name) {
      e = std::move(v);
      return e;
    }
  }
  fields.push_back(Member{std::move(name), std::move(v)});
  return fields.back().value;
}

const Value* Value::Get(std::string_view name) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [n, e] : fields) {
    if (n == name) return &e;
  }
  return nullptr;
}

std::string_view Value::StringOr(std::string_view fallback) const {
  return kind == Kind::kString ? std::string_view(text) : fallback;
}

const Value* Field::Arg(std::string_view arg_name) const {
  for (const auto& [n, v] : args) {
    if (n == arg_name) return &v;
  }
  return nullptr;
}

Status ValueOfJson(std::string_view json, Value* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return Status::Invalid("not JSON");
  return FromJson(doc, 0, out);
}

void WriteValue(const Value& v, JsonWriter* w) {
  switch (v.kind) {
    case Value::Kind::kNull: w->Null(); return;
    case Value::Kind::kBool: w->Bool(v.boolean); return;
    case Value::Kind::kNumber: w->Number(v.number); return;
    case Value::Kind::kString:
    case Value::Kind::kEnum: w->String(v.text); return;
    case Value::Kind::kList:
      w->BeginArray();
      for (const Value& e : v.list) WriteValue(e, w);
      w->EndArray();
      return;
    case Value::Kind::kObject:
      w->BeginObject();
      for (const auto& [n, e] : v.fields) {
        w->Key(n);
        WriteValue(e, w);
      }
      w->EndObject();
      return;
  }
}

Status Parse(std::string_view document, std::string_view operation_name, const Value& variables,
             Operation* out) {
  std::vector<RawOperation> ops;
  std::map<std::string, RawField> fragments;
  Parser p(document);
  INLOOP_RETURN_IF_ERROR(p.Document(&ops, &fragments));
  const RawOperation* op = nullptr;
  for (const RawOperation& o : ops) {
    if (operation_name.empty() ? ops.size() == 1 : o.name == operation_name) op = &o;
  }
  if (op == nullptr) {
    if (ops.empty()) return Status::Invalid("GraphQL document: no operation in it");
    if (operation_name.empty()) {
      return Status::Invalid(
          "GraphQL document: several operations and no operationName to choose one");
    }
    return Status::Invalid(fmt::format("GraphQL document: no operation named '{}'",
                                       Short(operation_name)));
  }
  out->type = op->type;
  out->name = op->name;
  out->selection.clear();
  Expander x(fragments, variables, op->defaults);
  std::unordered_map<std::string, size_t> index;
  return x.Expand(op->selection, 0, &out->selection, &index);
}

void Project(const Value& v, const std::vector<Field>& selection, JsonWriter* w) {
  if (selection.empty()) {
    WriteValue(v, w);
    return;
  }
  if (v.kind == Value::Kind::kList) {
    w->BeginArray();
    for (const Value& e : v.list) Project(e, selection, w);
    w->EndArray();
    return;
  }
  if (v.kind != Value::Kind::kObject) {
    w->Null();
    return;
  }
  w->BeginObject();
  for (const Field& f : selection) {
    w->Key(f.alias);
    const Value* member = v.Get(f.name);
    if (member == nullptr) {
      w->Null();
    } else {
      Project(*member, f.selection, w);
    }
  }
  w->EndObject();
}

}  // namespace inloop::http::graphql
