// The rules. Each one looks for a pattern in the facts, returns nothing when the facts do not show
// it, and otherwise says what it saw with the numbers that show it and what to try.
#include "report/recommendations.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "detect/detect_config.h"
#include "detect/series_class.h"

namespace inloop::report {

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";
  // Large values as integers (12000, not 1.2e+04); the rest with 4 significant digits.
  if (std::fabs(v) >= 1e4 && std::fabs(v) < 1e12) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

namespace {

bool IsAnomaly(const FindingFacts& f) {
  return f.kind == "loss_spike" || f.kind == "nonfinite" || f.kind == "divergence";
}

// Onsets of loss anomalies on loss series (the primary metric or any loss-like key), one per step.
std::vector<int64_t> SpikeOnsets(const RunReport& r) {
  detect::DetectConfig cfg;
  std::set<int64_t> steps;
  for (auto& f : r.findings) {
    if (!IsAnomaly(f) || !f.step_lo) continue;
    auto cls = detect::ClassifyKey(f.series, cfg);
    bool loss = (r.metric && f.series == r.metric->key) || cls == detect::SeriesClass::kLoss ||
                cls == detect::SeriesClass::kEvalLoss;
    if (loss) steps.insert(*f.step_lo);
  }
  return {steps.begin(), steps.end()};
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += i + 1 == v.size() ? " and " : ", ";
    out += std::to_string(v[i]);
  }
  return out;
}

std::optional<Recommendation> SpikesAfterWarmup(const RunReport& r) {
  if (!r.lr) return std::nullopt;
  const LrFacts& lr = *r.lr;
  int64_t warmup = lr.peak_step - lr.first_step;
  if (warmup <= 0 || !(lr.first < 0.9 * lr.peak) || !(lr.peak > 0)) return std::nullopt;
  std::vector<int64_t> onsets = SpikeOnsets(r);
  if (onsets.empty()) return std::nullopt;
  int64_t span = lr.last_step - lr.first_step;
  int64_t window = std::max<int64_t>(2 * warmup, span / 20);
  std::vector<int64_t> in;
  double min_ratio = 1;
  for (int64_t s : onsets) {
    if (s < lr.peak_step || s > lr.peak_step + window) continue;
    in.push_back(s);
    if (auto it = lr.at.find(s); it != lr.at.end()) min_ratio = std::min(min_ratio, it->second / lr.peak);
  }
  if (in.empty() || 2 * in.size() <= onsets.size()) return std::nullopt;
  int64_t far = in.back() - lr.peak_step;
  std::string at_rate = min_ratio > 0 && min_ratio < 1
                            ? fmt::format(", at {:.0f}% or more of the peak rate", 100 * min_ratio)
                            : std::string(", at the peak rate");
  return Recommendation{
      "spikes_after_warmup",
      fmt::format("{} of {} loss {} began within {} steps after the learning rate peaked at {} "
                  "(step {}, the end of a {}-step warm-up from {}){} (step{} {}): try a longer "
                  "warm-up or a lower peak learning rate.",
                  in.size(), onsets.size(), onsets.size() == 1 ? "anomaly" : "anomalies", far,
                  Num(lr.peak), lr.peak_step, warmup, Num(lr.first), at_rate,
                  in.size() == 1 ? "" : "s", JoinInts(in))};
}

bool IsOom(const std::string& c) { return c == "cuda_oom" || c == "host_oom"; }

bool SizeLike(const std::string& key) {
  std::string k = detect::NormalizeKey(key);
  for (const char* p : {"seq", "len", "batch", "block_size", "context", "tokens", "max_length",
                        "resolution", "image_size"})
    if (k.find(p) != std::string::npos) return true;
  return false;
}

std::optional<Recommendation> OomSameParam(const RunReport& r) {
  std::vector<const AttemptFacts*> oom, ok;
  for (auto& a : r.attempts) {
    if (IsOom(a.crash_class)) {
      oom.push_back(&a);
    } else if (a.exit_code) {
      ok.push_back(&a);
    }
  }
  if (oom.empty()) return std::nullopt;
  // Params every OOM attempt ran with, at one value.
  std::vector<std::pair<std::string, std::string>> shared;
  for (auto& [k, v] : oom.front()->params) {
    bool all = std::all_of(oom.begin(), oom.end(), [&](const AttemptFacts* a) {
      auto it = a->params.find(k);
      return it != a->params.end() && it->second == v;
    });
    if (all) shared.emplace_back(k, v);
  }
  std::stable_partition(shared.begin(), shared.end(),
                        [](auto& kv) { return kv.first == "micro_batch"; });
  std::vector<int64_t> numbers, steps;
  for (auto* a : oom) {
    numbers.push_back(a->number);
    if (a->last_step) steps.push_back(*a->last_step);
  }
  std::string where = steps.size() == oom.size() && !steps.empty()
                          ? fmt::format(", after step{} {}", steps.size() == 1 ? "" : "s",
                                        JoinInts(steps))
                          : std::string();
  for (auto& [k, v] : shared) {
    for (auto* a : ok) {
      auto it = a->params.find(k);
      if (it == a->params.end() || it->second == v) continue;
      bool clean = a->crash_class.empty() || a->crash_class == "none";
      std::string how = a->last_step ? fmt::format("reached step {}", *a->last_step)
                                     : std::string("ran");
      return Recommendation{
          "oom_same_param",
          fmt::format("Every out-of-memory crash ({} of {}: attempt{} {}{}) ran with {} = {}; "
                      "attempt {} with {} = {} {} without one{}: start with {} = {}.",
                      oom.size(), Plural(static_cast<int64_t>(r.attempts.size()), "attempt", "attempts"),
                      oom.size() == 1 ? "" : "s", JoinInts(numbers), where, k, v, a->number, k,
                      it->second, how, clean ? "" : fmt::format(" (it ended with {})", a->crash_class),
                      k, it->second)};
    }
  }
  if (oom.size() < 2) return std::nullopt;
  for (auto& [k, v] : shared) {
    if (!SizeLike(k)) continue;
    return Recommendation{
        "oom_same_param",
        fmt::format("All {} out-of-memory crashes (attempts {}{}) ran with {} = {}: lower {} or "
                    "the micro-batch, or enable activation checkpointing.",
                    oom.size(), JoinInts(numbers), where, k, v, k)};
  }
  return std::nullopt;
}

std::vector<Recommendation> Throughput(const RunReport& r) {
  std::vector<Recommendation> out;
  if (!r.throughput) return out;
  const auto& t = *r.throughput;
  int64_t last = t.chart.empty() ? 0 : t.chart.back().step;
  for (auto& g : t.regressions) {
    if (out.size() >= 3) break;
    if (g.drop < t.material_drop) continue;  // listed in the table, not worth advice
    bool ongoing = g.step_hi >= last;
    out.push_back(Recommendation{
        "throughput_regression",
        fmt::format("Throughput ({}) fell {:.0f}% during steps {}-{} ({} against {} before){}: "
                    "look at what changed on the host or in the input pipeline at step {}.",
                    g.key, 100 * g.drop, g.step_lo, g.step_hi, Num(g.during), Num(g.before),
                    ongoing ? " and had not recovered when the run ended"
                            : fmt::format(", then recovered after step {}", g.step_hi),
                    g.step_lo)});
  }
  return out;
}

std::optional<Recommendation> Plateau(const RunReport& r) {
  if (!r.metric || !r.metric->late_mean_a || !r.metric->late_mean_b || !r.metric->first) {
    return std::nullopt;
  }
  const MetricFacts& m = *r.metric;
  double a = *m.late_mean_a, b = *m.late_mean_b, first = m.first->value;
  if (a == 0 || first == 0) return std::nullopt;
  bool minimize = m.goal == "min";
  double late = (minimize ? a - b : b - a) / std::fabs(a);   // improvement, > 0 is better
  double total = (minimize ? first - b : b - first) / std::fabs(first);
  if (!(total >= 0.1) || std::fabs(late) >= 0.005) return std::nullopt;
  return Recommendation{
      "plateau",
      fmt::format("{} has flattened: its mean moved {:+.2f}% from steps {}-{} ({}) to {}-{} ({}), "
                  "against a {:.0f}% improvement over the whole run; more steps at this learning "
                  "rate are unlikely to pay off: decay the learning rate or stop earlier.",
                  m.key, 100 * (b - a) / std::fabs(a), m.late_lo, m.late_mid - 1, Num(a),
                  m.late_mid, m.late_hi, Num(b), 100 * total)};
}

std::optional<Recommendation> RepeatedCrash(const RunReport& r) {
  std::map<std::string, std::vector<const AttemptFacts*>> by;
  for (auto& a : r.attempts)
    if (!a.crash_class.empty() && a.crash_class != "none") by[a.crash_class].push_back(&a);
  const std::vector<const AttemptFacts*>* worst = nullptr;
  std::string cls;
  for (auto& [c, v] : by)
    if (v.size() >= 2 && (!worst || v.size() > worst->size())) {
      worst = &v;
      cls = c;
    }
  if (!worst) return std::nullopt;
  std::vector<int64_t> nums, steps;
  for (auto* a : *worst) {
    nums.push_back(a->number);
    if (a->last_step) steps.push_back(*a->last_step);
  }
  bool last = !r.attempts.empty() && r.attempts.back().crash_class == cls;
  return Recommendation{
      "repeated_crash",
      fmt::format("{} ended {} of {} attempts (attempts {}{}){}: restarting does not make it go "
                  "away; read the stderr of attempt {} (`inloop show {}`) before running again.",
                  cls, worst->size(), r.attempts.size(), JoinInts(nums),
                  steps.size() == worst->size() ? fmt::format(", after steps {}", JoinInts(steps))
                                                : std::string(),
                  last ? ", including the last one" : "", worst->back()->number, r.run.name.empty() ? r.run.id : r.run.name)};
}

std::optional<Recommendation> GradBeforeSpikes(const RunReport& r) {
  std::vector<int64_t> onsets = SpikeOnsets(r);
  if (onsets.empty()) return std::nullopt;
  constexpr int64_t kLead = 10;
  int n = 0;
  int64_t max_lead = 0;
  double max_ratio = 0;
  std::vector<int64_t> pairs;
  for (int64_t s : onsets) {
    for (auto& g : r.findings) {
      if (g.kind != "grad_explosion" || !g.step_lo) continue;
      if (*g.step_lo > s || *g.step_lo < s - kLead) continue;
      ++n;
      max_lead = std::max(max_lead, s - *g.step_lo);
      for (auto& e : g.evidence)
        if (e.name == "ratio") max_ratio = std::max(max_ratio, e.value);
      pairs.push_back(*g.step_lo);
      break;
    }
  }
  if (n == 0 || 2 * n < static_cast<int>(onsets.size())) return std::nullopt;
  return Recommendation{
      "grad_before_spikes",
      fmt::format("{} of {} loss anomalies came {} after a gradient-norm explosion (at step{} "
                  "{}{}): tighter gradient clipping would catch them before they reach the loss.",
                  n, onsets.size(),
                  max_lead == 0 ? std::string("at the same step as")
                                : fmt::format("at most {} steps", max_lead),
                  pairs.size() == 1 ? "" : "s", JoinInts(pairs),
                  max_ratio > 0 ? fmt::format(", up to {:.1f}x the median norm", max_ratio)
                                : std::string())};
}

std::optional<double> LrParam(const RunReport& r) {
  for (auto& p : r.params) {
    std::string k = detect::NormalizeKey(p.key);
    if (k != "lr" && k != "learning_rate") continue;
    char* end = nullptr;
    double v = std::strtod(p.value.c_str(), &end);
    if (end != p.value.c_str() && *end == '\0' && std::isfinite(v) && v > 0) return v;
  }
  return std::nullopt;
}

std::vector<Recommendation> LrCuts(const RunReport& r) {
  std::vector<Recommendation> out;
  if (!r.metric) return out;
  const char* side = r.metric->goal == "min" ? "under" : "over";
  for (auto& f : r.remedies) {
    if (f.action != "lr_cut" || !f.measured || f.steps_observed <= 0) continue;
    std::string scale = f.lr_scale ? fmt::format(" (x{})", Num(*f.lr_scale)) : std::string();
    bool worked = f.recovered_step && !f.recurred_step;
    if (worked) {
      std::optional<double> lr = LrParam(r);
      out.push_back(Recommendation{
          "lr_cut_worked",
          fmt::format("The lr_cut{} after the {} at step {} worked: {} was back {} {} within {} "
                      "steps and no {} came back in the {} steps observed{}.",
                      scale, f.trigger, f.onset, f.metric, side, Num(f.pre_level),
                      f.steps_to_recover, f.trigger, f.steps_observed,
                      lr && f.lr_scale ? fmt::format("; start the next run at lr {} ({} x {})",
                                                     Num(*lr * *f.lr_scale), Num(*lr),
                                                     Num(*f.lr_scale))
                                       : std::string())});
    } else {
      std::string why = f.recurred_step
                            ? fmt::format("the {} came back at step {}", f.trigger, *f.recurred_step)
                            : fmt::format("{} stayed {} {} for the {} steps observed", f.metric,
                                          r.metric->goal == "min" ? "above" : "below",
                                          Num(f.pre_level), f.steps_observed);
      out.push_back(Recommendation{
          "lr_cut_failed",
          fmt::format("The lr_cut{} after the {} at step {} did not help: {}; the learning rate "
                      "is probably not the cause: look at the data and the model around step {}.",
                      scale, f.trigger, f.onset, why, f.onset)});
    }
  }
  return out;
}

// A straggler holds every rank back at each collective: name it and where to look.
std::vector<Recommendation> Stragglers(const RunReport& r) {
  std::vector<Recommendation> out;
  for (const FindingFacts& f : r.findings) {
    if (f.kind != "straggler") continue;
    out.push_back(Recommendation{
        "straggler",
        fmt::format("{}{}. In synchronous training every rank waits for it at each collective: "
                    "look at that host (data loading, a throttled GPU, a slow disk or NIC); if it "
                    "straggles again, leave it out of the job's nodes (Slurm --exclude).",
                    f.message, f.closed && f.closed_hi ? fmt::format(" (until step {})", *f.closed_hi)
                                                       : std::string())});
  }
  return out;
}

}  // namespace

std::vector<Recommendation> Recommend(const RunReport& r) {
  std::vector<Recommendation> out;
  auto add = [&](std::optional<Recommendation> x) {
    if (x) out.push_back(std::move(*x));
  };
  add(SpikesAfterWarmup(r));
  add(GradBeforeSpikes(r));
  add(OomSameParam(r));
  add(RepeatedCrash(r));
  for (auto& x : LrCuts(r)) out.push_back(std::move(x));
  for (auto& x : Throughput(r)) out.push_back(std::move(x));
  for (auto& x : Stragglers(r)) out.push_back(std::move(x));
  add(Plateau(r));
  return out;
}

}  // namespace inloop::report
