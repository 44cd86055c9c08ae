// [data] parsing with toml++'s non-throwing accessors (the document is already parsed).
#include "config/data_section.h"

#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/toml_fields.h"

namespace inloop::config {
namespace {

Status Bad(const std::string& path, const toml::node& n, std::string_view what) {
  return Status::Invalid(fmt::format("{}: {}", TomlWhere(path, n), what));
}

Status Keys(const std::string& path, const toml::table& t, std::string_view section,
            const std::set<std::string>& known) {
  for (auto& [k, v] : t) {
    if (known.count(std::string(k.str()))) continue;
    std::string list;
    for (auto& s : known) list += (list.empty() ? "" : ", ") + s;
    return Bad(path, v, fmt::format("unknown field '{}.{}' (known here: {})", section, k.str(), list));
  }
  return Status::OK();
}

Status Strings(const std::string& path, const toml::node& n, std::string_view name,
               std::vector<std::string>* out) {
  const toml::array* arr = n.as_array();
  if (!arr) return Bad(path, n, fmt::format("{} must be an array of strings", name));
  for (const toml::node& el : *arr) {
    auto s = el.value_exact<std::string>();
    if (!s) return Bad(path, el, fmt::format("each {} entry must be a string", name));
    out->push_back(*s);
  }
  return Status::OK();
}

Status ParseSeverity(const std::string& path, const toml::node& n, std::string_view name,
                     data::Severity* out) {
  auto s = n.value_exact<std::string>();
  if (s && *s == "warn") {
    *out = data::Severity::kWarn;
  } else if (s && *s == "error") {
    *out = data::Severity::kError;
  } else {
    return Bad(path, n, fmt::format("{} must be \"warn\" or \"error\"", name));
  }
  return Status::OK();
}

Status Number(const std::string& path, const toml::node& n, std::string_view name,
              std::optional<double>* out) {
  if (!n.is_number()) return Bad(path, n, fmt::format("{} must be a number", name));
  *out = *n.value<double>();
  return Status::OK();
}

// A check: `true`, or an inline table of min/max/max_rate/field/threshold/severity.
Status ParseCheck(const std::string& path, const toml::node& n, const std::string& name,
                  data::Severity dflt, data::CheckSpec* c) {
  c->severity = dflt;
  if (auto b = n.value_exact<bool>()) {
    c->enabled = *b;
    return Status::OK();
  }
  const toml::table* t = n.as_table();
  if (!t) return Bad(path, n, fmt::format("{} must be true/false or a table", name));
  INLOOP_RETURN_IF_ERROR(
      Keys(path, *t, name, {"min", "max", "max_rate", "field", "threshold", "severity"}));
  c->enabled = true;
  if (auto* v = t->get("min")) INLOOP_RETURN_IF_ERROR(Number(path, *v, name + ".min", &c->min));
  if (auto* v = t->get("max")) INLOOP_RETURN_IF_ERROR(Number(path, *v, name + ".max", &c->max));
  if (auto* v = t->get("max_rate")) {
    INLOOP_RETURN_IF_ERROR(Number(path, *v, name + ".max_rate", &c->max_rate));
    if (*c->max_rate < 0 || *c->max_rate > 1) {
      return Bad(path, *v, fmt::format("{}.max_rate must be between 0 and 1", name));
    }
  }
  if (auto* v = t->get("field")) {
    auto s = v->value_exact<std::string>();
    if (!s || s->empty()) return Bad(path, *v, fmt::format("{}.field must be a field name", name));
    c->field = *s;
  }
  if (auto* v = t->get("threshold")) {
    std::optional<double> th;
    INLOOP_RETURN_IF_ERROR(Number(path, *v, name + ".threshold", &th));
    if (*th <= 0 || *th > 1) return Bad(path, *v, fmt::format("{}.threshold must be in (0, 1]", name));
    c->threshold = *th;
  }
  if (auto* v = t->get("severity")) {
    INLOOP_RETURN_IF_ERROR(ParseSeverity(path, *v, name + ".severity", &c->severity));
  }
  return Status::OK();
}

Status ParseDrift(const std::string& path, const toml::node& n, data::DriftSpec* d) {
  const toml::table* t = n.as_table();
  if (!t) return Bad(path, n, "validate.drift must be a table");
  INLOOP_RETURN_IF_ERROR(Keys(path, *t, "validate.drift",
                              {"numeric", "categorical", "max_effect", "alpha", "severity"}));
  d->enabled = true;
  if (auto* v = t->get("numeric")) INLOOP_RETURN_IF_ERROR(Strings(path, *v, "drift.numeric", &d->numeric));
  if (auto* v = t->get("categorical")) {
    INLOOP_RETURN_IF_ERROR(Strings(path, *v, "drift.categorical", &d->categorical));
  }
  std::optional<double> x;
  if (auto* v = t->get("max_effect")) {
    INLOOP_RETURN_IF_ERROR(Number(path, *v, "drift.max_effect", &x));
    d->max_effect = *x;
  }
  if (auto* v = t->get("alpha")) {
    INLOOP_RETURN_IF_ERROR(Number(path, *v, "drift.alpha", &x));
    if (*x <= 0 || *x >= 1) return Bad(path, *v, "drift.alpha must be in (0, 1)");
    d->alpha = *x;
  }
  if (auto* v = t->get("severity")) INLOOP_RETURN_IF_ERROR(ParseSeverity(path, *v, "drift.severity", &d->severity));
  return Status::OK();
}

const std::set<std::string> kTypes = {"string", "number", "integer", "bool", "array", "object", "any"};

Status ParseValidate(const std::string& path, const toml::table& t, const data::StepSpec& step,
                     data::ValidationSpec* v) {
  INLOOP_RETURN_IF_ERROR(Keys(path, t, "data.step.validate",
                              {"output", "format", "severity", "schema", "rows", "nulls", "empty",
                               "duplicates", "near_duplicates", "length", "drift", "dtype",
                               "vocab_size", "repeated_ngrams"}));
  if (auto* o = t.get("output")) {
    auto s = o->value_exact<std::string>();
    if (!s) return Bad(path, *o, "validate.output must be a string");
    v->output = *s;
  } else if (step.outputs.size() == 1) {
    v->output = step.outputs[0];
  } else {
    return Bad(path, t, fmt::format("step '{}' has {} outputs: say which one validate.output checks",
                                    step.name, step.outputs.size()));
  }
  bool known = false;
  for (auto& o : step.outputs) known |= (o == v->output);
  if (!known) {
    return Bad(path, t, fmt::format("validate.output '{}' is not an output of step '{}'", v->output,
                                    step.name));
  }
  if (auto* f = t.get("format")) {
    auto s = f->value_exact<std::string>();
    if (!s || (*s != "jsonl" && *s != "csv" && *s != "text" && *s != "tokens")) {
      return Bad(path, *f, "validate.format must be \"jsonl\", \"csv\", \"text\" or \"tokens\"");
    }
    v->format = *s;
  } else {
    const std::string& o = v->output;
    auto ends = [&](std::string_view e) { return o.size() >= e.size() && o.compare(o.size() - e.size(), e.size(), e) == 0; };
    v->format = ends(".jsonl") || ends(".ndjson") ? "jsonl" : ends(".csv") ? "csv"
                : ends(".bin") ? "tokens" : "text";
  }
  if (auto* s = t.get("severity")) INLOOP_RETURN_IF_ERROR(ParseSeverity(path, *s, "validate.severity", &v->severity));
  if (auto* s = t.get("schema")) {
    const toml::table* st = s->as_table();
    if (!st) return Bad(path, *s, "validate.schema must be a table of field = \"type\"");
    for (auto& [k, tv] : *st) {
      auto ty = tv.value_exact<std::string>();
      if (!ty || !kTypes.count(*ty)) {
        return Bad(path, tv, fmt::format("validate.schema.{} must be one of string, number, integer, "
                                         "bool, array, object, any", k.str()));
      }
      v->schema.emplace_back(std::string(k.str()), *ty);
    }
  }
  struct {
    const char* name;
    data::CheckSpec* c;
  } checks[] = {{"rows", &v->rows}, {"nulls", &v->nulls}, {"empty", &v->empty},
                {"duplicates", &v->duplicates}, {"near_duplicates", &v->near_duplicates},
                {"length", &v->length}, {"repeated_ngrams", &v->repeated_ngrams}};
  for (auto& c : checks) {
    if (auto* n = t.get(c.name)) {
      INLOOP_RETURN_IF_ERROR(ParseCheck(path, *n, std::string("validate.") + c.name, v->severity, c.c));
    }
  }
  if (auto* d = t.get("drift")) INLOOP_RETURN_IF_ERROR(ParseDrift(path, *d, &v->drift));
  if (auto* d = t.get("dtype")) {
    auto s = d->value_exact<std::string>();
    if (!s || (*s != "uint16" && *s != "uint32")) return Bad(path, *d, "validate.dtype must be \"uint16\" or \"uint32\"");
    v->dtype = *s;
  }
  if (auto* d = t.get("vocab_size")) {
    auto n = d->value_exact<int64_t>();
    if (!n || *n < 0) return Bad(path, *d, "validate.vocab_size must be a non-negative integer");
    v->vocab_size = *n;
  }
  return Status::OK();
}

Status ParseStep(const std::string& path, const toml::table& t, data::StepSpec* s) {
  INLOOP_RETURN_IF_ERROR(
      Keys(path, t, "data.step", {"name", "command", "inputs", "outputs", "env", "validate"}));
  auto name = t["name"].value_exact<std::string>();
  if (!name || name->empty() || name->find_first_of(" /\t\n") != std::string::npos) {
    return Bad(path, t, "each [[data.step]] needs a 'name' (no spaces or slashes)");
  }
  s->name = *name;
  const toml::node* cmd = t.get("command");
  if (!cmd) return Bad(path, t, fmt::format("data step '{}' needs a 'command' (an argv array)", s->name));
  INLOOP_RETURN_IF_ERROR(Strings(path, *cmd, "data.step.command", &s->command));
  if (s->command.empty()) return Bad(path, *cmd, "data.step.command must not be empty");
  if (auto* v = t.get("inputs")) INLOOP_RETURN_IF_ERROR(Strings(path, *v, "data.step.inputs", &s->inputs));
  if (auto* v = t.get("outputs")) INLOOP_RETURN_IF_ERROR(Strings(path, *v, "data.step.outputs", &s->outputs));
  if (s->outputs.empty()) return Bad(path, t, fmt::format("data step '{}' needs at least one output", s->name));
  if (auto* v = t.get("env")) INLOOP_RETURN_IF_ERROR(Strings(path, *v, "data.step.env", &s->env));
  if (auto* v = t.get("validate")) {
    const toml::array* arr = v->as_array();
    if (!arr) return Bad(path, *v, "data.step.validate must be an array of tables ([[data.step.validate]])");
    for (auto& el : *arr) {
      const toml::table* vt = el.as_table();
      if (!vt) return Bad(path, el, "each data.step.validate entry must be a table");
      data::ValidationSpec vs;
      INLOOP_RETURN_IF_ERROR(ParseValidate(path, *vt, *s, &vs));
      s->validate.push_back(std::move(vs));
    }
  }
  return Status::OK();
}

}  // namespace

Status LoadDataSection(const toml::table& data, const std::string& path, data::PipelineSpec* out) {
  INLOOP_RETURN_IF_ERROR(Keys(path, data, "data", {"step", "executor", "slurm"}));
  if (const toml::node* e = data.get("executor")) {
    auto v = e->value_exact<std::string>();
    if (!v || (*v != "local" && *v != "slurm")) return Bad(path, *e, "data.executor must be \"local\" or \"slurm\"");
    out->executor = *v;
  }
  if (const toml::node* sl = data.get("slurm")) {
    const toml::table* t = sl->as_table();
    if (!t) return Bad(path, *sl, "data.slurm must be a table ([data.slurm])");
    INLOOP_RETURN_IF_ERROR(Keys(path, *t, "data.slurm", {"partition", "time"}));
    for (auto [key, field] : {std::pair{"partition", &out->slurm_partition}, std::pair{"time", &out->slurm_time}}) {
      const toml::node* n = t->get(key);
      if (!n) continue;
      auto v = n->value_exact<std::string>();
      if (!v) return Bad(path, *n, fmt::format("data.slurm.{} must be a string", key));
      *field = *v;
    }
  }
  const toml::node* steps = data.get("step");
  if (!steps) return Status::OK();
  const toml::array* arr = steps->as_array();
  if (!arr) return Bad(path, *steps, "data.step must be an array of tables ([[data.step]])");
  std::set<std::string> names;
  for (auto& el : *arr) {
    const toml::table* t = el.as_table();
    if (!t) return Bad(path, el, "each data.step entry must be a table");
    data::StepSpec s;
    INLOOP_RETURN_IF_ERROR(ParseStep(path, *t, &s));
    if (!names.insert(s.name).second) {
      return Bad(path, el, fmt::format("two data steps are named '{}': names must be unique", s.name));
    }
    out->steps.push_back(std::move(s));
  }
  return Status::OK();
}

}  // namespace inloop::config
