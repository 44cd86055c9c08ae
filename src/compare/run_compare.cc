#include "compare/run_compare.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "query/series_query.h"
#include "stats/descriptive.h"
#include "stats/distributions.h"
#include "stats/hypothesis_tests.h"

namespace inloop::compare {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Linear interpolation of a curve at x; REQUIRES: x within [c.x.front(), c.x.back()].
double At(const Curve& c, double x) {
  auto it = std::lower_bound(c.x.begin(), c.x.end(), x);
  if (it == c.x.end()) return c.y.back();
  size_t i = static_cast<size_t>(it - c.x.begin());
  if (c.x[i] == x || i == 0) return c.y[i];
  double x0 = c.x[i - 1], x1 = c.x[i];
  double t = (x - x0) / (x1 - x0);
  return c.y[i - 1] + t * (c.y[i] - c.y[i - 1]);
}

// Mean of the curve's own points in [from, to], or its value at `to` when it has none there.
double TailMean(const Curve& c, double from, double to) {
  double sum = 0;
  int n = 0;
  auto it = std::lower_bound(c.x.begin(), c.x.end(), from);
  for (size_t i = static_cast<size_t>(it - c.x.begin()); i < c.x.size() && c.x[i] <= to; ++i) {
    sum += c.y[i];
    ++n;
  }
  return n ? sum / n : At(c, to);
}

struct Band {
  double mean, lo, hi, sd;
  int n;
};

Band BandOf(const std::vector<double>& v) {
  Band b{};
  b.n = static_cast<int>(v.size());
  b.mean = stats::Mean(v);
  if (b.n < 2) {
    b.lo = b.hi = b.mean;
    return b;
  }
  b.sd = stats::SampleSd(v);
  double half = stats::StudentTQuantile(0.975, b.n - 1) * b.sd / std::sqrt(b.n);
  b.lo = b.mean - half;
  b.hi = b.mean + half;
  return b;
}

// Keeps about `n` points of a curve for drawing: M4-like, first/min/max/last per column.
Curve Thin(const Curve& c, size_t n) {
  if (c.x.size() <= 4 * n) return c;
  Curve out{c.run_id, c.name, {}, {}, c.nonfinite};
  double lo = c.x.front(), hi = c.x.back();
  size_t i = 0;
  for (size_t col = 0; col < n && i < c.x.size(); ++col) {
    double end = lo + (hi - lo) * static_cast<double>(col + 1) / static_cast<double>(n);
    size_t first = i, mn = i, mx = i;
    while (i < c.x.size() && (c.x[i] <= end || col + 1 == n)) {
      if (c.y[i] < c.y[mn]) mn = i;
      if (c.y[i] > c.y[mx]) mx = i;
      ++i;
    }
    if (i == first) continue;
    size_t last = i - 1;
    size_t idx[4] = {first, mn, mx, last};
    std::sort(idx, idx + 4);
    size_t prev = SIZE_MAX;
    for (size_t k : idx) {
      if (k == prev) continue;
      out.x.push_back(c.x[k]);
      out.y.push_back(c.y[k]);
      prev = k;
    }
  }
  return out;
}

const char* GoalName(Goal g) { return g == Goal::kMin ? "min" : "max"; }

}  // namespace

const char* AlignName(Align a) {
  switch (a) {
    case Align::kStep: return "step";
    case Align::kTokens: return "tokens";
    case Align::kTime: return "time";
  }
  return "step";
}

bool ParseAlign(const std::string& s, Align* a) {
  if (s == "step") *a = Align::kStep;
  else if (s == "tokens") *a = Align::kTokens;
  else if (s == "time") *a = Align::kTime;
  else return false;
  return true;
}

Goal GuessGoal(const std::string& key) {
  std::string k = Lower(key);
  for (const char* up : {"acc", "f1", "bleu", "rouge", "reward", "score", "auc", "precision",
                         "recall", "map", "exact_match", "pass", "win", "tokens_per_s",
                         "throughput", "mfu", "tflops"})
    if (Contains(k, up)) return Goal::kMax;
  return Goal::kMin;
}

