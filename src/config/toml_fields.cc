// Typed assignment of flat TOML tables (see toml_fields.h).
#include "config/toml_fields.h"

#include <fmt/format.h>
#include <toml++/toml.h>

namespace inloop::config {
namespace {

Status Assign(const std::string& path, std::string_view section, const toml::node& node,
              const TomlField& f) {
  auto bad = [&](std::string_view want) {
    return Status::Invalid(
        fmt::format("{}: {}.{} must be {}", TomlWhere(path, node), section, f.name, want));
  };
  if (auto* pi = std::get_if<int*>(&f.target)) {
    auto v = node.value_exact<int64_t>();
    if (!v || *v < INT32_MIN || *v > INT32_MAX) return bad("an integer");
    **pi = static_cast<int>(*v);
  } else if (auto* pl = std::get_if<int64_t*>(&f.target)) {
    auto v = node.value_exact<int64_t>();
    if (!v) return bad("an integer");
    **pl = *v;
  } else if (auto* pd = std::get_if<double*>(&f.target)) {
    if (!node.is_number()) return bad("a number");
    **pd = *node.value<double>();
  } else if (auto* pb = std::get_if<bool*>(&f.target)) {
    auto v = node.value_exact<bool>();
    if (!v) return bad("true or false");
    **pb = *v;
  } else if (auto* pstr = std::get_if<std::string*>(&f.target)) {
    auto v = node.value_exact<std::string>();
    if (!v) return bad("a string");
    **pstr = std::move(*v);
  } else if (auto* ps = std::get_if<std::vector<std::string>*>(&f.target)) {
    const toml::array* arr = node.as_array();
    if (!arr) return bad("an array of strings");
    std::vector<std::string> list;
    for (const toml::node& el : *arr) {
      auto s = el.value_exact<std::string>();
      if (!s) {
        return Status::Invalid(fmt::format("{}: {}.{} must be an array of strings",
                                           TomlWhere(path, el), section, f.name));
      }
      list.push_back(std::move(*s));
    }
    **ps = std::move(list);
  }
  return Status::OK();
}

}  // namespace

std::string TomlWhere(const std::string& path, const toml::node& n) {
  const toml::source_region& src = n.source();
  return fmt::format("{}:{}:{}", path, src.begin.line, src.begin.column);
}

Status LoadTomlFields(const toml::table& table, const std::string& path, std::string_view section,
                      const std::vector<TomlField>& fields) {
  for (auto& [key, node] : table) {
    std::string_view name = key.str();
    const TomlField* f = nullptr;
    for (const TomlField& cand : fields) {
      if (cand.name == name) f = &cand;
    }
    if (f == nullptr) {
      std::string known;
      for (const TomlField& cand : fields) {
        known += known.empty() ? "" : ", ";
        known += cand.name;
      }
      return Status::Invalid(fmt::format("{}: unknown field '{}.{}' (known here: {})",
                                         TomlWhere(path, node), section, name, known));
    }
    INLOOP_RETURN_IF_ERROR(Assign(path, section, node, *f));
  }
  return Status::OK();
}

Status LocateTomlError(const Status& s, const toml::table& table, const std::string& path,
                       std::string_view section, const std::vector<TomlField>& fields) {
  if (s.ok()) return s;
  for (const TomlField& f : fields) {
    if (s.message().rfind(fmt::format("{}.{} ", section, f.name), 0) == 0) {
      if (const toml::node* n = table.get(f.name)) {
        return Status::Invalid(fmt::format("{}: {}", TomlWhere(path, *n), s.message()));
      }
    }
  }
  return Status::Invalid(fmt::format("{}: {}", path, s.message()));
}

}  // namespace inloop::config
