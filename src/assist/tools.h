// The assistant's tools: inloop's read verbs (list_runs, show_run, query_series, events, compare)
// and propose_action, each with a strict JSON schema, a description for the model and a handler
// over the store. A tool call's arguments are validated against its schema before the handler
// runs; a violation, an unknown tool or a handler error becomes an error result the model reads,
// never a crash. Results are JSON text, capped in size. Nothing here runs a command or opens a
// path the model names: the handlers read the store, and propose_action only records a pending
// action for `inloop approve/deny`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "assist/chat_client.h"
#include "common/status.h"
#include "store/store.h"

namespace inloop::assist {

struct SchemaProperty;

// A subset of JSON Schema, enough for tool arguments: typed values, enums, numeric bounds,
// objects with named properties (additionalProperties false), arrays of one item schema.
struct Schema {
  std::string type;  // "object", "string", "integer", "number", "boolean", "array"
  std::string description;
  std::vector<std::string> enum_values;  // strings only
  std::optional<double> minimum, maximum;
  std::optional<int64_t> max_length;  // strings
  std::optional<int64_t> max_items;   // arrays
  std::vector<SchemaProperty> properties;  // object
  std::vector<Schema> items;               // array: exactly one
};

struct SchemaProperty {
  std::string name;
  bool required = false;  // optional ones may be absent or null
  Schema schema;
};

// Schema builders, for registrations that read like the schema.
Schema StringArg(std::string description, std::vector<std::string> enum_values = {});
Schema IntegerArg(std::string description, std::optional<double> minimum = std::nullopt,
                  std::optional<double> maximum = std::nullopt);
Schema NumberArg(std::string description, std::optional<double> minimum = std::nullopt,
                 std::optional<double> maximum = std::nullopt);
Schema ObjectArg(std::string description, std::vector<SchemaProperty> properties);
Schema ArrayArg(std::string description, Schema items, std::optional<int64_t> max_items);

// The schema as JSON in the strict form OpenAI's structured outputs require and local servers
// (vLLM, llama.cpp) accept: every object lists all its properties in "required" and sets
// "additionalProperties": false; an optional property's type is [T, "null"].
std::string SchemaJson(const Schema& s);

// Checks a value against the schema: types (an integer-valued number is an integer), required
// properties, no other properties, enum values, bounds. Returns "" when valid, else one line
// naming the argument, e.g. "max_points: expected an integer, got a string".
std::string Validate(const Schema& s, simdjson::dom::element v, const std::string& path = "");

// Validated arguments of one call; a property that is absent or null reads as nullopt.
class ToolArgs {
 public:
  explicit ToolArgs(simdjson::dom::object o) : o_(o) {}
  std::optional<std::string> Str(std::string_view name) const;
  std::optional<int64_t> Int(std::string_view name) const;
  std::optional<double> Num(std::string_view name) const;
  std::optional<simdjson::dom::element> Get(std::string_view name) const;
  std::string Json() const;  // the arguments, re-serialized

 private:
  simdjson::dom::object o_;
};

// What a handler may use: the open store and the question's context.
struct ToolContext {
  store::Store* store = nullptr;
  std::string focus_run_id;  // --run, resolved; empty when none
  std::string model;         // for the record of a proposal
  std::string question;
  std::vector<int64_t> proposed_action_ids;  // filled by propose_action
};

// Fills *result with JSON text, or returns an error status whose message the model will read.
using ToolHandler = std::function<Status(ToolContext& ctx, const ToolArgs& args,
                                         std::string* result)>;

struct Tool {
  std::string name;
  std::string description;
  Schema parameters;  // type "object"
  ToolHandler handler;
};

// One executed call, as the transcript records it.
struct ToolOutcome {
  bool ok = false;
  std::string result;     // the text sent back as the tool message
  int64_t result_bytes = 0;  // before the cap
  bool truncated = false;
  std::string error;      // when !ok: why (also inside `result`)
};

class ToolRegistry {
 public:
  // Adding a tool is this one call; a later tool with the same name replaces the earlier one.
  void Register(Tool t);
  const std::vector<Tool>& tools() const { return tools_; }
  const Tool* Find(std::string_view name) const;
  std::vector<ToolSpec> Specs() const;

  // Parses and validates `arguments_json`, runs the handler, caps the result. Never throws; every
  // failure comes back as ok=false with result {"error": "..."}.
  ToolOutcome Call(ToolContext& ctx, std::string_view name, std::string_view arguments_json) const;

  size_t result_cap = 16 * 1024;  // bytes of a result sent back; longer ones are cut with a note

 private:
  std::vector<Tool> tools_;
};

// list_runs, show_run, query_series, events, compare, propose_action.
void RegisterInloopTools(ToolRegistry* r);

// The actions propose_action accepts: the remedy actions (remedy/policy.h) and config_change.
std::vector<std::string> ProposableActions();

}  // namespace inloop::assist
