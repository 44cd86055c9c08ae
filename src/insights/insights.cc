#include "insights/insights.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include <fmt/color.h>
#include <fmt/format.h>

#include "query/series_query.h"
#include "report/run_report.h"

namespace inloop::insights {
namespace {

std::string Lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool ParseNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  while (end && *end == ' ') ++end;
  return end && *end == '\0' && std::isfinite(*v);
}

// Params that name a run's planned last step, in order of preference.
const char* const kHorizonParams[] = {
    "max_steps", "total_steps", "num_steps", "train_steps", "training_steps", "num_train_steps",
    "max_iters", "max_iter", "num_iterations", "iterations", "iters", "steps",
    "max_epochs", "num_train_epochs", "epochs"};

// Params or series that measure a run's scale, in order of preference.
const char* const kScaleKeys[] = {
    "compute", "flops", "total_flops", "train_flops", "compute_flops", "tokens", "num_tokens",
    "total_tokens", "train_tokens", "n_tokens", "tokens_seen", "num_input_tokens_seen",
    "total_tokens_seen"};

// The loss-like keys ChooseKey prefers, first wins a tie in how many runs have them.
const char* const kLossPreference[] = {"val_loss", "val/loss", "eval_loss", "eval/loss",
                                       "valid/loss", "validation/loss", "loss", "train/loss",
                                       "train_loss", "lm_loss"};

struct RunData {
  store::RunRecord rec;
  std::unordered_map<std::string, store::SeriesStats> series;
  std::map<std::string, std::string> params;
};

bool Better(compare::Goal g, double a, double b) {
  return g == compare::Goal::kMin ? a < b : a > b;
}

Status MatchRuns(store::Store* st, const std::string& filter, std::vector<store::RunRecord>* out) {
  std::vector<store::RunRecord> all;
  INLOOP_RETURN_IF_ERROR(st->ListRuns(&all));
  if (all.empty()) return Status::NotFound("no runs in the store yet (record one with `inloop run`)");
  for (auto& r : all) {
    bool keep = false;
    if (filter.empty()) {
      keep = true;
    } else if (filter.rfind("tag:", 0) == 0) {
      std::vector<std::string> tags;
      INLOOP_RETURN_IF_ERROR(st->GetTags(r.id, &tags));
      keep = std::find(tags.begin(), tags.end(), filter.substr(4)) != tags.end();
    } else if (filter.rfind("status:", 0) == 0) {
      keep = r.status == filter.substr(7);
    } else {
      keep = fnmatch(filter.c_str(), r.name.c_str(), 0) == 0 || r.id == filter;
    }
    if (keep) out->push_back(std::move(r));
  }
  if (out->empty())
    return Status::NotFound(fmt::format(
        "no run matches --runs '{}' (a name pattern like 'seed-*', tag:T or status:S; see `inloop "
        "runs`)", filter));
  return Status::OK();
}

Status ChooseLossKey(const std::vector<RunData>& runs, std::string* key) {
  std::map<std::string, int> count;
  for (auto& r : runs)
    for (auto& [k, s] : r.series)
      if (Lower(k).find("loss") != std::string::npos) count[k]++;
  if (count.empty())
    return Status::NotFound("the matched runs log no loss-like series: name one with --key");
  auto rank = [](const std::string& k) {
    std::string l = Lower(k);
    for (size_t i = 0; i < std::size(kLossPreference); ++i)
      if (l == kLossPreference[i]) return static_cast<int>(i);
    return static_cast<int>(std::size(kLossPreference));
  };
  std::string best;
  for (auto& [k, c] : count) {  // alphabetical, so the last tie-break is by name
    if (best.empty() || c > count[best] || (c == count[best] && rank(k) < rank(best))) best = k;
  }
  *key = best;
  return Status::OK();
}

// The value of a param or, failing that, the last value of a series, as a positive number.
bool ScaleOf(const RunData& r, const std::string& key, double* x, std::string* source) {
  auto p = r.params.find(key);
  if (p != r.params.end() && ParseNumber(p->second, x) && *x > 0) {
    *source = "param";
    return true;
  }
  auto s = r.series.find(key);
  if (s != r.series.end() && std::isfinite(s->second.last.value) && s->second.last.value > 0) {
    *x = s->second.last.value;
    *source = "series";
    return true;
  }
  return false;
}

void ComputeImportanceSection(const std::vector<const RunData*>& done,
                              const std::vector<double>& finals, const InsightsOptions& o,
                              ImportanceSection* sec) {
  std::vector<std::map<std::string, std::string>> table;
  for (auto* r : done) {
    table.push_back(r->params);
    sec->run_ids.push_back(r->rec.id);
  }
  std::vector<ParamColumn> cols;
  BuildParamTable(table, &cols, &sec->skipped);
  if (done.size() < static_cast<size_t>(o.importance.min_runs)) {
    sec->reason = fmt::format("importance: needs >= {} finished runs with a finite value; found {}",
                              o.importance.min_runs, done.size());
    return;
  }
  if (cols.empty()) {
    sec->reason = fmt::format("importance: no param varies across the {} finished runs{}",
                              done.size(), sec->skipped.empty() ? " (they have none)" : "");
    return;
  }
  Status s = ComputeImportance(cols, finals, o.importance, &sec->result);
  if (!s.ok()) {
    sec->reason = "importance: " + s.message();
    return;
  }
  sec->ok = true;
}

// The planned last step of a running run: a max_steps-like param beyond the last step, else
// --horizon, else the longest finished run's last step.
bool HorizonFor(const RunData& r, int64_t last_step, const InsightsOptions& o,
                const RunValue* longest, double* h, std::string* source, std::string* why) {
  for (const char* k : kHorizonParams) {
    auto it = r.params.find(k);
    double v;
    if (it != r.params.end() && ParseNumber(it->second, &v) && v > static_cast<double>(last_step)) {
      *h = v;
      *source = fmt::format("param {}", k);
      return true;
    }
  }
  if (o.horizon) {
    if (*o.horizon > static_cast<double>(last_step)) {
      *h = *o.horizon;
      *source = "--horizon";
      return true;
    }
    *why = fmt::format("--horizon {} is not beyond its last step {}", *o.horizon, last_step);
    return false;
  }
  if (longest && longest->last_step > last_step) {
    *h = static_cast<double>(longest->last_step);
    *source = fmt::format("longest finished run {}", longest->name);
    return true;
  }
  *why = longest ? fmt::format("already at or past the longest finished run's last step {}; give "
                               "--horizon STEP", longest->last_step)
                 : "no max_steps-like param and no finished run to take a horizon from; give "
                   "--horizon STEP";
  return false;
}

void ComputeExtrapolationSection(store::Store* st, const std::vector<RunData>& data,
                                 const Insights& in, const InsightsOptions& o,
                                 ExtrapolationSection* sec) {
  const RunValue* longest = nullptr;
  for (auto& rv : in.runs)
    if (rv.status == store::kFinished && (!longest || rv.last_step > longest->last_step))
      longest = &rv;
  std::unordered_map<std::string, const RunData*> by_id;
  for (auto& d : data) by_id[d.rec.id] = &d;
  for (auto& rv : in.runs) {
    if (rv.status != store::kRunning) continue;
    RunExtrapolation re;
    re.run_id = rv.id;
    re.name = rv.name;
    re.last_step = rv.last_step;
    re.last_value = rv.final_value;
    double h = 0;
    if (!HorizonFor(*by_id[rv.id], rv.last_step, o, longest, &h, &re.horizon_source, &re.reason)) {
      sec->runs.push_back(std::move(re));
      continue;
    }
    query::SeriesResult res;
    Status s = query::QuerySeries(st, rv.id, in.key, query::SeriesQuery(), &res);
    if (!s.ok()) {
      re.reason = s.message();
      sec->runs.push_back(std::move(re));
      continue;
    }
    std::vector<double> x, y;
    for (auto& p : res.points)
      if (p.step >= 1 && std::isfinite(p.value)) {
        x.push_back(static_cast<double>(p.step));
        y.push_back(p.value);
      }
    s = ExtrapolateCurve(x, y, h, o.extrapolation, &re.ex);
    if (!s.ok()) {
      re.reason = s.message();
      sec->runs.push_back(std::move(re));
      continue;
    }
    re.ok = true;
    if (in.best) {
      double optimistic = in.goal == compare::Goal::kMin ? re.ex.lo : re.ex.hi;
      re.cannot_beat_best = Better(in.goal, in.best->final_value, optimistic);
    }
    sec->runs.push_back(std::move(re));
  }
  if (sec->runs.empty()) {
    sec->reason = fmt::format("extrapolation: no running run among the {} matched runs with {}",
                              in.runs.size(), in.key);
    return;
  }
  sec->ok = true;
}

void ComputeScalingSection(const std::vector<const RunData*>& done,
                           const std::vector<double>& finals, const InsightsOptions& o,
                           ScalingSection* sec) {
  std::vector<std::string> candidates;
  if (!o.x_key.empty()) {
    candidates.push_back(o.x_key);
  } else {
    for (const char* k : kScaleKeys) candidates.emplace_back(k);
  }
  int need = std::max(o.scaling.min_points, 4);
  std::string best_key;
  size_t best_count = 0;
  for (auto& k : candidates) {
    size_t c = 0;
    for (auto* r : done) {
      double x;
      std::string src;
      c += ScaleOf(*r, k, &x, &src);
    }
    if (c > best_count) {
      best_count = c;
      best_key = k;
    }
    if (static_cast<int>(c) >= need) break;
  }
  if (best_count == 0) {
    sec->reason = o.x_key.empty()
                      ? fmt::format("scaling: no finished run has a compute or tokens value (a "
                                    "param or series named compute, flops, tokens, ...); name one "
                                    "with --x KEY")
                      : fmt::format("scaling: no finished run has a positive param or series '{}'",
                                    o.x_key);
    return;
  }
  sec->x_key = best_key;
  std::set<std::string> sources;
  for (size_t i = 0; i < done.size(); ++i) {
    double x;
    std::string src;
    if (!ScaleOf(*done[i], best_key, &x, &src)) continue;
    sources.insert(src);
    sec->points.push_back({done[i]->rec.id, done[i]->rec.name, x, finals[i]});
  }
  sec->x_source = sources.size() == 1 ? *sources.begin() : "param/series";
  if (static_cast<int>(sec->points.size()) < need) {
    sec->reason = fmt::format("scaling: needs >= {} runs with a {} value; found {}", need,
                              best_key, sec->points.size());
    return;
  }
  std::vector<double> xs, ls;
  for (auto& p : sec->points) {
    xs.push_back(p.x);
    ls.push_back(p.loss);
  }
  ScalingOptions so = o.scaling;
  if (o.at) so.at = o.at;
  Status s = FitScaling(xs, ls, so, &sec->fit);
  if (!s.ok()) {
    sec->reason = "scaling: " + s.message();
    return;
  }
  sec->ok = true;
}

std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.4g}", v);
}

}  // namespace

