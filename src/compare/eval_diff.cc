#include "compare/eval_diff.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "stats/descriptive.h"
#include "stats/distributions.h"

namespace inloop::compare {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Text of a scalar used as an id, slice value or cluster: strings as they are, integers in
// decimal, other numbers in their shortest form, anything else as JSON text.
std::string ValueText(element e) {
  switch (e.type()) {
    case element_type::STRING: return std::string(std::string_view(e.get_string().value()));
    case element_type::INT64: return std::to_string(e.get_int64().value());
    case element_type::UINT64: return std::to_string(e.get_uint64().value());
    case element_type::DOUBLE: {
      double v = e.get_double().value();
      if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
        return fmt::format("{}", static_cast<int64_t>(v));
      return fmt::format("{}", v);
    }
    case element_type::BOOL: return e.get_bool().value() ? "true" : "false";
    default: return simdjson::minify(e);
  }
}

bool IsNumber(element e) {
  auto t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double NumberOf(element e) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(e.get_int64().value());
    case element_type::UINT64: return static_cast<double>(e.get_uint64().value());
    default: return e.get_double().value();
  }
}

std::optional<element> Field(simdjson::dom::object obj, std::string_view key) {
  element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::optional<std::string> TextField(simdjson::dom::object obj, std::string_view key) {
  auto e = Field(obj, key);
  if (!e) return std::nullopt;
  if (e->is_string()) return std::string(std::string_view(e->get_string().value()));
  return simdjson::minify(*e);
}

// Parses one record; an empty string on success, else what is wrong with the line.
std::string ParseRecord(simdjson::dom::parser& parser, std::string_view line,
                        const std::vector<std::string>& slice_keys, EvalRecord* r) {
  simdjson::padded_string padded(line);
  element doc;
  if (auto err = parser.parse(padded).get(doc); err != simdjson::SUCCESS)
    return fmt::format("not valid JSON ({}); each line must be one JSON object",
                       simdjson::error_message(err));
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS)
    return "not a JSON object; each line must be an object with \"id\" and \"score\"/\"correct\"";
  auto id = Field(obj, "id");
  if (!id) return "no \"id\"; give every record a string or integer id";
  if (id->is_string()) {
    r->id = ValueText(*id);
  } else if (IsNumber(*id) && std::isfinite(NumberOf(*id)) &&
             NumberOf(*id) == std::floor(NumberOf(*id))) {
    r->id = ValueText(*id);
  } else {
    return fmt::format("\"id\" is {}; use a string or an integer", simdjson::minify(*id));
  }
  if (auto score = Field(obj, "score")) {
    if (!IsNumber(*score))
      return fmt::format("id {}: \"score\" is {}, not a finite number", r->id,
                         simdjson::minify(*score));
    r->score = NumberOf(*score);
    if (!std::isfinite(r->score))
      return fmt::format("id {}: \"score\" is not finite", r->id);
  } else if (auto correct = Field(obj, "correct")) {
    if (correct->is_bool()) {
      r->score = correct->get_bool().value() ? 1 : 0;
    } else if (IsNumber(*correct) && (NumberOf(*correct) == 0 || NumberOf(*correct) == 1)) {
      r->score = NumberOf(*correct);
    } else {
      return fmt::format("id {}: \"correct\" is {}; use true/false or 0/1", r->id,
                         simdjson::minify(*correct));
    }
  } else {
    return fmt::format("id {}: no \"score\" or \"correct\"; add one", r->id);
  }
  r->input = TextField(obj, "input");
  r->output = TextField(obj, "output");
  if (auto cluster = Field(obj, "cluster")) r->cluster = ValueText(*cluster);
  if (auto slice = Field(obj, "slice")) {
    simdjson::dom::object dims;
    if (slice->get_object().get(dims) == simdjson::SUCCESS) {
      for (auto [k, v] : dims) {
        if (v.is_null()) continue;
        r->slices.emplace_back(std::string(k), ValueText(v));
      }
    } else {
      r->slices.emplace_back("slice", ValueText(*slice));
    }
  }
  for (const auto& key : slice_keys) {
    if (auto v = Field(obj, key)) r->slices.emplace_back(key, ValueText(*v));
  }
  return {};
}

std::string Lookup(const std::vector<std::pair<std::string, std::string>>& kv,
                   const std::string& key, bool* found) {
  for (auto it = kv.rbegin(); it != kv.rend(); ++it) {  // the last of a repeated dimension wins
    if (it->first == key) {
      *found = true;
      return it->second;
    }
  }
  *found = false;
  return {};
}

