// TPE over a declared space. Numeric params live in an internal space (log for log params, the
// integer range widened by 0.5 each side for ints); per group (good / bad) a Parzen estimator:
// truncated Gaussians at the observations plus a prior component at the centre, widths by the
// neighbour rule of Bergstra's hyperopt, clipped, per dimension; the numeric dimensions are
// sampled and scored jointly (multivariate kernels). Categoricals: smoothed counts, per param.
#include "loop/search_space.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/file_io.h"
#include "common/json_writer.h"
#include "stats/distributions.h"
#include "stats/rng.h"

namespace inloop::loop {
namespace {

double Uniform01(stats::Rng& rng) { return static_cast<double>(rng.Next() >> 11) * 0x1.0p-53; }

// Bounds of the internal space.
void InternalBounds(const ParamSpec& p, double* lo, double* hi) {
  double a = p.low, b = p.high;
  if (p.type == ParamType::kInt) {
    a -= 0.5;
    b += 0.5;
  }
  if (p.log) {
    a = std::log(std::max(a, p.type == ParamType::kInt ? 0.5 : a));
    b = std::log(b);
  }
  *lo = a;
  *hi = b;
}

double ToExternal(const ParamSpec& p, double x) {
  double v = p.log ? std::exp(x) : x;
  if (p.type == ParamType::kInt) v = std::clamp(std::round(v), p.low, p.high);
  return std::clamp(v, p.low, p.high);
}

// Internal value of a text value; NaN when it does not parse / is not a choice.
double ToInternal(const ParamSpec& p, const std::string& text) {
  if (p.type == ParamType::kCategorical) {
    auto it = std::find(p.choices.begin(), p.choices.end(), text);
    return it == p.choices.end() ? std::nan("") : static_cast<double>(it - p.choices.begin());
  }
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v)) return std::nan("");
  if (p.log) return v > 0 ? std::log(v) : std::nan("");
  return v;
}

struct Parzen {
  std::vector<double> mu, sigma, weight;
  double lo = 0, hi = 1;
};

Parzen BuildParzen(const std::vector<double>& xs, double lo, double hi) {
  Parzen pz;
  pz.lo = lo;
  pz.hi = hi;
  double range = hi - lo;
  std::vector<double> mus = xs;
  mus.push_back(0.5 * (lo + hi));  // the prior
  std::vector<size_t> order(mus.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return mus[a] < mus[b]; });
  std::vector<double> sig(mus.size());
  for (size_t r = 0; r < order.size(); ++r) {
    double left = r > 0 ? mus[order[r]] - mus[order[r - 1]] : mus[order[r]] - lo;
    double right = r + 1 < order.size() ? mus[order[r + 1]] - mus[order[r]] : hi - mus[order[r]];
    sig[order[r]] = std::max(left, right);
  }
  double min_sigma = range / std::min(100.0, 1.0 + static_cast<double>(mus.size()));
  for (size_t i = 0; i < mus.size(); ++i) {
    sig[i] = std::clamp(sig[i], min_sigma, range);
  }
  sig.back() = range;  // the prior is wide
  pz.mu = std::move(mus);
  pz.sigma = std::move(sig);
  pz.weight.assign(pz.mu.size(), 1.0);
  return pz;
}

std::vector<double> CategoricalWeights(const std::vector<double>& xs, size_t k) {
  std::vector<double> w(k, 1.0);  // the prior: one pseudo-count each
  for (double x : xs) w[static_cast<size_t>(x)] += 1.0;
  double s = std::accumulate(w.begin(), w.end(), 0.0);
  for (auto& v : w) v /= s;
  return w;
}

Status Bad(const std::string& path, const std::string& field, const std::string& what) {
  return Status::Invalid(fmt::format("{}: {}: {}", path, field, what));
}

std::optional<double> NumberOf(const toml::node* n) {
  if (!n) return std::nullopt;
  if (auto v = n->value<double>()) return *v;
  return std::nullopt;
}

}  // namespace

std::string ParamEnvName(const std::string& name) {
  std::string out = "INLOOP_PARAM_";
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::string FormatValue(const ParamSpec& p, double x) {
  if (p.type == ParamType::kCategorical) {
    size_t i = std::min(p.choices.size() - 1, static_cast<size_t>(std::max(0.0, std::round(x))));
    return p.choices[i];
  }
  double v = ToExternal(p, x);
  if (p.type == ParamType::kInt) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.6g}", v);
}