namespace {

void ComputeGoodputAcrossRuns(store::Store* st,
                              const std::vector<std::pair<std::string, std::string>>& runs,
                              GoodputAcrossRuns* g) {
  g->restarted = static_cast<int>(runs.size());
  double ettr_sum = 0, ttd_sum = 0, mttr_sum = 0;
  int ttd_n = 0, mttr_n = 0;
  for (const auto& [id, name] : runs) {
    std::optional<report::Goodput> gp = report::RunGoodput(st, id);
    if (!gp) continue;
    ++g->with_goodput;
    ettr_sum += gp->ettr;
    if (g->worst_run.empty() || gp->ettr < g->worst_ettr) {
      g->worst_run = name;
      g->worst_ettr = gp->ettr;
    }
    g->lost_steps += gp->lost_steps;
    g->lost_seconds += gp->lost_seconds;
    for (const report::FaultCost& f : gp->faults) {
      ++g->faults_by_trigger[f.trigger];
      ttd_sum += f.time_to_detect;
      ++ttd_n;
      if (f.mttr) {
        mttr_sum += *f.mttr;
        ++mttr_n;
      }
    }
  }
  if (g->with_goodput) g->mean_ettr = ettr_sum / g->with_goodput;
  if (ttd_n) g->mean_time_to_detect = ttd_sum / ttd_n;
  if (mttr_n) g->mean_mttr = mttr_sum / mttr_n;
}

}  // namespace