struct Pair {
  const EvalRecord* old_rec;
  const EvalRecord* new_rec;
  double d() const { return new_rec->score - old_rec->score; }
};

GroupStats Analyze(const std::vector<Pair>& pairs, const std::vector<size_t>& idx,
                   const std::vector<int64_t>* cluster_of, bool binary,
                   const EvalDiffOptions& o) {
  GroupStats g;
  g.n = static_cast<int64_t>(idx.size());
  g.binary = binary;
  std::vector<double> x_old, x_new, d;
  std::vector<int64_t> cl;
  for (size_t i : idx) {
    x_old.push_back(pairs[i].old_rec->score);
    x_new.push_back(pairs[i].new_rec->score);
    d.push_back(pairs[i].d());
    if (cluster_of) cl.push_back((*cluster_of)[i]);
    if (d.back() < 0) ++g.n_regressed;
    if (d.back() > 0) ++g.n_improved;
  }
  g.old_arm = {stats::Mean(x_old), stats::StdError(x_old), g.n};
  g.new_arm = {stats::Mean(x_new), stats::StdError(x_new), g.n};
  g.paired_t = stats::OneSampleTTest(d, o.alpha);
  g.diff_mean = stats::Mean(d);
  g.diff_se = g.paired_t.se;
  if (cluster_of) {
    g.clusters = stats::CountClusters(cl);
    g.old_arm.se = stats::ClusterRobustSeOfMean(x_old, cl);
    g.new_arm.se = stats::ClusterRobustSeOfMean(x_new, cl);
    g.diff_se = stats::ClusterRobustSeOfMean(d, cl);
    g.cluster_t = stats::TTestFromSe(g.diff_mean, g.diff_se,
                                     g.clusters >= 2 ? static_cast<double>(g.clusters - 1)
                                                     : std::nan(""),
                                     o.alpha);
  }
  std::span<const int64_t> cspan;
  if (cluster_of) cspan = cl;
  g.bootstrap = stats::PairedBootstrapCi(d, o.seed, o.bootstrap, o.alpha, cspan);
  g.ci_low = g.bootstrap.ci_low;
  g.ci_high = g.bootstrap.ci_high;
  g.permutation = stats::PairedPermutationTest(d, o.seed, o.permutations,
                                               o.max_exact_permutation_units, cspan);
  if (binary) {
    int64_t b = 0, c = 0;
    for (double v : d) {
      if (v < 0) ++b;
      if (v > 0) ++c;
    }
    g.mcnemar = stats::McNemar(b, c);
    g.test = "mcnemar";
    g.p_value = g.mcnemar.p_exact;
    double se = cluster_of ? g.diff_se : stats::DiscordantPairsSe(g.n, b + c);
    g.mde = stats::MinimumDetectableEffect(se, o.alpha, o.power);
  } else {
    g.test = "paired_t";
    g.p_value = g.paired_t.p_value;
    g.mde = stats::MinimumDetectableEffect(g.diff_se, o.alpha, o.power);
  }
  return g;
}

std::string FirstFew(const std::vector<std::string>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 5; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > 5) s += ", ...";
  return s;
}

// ---- JSON ----
void ArmJson(JsonWriter* w, const ArmStats& a) {
  w->BeginObject().Key("mean").Number(a.mean).Key("se").Number(a.se).Key("n").Int(a.n);
  w->EndObject();
}

void TJson(JsonWriter* w, const stats::TTestResult& t) {
  w->BeginObject().Key("t").Number(t.t).Key("df").Number(t.df).Key("se").Number(t.se);
  w->Key("p_value").Number(t.p_value).Key("ci_low").Number(t.ci_low);
  w->Key("ci_high").Number(t.ci_high).EndObject();
}

