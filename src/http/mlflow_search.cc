// runs/search's `filter` and `order_by` (mlflow_translate.h): a small tokenizer for MLflow's
// search grammar, the comparisons MLflow applies per entity type, and the sort.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "http/mlflow_translate.h"

namespace inloop::http::mlflow {
namespace {

using Entity = Clause::Entity;

bool BareKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void SkipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ >= s_.size();
  }
  char Peek() {
    SkipSpace();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  size_t pos() const { return i_; }
  bool Consume(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // A word of letters (keywords: AND, LIKE, IN, IS, NOT, NULL, ASC, DESC).
  std::string Word() {
    SkipSpace();
    size_t b = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return Upper(s_.substr(b, i_ - b));
  }
  bool Keyword(std::string_view kw) {
    size_t save = i_;
    std::string w = Word();
    bool boundary = i_ >= s_.size() || !BareKeyChar(s_[i_]);
    if (w == kw && boundary) return true;
    i_ = save;
    return false;
  }
  // A quoted text ('...', "..." or `...`); the quote is doubled or backslash-escaped inside.
  bool Quoted(std::string* out, std::string_view quotes) {
    SkipSpace();
    if (i_ >= s_.size() || quotes.find(s_[i_]) == std::string_view::npos) return false;
    char q = s_[i_++];
    out->clear();
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        out->push_back(s_[i_++]);
      } else if (c == q) {
        if (i_ < s_.size() && s_[i_] == q) {
          out->push_back(q);
          ++i_;
        } else {
          return true;
        }
      } else {
        out->push_back(c);
      }
    }
    return false;  // unterminated
  }
  // "metrics.KEY" etc.: the entity word, a '.', then a quoted or bare key.
  bool Identifier(std::string* entity, std::string* key) {
    SkipSpace();
    size_t b = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_'))
      ++i_;
    *entity = std::string(s_.substr(b, i_ - b));
    if (entity->empty()) return false;
    if (i_ >= s_.size() || s_[i_] != '.') {
      key->swap(*entity);  // no prefix: an attribute
      entity->clear();
      return true;
    }
    ++i_;
    if (i_ < s_.size() && (s_[i_] == '`' || s_[i_] == '"')) return Quoted(key, "`\"");
    b = i_;
    while (i_ < s_.size() && BareKeyChar(s_[i_])) ++i_;
    *key = std::string(s_.substr(b, i_ - b));
    return !key->empty();
  }
  std::string Operator() {
    SkipSpace();
    for (std::string_view op : {"!=", "<>", ">=", "<=", "=", ">", "<"}) {
      if (s_.substr(i_, op.size()) == op) {
        i_ += op.size();
        return op == "<>" ? "!=" : std::string(op);
      }
    }
    if (Keyword("LIKE")) return "LIKE";
    if (Keyword("ILIKE")) return "ILIKE";
    if (Keyword("IN")) return "IN";
    if (Keyword("IS")) {
      if (Keyword("NULL")) return "IS NULL";
      if (Keyword("NOT") && Keyword("NULL")) return "IS NOT NULL";
      return "";
    }
    return "";
  }
  bool Number(double* out) {
    SkipSpace();
    size_t b = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                              s_[i_] == '-' || s_[i_] == '+' || s_[i_] == 'e' || s_[i_] == 'E'))
      ++i_;
    if (b == i_) return false;
    auto [p, ec] = std::from_chars(s_.data() + b, s_.data() + i_, *out);
    return ec == std::errc() && p == s_.data() + i_;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

bool EntityOf(const std::string& word, Entity* out) {
  std::string w = Upper(word);
  if (w == "METRIC" || w == "METRICS")
    *out = Entity::kMetric;
  else if (w == "PARAM" || w == "PARAMS" || w == "PARAMETER" || w == "PARAMETERS")
    *out = Entity::kParam;
  else if (w == "TAG" || w == "TAGS")
    *out = Entity::kTag;
  else if (w == "ATTRIBUTE" || w == "ATTRIBUTES" || w == "ATTR" || w == "RUN" || w.empty())
    *out = Entity::kAttribute;
  else
    return false;
  return true;
}

bool NumericAttribute(std::string_view key) {
  return key == "start_time" || key == "end_time" || key == "created";
}

bool StringAttribute(std::string_view key) {
  return key == "status" || key == "run_name" || key == "run_id" || key == "user_id" ||
         key == "lifecycle_stage";
}

Status Bad(std::string_view filter, size_t pos, std::string_view what) {
  return Status::Invalid(fmt::format(
      "filter: {} at character {} of '{}' (supported: metrics.K <op> NUMBER, params.K / tags.K "
      "= != LIKE ILIKE 'TEXT', attributes.status / run_name / run_id / start_time / end_time; "
      "joined by AND)",
      what, pos, filter.substr(0, 200)));
}