Status ComputeInsights(store::Store* st, const InsightsOptions& o, Insights* out) {
  *out = Insights();
  out->filter = o.runs;
  std::vector<store::RunRecord> recs;
  INLOOP_RETURN_IF_ERROR(MatchRuns(st, o.runs, &recs));
  out->runs_matched = static_cast<int>(recs.size());
  std::vector<RunData> data(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    data[i].rec = std::move(recs[i]);
    std::vector<store::SeriesStats> ss;
    INLOOP_RETURN_IF_ERROR(st->SeriesStatsFor(data[i].rec.id, &ss));
    for (auto& s : ss) data[i].series.emplace(s.key, std::move(s));
  }
  out->key = o.key;
  if (out->key.empty()) {
    INLOOP_RETURN_IF_ERROR(ChooseLossKey(data, &out->key));
    out->key_chosen = true;
  }
  out->goal = o.goal ? *o.goal : compare::GuessGoal(out->key);

  // Params only of the runs that have the key: the others take no part.
  std::vector<size_t> with_key;
  for (size_t i = 0; i < data.size(); ++i) {
    auto it = data[i].series.find(out->key);
    if (it == data[i].series.end()) continue;
    with_key.push_back(i);
    std::vector<store::Param> params;
    INLOOP_RETURN_IF_ERROR(st->GetParams(data[i].rec.id, &params));
    for (auto& p : params) data[i].params[p.key] = p.value;
    const store::SeriesStats& s = it->second;
    RunValue rv;
    rv.id = data[i].rec.id;
    rv.name = data[i].rec.name;
    rv.status = data[i].rec.status;
    rv.final_value = s.last.value;
    rv.best_value = !s.has_finite ? s.last.value
                    : out->goal == compare::Goal::kMin ? s.min : s.max;
    rv.last_step = s.last_step;
    rv.points = s.points;
    out->runs.push_back(std::move(rv));
  }
  out->runs_with_key = static_cast<int>(out->runs.size());
  if (out->runs.empty())
    return Status::NotFound(fmt::format("none of the {} matched runs has a series '{}' (see "
                                        "`inloop show RUN`)", out->runs_matched, out->key));

  std::vector<const RunData*> done;
  std::vector<double> finals;
  for (size_t j = 0; j < out->runs.size(); ++j) {
    const RunValue& rv = out->runs[j];
    if (rv.status == store::kRunning) out->running++;
    if (rv.status != store::kFinished) continue;
    out->finished++;
    if (!std::isfinite(rv.final_value)) {
      out->nonfinite_final++;
      continue;
    }
    done.push_back(&data[with_key[j]]);
    finals.push_back(rv.final_value);
    if (!out->best || Better(out->goal, rv.final_value, out->best->final_value)) out->best = rv;
  }

  ComputeImportanceSection(done, finals, o, &out->importance);
  ComputeExtrapolationSection(st, data, *out, o, &out->extrapolation);
  ComputeScalingSection(done, finals, o, &out->scaling);
  std::vector<std::pair<std::string, std::string>> restarted;  // id, name
  for (size_t i : with_key) {
    if (data[i].rec.attempts > 1) restarted.emplace_back(data[i].rec.id, data[i].rec.name);
  }
  ComputeGoodputAcrossRuns(st, restarted, &out->goodput);
  return Status::OK();
}