void GroupJson(JsonWriter* w, const GroupStats& g, const EvalDiffOptions& o) {
  w->Key("n").Int(g.n);
  w->Key("old");
  ArmJson(w, g.old_arm);
  w->Key("new");
  ArmJson(w, g.new_arm);
  w->Key("diff").BeginObject();
  w->Key("mean").Number(g.diff_mean).Key("se").Number(g.diff_se);
  w->Key("ci_low").Number(g.ci_low).Key("ci_high").Number(g.ci_high);
  w->Key("ci_level").Number(1 - o.alpha).Key("ci_method").String("paired_percentile_bootstrap");
  w->Key("bootstrap_resamples").Int(g.bootstrap.resamples);
  w->Key("bootstrap_se").Number(g.bootstrap.se);
  w->Key("p_value").Number(g.p_value).Key("test").String(g.test);
  w->Key("paired_t");
  TJson(w, g.paired_t);
  w->Key("permutation_p").Number(g.permutation.p_value);
  w->Key("permutation_exact").Bool(g.permutation.exact);
  w->Key("permutation_flips").Int(g.permutation.flips);
  if (g.clusters > 0) {
    w->Key("cluster_t");
    TJson(w, g.cluster_t);
  }
  w->EndObject();
  if (g.binary) {
    w->Key("discordant").BeginObject();
    w->Key("old_only_correct").Int(g.mcnemar.baseline_only);
    w->Key("new_only_correct").Int(g.mcnemar.treatment_only).EndObject();
    w->Key("mcnemar").BeginObject();
    w->Key("p_exact").Number(g.mcnemar.p_exact).Key("p_mid").Number(g.mcnemar.p_mid);
    bool large = g.mcnemar.baseline_only + g.mcnemar.treatment_only >=
                 stats::kMcNemarChi2MinDiscordant;
    w->Key("chi2");
    if (large) w->Number(g.mcnemar.chi2); else w->Null();
    w->Key("chi2_p");
    if (large) w->Number(g.mcnemar.chi2_p); else w->Null();
    w->EndObject();
  }
  w->Key("mde").Number(g.mde);
  w->Key("clusters");
  if (g.clusters > 0) w->Int(g.clusters); else w->Null();
  w->Key("n_regressed").Int(g.n_regressed).Key("n_improved").Int(g.n_improved);
}

void IdsJson(JsonWriter* w, const std::vector<std::string>& ids) {
  w->BeginArray();
  for (auto& id : ids) w->String(id);
  w->EndArray();
}

void OptString(JsonWriter* w, const char* key, const std::optional<std::string>& s) {
  w->Key(key);
  if (s) w->String(*s); else w->Null();
}

}  // namespace

void ParseEvalJsonl(std::string_view text, const std::string& path,
                    const std::vector<std::string>& slice_keys, EvalFile* out) {
  out->path = path;
  out->records.clear();
  out->issues.clear();
  simdjson::dom::parser parser;
  std::unordered_map<std::string, int64_t> first_line;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1 && line.starts_with("\xef\xbb\xbf")) line.remove_prefix(3);  // BOM
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank
    EvalRecord r;
    r.line = line_no;
    std::string err = ParseRecord(parser, line, slice_keys, &r);
    if (!err.empty()) {
      out->issues.push_back({path, line_no, std::move(err)});
      continue;
    }
    auto [it, fresh] = first_line.emplace(r.id, line_no);
    if (!fresh) {
      out->issues.push_back({path, line_no,
                             fmt::format("duplicate id {} (first on line {}); the first is kept",
                                         r.id, it->second)});
      continue;
    }
    out->records.push_back(std::move(r));
  }
}