Status ParseSearchSpace(const std::string& text, const std::string& path, SearchSpace* out) {
  *out = SearchSpace{};
  out->path = path;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::Invalid(fmt::format("{}:{}: {}", path, e.source().begin.line, e.description()));
  }
  if (auto* s = root["search"].as_table()) {
    for (auto& [k, v] : *s) {
      std::string key(k.str());
      if (key == "seed") {
        auto n = v.value<int64_t>();
        if (!n || *n < 0) return Bad(path, "search.seed", "expected a non-negative integer");
        out->seed = static_cast<uint64_t>(*n);
      } else if (key == "random_starts" || key == "candidates") {
        auto n = v.value<int64_t>();
        if (!n || *n < 1 || *n > 100000) return Bad(path, "search." + key, "expected an integer >= 1");
        (key == "random_starts" ? out->random_starts : out->candidates) = static_cast<int>(*n);
      } else if (key == "gamma") {
        auto n = v.value<double>();
        if (!n || *n <= 0 || *n >= 1) return Bad(path, "search.gamma", "expected a number in (0, 1)");
        out->gamma = *n;
      } else if (key == "params_file") {
        auto n = v.value<std::string>();
        if (!n || n->empty()) return Bad(path, "search.params_file", "expected a relative path");
        if ((*n)[0] == '/' || n->find("..") != std::string::npos) {
          return Bad(path, "search.params_file", "must be a path inside the work tree");
        }
        out->params_file = *n;
      } else {
        return Bad(path, "search." + key,
                   "unknown field (seed, random_starts, candidates, gamma, params_file)");
      }
    }
  }
  auto* params = root["params"].as_table();
  if (!params || params->empty()) {
    return Bad(path, "params", "declare at least one [params.NAME] table");
  }
  for (auto& [k, v] : *params) {
    ParamSpec p;
    p.name = std::string(k.str());
    std::string f = "params." + p.name;
    auto* t = v.as_table();
    if (!t) return Bad(path, f, "expected a table");
    for (char c : p.name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
        return Bad(path, f, "names are letters, digits, _ and -");
      }
    }
    std::string type = (*t)["type"].value_or(std::string("float"));
    if (type == "float") {
      p.type = ParamType::kFloat;
    } else if (type == "int") {
      p.type = ParamType::kInt;
    } else if (type == "categorical") {
      p.type = ParamType::kCategorical;
    } else {
      return Bad(path, f + ".type", "expected float, int or categorical");
    }
    for (auto& [fk, fv] : *t) {
      std::string key(fk.str());
      if (key != "type" && key != "low" && key != "high" && key != "log" && key != "choices" &&
          key != "default") {
        return Bad(path, f + "." + key, "unknown field (type, low, high, log, choices, default)");
      }
    }
    if (p.type == ParamType::kCategorical) {
      auto* ch = (*t)["choices"].as_array();
      if (!ch || ch->empty()) return Bad(path, f + ".choices", "expected a non-empty array");
      for (auto& c : *ch) {
        if (auto s = c.value<std::string>()) {
          p.choices.push_back(*s);
        } else if (auto d = c.value<double>()) {
          p.choices.push_back(fmt::format("{}", *d));
        } else {
          return Bad(path, f + ".choices", "expected strings or numbers");
        }
      }
      p.low = 0;
      p.high = static_cast<double>(p.choices.size() - 1);
    } else {
      auto lo = NumberOf((*t).get("low")), hi = NumberOf((*t).get("high"));
      if (!lo || !hi) return Bad(path, f, "low and high are required numbers");
      if (!(*lo < *hi)) return Bad(path, f + ".low", "must be below high");
      p.low = *lo;
      p.high = *hi;
      p.log = (*t)["log"].value_or(false);
      if (p.log && p.low <= 0) return Bad(path, f + ".low", "must be > 0 with log = true");
      if (p.type == ParamType::kInt && (p.low != std::floor(p.low) || p.high != std::floor(p.high))) {
        return Bad(path, f, "int bounds must be integers");
      }
    }
    if (auto* d = (*t).get("default")) {
      if (auto s = d->value<std::string>()) {
        p.default_value = *s;
      } else if (auto n = d->value<double>()) {
        p.default_value = p.type == ParamType::kInt ? fmt::format("{}", static_cast<int64_t>(*n))
                                                    : fmt::format("{}", *n);
      }
      if (std::isnan(ToInternal(p, p.default_value))) {
        return Bad(path, f + ".default", "not a valid value of this param");
      }
      if (p.type != ParamType::kCategorical) {
        double v = std::strtod(p.default_value.c_str(), nullptr);
        if (v < p.low || v > p.high || (p.type == ParamType::kInt && v != std::floor(v))) {
          return Bad(path, f + ".default", "outside low..high (or not an integer)");
        }
        p.default_value = p.type == ParamType::kInt ? fmt::format("{}", static_cast<int64_t>(v))
                                                    : fmt::format("{:.6g}", v);
      }
    }
    out->params.push_back(std::move(p));
  }
  return Status::OK();
}

