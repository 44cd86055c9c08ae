#include "insights/param_importance.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "stats/distributions.h"
#include "stats/rng.h"
#include "stats/descriptive.h"

namespace inloop::insights {
namespace {

bool ParseNumber(const std::string& s, double* v) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  std::string t = s.substr(b, e - b + 1);
  char* end = nullptr;
  *v = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && std::isfinite(*v);
}

using stats::Median;

// ---- CART regression trees ----

struct Node {
  int feature = -1;  // -1: a leaf
  int threshold = 0;  // bin: rows with bin <= threshold go left
  int left = -1, right = -1;
  double value = 0;
};

// Rows are runs, columns params, each value replaced by its bin: the rank of its distinct value
// when a param has at most kMaxBins of them, else its quantile bin. Splits are searched over bin
// boundaries with per-node histograms, O(rows) per param instead of a sort.
constexpr int kMaxBins = 64;
struct Table {
  std::vector<uint8_t> bins;  // row-major n x p
  std::vector<int> nbins;     // per param
  const std::vector<double>* y = nullptr;
  int p = 0;
  int at(size_t row, int col) const { return bins[row * p + col]; }
};

// Bins of one column: ranks of distinct values, or kMaxBins quantile groups of them.
std::vector<uint8_t> BinColumn(const std::vector<double>& v, int* nbins) {
  std::vector<double> d = v;
  std::sort(d.begin(), d.end());
  d.erase(std::unique(d.begin(), d.end()), d.end());
  std::vector<double> upper;  // bin k holds values <= upper[k]
  if (static_cast<int>(d.size()) <= kMaxBins) {
    upper = d;
  } else {
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (int k = 1; k <= kMaxBins; ++k) {
      double q = sorted[std::min(sorted.size() - 1, sorted.size() * k / kMaxBins)];
      if (upper.empty() || q > upper.back()) upper.push_back(q);
    }
    if (upper.back() < d.back()) upper.push_back(d.back());
  }
  *nbins = static_cast<int>(upper.size());
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = static_cast<uint8_t>(std::lower_bound(upper.begin(), upper.end(), v[i]) - upper.begin());
  return out;
}

class Tree {
 public:
  // Grows on rows `bag` (duplicates allowed: a bootstrap sample).
  void Grow(const Table& t, std::vector<size_t> bag, int mtry, int min_leaf, stats::Rng* rng) {
    nodes_.clear();
    struct Work {
      int node;
      size_t begin, end;
    };
    std::vector<Work> stack;
    nodes_.emplace_back();
    stack.push_back({0, 0, bag.size()});
    std::vector<int> features(t.p);
    double hsum[kMaxBins + 1];
    int hcnt[kMaxBins + 1];
    while (!stack.empty()) {
      Work w = stack.back();
      stack.pop_back();
      size_t n = w.end - w.begin;
      double sum = 0;
      for (size_t i = w.begin; i < w.end; ++i) sum += (*t.y)[bag[i]];
      nodes_[w.node].value = sum / static_cast<double>(n);
      if (n < 2 * static_cast<size_t>(min_leaf)) continue;
      double sse = 0;
      for (size_t i = w.begin; i < w.end; ++i) {
        double d = (*t.y)[bag[i]] - nodes_[w.node].value;
        sse += d * d;
      }
      if (!(sse > 1e-12 * (1 + std::fabs(sum)))) continue;
      // Try params in a random order: at least mtry of them, and on until one can split.
      std::iota(features.begin(), features.end(), 0);
      for (int i = t.p - 1; i > 0; --i) std::swap(features[i], features[rng->Below(i + 1)]);
      double best_gain = sum * sum / static_cast<double>(n) + 1e-12 * sse;
      int best_f = -1, best_bin = 0;
      for (int k = 0; k < t.p; ++k) {
        if (k >= mtry && best_f >= 0) break;
        int f = features[k];
        int nb = t.nbins[f];
        std::fill(hsum, hsum + nb, 0.0);
        std::fill(hcnt, hcnt + nb, 0);
        for (size_t i = w.begin; i < w.end; ++i) {
          int b = t.at(bag[i], f);
          hsum[b] += (*t.y)[bag[i]];
          hcnt[b]++;
        }
        double left = 0;
        size_t nl = 0;
        for (int b = 0; b + 1 < nb; ++b) {
          left += hsum[b];
          nl += static_cast<size_t>(hcnt[b]);
          if (hcnt[b] == 0) continue;  // the same split as the previous non-empty bin
          size_t nr = n - nl;
          if (nl < static_cast<size_t>(min_leaf) || nr < static_cast<size_t>(min_leaf)) continue;
          double right = sum - left;
          double gain = left * left / static_cast<double>(nl) + right * right / static_cast<double>(nr);
          if (gain > best_gain) {
            best_gain = gain;
            best_f = f;
            best_bin = b;
          }
        }
      }
      if (best_f < 0) continue;
      auto mid = std::partition(bag.begin() + static_cast<std::ptrdiff_t>(w.begin),
                                bag.begin() + static_cast<std::ptrdiff_t>(w.end),
                                [&](size_t r) { return t.at(r, best_f) <= best_bin; });
      size_t m = static_cast<size_t>(mid - bag.begin());
      int l = static_cast<int>(nodes_.size()), r = l + 1;
      nodes_.emplace_back();
      nodes_.emplace_back();
      nodes_[w.node].feature = best_f;
      nodes_[w.node].threshold = best_bin;
      nodes_[w.node].left = l;
      nodes_[w.node].right = r;
      stack.push_back({l, w.begin, m});
      stack.push_back({r, m, w.end});
    }
  }