Status LoadEvalFile(const std::string& path, const std::vector<std::string>& slice_keys,
                    EvalFile* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int e = errno;
    if (e == ENOENT)
      return Status::NotFound(fmt::format("{}: no such file; pass an existing JSONL eval file",
                                          path));
    return Status::Io(fmt::format("{}: cannot open ({}); check the path and permissions", path,
                                  std::strerror(e)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return Status::Io(fmt::format("{}: read failed; check the file", path));
  ParseEvalJsonl(ss.str(), path, slice_keys, out);
  return Status::OK();
}

Status ComputeEvalDiff(const EvalFile& old_file, const EvalFile& new_file,
                       const EvalDiffOptions& options, EvalDiffReport* out) {
  EvalDiffReport& r = *out;
  r = EvalDiffReport();
  r.options = options;
  r.old_path = old_file.path;
  r.new_path = new_file.path;
  r.old_records = static_cast<int64_t>(old_file.records.size());
  r.new_records = static_cast<int64_t>(new_file.records.size());
  r.issues = old_file.issues;
  r.issues.insert(r.issues.end(), new_file.issues.begin(), new_file.issues.end());

  std::unordered_map<std::string_view, const EvalRecord*> old_by_id, new_by_id;
  for (auto& rec : old_file.records) old_by_id.emplace(rec.id, &rec);
  for (auto& rec : new_file.records) new_by_id.emplace(rec.id, &rec);
  std::vector<Pair> pairs;
  for (auto& rec : new_file.records) {  // pairs in NEW's order
    auto it = old_by_id.find(rec.id);
    if (it == old_by_id.end()) r.only_new.push_back(rec.id);
    else pairs.push_back({it->second, &rec});
  }
  for (auto& rec : old_file.records)
    if (!new_by_id.count(rec.id)) r.only_old.push_back(rec.id);

  if (!r.issues.empty())
    r.warnings.push_back(fmt::format("{} bad or duplicate line(s) skipped (first: {}:{}: {})",
                                     r.issues.size(), r.issues[0].file, r.issues[0].line,
                                     r.issues[0].message));
  if (!r.only_old.empty())
    r.warnings.push_back(fmt::format("{} id(s) only in {} are left out of every statistic: {}",
                                     r.only_old.size(), old_file.path, FirstFew(r.only_old)));
  if (!r.only_new.empty())
    r.warnings.push_back(fmt::format("{} id(s) only in {} are left out of every statistic: {}",
                                     r.only_new.size(), new_file.path, FirstFew(r.only_new)));
  if (pairs.empty())
    return Status::Invalid(fmt::format(
        "no id of {} ({} valid records) matches one of {} ({} valid records){}; check that both "
        "files come from the same eval set and use the same \"id\" field",
        old_file.path, r.old_records, new_file.path, r.new_records,
        r.issues.empty() ? "" : fmt::format(", first bad line {}:{}: {}", r.issues[0].file,
                                            r.issues[0].line, r.issues[0].message)));

  r.binary = true;
  for (auto& p : pairs)
    for (double s : {p.old_rec->score, p.new_rec->score})
      if (s != 0 && s != 1) r.binary = false;

  // Clusters: labels as dense integers; a pair without one is its own cluster.
  bool any_cluster = false;
  for (auto& p : pairs) any_cluster = any_cluster || p.new_rec->cluster || p.old_rec->cluster;
  std::vector<int64_t> cluster_of;
  if (any_cluster) {
    std::unordered_map<std::string, int64_t> labels;
    int64_t missing = 0;
    for (auto& p : pairs) {
      const auto& c = p.new_rec->cluster ? p.new_rec->cluster : p.old_rec->cluster;
      if (c) {
        cluster_of.push_back(labels.emplace(*c, static_cast<int64_t>(labels.size())).first->second);
      } else {
        ++missing;
        cluster_of.push_back(-1 - static_cast<int64_t>(cluster_of.size()));
      }
    }
    if (missing)
      r.warnings.push_back(fmt::format(
          "{} matched record(s) have no \"cluster\"; each counts as a cluster of its own",
          missing));
  }
  const std::vector<int64_t>* clusters = any_cluster ? &cluster_of : nullptr;

  std::vector<size_t> all(pairs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  r.overall = Analyze(pairs, all, clusters, r.binary, options);

  // Slices: dimension -> value -> pair indices.
  std::map<std::string, std::map<std::string, std::vector<size_t>>> groups;
  for (size_t i = 0; i < pairs.size(); ++i) {
    std::vector<std::string> dims;
    for (auto* rec : {pairs[i].old_rec, pairs[i].new_rec})
      for (auto& [dim, value] : rec->slices) dims.push_back(dim);
    std::sort(dims.begin(), dims.end());
    dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
    for (auto& dim : dims) {
      bool found = false;
      std::string value = Lookup(pairs[i].new_rec->slices, dim, &found);
      if (!found) value = Lookup(pairs[i].old_rec->slices, dim, &found);
      groups[dim][value].push_back(i);
    }
  }
  for (auto& [dim, values] : groups) {
    for (auto& [value, idx] : values) {
      std::vector<int64_t> sub;
      if (clusters) for (size_t i : idx) sub.push_back(cluster_of[i]);
      std::vector<Pair> sub_pairs;
      for (size_t i : idx) sub_pairs.push_back(pairs[i]);
      std::vector<size_t> sub_idx(idx.size());
      for (size_t i = 0; i < sub_idx.size(); ++i) sub_idx[i] = i;
      r.slices[dim][value] = Analyze(sub_pairs, sub_idx, clusters ? &sub : nullptr, r.binary,
                                     options);
    }
  }

  // Regressions and improvements by impact.
  std::vector<const Pair*> down, up;
  for (auto& p : pairs) {
    if (p.d() < 0) down.push_back(&p);
    if (p.d() > 0) up.push_back(&p);
  }
  auto by_impact = [](const Pair* a, const Pair* b) {
    double ia = std::fabs(a->d()), ib = std::fabs(b->d());
    if (ia != ib) return ia > ib;
    return a->new_rec->id < b->new_rec->id;
  };
  std::sort(down.begin(), down.end(), by_impact);
  std::sort(up.begin(), up.end(), by_impact);
  for (auto* list : {&down, &up}) {
    for (const Pair* p : *list) {
      (list == &down ? r.regressed : r.improved).push_back(p->new_rec->id);
      ExampleChange ex;
      ex.id = p->new_rec->id;
      ex.old_score = p->old_rec->score;
      ex.new_score = p->new_rec->score;
      ex.input = p->new_rec->input ? p->new_rec->input : p->old_rec->input;
      ex.old_output = p->old_rec->output;
      ex.new_output = p->new_rec->output;
      if (ex.old_output && ex.new_output)
        ex.diff = DiffWords(*ex.old_output, *ex.new_output, options.text);
      ex.slices = p->new_rec->slices;
      for (auto& [dim, value] : p->old_rec->slices) {
        bool found = false;
        Lookup(ex.slices, dim, &found);
        if (!found) ex.slices.emplace_back(dim, value);
      }
      r.examples.push_back(std::move(ex));
    }
  }
  return Status::OK();
}

Status RunEvalDiff(const std::string& old_path, const std::string& new_path,
                   const EvalDiffOptions& options, EvalDiffReport* out) {
  EvalFile old_file, new_file;
  INLOOP_RETURN_IF_ERROR(LoadEvalFile(old_path, options.slice_keys, &old_file));
  INLOOP_RETURN_IF_ERROR(LoadEvalFile(new_path, options.slice_keys, &new_file));
  return ComputeEvalDiff(old_file, new_file, options, out);
}

void WriteEvalDiffJson(const EvalDiffReport& r, JsonWriter* w) {
  const EvalDiffOptions& o = r.options;
  w->BeginObject();
  w->Key("old_file").String(r.old_path).Key("new_file").String(r.new_path);
  w->Key("old_records").Int(r.old_records).Key("new_records").Int(r.new_records);
  w->Key("score_kind").String(r.binary ? "pass_fail" : "score");
  GroupJson(w, r.overall, o);
  w->Key("regressed");
  IdsJson(w, r.regressed);
  w->Key("improved");
  IdsJson(w, r.improved);
  w->Key("only_old");
  IdsJson(w, r.only_old);
  w->Key("only_new");
  IdsJson(w, r.only_new);
  w->Key("n_only_old").Int(static_cast<int64_t>(r.only_old.size()));
  w->Key("n_only_new").Int(static_cast<int64_t>(r.only_new.size()));
  w->Key("slices").BeginObject();
  for (auto& [dim, values] : r.slices) {
    w->Key(dim).BeginObject();
    for (auto& [value, g] : values) {
      w->Key(value).BeginObject();
      GroupJson(w, g, o);
      w->EndObject();
    }
    w->EndObject();
  }
  w->EndObject();
  w->Key("examples").BeginArray();
  for (auto& ex : r.examples) {
    w->BeginObject().Key("id").String(ex.id);
    w->Key("change").String(ex.new_score < ex.old_score ? "regressed" : "improved");
    w->Key("old_score").Number(ex.old_score).Key("new_score").Number(ex.new_score);
    OptString(w, "input", ex.input);
    OptString(w, "old_output", ex.old_output);
    OptString(w, "new_output", ex.new_output);
    w->Key("slices").BeginObject();
    for (auto& [dim, value] : ex.slices) w->Key(dim).String(value);
    w->EndObject();
    w->Key("diff");
    if (ex.diff) {
      w->BeginObject().Key("granularity").String(ex.diff->granularity);
      w->Key("segments").BeginArray();
      for (auto& s : ex.diff->segments)
        w->BeginObject().Key("op").String(DiffOpName(s.op)).Key("text").String(s.text).EndObject();
      w->EndArray().EndObject();
    } else {
      w->Null();
    }
    w->EndObject();
  }
  w->EndArray();
  w->Key("issues").BeginArray();
  for (auto& is : r.issues)
    w->BeginObject().Key("file").String(is.file).Key("line").Int(is.line)
        .Key("message").String(is.message).EndObject();
  w->EndArray();
  w->Key("warnings").BeginArray();
  for (auto& s : r.warnings) w->String(s);
  w->EndArray();
  w->Key("options").BeginObject();
  w->Key("seed").Int(static_cast<int64_t>(o.seed)).Key("bootstrap").Int(o.bootstrap);
  w->Key("permutations").Int(o.permutations).Key("alpha").Number(o.alpha);
  w->Key("power").Number(o.power).Key("slice_keys");
  IdsJson(w, o.slice_keys);
  w->EndObject();
  w->EndObject();
}

}  // namespace inloop::compare