void WriteInsightsJson(const Insights& in, JsonWriter* w) {
  w->BeginObject();
  w->Key("key").String(in.key).Key("key_chosen").Bool(in.key_chosen);
  w->Key("goal").String(in.goal == compare::Goal::kMin ? "min" : "max");
  w->Key("filter").String(in.filter);
  w->Key("runs").BeginObject();
  w->Key("matched").Int(in.runs_matched).Key("with_key").Int(in.runs_with_key);
  w->Key("finished").Int(in.finished).Key("running").Int(in.running);
  w->Key("nonfinite_final").Int(in.nonfinite_final).EndObject();
  w->Key("best");
  if (in.best) {
    w->BeginObject().Key("run_id").String(in.best->id).Key("name").String(in.best->name);
    w->Key("value").Number(in.best->final_value).Key("last_step").Int(in.best->last_step);
    w->EndObject();
  } else {
    w->Null();
  }

  const ImportanceSection& im = in.importance;
  w->Key("importance").BeginObject().Key("ok").Bool(im.ok);
  if (!im.ok) w->Key("reason").String(im.reason);
  w->Key("target").String("final");
  w->Key("n").Int(static_cast<int64_t>(im.run_ids.size()));
  w->Key("run_ids").BeginArray();
  for (auto& id : im.run_ids) w->String(id);
  w->EndArray();
  w->Key("skipped").BeginArray();
  for (auto& s : im.skipped) w->BeginObject().Key("key").String(s.key).Key("reason").String(s.reason).EndObject();
  w->EndArray();
  if (im.ok) {
    const ImportanceResult& r = im.result;
    w->Key("trees").Int(r.trees).Key("replicates").Int(r.replicates).Key("level").Number(r.level);
    w->Key("oob_r2").Number(r.oob_r2).Key("target_variance").Number(r.target_variance);
    w->Key("params").BeginArray();
    for (auto& p : r.params) {
      w->BeginObject().Key("key").String(p.key).Key("kind").String(p.categorical ? "categorical" : "numeric");
      w->Key("rank").Int(p.rank).Key("importance").Number(p.importance).Key("se").Number(p.se);
      w->Key("lo").Number(p.lo).Key("hi").Number(p.hi);
      w->Key("distinct").Int(p.distinct).Key("missing").Int(p.missing);
      w->Key("spearman");
      if (p.spearman) {
        w->BeginObject().Key("rho").Number(p.spearman->rho).Key("p_value").Number(p.spearman->p_value);
        w->Key("n").Int(p.spearman->n).EndObject();
      } else {
        w->Null();
      }
      w->EndObject();
    }
    w->EndArray();
  }
  w->EndObject();

  const ExtrapolationSection& ex = in.extrapolation;
  w->Key("extrapolation").BeginObject().Key("ok").Bool(ex.ok);
  if (!ex.ok) w->Key("reason").String(ex.reason);
  w->Key("runs").BeginArray();
  for (auto& r : ex.runs) {
    w->BeginObject().Key("run_id").String(r.run_id).Key("name").String(r.name);
    w->Key("last_step").Int(r.last_step).Key("last_value").Number(r.last_value);
    w->Key("ok").Bool(r.ok);
    if (!r.ok) {
      w->Key("reason").String(r.reason);
      if (!r.horizon_source.empty()) w->Key("horizon_source").String(r.horizon_source);
      w->EndObject();
      continue;
    }
    const Extrapolation& e = r.ex;
    w->Key("horizon").Number(e.horizon).Key("horizon_source").String(r.horizon_source);
    w->Key("family").String(BasisName(e.fit.basis)).Key("formula").String(BasisFormula(e.fit.basis));
    w->Key("params").BeginObject().Key("a").Number(e.fit.a).Key("b").Number(e.fit.b);
    w->Key("c").Number(e.fit.c).EndObject();
    w->Key("predicted").Number(e.predicted).Key("lo").Number(e.lo).Key("hi").Number(e.hi);
    w->Key("level").Number(e.level).Key("calibration").Number(e.calibration);
    w->Key("sigma").Number(e.fit.sigma);
    w->Key("points_used").Int(e.points_used).Key("holdout_points").Int(e.holdout_points);
    w->Key("holdout_rmse").BeginObject();
    for (auto& t : e.trials) {
      w->Key(BasisName(t.basis));
      if (t.ok) w->Number(t.holdout_rmse); else w->Null();
    }
    w->EndObject();
    w->Key("cannot_beat_best").Bool(r.cannot_beat_best);
    w->EndObject();
  }
  w->EndArray().EndObject();

  const ScalingSection& sc = in.scaling;
  w->Key("scaling").BeginObject().Key("ok").Bool(sc.ok);
  if (!sc.ok) w->Key("reason").String(sc.reason);
  w->Key("x_key").String(sc.x_key).Key("x_source").String(sc.x_source);
  w->Key("points").BeginArray();
  for (auto& p : sc.points)
    w->BeginObject().Key("run_id").String(p.run_id).Key("name").String(p.name).Key("x").Number(p.x)
        .Key("loss").Number(p.loss).EndObject();
  w->EndArray();
  if (sc.ok) {
    const ScalingFitResult& f = sc.fit;
    w->Key("formula").String("L(C) = a*C^-b + c").Key("n").Int(f.n).Key("df").Int(f.df);
    w->Key("level").Number(f.level).Key("interval_method").String("wald_t");
    auto param = [&](const char* name, double v, double se, const Interval& iv) {
      w->Key(name).BeginObject().Key("value").Number(v).Key("se").Number(se);
      w->Key("lo").Number(iv.lo).Key("hi").Number(iv.hi).EndObject();
    };
    param("a", f.fit.a, f.fit.se_a, f.a);
    param("b", f.fit.b, f.fit.se_b, f.b);
    param("c", f.fit.c, f.fit.se_c, f.c);
    w->Key("sigma").Number(f.fit.sigma).Key("r2").Number(f.r2);
    w->Key("b_at_bound").Bool(f.fit.b_at_bound);
    w->Key("prediction").BeginObject().Key("at").Number(f.at).Key("at_default").Bool(f.at_default);
    w->Key("value").Number(f.predicted);
    w->Key("ci_lo").Number(f.predicted_ci.lo).Key("ci_hi").Number(f.predicted_ci.hi);
    w->Key("pi_lo").Number(f.predicted_pi.lo).Key("pi_hi").Number(f.predicted_pi.hi);
    w->EndObject();
  }
  w->EndObject();
  const GoodputAcrossRuns& g = in.goodput;
  w->Key("goodput").BeginObject().Key("restarted_runs").Int(g.restarted);
  w->Key("with_goodput").Int(g.with_goodput).Key("mean_ettr");
  g.with_goodput ? w->Number(g.mean_ettr) : w->Null();
  w->Key("worst_run");
  g.worst_run.empty() ? w->Null() : w->String(g.worst_run);
  w->Key("worst_ettr");
  g.worst_run.empty() ? w->Null() : w->Number(g.worst_ettr);
  w->Key("lost_steps").Int(g.lost_steps).Key("lost_seconds").Number(g.lost_seconds);
  w->Key("faults_by_trigger").BeginObject();
  for (const auto& [trigger, n] : g.faults_by_trigger) w->Key(trigger).Int(n);
  w->EndObject().Key("mean_time_to_detect");
  g.mean_time_to_detect ? w->Number(*g.mean_time_to_detect) : w->Null();
  w->Key("mean_mttr");
  g.mean_mttr ? w->Number(*g.mean_mttr) : w->Null();
  w->EndObject();
  w->EndObject();
}