Status ChooseKey(store::Store* st, const std::vector<std::string>& run_ids, std::string* key) {
  std::vector<std::string> common;
  for (size_t i = 0; i < run_ids.size(); ++i) {
    std::vector<store::SeriesStats> ss;
    INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run_ids[i], &ss));
    std::vector<std::string> keys;
    for (auto& s : ss) keys.push_back(s.key);
    std::sort(keys.begin(), keys.end());
    if (i == 0) {
      common = keys;
    } else {
      std::vector<std::string> both;
      std::set_intersection(common.begin(), common.end(), keys.begin(), keys.end(),
                            std::back_inserter(both));
      common = std::move(both);
    }
  }
  if (common.empty())
    return Status::NotFound("the runs share no series: name one with --key (see `inloop show`)");
  // Validation loss first (what people compare), then training loss, then anything loss-like.
  for (const char* pref : {"val_loss", "val/loss", "eval_loss", "eval/loss", "valid/loss",
                           "validation/loss", "loss", "train/loss", "train_loss", "lm_loss"})
    for (auto& k : common)
      if (Lower(k) == pref) return (*key = k, Status::OK());
  for (auto& k : common)
    if (Contains(Lower(k), "loss")) return (*key = k, Status::OK());
  *key = common.front();
  return Status::OK();
}

Status LoadCurve(store::Store* st, const std::string& run_id, const std::string& key,
                 const CompareOptions& opts, Curve* out) {
  store::RunRecord run;
  INLOOP_RETURN_IF_ERROR(st->FindRun(run_id, &run));
  out->run_id = run.id;
  out->name = run.name;
  query::SeriesResult res;
  INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run.id, key, query::SeriesQuery{}, &res));
  Curve tokens;
  if (opts.align == Align::kTokens && !opts.tokens_per_step) {
    // A cumulative token counter logged by the run maps steps to tokens.
    std::vector<store::SeriesStats> ss;
    INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(run.id, &ss));
    std::string tk;
    for (auto& s : ss) {
      std::string k = Lower(s.key);
      if ((Contains(k, "tokens") || Contains(k, "tokens_seen")) && !Contains(k, "per_s") &&
          !Contains(k, "/s") && !Contains(k, "per_sec") && !Contains(k, "throughput")) {
        tk = s.key;
        break;
      }
    }
    if (tk.empty())
      return Status::Invalid(fmt::format(
          "--align tokens: run {} ({}) logs no token counter (a series named like `tokens` or "
          "`num_input_tokens_seen`): log one, or pass --tokens-per-step N",
          run.name, run.id));
    query::SeriesResult tr;
    INLOOP_RETURN_IF_ERROR(query::QuerySeries(st, run.id, tk, query::SeriesQuery{}, &tr));
    for (auto& p : tr.points)
      if (std::isfinite(p.value)) {
        tokens.x.push_back(static_cast<double>(p.step));
        tokens.y.push_back(p.value);
      }
    if (tokens.x.empty())
      return Status::Invalid(fmt::format("--align tokens: series {} of run {} has no finite value",
                                         tk, run.id));
  }
  double t0 = 0;
  if (opts.align == Align::kTime) {
    for (auto& p : res.points)
      if (p.wall_time > 0) {
        t0 = t0 == 0 ? p.wall_time : std::min(t0, p.wall_time);
      }
    if (t0 == 0)
      return Status::Invalid(fmt::format(
          "--align time: series {} of run {} has no wall times (imported from a file without "
          "timestamps?): align on step or tokens",
          key, run.id));
  }
  out->x.clear();
  out->y.clear();
  for (auto& p : res.points) {
    if (!std::isfinite(p.value)) {
      ++out->nonfinite;
      continue;
    }
    double x = static_cast<double>(p.step);
    if (opts.align == Align::kTime) {
      if (p.wall_time <= 0) continue;
      x = p.wall_time - t0;
    } else if (opts.align == Align::kTokens) {
      if (opts.tokens_per_step) {
        x = static_cast<double>(p.step) * *opts.tokens_per_step;
      } else {
        if (x < tokens.x.front() || x > tokens.x.back()) continue;
        x = At(tokens, x);
      }
    }
    out->x.push_back(x);
    out->y.push_back(p.value);
  }
  // Points in x order; equal x (a time axis can repeat) keep the last value.
  std::vector<size_t> idx(out->x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t i, size_t j) { return out->x[i] < out->x[j]; });
  std::vector<double> xs, ys;
  for (size_t i : idx) {
    if (!xs.empty() && xs.back() == out->x[i]) {
      ys.back() = out->y[i];
      continue;
    }
    xs.push_back(out->x[i]);
    ys.push_back(out->y[i]);
  }
  out->x = std::move(xs);
  out->y = std::move(ys);
  if (out->x.empty())
    return Status::Invalid(fmt::format("series {} of run {} has no finite point on the {} axis",
                                       key, run.id, AlignName(opts.align)));
  return Status::OK();
}

