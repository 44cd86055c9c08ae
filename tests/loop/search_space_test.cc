// space.toml parsing and the TPE sampler: bounds and types honoured, deterministic for a seed,
// random starts first, and TPE beating random search on a smooth objective.
#include "loop/search_space.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

namespace inloop::loop {
namespace {

const char* kSpace = R"(
[search]
seed = 5
random_starts = 6
params_file = "params.json"
[params.lr]
type = "float"
low = 1e-5
high = 1e-1
log = true
default = 3e-3
[params.layers]
type = "int"
low = 1
high = 6
[params.act]
type = "categorical"
choices = ["relu", "gelu", "tanh"]
)";

double Value(const ParamValues& v, const std::string& k) {
  for (auto& [n, x] : v) if (n == k) return std::stod(x);
  return NAN;
}
std::string Text(const ParamValues& v, const std::string& k) {
  for (auto& [n, x] : v) if (n == k) return x;
  return "";
}

TEST(SearchSpace, Parses) {
  SearchSpace s;
  ASSERT_TRUE(ParseSearchSpace(kSpace, "space.toml", &s).ok());
  ASSERT_EQ(s.params.size(), 3u);
  EXPECT_EQ(s.seed, 5u);
  EXPECT_EQ(s.random_starts, 6);
  EXPECT_EQ(s.params_file, "params.json");
  EXPECT_EQ(s.params[0].name, "act");  // by name (TOML tables have no order)
  EXPECT_TRUE(s.params[2].log);
  ParamValues d = DefaultValues(s);
  EXPECT_EQ(Text(d, "lr"), "0.003");
  EXPECT_EQ(Text(d, "layers"), "4");  // the middle of [0.5, 6.5], rounded
  EXPECT_EQ(Text(d, "act"), "relu");
  EXPECT_EQ(ParamEnvName("lr-warm.up"), "INLOOP_PARAM_LR_WARM_UP");
}

TEST(SearchSpace, RejectsBadFieldsWithTheirName) {
  SearchSpace s;
  Status st = ParseSearchSpace("[params.lr]\ntype='float'\nlow=1\nhigh=0\n", "sp.toml", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("sp.toml: params.lr.low"), std::string::npos) << st.message();
  st = ParseSearchSpace("[params.lr]\nlow=0\nhigh=1\nlog=true\n", "sp.toml", &s);
  EXPECT_NE(st.message().find("must be > 0"), std::string::npos) << st.message();
  st = ParseSearchSpace("[params.a]\ntype='categorical'\n", "sp.toml", &s);
  EXPECT_NE(st.message().find("choices"), std::string::npos) << st.message();
  st = ParseSearchSpace("[params.a]\nlow=0\nhigh=1\nstep=2\n", "sp.toml", &s);
  EXPECT_NE(st.message().find("params.a.step"), std::string::npos) << st.message();
  st = ParseSearchSpace("[search]\nparams_file='../x'\n[params.a]\nlow=0\nhigh=1\n", "sp.toml", &s);
  EXPECT_NE(st.message().find("inside the work tree"), std::string::npos) << st.message();
  EXPECT_FALSE(ParseSearchSpace("[search]\nseed=1\n", "sp.toml", &s).ok());
  st = ParseSearchSpace("[params.a]\nlow=0\nhigh=1\ndefault=2\n", "sp.toml", &s);
  EXPECT_NE(st.message().find("params.a.default"), std::string::npos) << st.message();
  st = ParseSearchSpace("[params.a]\nlow=0\nhigh=1\ndefault='0x1p-1'\n", "sp.toml", &s);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(s.params[0].default_value, "0.5");  // normalised: valid JSON in a params file
  EXPECT_FALSE(ParseSearchSpace("[params.a\n", "sp.toml", &s).ok());
}

TEST(SearchSpace, ProposalsStayInBoundsAndAreDeterministic) {
  SearchSpace s;
  ASSERT_TRUE(ParseSearchSpace(kSpace, "space.toml", &s).ok());
  std::vector<Observation> hist;
  std::set<std::string> acts;
  for (uint64_t t = 1; t <= 40; ++t) {
    ParamValues v = ProposeValues(s, hist, true, t);
    EXPECT_EQ(v, ProposeValues(s, hist, true, t));  // same inputs, same proposal
    double lr = Value(v, "lr"), layers = Value(v, "layers");
    EXPECT_GE(lr, 1e-5);
    EXPECT_LE(lr, 1e-1);
    EXPECT_GE(layers, 1);
    EXPECT_LE(layers, 6);
    EXPECT_EQ(layers, std::round(layers));
    acts.insert(Text(v, "act"));
    double y = std::pow(std::log10(lr) + 3, 2) + (layers - 2) * (layers - 2) * 0.1 +
               (Text(v, "act") == "gelu" ? 0 : 0.5);
    hist.push_back({v, y});
  }
  EXPECT_EQ(acts.size(), 3u);
  // A different seed proposes differently.
  SearchSpace other = s;
  other.seed = 6;
  EXPECT_NE(ProposeValues(s, {}, true, 1), ProposeValues(other, {}, true, 1));
}

double Objective(const ParamValues& v) {
  double x = Value(v, "x"), y = Value(v, "y");
  return (x - 0.7) * (x - 0.7) + (y + 1.3) * (y + 1.3);
}

double BestAfter(bool tpe, uint64_t seed, int trials) {
  SearchSpace s;
  EXPECT_TRUE(ParseSearchSpace("[params.x]\nlow=-5\nhigh=5\n[params.y]\nlow=-5\nhigh=5\n", "s", &s).ok());
  s.seed = seed;
  s.random_starts = tpe ? 8 : 1 << 30;
  std::vector<Observation> hist;
  double best = INFINITY;
  for (int t = 1; t <= trials; ++t) {
    ParamValues v = ProposeValues(s, hist, true, static_cast<uint64_t>(t));
    double f = Objective(v);
    best = std::min(best, f);
    hist.push_back({v, f});
  }
  return best;
}

TEST(SearchSpace, TpeBeatsRandomSearchOnASmoothBowl) {
  int wins = 0;
  double tpe_sum = 0, rnd_sum = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    double a = BestAfter(true, seed, 60), b = BestAfter(false, seed, 60);
    wins += a < b;
    tpe_sum += a;
    rnd_sum += b;
  }
  EXPECT_GE(wins, 8);
  EXPECT_LT(tpe_sum, rnd_sum / 2);
}