Status ParseClause(Lexer& lx, std::string_view filter, Clause* c) {
  std::string entity;
  if (!lx.Identifier(&entity, &c->key)) return Bad(filter, lx.pos(), "expected an identifier");
  if (!EntityOf(entity, &c->entity)) {
    return Bad(filter, lx.pos(), fmt::format("unknown entity '{}'", entity.substr(0, 40)));
  }
  if (c->entity == Entity::kAttribute) {
    if (c->key == "created") c->key = "start_time";
    if (c->key == "name") c->key = "run_name";
    if (!NumericAttribute(c->key) && !StringAttribute(c->key)) {
      return Bad(filter, lx.pos(), fmt::format("unknown attribute '{}'", c->key.substr(0, 40)));
    }
  }
  c->op = lx.Operator();
  if (c->op.empty()) return Bad(filter, lx.pos(), "expected a comparison");
  if (c->op == "IS NULL" || c->op == "IS NOT NULL") {
    if (c->entity == Entity::kAttribute) return Bad(filter, lx.pos(), "IS NULL on an attribute");
    return Status::OK();
  }
  bool numeric =
      c->entity == Entity::kMetric || (c->entity == Entity::kAttribute && NumericAttribute(c->key));
  if (c->op == "IN") {
    if (c->entity != Entity::kAttribute || c->key != "run_id") {
      return Bad(filter, lx.pos(), "IN is supported for attributes.run_id only");
    }
    if (!lx.Consume('(')) return Bad(filter, lx.pos(), "expected '(' after IN");
    while (true) {
      std::string v;
      if (!lx.Quoted(&v, "'\"")) return Bad(filter, lx.pos(), "IN takes quoted strings");
      c->list.push_back(std::move(v));
      if (lx.Consume(')')) return Status::OK();
      if (!lx.Consume(',')) return Bad(filter, lx.pos(), "expected ',' or ')' in the IN list");
    }
  }
  if (numeric) {
    if (c->op == "LIKE" || c->op == "ILIKE") {
      return Bad(filter, lx.pos(), "LIKE compares text, not numbers");
    }
    if (!lx.Number(&c->number)) return Bad(filter, lx.pos(), "expected a number");
  } else {
    if (c->op == ">" || c->op == ">=" || c->op == "<" || c->op == "<=") {
      return Bad(filter, lx.pos(), "text compares with = != LIKE ILIKE");
    }
    if (!lx.Quoted(&c->text, "'\"")) return Bad(filter, lx.pos(), "expected a quoted string");
  }
  return Status::OK();
}

}  // namespace

Status ParseFilter(std::string_view filter, std::vector<Clause>* out) {
  out->clear();
  Lexer lx(filter);
  if (lx.AtEnd()) return Status::OK();
  while (true) {
    Clause c;
    INLOOP_RETURN_IF_ERROR(ParseClause(lx, filter, &c));
    out->push_back(std::move(c));
    if (lx.AtEnd()) return Status::OK();
    if (!lx.Keyword("AND")) return Bad(filter, lx.pos(), "expected AND (OR is not supported)");
  }
}