  // Prediction for `row`, with param `swap_f` read as `swap_v` instead (swap_f = -1: none).
  double Predict(const Table& t, size_t row, int swap_f = -1, int swap_v = 0) const {
    int k = 0;
    while (nodes_[k].feature >= 0) {
      const Node& nd = nodes_[k];
      int v = nd.feature == swap_f ? swap_v : t.at(row, nd.feature);
      k = v <= nd.threshold ? nd.left : nd.right;
    }
    return nodes_[k].value;
  }

 private:
  std::vector<Node> nodes_;
};

struct ForestOut {
  std::vector<double> importance;  // per param, over Var(y of the rows)
  double oob_r2 = 0;
};

// A forest on `rows` of the table: OOB permutation importance per param, and the forest's OOB R^2.
void GrowForest(const Table& t, const std::vector<size_t>& rows, int trees, int min_leaf,
                stats::Rng* rng, ForestOut* out) {
  size_t n = rows.size();
  int mtry = std::max(1, t.p / 3);
  double mean = 0;
  for (size_t r : rows) mean += (*t.y)[r];
  mean /= static_cast<double>(n);
  double var = 0;
  for (size_t r : rows) var += ((*t.y)[r] - mean) * ((*t.y)[r] - mean);
  var /= static_cast<double>(n);
  std::vector<double> sum_imp(t.p, 0.0);
  int used = 0;
  std::vector<double> oob_sum(n, 0.0);
  std::vector<int> oob_count(n, 0);
  std::vector<char> in_bag(n);
  std::vector<size_t> bag(n), oob, oob_pos;
  std::vector<int> perm;
  Tree tree;
  for (int k = 0; k < trees; ++k) {
    std::fill(in_bag.begin(), in_bag.end(), 0);
    for (size_t i = 0; i < n; ++i) {
      size_t j = rng->Below(n);
      bag[i] = rows[j];
      in_bag[j] = 1;
    }
    tree.Grow(t, bag, mtry, min_leaf, rng);
    oob.clear();
    oob_pos.clear();
    for (size_t j = 0; j < n; ++j)
      if (!in_bag[j]) {
        oob.push_back(rows[j]);
        oob_pos.push_back(j);
      }
    if (oob.size() < 2) continue;
    double base = 0;
    for (size_t i = 0; i < oob.size(); ++i) {
      double pred = tree.Predict(t, oob[i]);
      oob_sum[oob_pos[i]] += pred;
      oob_count[oob_pos[i]]++;
      double e = (*t.y)[oob[i]] - pred;
      base += e * e;
    }
    for (int f = 0; f < t.p; ++f) {
      perm.clear();
      for (size_t r : oob) perm.push_back(t.at(r, f));
      for (size_t i = perm.size() - 1; i > 0; --i) std::swap(perm[i], perm[rng->Below(i + 1)]);
      double mse = 0;
      for (size_t i = 0; i < oob.size(); ++i) {
        double e = (*t.y)[oob[i]] - tree.Predict(t, oob[i], f, perm[i]);
        mse += e * e;
      }
      sum_imp[f] += (mse - base) / static_cast<double>(oob.size());
    }
    used++;
  }
  out->importance.assign(t.p, 0.0);
  if (used > 0 && var > 0)
    for (int f = 0; f < t.p; ++f) out->importance[f] = sum_imp[f] / used / var;
  double sse = 0;
  int counted = 0;
  for (size_t j = 0; j < n; ++j) {
    if (!oob_count[j]) continue;
    double e = (*t.y)[rows[j]] - oob_sum[j] / oob_count[j];
    sse += e * e;
    counted++;
  }
  out->oob_r2 = counted > 0 && var > 0 ? 1 - sse / counted / var : 0;
}

}  // namespace

