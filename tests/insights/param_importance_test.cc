// Param importance: on synthetic runs whose target depends strongly on lr, weakly on wd and not at
// all on seed, lr ranks first, clearly above seed, and seed's interval covers 0 (over several
// data sets). Spearman values against reference.py (stdlib Python). The run table's rules.
#include "insights/param_importance.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "insights/reference.h"

namespace inloop::insights {
namespace {

using testing::Gaussian;
using testing::JsonArray;
using testing::Reference;
using testing::Uniform;

using Runs = std::vector<std::map<std::string, std::string>>;

void Synthesize(uint64_t seed, int n, Runs* runs, std::vector<double>* y) {
  stats::Rng r(seed);
  for (int i = 0; i < n; ++i) {
    double log_lr = -4 + 2 * Uniform(r);
    double wd = 0.1 * Uniform(r);
    runs->push_back({{"lr", fmt::format("{:.6g}", std::pow(10, log_lr))},
                     {"wd", fmt::format("{:.6g}", wd)},
                     {"seed", std::to_string(i)},
                     {"out_dir", fmt::format("/tmp/run{}", i)},
                     {"model", "gpt"}});
    // Strong in lr (monotone with curvature), weak in wd, nothing from the seed.
    y->push_back(2 - 0.6 * (log_lr + 4) + 0.3 * (log_lr + 3) * (log_lr + 3) + 3 * wd +
                 0.05 * Gaussian(r));
  }
}

const ParamImportance* Find(const ImportanceResult& r, const std::string& key) {
  for (auto& p : r.params)
    if (p.key == key) return &p;
  return nullptr;
}

TEST(ParamImportanceTest, LearningRateMattersAndTheSeedDoesNot) {
  for (uint64_t data_seed : {1, 2, 3, 4, 5}) {
    Runs runs;
    std::vector<double> y;
    Synthesize(data_seed, 60, &runs, &y);
    std::vector<ParamColumn> cols;
    std::vector<SkippedParam> skipped;
    BuildParamTable(runs, &cols, &skipped);
    ASSERT_EQ(cols.size(), 3u);  // lr, seed, wd; out_dir and model skipped
    ImportanceResult res;
    ASSERT_TRUE(ComputeImportance(cols, y, ImportanceOptions(), &res).ok());
    EXPECT_EQ(res.n, 60);
    ASSERT_EQ(res.params.size(), 3u);
    EXPECT_EQ(res.params[0].key, "lr") << "data set " << data_seed;
    const ParamImportance* lr = Find(res, "lr");
    const ParamImportance* seed = Find(res, "seed");
    const ParamImportance* wd = Find(res, "wd");
    ASSERT_TRUE(lr && seed && wd);
    EXPECT_GT(lr->lo, seed->hi) << "data set " << data_seed;
    EXPECT_LE(seed->lo, 0) << "data set " << data_seed;
    EXPECT_GE(seed->hi, 0) << "data set " << data_seed;
    EXPECT_GT(lr->importance, 3 * wd->importance) << "data set " << data_seed;
    EXPECT_GT(lr->se, 0);
    EXPECT_GT(res.oob_r2, 0.5) << "the params explain most of the target";
  }
}

TEST(ParamImportanceTest, SpearmanMatchesReference) {
  Runs runs;
  std::vector<double> y;
  Synthesize(9, 40, &runs, &y);
  // Ties: a coarse param with 4 values.
  for (size_t i = 0; i < runs.size(); ++i) runs[i]["layers"] = std::to_string(2 + 2 * (i % 4));
  std::vector<ParamColumn> cols;
  std::vector<SkippedParam> skipped;
  BuildParamTable(runs, &cols, &skipped);
  ImportanceResult res;
  ASSERT_TRUE(ComputeImportance(cols, y, ImportanceOptions(), &res).ok());
  for (const char* key : {"lr", "wd", "seed", "layers"}) {
    const ParamImportance* p = Find(res, key);
    ASSERT_TRUE(p && p->spearman) << key;
    const ParamColumn* col = nullptr;
    for (auto& c : cols)
      if (c.key == key) col = &c;
    ASSERT_TRUE(col);
    auto ref = Reference("spearman", fmt::format(R"({{"x": {}, "y": {}}})", JsonArray(col->values),
                                                 JsonArray(y)));
    ASSERT_EQ(ref.size(), 2u) << key;
    EXPECT_NEAR(p->spearman->rho, ref[0], 1e-12) << key;
    EXPECT_NEAR(p->spearman->p_value, ref[1], 1e-6 * std::max(ref[1], 1e-3)) << key;
    EXPECT_EQ(p->spearman->n, 40);
  }
}

TEST(ParamImportanceTest, SpearmanClosedForms) {
  std::vector<double> x = {1, 2, 3, 4, 5}, up = {2, 4, 6, 8, 10}, down = {5, 4, 3, 2, 1};
  EXPECT_DOUBLE_EQ(stats::Spearman(x, up).rho, 1);
  EXPECT_EQ(stats::Spearman(x, up).p_value, 0);
  EXPECT_DOUBLE_EQ(stats::Spearman(x, down).rho, -1);
  // n = 4, df = 2: P(|T| >= t) = 1 - t / sqrt(2 + t^2). x = 1..4, y = 1,3,2,4: rho = 0.8.
  std::vector<double> a = {1, 2, 3, 4}, b = {1, 3, 2, 4};
  auto s = stats::Spearman(a, b);
  EXPECT_NEAR(s.rho, 0.8, 1e-15);
  double t = 0.8 * std::sqrt(2 / (1 - 0.64));
  EXPECT_NEAR(s.p_value, 1 - t / std::sqrt(2 + t * t), 1e-12);
  std::vector<double> flat = {3, 3, 3, 3};
  EXPECT_TRUE(std::isnan(stats::Spearman(a, flat).rho));
  auto ranks = stats::AverageRanks(std::vector<double>{10, 20, 10, 30});
  EXPECT_EQ(ranks, (std::vector<double>{1.5, 3, 1.5, 4}));
}

TEST(ParamImportanceTest, RunTableRules) {
  Runs runs = {
      {{"lr", "0.1"}, {"opt", "adam"}, {"const", "7"}, {"rare", "1"}, {"name", "a"}},
      {{"lr", "0.2"}, {"opt", "sgd"}, {"const", "7"}, {"name", "b"}},
      {{"lr", "0.3"}, {"opt", "adam"}, {"const", "7"}, {"name", "c"}},
      {{"opt", "sgd"}, {"const", "7"}, {"name", "d"}},
  };
  std::vector<ParamColumn> cols;
  std::vector<SkippedParam> skipped;
  BuildParamTable(runs, &cols, &skipped);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].key, "lr");
  EXPECT_FALSE(cols[0].categorical);
  EXPECT_EQ(cols[0].missing, 1);
  EXPECT_EQ(cols[0].values, (std::vector<double>{0.1, 0.2, 0.3, 0.2}));  // median fill
  EXPECT_EQ(cols[0].present, (std::vector<char>{1, 1, 1, 0}));
  EXPECT_EQ(cols[1].key, "opt");
  EXPECT_TRUE(cols[1].categorical);
  EXPECT_EQ(cols[1].categories, (std::vector<std::string>{"adam", "sgd"}));
  EXPECT_EQ(cols[1].values, (std::vector<double>{0, 1, 0, 1}));
  std::map<std::string, std::string> why;
  for (auto& s : skipped) why[s.key] = s.reason;
  EXPECT_EQ(why["const"], "constant (7)");
  EXPECT_EQ(why["rare"], "missing in 3 of 4 runs");
  EXPECT_NE(why["name"].find("identifier"), std::string::npos);
}

TEST(ParamImportanceTest, RejectsTooLittleData) {
  Runs runs;
  std::vector<double> y;
  Synthesize(3, 6, &runs, &y);
  std::vector<ParamColumn> cols;
  std::vector<SkippedParam> skipped;
  BuildParamTable(runs, &cols, &skipped);
  ImportanceResult res;
  EXPECT_EQ(ComputeImportance(cols, y, ImportanceOptions(), &res).code(), Status::Code::kInvalid);
  std::vector<double> flat(6, 1.0);
  ImportanceOptions o;
  o.min_runs = 4;
  EXPECT_EQ(ComputeImportance(cols, flat, o, &res).code(), Status::Code::kInvalid);
  EXPECT_TRUE(ComputeImportance(cols, y, o, &res).ok());
}

}  // namespace
}  // namespace inloop::insights