Status Compare(const std::vector<Curve>& a, const std::vector<Curve>& b, const std::string& key,
               const CompareOptions& opts, CompareResult* out) {
  *out = CompareResult{};
  out->key = key;
  out->align = opts.align;
  out->goal = opts.goal ? *opts.goal : GuessGoal(key);
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  for (auto* g : {&a, &b})
    for (auto& c : *g) {
      lo = std::max(lo, c.x.front());
      hi = std::min(hi, c.x.back());
    }
  if (!(lo < hi)) {
    std::string spans;
    for (auto* g : {&a, &b})
      for (auto& c : *g) spans += fmt::format(" {} [{:g}, {:g}]", c.name, c.x.front(), c.x.back());
    return Status::Invalid(fmt::format("the curves share no range on the {} axis:{}",
                                       AlignName(opts.align), spans));
  }
  out->lo = lo;
  out->hi = hi;

  // Final values: each run's mean over the last 5% of the common range.
  double tail_from = hi - 0.05 * (hi - lo);
  auto summarize = [&](const std::vector<Curve>& g, GroupSummary* s) {
    for (auto& c : g) {
      s->run_ids.push_back(c.run_id);
      s->names.push_back(c.name);
      s->finals.push_back(TailMean(c, tail_from, hi));
    }
    Band band = BandOf(s->finals);
    s->mean = band.mean;
    s->sd = band.sd;
  };
  summarize(a, &out->a);
  summarize(b, &out->b);
  out->final_diff = out->b.mean - out->a.mean;

  // The common grid with bands.
  int n = std::max(opts.grid, 2);
  for (int i = 0; i < n; ++i) {
    double x = lo + (hi - lo) * i / (n - 1);
    std::vector<double> va, vb;
    for (auto& c : a) va.push_back(At(c, x));
    for (auto& c : b) vb.push_back(At(c, x));
    Band ba = BandOf(va), bb = BandOf(vb);
    out->grid_x.push_back(x);
    out->a_mean.push_back(ba.mean);
    out->a_lo.push_back(ba.lo);
    out->a_hi.push_back(ba.hi);
    out->b_mean.push_back(bb.mean);
    out->b_lo.push_back(bb.lo);
    out->b_hi.push_back(bb.hi);
    double d = bb.mean - ba.mean;
    out->diff.push_back(d);
    if (ba.n >= 2 && bb.n >= 2) {
      stats::WelchResult w = stats::WelchTTest(va, vb);
      out->diff_lo.push_back(w.ci_low);
      out->diff_hi.push_back(w.ci_high);
    } else {
      out->diff_lo.push_back(d);
      out->diff_hi.push_back(d);
    }
  }

  bool pair = a.size() == 1 && b.size() == 1;
  if (pair) {
    // B at A's own points: exact where both logged the same x.
    const Curve& ca = a.front();
    const Curve& cb = b.front();
    double sum = 0, sum_abs = 0;
    double px = 0, pd = 0;
    bool have_prev = false;
    for (size_t i = 0; i < ca.x.size(); ++i) {
      double x = ca.x[i];
      if (x < lo || x > hi) continue;
      double d = At(cb, x) - ca.y[i];
      ++out->matched;
      sum += d;
      sum_abs += std::fabs(d);
      if (std::fabs(d) > out->max_abs_diff) {
        out->max_abs_diff = std::fabs(d);
        out->max_abs_at = x;
      }
      if (have_prev) {
        out->area += 0.5 * (d + pd) * (x - px);
        out->area_abs += 0.5 * (std::fabs(d) + std::fabs(pd)) * (x - px);
      }
      px = x;
      pd = d;
      have_prev = true;
    }
    if (out->matched) {
      out->mean_diff = sum / static_cast<double>(out->matched);
      out->mean_abs_diff = sum_abs / static_cast<double>(out->matched);
    }
  } else {
    for (size_t i = 1; i < out->grid_x.size(); ++i) {
      double w = out->grid_x[i] - out->grid_x[i - 1];
      out->area += 0.5 * (out->diff[i] + out->diff[i - 1]) * w;
      out->area_abs += 0.5 * (std::fabs(out->diff[i]) + std::fabs(out->diff[i - 1])) * w;
    }
  }
  out->mean_gap = out->area / (hi - lo);

  // Who leads: the sign of the smoothed difference (EMA over the grid, span n/20), "better"
  // meaning lower for a min goal. Sign changes are crossings; the last one starts the lead.
  double alpha = 2.0 / (std::max(n / 20, 1) + 1.0);
  double ema = out->diff.front();
  double scale = 0;
  for (double v : out->a_mean) scale = std::max(scale, std::fabs(v));
  double eps = 1e-9 * std::max(scale, 1.0);
  int sign = 0;
  for (size_t i = 0; i < out->diff.size(); ++i) {
    ema = i == 0 ? out->diff[i] : alpha * out->diff[i] + (1 - alpha) * ema;
    int s = ema > eps ? 1 : (ema < -eps ? -1 : 0);
    if (s == 0) continue;
    if (sign != 0 && s != sign) {
      ++out->crossings;
      out->leads_since = out->grid_x[i];
    }
    sign = s;
  }
  // Positive B - A means B is higher: better for max, worse for min.
  if (sign == 0) out->leader = "tie";
  else out->leader = ((sign > 0) == (out->goal == Goal::kMax)) ? "b" : "a";

  if (a.size() >= 2 && b.size() >= 2) {
    stats::WelchResult w = stats::WelchTTest(out->a.finals, out->b.finals);
    out->ci_low = w.ci_low;
    out->ci_high = w.ci_high;
    out->p_value = w.p_value;
    out->test = "welch_t";
  } else {
    out->why_no_test = pair ? "one run a side: no seed variance, so no test (compare groups of "
                              "seeds with --a/--b)"
                            : "a group has one run: no seed variance on that side, so no test";
  }
  for (auto* g : {&a, &b})
    for (auto& c : *g) out->curves.push_back(Thin(c, 500));
  return Status::OK();
}