Status LoadSearchSpace(const std::string& path, SearchSpace* out) {
  std::string text;
  Status s = ReadFile(path, &text);
  if (s.code() == Status::Code::kNotFound) {
    return Status::NotFound(fmt::format("{}: no such search space file", path));
  }
  INLOOP_RETURN_IF_ERROR(s);
  return ParseSearchSpace(text, path, out);
}

ParamValues DefaultValues(const SearchSpace& space) {
  ParamValues v;
  for (auto& p : space.params) {
    if (!p.default_value.empty()) {
      v.emplace_back(p.name, p.default_value);
      continue;
    }
    double lo, hi;
    InternalBounds(p, &lo, &hi);
    v.emplace_back(p.name, p.type == ParamType::kCategorical ? p.choices[0]
                                                             : FormatValue(p, 0.5 * (lo + hi)));
  }
  return v;
}

ParamValues ProposeValues(const SearchSpace& space, const std::vector<Observation>& history,
                          bool minimize, uint64_t trial) {
  stats::Rng rng(space.seed * 0x9e3779b97f4a7c15ULL + trial * 0xbf58476d1ce4e5b9ULL + 1);
  // Observations usable for this space: every param parses.
  struct Obs {
    std::vector<double> x;
    double y;
  };
  std::vector<Obs> obs;
  for (auto& h : history) {
    if (!std::isfinite(h.metric)) continue;
    Obs o{{}, minimize ? h.metric : -h.metric};
    bool ok = true;
    for (auto& p : space.params) {
      auto it = std::find_if(h.values.begin(), h.values.end(),
                             [&](auto& kv) { return kv.first == p.name; });
      double x = it == h.values.end() ? std::nan("") : ToInternal(p, it->second);
      if (std::isnan(x)) ok = false;
      o.x.push_back(x);
    }
    if (ok) obs.push_back(std::move(o));
  }
  ParamValues out;
  if (static_cast<int>(obs.size()) < space.random_starts) {
    for (auto& p : space.params) {
      double x;
      if (p.type == ParamType::kCategorical) {
        x = static_cast<double>(rng.Below(p.choices.size()));
      } else {
        double lo, hi;
        InternalBounds(p, &lo, &hi);
        x = lo + (hi - lo) * Uniform01(rng);
      }
      out.emplace_back(p.name, FormatValue(p, x));
    }
    return out;
  }
  std::stable_sort(obs.begin(), obs.end(), [](const Obs& a, const Obs& b) { return a.y < b.y; });
  size_t n_good = std::clamp<size_t>(
      static_cast<size_t>(std::ceil(space.gamma * static_cast<double>(obs.size()))), 1, 25);
  n_good = std::min(n_good, obs.size());
  // Per param: the good and bad models; candidates are drawn from the good one.
  size_t np = space.params.size();
  std::vector<std::vector<double>> cand(static_cast<size_t>(space.candidates), std::vector<double>(np));
  std::vector<double> score(cand.size(), 0.0);
  std::vector<size_t> numeric;
  std::vector<Parzen> good_models, bad_models;
  for (size_t j = 0; j < np; ++j) {
    const ParamSpec& p = space.params[j];
    std::vector<double> good, bad;
    for (size_t i = 0; i < obs.size(); ++i) (i < n_good ? good : bad).push_back(obs[i].x[j]);
    if (p.type == ParamType::kCategorical) {
      auto wl = CategoricalWeights(good, p.choices.size());
      auto wg = CategoricalWeights(bad, p.choices.size());
      for (size_t c = 0; c < cand.size(); ++c) {
        double u = Uniform01(rng), acc = 0;
        size_t k = 0;
        for (; k + 1 < wl.size(); ++k) {
          acc += wl[k];
          if (u < acc) break;
        }
        cand[c][j] = static_cast<double>(k);
        score[c] += std::log(wl[k]) - std::log(wg[k]);
      }
      continue;
    }
    double lo, hi;
    InternalBounds(p, &lo, &hi);
    numeric.push_back(j);
    good_models.push_back(BuildParzen(good, lo, hi));
    bad_models.push_back(BuildParzen(bad, lo, hi));
  }
  // Numeric params jointly (multivariate TPE, as Optuna's multivariate=True): one kernel
  // component drawn for all of them, densities are mixtures of products, so correlated valleys
  // (Rosenbrock-like) are followed instead of searched one axis at a time.
  if (!numeric.empty()) {
    auto joint_log_density = [&](const std::vector<Parzen>& models, const std::vector<double>& x) {
      size_t kc = models[0].mu.size();
      std::vector<double> terms(kc, 0.0);
      for (size_t k = 0; k < kc; ++k) {
        for (size_t d = 0; d < models.size(); ++d) {
          const Parzen& pz = models[d];
          double sg = pz.sigma[k];
          double mass = stats::NormalCdf((pz.hi - pz.mu[k]) / sg) -
                        stats::NormalCdf((pz.lo - pz.mu[k]) / sg);
          double z = (x[d] - pz.mu[k]) / sg;
          terms[k] += -0.5 * z * z - std::log(sg * std::sqrt(2 * M_PI) * std::max(mass, 1e-300));
        }
      }
      double m = *std::max_element(terms.begin(), terms.end());
      double sum = 0;
      for (double t : terms) sum += std::exp(t - m);
      return m + std::log(sum / static_cast<double>(kc));
    };
    for (size_t c = 0; c < cand.size(); ++c) {
      size_t k = rng.Below(good_models[0].mu.size());
      std::vector<double> x(numeric.size());
      for (size_t d = 0; d < numeric.size(); ++d) {
        const Parzen& pz = good_models[d];
        double mu = pz.mu[k], sg = pz.sigma[k];
        double a = stats::NormalCdf((pz.lo - mu) / sg), b = stats::NormalCdf((pz.hi - mu) / sg);
        double u = std::clamp(a + (b - a) * Uniform01(rng), 1e-15, 1 - 1e-15);
        x[d] = std::clamp(mu + sg * stats::NormalQuantile(u), pz.lo, pz.hi);
        cand[c][numeric[d]] = x[d];
      }
      score[c] += joint_log_density(good_models, x) - joint_log_density(bad_models, x);
    }
  }
  size_t best = static_cast<size_t>(std::max_element(score.begin(), score.end()) - score.begin());
  for (size_t j = 0; j < np; ++j) {
    out.emplace_back(space.params[j].name, FormatValue(space.params[j], cand[best][j]));
  }
  return out;
}

std::string ParamsFileText(const SearchSpace& space, const ParamValues& values,
                           const std::string& file_name) {
  auto ends_with = [&](const char* ext) {
    std::string e(ext);
    return file_name.size() >= e.size() && file_name.compare(file_name.size() - e.size(), e.size(), e) == 0;
  };
  auto spec = [&](const std::string& name) -> const ParamSpec* {
    for (auto& p : space.params) if (p.name == name) return &p;
    return nullptr;
  };
  std::string out;
  if (ends_with(".json")) {
    JsonWriter w;
    w.BeginObject();
    for (auto& [k, v] : values) {
      w.Key(k);
      const ParamSpec* p = spec(k);
      if (p && p->type != ParamType::kCategorical) w.Raw(v); else w.String(v);
    }
    w.EndObject();
    return w.Take() + "\n";
  }
  bool toml_file = ends_with(".toml");
  for (auto& [k, v] : values) {
    const ParamSpec* p = spec(k);
    bool quote = toml_file && p && p->type == ParamType::kCategorical;
    out += toml_file ? fmt::format("{} = {}{}{}\n", k, quote ? "\"" : "", v, quote ? "\"" : "")
                     : fmt::format("{}={}\n", k, v);
  }
  return out;
}

}  // namespace inloop::loop
