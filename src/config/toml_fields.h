// TomlFields: typed assignment of a flat TOML table to a struct's fields, for the config tables
// that are a list of scalars ([detect], [remedy]). A table maps field names to pointers; Load
// rejects unknown names and wrong types with path:line:col and the dotted field name. Only
// non-throwing toml++ calls (the table is already parsed), so no exception leaves it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace toml {
inline namespace v3 {
class table;
class node;
}  // namespace v3
}  // namespace toml

namespace inloop::config {

struct TomlField {
  std::string_view name;
  std::variant<int*, int64_t*, double*, bool*, std::string*, std::vector<std::string>*> target;
};

// "path:line:col" of a node.
std::string TomlWhere(const std::string& path, const toml::node& n);

// Assigns every key of `table` to its field; `section` is the table's name in messages
// ("detect" -> "detect.spike_z"). Unknown keys list the known ones.
Status LoadTomlFields(const toml::table& table, const std::string& path, std::string_view section,
                      const std::vector<TomlField>& fields);

// Turns a validation error that starts with "<section>.<field> " into one naming the line of the
// field in `table` when it was set there, else the file.
Status LocateTomlError(const Status& s, const toml::table& table, const std::string& path,
                       std::string_view section, const std::vector<TomlField>& fields);

}  // namespace inloop::config