namespace {

void Numbers(JsonWriter& w, const char* key, const std::vector<double>& v) {
  w.Key(key).BeginArray();
  for (double x : v) w.Number(x);
  w.EndArray();
}

void GroupJson(JsonWriter& w, const GroupSummary& g) {
  w.BeginObject().Key("runs").BeginArray();
  for (size_t i = 0; i < g.run_ids.size(); ++i) {
    w.BeginObject().Key("id").String(g.run_ids[i]).Key("name").String(g.names[i]);
    w.Key("final").Number(g.finals[i]).EndObject();
  }
  w.EndArray().Key("final_mean").Number(g.mean);
  if (g.run_ids.size() >= 2) w.Key("final_sd").Number(g.sd);
  w.EndObject();
}

void Optional(JsonWriter& w, const char* key, const std::optional<double>& v) {
  w.Key(key);
  if (v) w.Number(*v); else w.Null();
}

}  // namespace

void WriteCompareJson(const CompareResult& r, JsonWriter& w) {
  w.BeginObject();
  w.Key("key").String(r.key).Key("align").String(AlignName(r.align));
  w.Key("goal").String(GoalName(r.goal));
  w.Key("range").BeginArray().Number(r.lo).Number(r.hi).EndArray();
  w.Key("a");
  GroupJson(w, r.a);
  w.Key("b");
  GroupJson(w, r.b);
  if (r.a.run_ids.size() == 1 && r.b.run_ids.size() == 1) {
    w.Key("matched").BeginObject().Key("n").Int(r.matched);
    w.Key("mean_diff").Number(r.mean_diff).Key("mean_abs_diff").Number(r.mean_abs_diff);
    w.Key("max_abs_diff").Number(r.max_abs_diff).Key("max_abs_at").Number(r.max_abs_at);
    w.EndObject();
  }
  w.Key("area").BeginObject().Key("signed").Number(r.area).Key("abs").Number(r.area_abs);
  w.Key("mean_gap").Number(r.mean_gap).EndObject();
  w.Key("lead").BeginObject().Key("leader").String(r.leader);
  Optional(w, "since", r.leads_since);
  w.Key("crossings").Int(r.crossings).EndObject();
  w.Key("final").BeginObject().Key("diff").Number(r.final_diff);
  Optional(w, "ci_low", r.ci_low);
  Optional(w, "ci_high", r.ci_high);
  Optional(w, "p_value", r.p_value);
  w.Key("test").String(r.test);
  if (!r.why_no_test.empty()) w.Key("why_no_test").String(r.why_no_test);
  w.EndObject();
  w.Key("grid").BeginObject();
  Numbers(w, "x", r.grid_x);
  Numbers(w, "a_mean", r.a_mean);
  Numbers(w, "a_lo", r.a_lo);
  Numbers(w, "a_hi", r.a_hi);
  Numbers(w, "b_mean", r.b_mean);
  Numbers(w, "b_lo", r.b_lo);
  Numbers(w, "b_hi", r.b_hi);
  Numbers(w, "diff", r.diff);
  Numbers(w, "diff_lo", r.diff_lo);
  Numbers(w, "diff_hi", r.diff_hi);
  w.EndObject();
  w.Key("curves").BeginArray();
  for (auto& c : r.curves) {
    w.BeginObject().Key("id").String(c.run_id).Key("name").String(c.name);
    w.Key("group").String(
        std::find(r.a.run_ids.begin(), r.a.run_ids.end(), c.run_id) != r.a.run_ids.end() ? "a"
                                                                                        : "b");
    Numbers(w, "x", c.x);
    Numbers(w, "y", c.y);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string CompareText(const CompareResult& r) {
  auto label = [](const GroupSummary& g) {
    if (g.names.size() == 1) return fmt::format("{} ({})", g.names[0], g.run_ids[0]);
    return fmt::format("{} runs ({}{})", g.names.size(), g.names[0],
                       g.names.size() > 1 ? ", ..." : "");
  };
  auto finals = [](const GroupSummary& g) {
    if (g.finals.size() == 1) return fmt::format("final {:.6g}", g.mean);
    return fmt::format("final {:.6g} ± {:.3g} (sd over {} runs)", g.mean, g.sd, g.finals.size());
  };
  const char* axis = AlignName(r.align);
  std::string out = fmt::format("compare {} on {} ({} is better), common range {:g} .. {:g}\n",
                                r.key, axis, r.goal == Goal::kMin ? "lower" : "higher", r.lo, r.hi);
  out += fmt::format("  A  {}  {}\n", label(r.a), finals(r.a));
  out += fmt::format("  B  {}  {}\n", label(r.b), finals(r.b));
  if (r.a.run_ids.size() == 1 && r.b.run_ids.size() == 1)
    out += fmt::format("  B - A at {} matched points: mean {:+.4g}, mean |diff| {:.4g}, largest "
                       "{:.4g} at {} {:g}\n",
                       r.matched, r.mean_diff, r.mean_abs_diff, r.max_abs_diff, axis,
                       r.max_abs_at);
  out += fmt::format("  area between curves (B - A): {:+.4g} (mean gap {:+.4g})\n", r.area,
                     r.mean_gap);
  if (r.leader == "tie")
    out += "  neither leads at the end\n";
  else if (r.leads_since)
    out += fmt::format("  {} leads from {} {:g} on ({} crossing{} of the smoothed difference)\n",
                       r.leader == "a" ? "A" : "B", axis, *r.leads_since, r.crossings,
                       r.crossings == 1 ? "" : "s");
  else
    out += fmt::format("  {} leads over the whole common range\n", r.leader == "a" ? "A" : "B");
  out += fmt::format("  final difference (B - A, mean of the last 5%): {:+.4g}", r.final_diff);
  if (r.p_value)
    out += fmt::format("  95% CI [{:+.4g}, {:+.4g}], Welch p = {:.3g}", *r.ci_low, *r.ci_high,
                       *r.p_value);
  else
    out += fmt::format("  ({})", r.why_no_test);
  return out;
}

}  // namespace inloop::compare
