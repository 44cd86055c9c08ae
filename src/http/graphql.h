// The small part of GraphQL that W&B's clients need from a server (wandb_api.h): a request
// document parsed into its operation's selection tree (aliases, arguments with variables
// substituted, inline fragments and named fragment spreads expanded), and an answer written as
// GraphQL does, by projecting a value onto the selection (each selected field under its alias,
// fields the value lacks as null, lists element by element). No schema and no type checks: the
// server decides per root field what it answers. Pure: unit-tested in
// tests/http/graphql_test.cc and fuzzed (fuzz/wandb_api_fuzz.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"

namespace inloop::http::graphql {

// Bounds on what one request may make the parser build (a fragment spread many times over, or
// nested deeply, must not exhaust memory or stack).
inline constexpr int kMaxDepth = 32;
inline constexpr size_t kMaxFields = 20000;
// Bytes of argument values (variables substituted) all fields together may hold.
inline constexpr size_t kMaxArgumentBytes = 64u << 20;

struct Member;

// A GraphQL (or JSON) value: arguments, variables, and the values an answer is projected from.
struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;                                   // kString, kEnum (its name)
  std::vector<Value> list;                            // kList
  std::vector<Member> fields;                         // kObject, in order

  // Out of line (graphql.cc), where Member is complete.
  Value();
  ~Value();
  Value(const Value&);
  Value(Value&&) noexcept;
  Value& operator=(const Value&);
  Value& operator=(Value&&) noexcept;

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Number(double d);
  static Value String(std::string s);
  static Value Object();
  static Value List();
  // Object members: Set replaces a member of that name or appends one; Get is null when absent.
  Value& Set(std::string name, Value v);
  const Value* Get(std::string_view name) const;
  bool is_null() const { return kind == Kind::kNull; }
  // The text of a kString, else "" (for optional string arguments).
  std::string_view StringOr(std::string_view fallback) const;
};

// An object's member (a struct rather than std::pair: Value holds a list of them).
struct Member {
  std::string name;
  Value value;
};

// The JSON text `json` as a Value (numbers as doubles). Invalid for text that is not JSON.
Status ValueOfJson(std::string_view json, Value* out);
// Writes v as JSON (an enum as its name in a string).
void WriteValue(const Value& v, JsonWriter* w);

struct Field {
  std::string alias;  // the key of the answer: the alias, or the name
  std::string name;
  std::vector<std::pair<std::string, Value>> args;
  std::vector<Field> selection;  // empty for a leaf
  const Value* Arg(std::string_view arg_name) const;
};

struct Operation {
  std::string type = "query";  // "query", "mutation" or "subscription"
  std::string name;            // "" for an anonymous operation
  std::vector<Field> selection;
};

// Parses `document`, picks the operation named `operation_name` (or the only one when that is
// empty) and substitutes `variables` (an object, or null for none; a variable that is not given
// takes its declared default, else null). Invalid with one line naming what is wrong.
Status Parse(std::string_view document, std::string_view operation_name, const Value& variables,
             Operation* out);

// Writes `v` projected onto `selection`: an object with one member per selected field (alias as
// key), each the value's member of the field's name projected onto the field's own selection
// (null when the value has no such member); a list projects each element; with an empty
// selection the value is written whole.
void Project(const Value& v, const std::vector<Field>& selection, JsonWriter* w);

}  // namespace inloop::http::graphql