TEST(SearchSpace, MaximizeFlipsTheDirection) {
  SearchSpace s;
  ASSERT_TRUE(ParseSearchSpace("[search]\nrandom_starts=4\n[params.x]\nlow=0\nhigh=10\n", "s", &s).ok());
  std::vector<Observation> hist;
  for (uint64_t t = 1; t <= 30; ++t) {
    ParamValues v = ProposeValues(s, hist, false, t);
    hist.push_back({v, Value(v, "x")});  // higher is better: push toward 10
  }
  double late = 0;
  for (size_t i = 20; i < 30; ++i) late += Value(hist[i].values, "x");
  EXPECT_GT(late / 10, 6.5);
}

TEST(SearchSpace, ParamsFileFormats) {
  SearchSpace s;
  ASSERT_TRUE(ParseSearchSpace(kSpace, "space.toml", &s).ok());
  ParamValues v = {{"lr", "0.01"}, {"layers", "3"}, {"act", "gelu"}};
  EXPECT_EQ(ParamsFileText(s, v, "p.json"), "{\"lr\":0.01,\"layers\":3,\"act\":\"gelu\"}\n");
  EXPECT_EQ(ParamsFileText(s, v, "p.toml"), "lr = 0.01\nlayers = 3\nact = \"gelu\"\n");
  EXPECT_EQ(ParamsFileText(s, v, "p.env"), "lr=0.01\nlayers=3\nact=gelu\n");
}

}  // namespace
}  // namespace inloop::loop