bool Like(std::string_view text, std::string_view pattern, bool fold) {
  auto eq = [fold](char a, char b) {
    if (!fold) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  };
  // Iterative wildcard match with backtracking to the last '%'.
  size_t t = 0, p = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && (pattern[p] == '_' || eq(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

namespace {

bool CompareNumber(double a, const std::string& op, double b) {
  if (op == "=") return a == b;
  if (op == "!=") return a != b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  return false;
}

bool CompareText(const std::string& a, const Clause& c) {
  if (c.op == "=") return a == c.text;
  if (c.op == "!=") return a != c.text;
  if (c.op == "LIKE") return Like(a, c.text, false);
  if (c.op == "ILIKE") return Like(a, c.text, true);
  if (c.op == "IN") return std::find(c.list.begin(), c.list.end(), a) != c.list.end();
  return false;
}

// A string attribute's value as MLflow shows it.
std::string TextAttribute(const RunView& r, std::string_view key) {
  if (key == "status") return MlflowStatus(r.status);
  if (key == "run_name") return r.run_name;
  if (key == "run_id") return r.run_id;
  if (key == "user_id") return r.user_id;
  return r.lifecycle;
}

bool MatchOne(const Clause& c, const RunView& r) {
  switch (c.entity) {
    case Entity::kMetric: {
      for (auto& m : r.metrics) {
        if (m.key != c.key) continue;
        if (c.op == "IS NULL") return false;
        if (c.op == "IS NOT NULL") return true;
        return CompareNumber(m.value, c.op, c.number);
      }
      return c.op == "IS NULL";
    }
    case Entity::kParam:
    case Entity::kTag: {
      const auto& kv = c.entity == Entity::kParam ? r.params : r.tags;
      auto it = kv.find(c.key);
      if (c.op == "IS NULL") return it == kv.end();
      if (c.op == "IS NOT NULL") return it != kv.end();
      return it != kv.end() && CompareText(it->second, c);
    }
    case Entity::kAttribute:
      if (c.key == "start_time") {
        return CompareNumber(static_cast<double>(r.start_time_ms), c.op, c.number);
      }
      if (c.key == "end_time") {
        return r.end_time_ms && CompareNumber(static_cast<double>(*r.end_time_ms), c.op, c.number);
      }
      return CompareText(TextAttribute(r, c.key), c);
  }
  return false;
}

}  // namespace

bool Matches(const std::vector<Clause>& clauses, const RunView& run) {
  for (auto& c : clauses) {
    if (!MatchOne(c, run)) return false;
  }
  return true;
}

Status ParseOrderBy(const std::vector<std::string>& items, std::vector<OrderKey>* out) {
  out->clear();
  for (auto& item : items) {
    Lexer lx(item);
    OrderKey k;
    std::string entity;
    if (!lx.Identifier(&entity, &k.key) || !EntityOf(entity, &k.entity)) {
      return Status::Invalid(fmt::format(
          "order_by '{}': expected metrics.KEY, params.KEY, tags.KEY or attributes.NAME, then "
          "ASC or DESC",
          item.substr(0, 200)));
    }
    if (k.entity == Entity::kAttribute) {
      if (k.key == "created") k.key = "start_time";
      if (k.key == "name") k.key = "run_name";
      if (!NumericAttribute(k.key) && !StringAttribute(k.key)) {
        return Status::Invalid(
            fmt::format("order_by '{}': unknown attribute '{}'", item.substr(0, 200), k.key));
      }
    }
    if (lx.Keyword("DESC")) {
      k.ascending = false;
    } else {
      lx.Keyword("ASC");
    }
    if (!lx.AtEnd()) {
      return Status::Invalid(
          fmt::format("order_by '{}': expected ASC or DESC after the key", item.substr(0, 200)));
    }
    out->push_back(std::move(k));
  }
  return Status::OK();
}

namespace {

// -1, 0, 1 comparing a and b on key k; a run without the key sorts after one with it.
int CompareOn(const OrderKey& k, const RunView& a, const RunView& b) {
  std::optional<double> na, nb;
  std::optional<std::string> ta, tb;
  auto metric = [&](const RunView& r) -> std::optional<double> {
    for (auto& m : r.metrics) {
      if (m.key == k.key) return m.value;
    }
    return std::nullopt;
  };
  auto label = [&](const RunView& r) -> std::optional<std::string> {
    const auto& kv = k.entity == Entity::kParam ? r.params : r.tags;
    auto it = kv.find(k.key);
    if (it == kv.end()) return std::nullopt;
    return it->second;
  };
  bool numeric = true;
  switch (k.entity) {
    case Entity::kMetric:
      na = metric(a), nb = metric(b);
      break;
    case Entity::kParam:
    case Entity::kTag:
      numeric = false;
      ta = label(a), tb = label(b);
      break;
    case Entity::kAttribute:
      if (k.key == "start_time") {
        na = static_cast<double>(a.start_time_ms), nb = static_cast<double>(b.start_time_ms);
      } else if (k.key == "end_time") {
        if (a.end_time_ms) na = static_cast<double>(*a.end_time_ms);
        if (b.end_time_ms) nb = static_cast<double>(*b.end_time_ms);
      } else {
        numeric = false;
        ta = TextAttribute(a, k.key), tb = TextAttribute(b, k.key);
      }
      break;
  }
  bool ha = numeric ? na.has_value() : ta.has_value();
  bool hb = numeric ? nb.has_value() : tb.has_value();
  if (!ha || !hb) return ha == hb ? 0 : (ha ? -1 : 1);
  int c = 0;
  if (numeric) {
    // NaN sorts after every number (as MLflow stores it: above +inf).
    bool nan_a = std::isnan(*na), nan_b = std::isnan(*nb);
    if (nan_a || nan_b)
      c = nan_a == nan_b ? 0 : (nan_a ? 1 : -1);
    else
      c = *na < *nb ? -1 : (*na > *nb ? 1 : 0);
  } else {
    c = ta->compare(*tb);
    c = c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return k.ascending ? c : -c;
}

}  // namespace

void SortRuns(const std::vector<OrderKey>& keys, std::vector<RunView>* runs) {
  std::stable_sort(runs->begin(), runs->end(), [&](const RunView& a, const RunView& b) {
    for (auto& k : keys) {
      int c = CompareOn(k, a, b);
      if (c != 0) return c < 0;
    }
    if (a.start_time_ms != b.start_time_ms) return a.start_time_ms > b.start_time_ms;
    return a.run_id < b.run_id;
  });
}

}  // namespace inloop::http::mlflow