std::string RenderInsightsText(const Insights& in, bool color) {
  auto head = [&](const std::string& s) {
    return color ? fmt::format(fmt::emphasis::bold, "{}", s) : s;
  };
  auto warn = [&](const std::string& s) {
    return color ? fmt::format(fg(fmt::color::red), "{}", s) : s;
  };
  std::string o;
  const char* goal = in.goal == compare::Goal::kMin ? "lower is better" : "higher is better";
  o += fmt::format("{} runs matched{}; {} log {} ({}{}): {} finished, {} running\n",
                   in.runs_matched, in.filter.empty() ? "" : fmt::format(" '{}'", in.filter),
                   in.runs_with_key, in.key, goal,
                   in.key_chosen ? ", the most common loss key" : "", in.finished, in.running);
  if (in.nonfinite_final)
    o += fmt::format("{} finished runs end on a non-finite value and are left out\n",
                     in.nonfinite_final);
  if (in.best)
    o += fmt::format("best final value: {} ({}, step {})\n", Num(in.best->final_value),
                     in.best->name, in.best->last_step);

  const ImportanceSection& im = in.importance;
  o += "\n" + head("Hyper-parameter importance") + "\n";
  if (!im.ok) {
    o += im.reason + "\n";
  } else {
    const ImportanceResult& r = im.result;
    o += fmt::format("target: final {} of {} finished runs; random forest of {} trees, OOB R^2 "
                     "{}; importance = OOB MSE increase when shuffled / variance, {:.0f}% "
                     "interval from {} forests on half the runs\n",
                     in.key, r.n, r.trees, Num(r.oob_r2), r.level * 100, r.replicates);
    o += fmt::format("{:>4}  {:<24} {:>10} {:>23}  {:>9} {:>10}\n", "RANK", "PARAM", "IMPORTANCE",
                     "INTERVAL", "SPEARMAN", "P");
    for (auto& p : r.params) {
      std::string rho = p.spearman ? Num(p.spearman->rho) : "-";
      std::string pv = p.spearman ? Num(p.spearman->p_value) : "-";
      std::string key = p.key.size() > 24 ? p.key.substr(0, 21) + "..." : p.key;
      o += fmt::format("{:>4}  {:<24} {:>10} {:>23}  {:>9} {:>10}{}\n", p.rank, key,
                       Num(p.importance), fmt::format("[{}, {}]", Num(p.lo), Num(p.hi)), rho, pv,
                       p.categorical ? fmt::format("  ({} values)", p.distinct) : "");
    }
  }
  if (!im.skipped.empty()) {
    std::string list;
    for (auto& s : im.skipped) list += fmt::format("{}{} ({})", list.empty() ? "" : "; ", s.key, s.reason);
    o += fmt::format("  params left out: {}\n", list);
  }

  const ExtrapolationSection& ex = in.extrapolation;
  o += "\n" + head("Learning-curve extrapolation") + "\n";
  if (!ex.ok) o += ex.reason + "\n";
  for (auto& r : ex.runs) {
    if (!r.ok) {
      o += fmt::format("{} (step {}, {}): not extrapolated: {}\n", r.name, r.last_step,
                       Num(r.last_value), r.reason);
      continue;
    }
    const Extrapolation& e = r.ex;
    o += fmt::format("{} at step {} ({}): predicted {} at step {} ({}), {:.0f}% interval [{}, {}]; "
                     "{} {} fitted to {} points{}\n",
                     r.name, r.last_step, Num(r.last_value), Num(e.predicted), Num(e.horizon),
                     r.horizon_source, e.level * 100, Num(e.lo), Num(e.hi), BasisName(e.fit.basis),
                     BasisFormula(e.fit.basis), e.points_used,
                     e.calibration > 1.0001 ? fmt::format(", widened x{:.2f} by backtests", e.calibration)
                                            : "");
    if (r.cannot_beat_best)
      o += "  " + warn(fmt::format("cannot beat the best finished run ({} {}): even the interval's "
                                   "optimistic end {} is worse",
                                   in.best->name, Num(in.best->final_value),
                                   Num(in.goal == compare::Goal::kMin ? e.lo : e.hi))) + "\n";
  }

  const ScalingSection& sc = in.scaling;
  o += "\n" + head("Scaling fit") + "\n";
  if (!sc.ok) {
    o += sc.reason + "\n";
  } else {
    const ScalingFitResult& f = sc.fit;
    o += fmt::format("{} = a*C^-b + c over {} runs, C = {} ({}) from {} to {}; R^2 {}, residual "
                     "SD {}\n",
                     in.key, f.n, sc.x_key, sc.x_source, Num(f.x_min), Num(f.x_max), Num(f.r2),
                     Num(f.fit.sigma));
    o += fmt::format("  a = {}  [{}, {}]\n  b = {}  [{}, {}]\n  c = {}  [{}, {}]   ({:.0f}% "
                     "intervals: standard errors from the Jacobian, t with {} df)\n",
                     Num(f.fit.a), Num(f.a.lo), Num(f.a.hi), Num(f.fit.b), Num(f.b.lo),
                     Num(f.b.hi), Num(f.fit.c), Num(f.c.lo), Num(f.c.hi), f.level * 100, f.df);
    if (f.fit.b_at_bound) o += "  b is at the end of its search range: the fit is not reliable\n";
    o += fmt::format("  at C = {}{}: predicted {}, curve interval [{}, {}], one new run [{}, {}]\n",
                     Num(f.at), f.at_default ? " (10x the largest)" : "", Num(f.predicted),
                     Num(f.predicted_ci.lo), Num(f.predicted_ci.hi), Num(f.predicted_pi.lo),
                     Num(f.predicted_pi.hi));
  }
  const GoodputAcrossRuns& g = in.goodput;
  o += "\n" + head("Goodput across runs") + "\n";
  if (g.restarted == 0) {
    o += fmt::format("  no run of the {} was restarted: nothing was lost to faults\n", in.runs_with_key);
  } else {
    std::string triggers;
    for (const auto& [trigger, n] : g.faults_by_trigger) {
      triggers += fmt::format("{}{} {}", triggers.empty() ? "" : ", ", n, trigger);
    }
    int faults = 0;
    for (const auto& kv : g.faults_by_trigger) faults += kv.second;
    o += fmt::format("  {} of {} runs restarted ({} fault{}: {}); lost {} logged steps and {:.1f} s\n",
                     g.restarted, in.runs_with_key, faults, faults == 1 ? "" : "s",
                     triggers.empty() ? "none recorded" : triggers, g.lost_steps, g.lost_seconds);
    if (g.with_goodput) {
      o += fmt::format("  ETTR of the restarted runs: mean {:.1f}%, lowest {:.1f}% ({})\n",
                       100 * g.mean_ettr, 100 * g.worst_ettr, g.worst_run);
    }
    if (g.mean_time_to_detect) {
      o += fmt::format("  time to detect: mean {:.2f} s{}\n", *g.mean_time_to_detect,
                       g.mean_mttr ? fmt::format("; time to repair (MTTR): mean {:.1f} s", *g.mean_mttr) : "");
    }
  }
  return o;
}

}  // namespace inloop::insights
