// Profiles as JSON, and the drift checks over two of them.
#include "data/profile.h"

#include <cmath>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "stats/two_sample.h"

namespace inloop::data {

Status SaveProfile(const std::string& path, const Profile& p) {
  JsonWriter w;
  w.BeginObject().Key("rows").Int(p.rows).Key("numeric").BeginObject();
  for (auto& [k, r] : p.numeric) {
    w.Key(k).BeginArray();
    for (double v : r.values()) w.Number(v);
    w.EndArray();
  }
  w.EndObject().Key("categorical").BeginObject();
  for (auto& [k, m] : p.categorical) {
    w.Key(k).BeginObject();
    for (auto& [c, n] : m) w.Key(c).Int(n);
    w.EndObject();
  }
  w.EndObject().EndObject();
  return WriteFileAtomically(path, w.str());
}

Status LoadProfile(const std::string& path, Profile* p) {
  *p = Profile{};
  std::string text;
  INLOOP_RETURN_IF_ERROR(ReadFile(path, &text));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return Status::Corrupt(fmt::format("{}: not a profile", path));
  int64_t rows;
  if (!doc["rows"].get_int64().get(rows)) p->rows = rows;
  simdjson::dom::object o;
  if (!doc["numeric"].get_object().get(o)) {
    for (auto f : o) {
      auto* vals = p->numeric[std::string(f.key)].mutable_values();
      simdjson::dom::array a;
      if (f.value.get_array().get(a)) continue;
      for (auto v : a) {
        double d;
        if (!v.get_double().get(d)) vals->push_back(d);
      }
    }
  }
  if (!doc["categorical"].get_object().get(o)) {
    for (auto f : o) {
      auto& m = p->categorical[std::string(f.key)];
      simdjson::dom::object c;
      if (f.value.get_object().get(c)) continue;
      for (auto g : c) {
        int64_t n;
        if (!g.value.get_int64().get(n)) m[std::string(g.key)] = n;
      }
    }
  }
  return Status::OK();
}

void DriftChecks(const std::string& output, const DriftSpec& spec, const Profile& previous,
                 const Profile& current, std::vector<CheckResult>* out) {
  auto base = [&](const std::string& field) {
    CheckResult r;
    r.output = output;
    r.check = "drift";
    r.field = field;
    r.severity = spec.severity;
    r.has_limit = true;
    r.limit = spec.max_effect;
    return r;
  };
  for (auto& f : spec.numeric) {
    auto a = previous.numeric.find(f), b = current.numeric.find(f);
    if (a == previous.numeric.end() || b == current.numeric.end()) continue;
    stats::KsResult ks = stats::KsTwoSample(a->second.values(), b->second.values());
    CheckResult r = base(f);
    r.value = ks.d;
    r.passed = !(ks.d > spec.max_effect && ks.p_value < spec.alpha);
    r.numbers = {{"ks_d", ks.d}, {"p_value", ks.p_value}, {"n_previous", double(ks.n_a)},
                 {"n_current", double(ks.n_b)}};
    r.message = fmt::format("{}: KS D = {:.3f} (p = {:.2g}) against the previous version{}", f,
                            ks.d, ks.p_value, r.passed ? "" : ": the distribution moved");
    out->push_back(std::move(r));
  }
  for (auto& f : spec.categorical) {
    auto a = previous.categorical.find(f), b = current.categorical.find(f);
    if (a == previous.categorical.end() || b == current.categorical.end()) continue;
    std::map<std::string_view, std::pair<double, double>> joint;
    for (auto& [k, n] : a->second) joint[k].first = static_cast<double>(n);
    for (auto& [k, n] : b->second) joint[k].second = static_cast<double>(n);
    std::vector<double> x, y;
    for (auto& [k, v] : joint) {
      x.push_back(v.first);
      y.push_back(v.second);
    }
    stats::ChiSquareResult c = stats::ChiSquareHomogeneity(x, y);
    CheckResult r = base(f);
    r.value = std::isnan(c.cramers_v) ? 0 : c.cramers_v;
    r.passed = !(c.cramers_v > spec.max_effect && c.p_value < spec.alpha);
    r.numbers = {{"chi2", c.chi2}, {"df", c.df}, {"p_value", c.p_value}, {"cramers_v", c.cramers_v}};
    r.message = fmt::format("{}: chi-square = {:.1f} on {} df (p = {:.2g}), Cramer's V = {:.3f}{}",
                            f, c.chi2, c.df, c.p_value, r.value,
                            r.passed ? "" : ": the categories moved");
    out->push_back(std::move(r));
  }
}

}  // namespace inloop::data