void BuildParamTable(const std::vector<std::map<std::string, std::string>>& runs,
                     std::vector<ParamColumn>* columns, std::vector<SkippedParam>* skipped) {
  columns->clear();
  skipped->clear();
  std::set<std::string> keys;
  for (auto& r : runs)
    for (auto& [k, v] : r) keys.insert(k);
  size_t n = runs.size();
  for (auto& key : keys) {
    std::vector<const std::string*> vals(n, nullptr);
    size_t present = 0;
    bool numeric = true;
    std::set<std::string> texts;
    for (size_t i = 0; i < n; ++i) {
      auto it = runs[i].find(key);
      if (it == runs[i].end()) continue;
      vals[i] = &it->second;
      present++;
      texts.insert(it->second);
      double v;
      if (!ParseNumber(it->second, &v)) numeric = false;
    }
    size_t missing = n - present;
    if (2 * missing > n) {
      skipped->push_back({key, fmt::format("missing in {} of {} runs", missing, n)});
      continue;
    }
    ParamColumn col;
    col.key = key;
    col.missing = static_cast<int>(missing);
    col.categorical = !numeric;
    col.present.resize(n);
    for (size_t i = 0; i < n; ++i) col.present[i] = vals[i] != nullptr;
    if (numeric) {
      std::vector<double> v(n), have;
      std::set<double> distinct;
      for (size_t i = 0; i < n; ++i)
        if (vals[i]) {
          ParseNumber(*vals[i], &v[i]);
          have.push_back(v[i]);
          distinct.insert(v[i]);
        }
      double fill = Median(have);
      for (size_t i = 0; i < n; ++i)
        if (!vals[i]) v[i] = fill;
      col.values = std::move(v);
      col.distinct = static_cast<int>(distinct.size());
      if (distinct.size() < 2) {  // the median fill makes the column constant as well
        skipped->push_back({key, fmt::format("constant ({})", *texts.begin())});
        continue;
      }
    } else {
      col.categories.assign(texts.begin(), texts.end());
      col.distinct = static_cast<int>(texts.size());
      if (missing) col.categories.push_back("(missing)");
      if (col.categories.size() < 2) {
        skipped->push_back({key, fmt::format("constant ({})", *texts.begin())});
        continue;
      }
      if (texts.size() == present && missing == 0 && n > 2) {
        skipped->push_back({key, "a different text in every run (an identifier, not a setting)"});
        continue;
      }
      col.values.resize(n);
      for (size_t i = 0; i < n; ++i) {
        if (!vals[i]) {
          col.values[i] = static_cast<double>(col.categories.size() - 1);
        } else {
          auto it = std::lower_bound(col.categories.begin(), col.categories.end() - (missing ? 1 : 0),
                                     *vals[i]);
          col.values[i] = static_cast<double>(it - col.categories.begin());
        }
      }
    }
    columns->push_back(std::move(col));
  }
}

