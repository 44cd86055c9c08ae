// inloop.toml parsing with toml++. Debian's toml++ is a compiled library built with exceptions,
// so its parse_error is caught here and turned into a Status: no exception leaves this file.
#include "config/config.h"

#include <sys/stat.h>

#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/data_section.h"
#include "config/toml_fields.h"
#include "supervise/rank_link.h"

namespace inloop::config {
namespace {

Status CheckKeys(const std::string& path, const toml::table& t, const std::string& prefix,
                 const std::set<std::string>& known) {
  for (auto& [k, v] : t) {
    if (!known.count(std::string(k.str()))) {
      std::string list;
      for (auto& s : known) list += (list.empty() ? "" : ", ") + s;
      return Status::Invalid(fmt::format("{}: unknown field '{}{}' (known here: {})",
                                         TomlWhere(path, v), prefix, k.str(), list));
    }
  }
  return Status::OK();
}

Status LoadAudit(const std::string& path, const toml::table& a, Config* out) {
  INLOOP_RETURN_IF_ERROR(CheckKeys(path, a, "audit.", {"policy", "allow"}));
  if (auto* p = a.get("policy")) {
    auto v = p->value<std::string>();
    if (!v || (*v != "off" && *v != "warn" && *v != "ask" && *v != "block")) {
      return Status::Invalid(fmt::format("{}: audit.policy must be \"off\", \"warn\", \"ask\" or "
                                         "\"block\"", TomlWhere(path, *p)));
    }
    out->audit_policy = *v;
  }
  if (auto* l = a.get("allow")) {
    auto* arr = l->as_array();
    if (!arr) {
      return Status::Invalid(fmt::format("{}: audit.allow must be an array of \"MODULE.NAME\" strings",
                                         TomlWhere(path, *l)));
    }
    for (auto& el : *arr) {
      auto v = el.value<std::string>();
      if (!v || v->find('.') == std::string::npos) {
        return Status::Invalid(fmt::format("{}: each audit.allow entry is \"MODULE.NAME\" or "
                                           "\"MODULE.*\"", TomlWhere(path, el)));
      }
      out->audit_allow.push_back(*v);
    }
  }
  return Status::OK();
}

}  // namespace

Status LoadConfig(const std::string& path, Config* out) {
  *out = Config{};
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) {
    return Status::NotFound(fmt::format("{}: config file not found", path));
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    return Status::Invalid(fmt::format("{}:{}:{}: {}", path, err.source().begin.line,
                                       err.source().begin.column, err.description()));
  }
  out->path = path;
  INLOOP_RETURN_IF_ERROR(
      CheckKeys(path, root, "", {"run", "parse", "store", "detect", "remedy", "audit", "data",
                                 "mcp"}));
  if (auto* d = root["data"].as_table()) INLOOP_RETURN_IF_ERROR(LoadDataSection(*d, path, &out->data));
  if (auto* m = root["mcp"].as_table()) INLOOP_RETURN_IF_ERROR(LoadMcpConfig(*m, path, &out->mcp));
  if (auto* a = root["audit"].as_table()) INLOOP_RETURN_IF_ERROR(LoadAudit(path, *a, out));
  if (auto* run = root["run"].as_table()) {
    INLOOP_RETURN_IF_ERROR(CheckKeys(path, *run, "run.", {"grace_seconds", "ranks_listen"}));
    if (auto* l = run->get("ranks_listen")) {
      auto v = l->value<std::string>();
      Status ls = v ? supervise::ParseRanksListen(*v, &out->ranks_listen)
                    : Status::Invalid("run.ranks_listen must be a string");
      if (!ls.ok()) return Status::Invalid(fmt::format("{}: {}", TomlWhere(path, *l), ls.message()));
    }
    if (auto* g = run->get("grace_seconds")) {
      auto v = g->value<double>();
      if (!v || *v < 0) {
        return Status::Invalid(fmt::format(
            "{}: run.grace_seconds must be a non-negative number of seconds", TomlWhere(path, *g)));
      }
      out->grace_seconds = *v;
    }
  }
  if (auto* d = root["detect"].as_table()) {
    INLOOP_RETURN_IF_ERROR(detect::LoadDetectConfig(*d, path, &out->detect));
  }
  if (auto* r = root["remedy"].as_table()) {
    INLOOP_RETURN_IF_ERROR(remedy::LoadRemedyConfig(*r, path, &out->remedy));
  }
  if (auto* st = root["store"].as_table()) {
    INLOOP_RETURN_IF_ERROR(CheckKeys(path, *st, "store.", {"dir"}));
    if (auto* d = st->get("dir")) {
      auto v = d->value<std::string>();
      if (!v) return Status::Invalid(fmt::format("{}: store.dir must be a string", TomlWhere(path, *d)));
      out->store = *v;
    }
  }
  if (auto* parse = root["parse"].as_table()) {
    INLOOP_RETURN_IF_ERROR(CheckKeys(path, *parse, "parse.", {"patterns", "lines_with_sdk"}));
    if (auto* l = parse->get("lines_with_sdk")) {
      auto v = l->value<bool>();
      if (!v) {
        return Status::Invalid(fmt::format("{}: parse.lines_with_sdk must be true or false",
                                           TomlWhere(path, *l)));
      }
      out->parse_lines_with_sdk = *v;
    }
    if (auto* pats = parse->get("patterns")) {
      auto* arr = pats->as_array();
      if (!arr) {
        return Status::Invalid(fmt::format(
            "{}: parse.patterns must be an array of tables ([[parse.patterns]])", TomlWhere(path, *pats)));
      }
      for (auto& el : *arr) {
        auto* t = el.as_table();
        if (!t) return Status::Invalid(fmt::format("{}: each parse.patterns entry must be a table", TomlWhere(path, el)));
        INLOOP_RETURN_IF_ERROR(CheckKeys(path, *t, "parse.patterns.", {"name", "regex"}));
        auto re = (*t)["regex"].value<std::string>();
        if (!re) {
          return Status::Invalid(fmt::format("{}: parse.patterns entry needs a string 'regex'", TomlWhere(path, el)));
        }
        ingest::CustomPattern p;
        p.regex = *re;
        p.name = (*t)["name"].value_or(fmt::format("pattern{}", out->patterns.size() + 1));
        out->patterns.push_back(std::move(p));
      }
    }
  }
  return Status::OK();
}

Status ResolveConfig(const std::string& explicit_path, Config* out) {
  if (!explicit_path.empty()) return LoadConfig(explicit_path, out);
  struct stat sb;
  if (::stat("inloop.toml", &sb) == 0) return LoadConfig("inloop.toml", out);
  *out = Config{};
  return Status::OK();
}

}  // namespace inloop::config
