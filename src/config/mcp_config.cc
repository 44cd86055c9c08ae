// [mcp] parsing with toml++ (non-throwing calls only: the table is already parsed).
#include "config/mcp_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/toml_fields.h"

namespace inloop::config {

Status LoadMcpConfig(const toml::table& t, const std::string& path, McpConfig* out) {
  for (auto& [k, v] : t) {
    std::string key(k.str());
    if (key != "allowed_commands" && key != "max_concurrent_runs" && key != "max_budget_s") {
      return Status::Invalid(fmt::format(
          "{}: unknown field 'mcp.{}' (known here: allowed_commands, max_budget_s, "
          "max_concurrent_runs)", TomlWhere(path, v), key));
    }
  }
  if (auto* n = t.get("allowed_commands")) {
    const char* shape = "mcp.allowed_commands must be an array of argv prefixes, e.g. "
                        "[[\"python3\", \"train.py\"]]";
    auto* arr = n->as_array();
    if (!arr) return Status::Invalid(fmt::format("{}: {}", TomlWhere(path, *n), shape));
    for (auto& el : *arr) {
      auto* prefix = el.as_array();
      if (!prefix || prefix->empty()) {
        return Status::Invalid(fmt::format("{}: {}", TomlWhere(path, el), shape));
      }
      std::vector<std::string> argv;
      for (auto& a : *prefix) {
        auto s = a.value<std::string>();
        if (!s || s->empty()) {
          return Status::Invalid(fmt::format("{}: each element of an mcp.allowed_commands prefix "
                                             "is a non-empty string", TomlWhere(path, a)));
        }
        argv.push_back(*s);
      }
      out->allowed_commands.push_back(std::move(argv));
    }
  }
  if (auto* n = t.get("max_concurrent_runs")) {
    auto v = n->value<int64_t>();
    if (!v || *v < 1 || *v > 1000) {
      return Status::Invalid(fmt::format("{}: mcp.max_concurrent_runs must be an integer from 1 "
                                         "to 1000", TomlWhere(path, *n)));
    }
    out->max_concurrent_runs = static_cast<int>(*v);
  }
  if (auto* n = t.get("max_budget_s")) {
    auto v = n->value<int64_t>();
    if (!v || *v < 1) {
      return Status::Invalid(fmt::format("{}: mcp.max_budget_s must be a positive integer of "
                                         "seconds", TomlWhere(path, *n)));
    }
    out->max_budget_s = *v;
  }
  return Status::OK();
}

}  // namespace inloop::config