Status ComputeImportance(const std::vector<ParamColumn>& columns, std::span<const double> y,
                         const ImportanceOptions& options, ImportanceResult* out) {
  *out = ImportanceResult();
  size_t n = y.size();
  out->n = static_cast<int>(n);
  out->level = options.level;
  if (static_cast<int>(n) < std::max(options.min_runs, 4))
    return Status::Invalid(fmt::format("needs at least {} runs; has {}",
                                       std::max(options.min_runs, 4), n));
  if (columns.empty()) return Status::Invalid("no param varies across the runs");
  for (auto& c : columns)
    if (c.values.size() != n)
      return Status::Invalid(fmt::format("param {} has {} values for {} runs", c.key,
                                         c.values.size(), n));
  for (double v : y)
    if (!std::isfinite(v)) return Status::Invalid("a target value is not finite");
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(n);
  double var = 0;
  for (double v : y) var += (v - mean) * (v - mean);
  var /= static_cast<double>(n);
  if (!(var > 0)) return Status::Invalid("the target has the same value in every run");
  out->target_variance = var;

  int p = static_cast<int>(columns.size());
  std::vector<double> yv(y.begin(), y.end());
  Table t;
  t.p = p;
  t.y = &yv;
  t.bins.resize(n * p);
  t.nbins.resize(p);
  for (int f = 0; f < p; ++f) {
    std::vector<uint8_t> b = BinColumn(columns[f].values, &t.nbins[f]);
    for (size_t i = 0; i < n; ++i) t.bins[i * p + f] = b[i];
  }
  stats::Rng rng(options.seed);
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  ForestOut full;
  out->trees = std::max(1, options.trees);
  GrowForest(t, all, out->trees, options.min_leaf, &rng, &full);
  out->oob_r2 = full.oob_r2;

  // Delete-d jackknife over halves of the runs: var = (n - d) / d * mean squared deviation,
  // d = n - m removed, m = n/2 kept.
  size_t m = n / 2;
  std::vector<std::vector<double>> reps;
  std::vector<size_t> shuffled = all;
  for (int r = 0; r < options.replicates; ++r) {
    for (size_t i = 0; i < m; ++i) std::swap(shuffled[i], shuffled[i + rng.Below(n - i)]);
    std::vector<size_t> half(shuffled.begin(), shuffled.begin() + static_cast<std::ptrdiff_t>(m));
    ForestOut fo;
    GrowForest(t, half, std::max(1, options.replicate_trees), options.min_leaf, &rng, &fo);
    reps.push_back(std::move(fo.importance));
  }
  out->replicates = static_cast<int>(reps.size());
  double z = stats::NormalQuantile(0.5 + options.level / 2);
  for (int f = 0; f < p; ++f) {
    ParamImportance pi;
    pi.key = columns[f].key;
    pi.categorical = columns[f].categorical;
    pi.distinct = columns[f].distinct;
    pi.missing = columns[f].missing;
    pi.importance = full.importance[f];
    if (reps.size() >= 2) {
      double rm = 0;
      for (auto& r : reps) rm += r[f];
      rm /= static_cast<double>(reps.size());
      double msd = 0;
      for (auto& r : reps) msd += (r[f] - rm) * (r[f] - rm);
      msd /= static_cast<double>(reps.size());
      double d = static_cast<double>(n - m);
      pi.se = std::sqrt(static_cast<double>(m) / d * msd);
    } else {
      pi.se = std::numeric_limits<double>::quiet_NaN();
    }
    pi.lo = pi.importance - z * pi.se;
    pi.hi = pi.importance + z * pi.se;
    if (!columns[f].categorical) {
      std::vector<double> px, py;
      for (size_t i = 0; i < n; ++i)
        if (columns[f].present.empty() || columns[f].present[i]) {
          px.push_back(columns[f].values[i]);
          py.push_back(y[i]);
        }
      pi.spearman = stats::Spearman(px, py);
    }
    out->params.push_back(std::move(pi));
  }
  std::stable_sort(out->params.begin(), out->params.end(),
                   [](const ParamImportance& a, const ParamImportance& b) {
                     return a.importance > b.importance;
                   });
  for (size_t i = 0; i < out->params.size(); ++i) out->params[i].rank = static_cast<int>(i) + 1;
  return Status::OK();
}

}  // namespace inloop::insights
